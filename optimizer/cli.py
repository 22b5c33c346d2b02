"""The ``cvo`` command line: a thin layer over optimizer.plan and optimizer.outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from optimizer.errors import CvoError, ScenarioError, SolverError
from optimizer.formulate import formulate
from optimizer.outputs import PLAN_FILE, SUMMARY_FILE, write_outputs
from optimizer.plan import optimize as optimize_plan
from optimizer.scenario import Method, load_scenario

app = typer.Typer(
    name="cvo",
    help="Decide which marketing campaign each customer should get: a proven-optimal plan under budgets, "
    "channel capacities and contact rules.\n\nExample: cvo optimize scenarios/weekly.yaml --out out/weekly",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(error: CvoError) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), error.message), highlight=False)
    return typer.Exit(error.exit_code)


ScenarioArg = Annotated[
    Path, typer.Argument(help="Scenario YAML file, e.g. scenarios/weekly.yaml.", show_default=False)
]


@app.command()
def optimize(
    scenario: ScenarioArg,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for plan.parquet and summary.json "
                                             "(default: out/<scenario name>).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
    method: Annotated[Method | None, typer.Option(
        "--method", help="auto (by size), exact (one model, reduced-cost fixing) or decompose (Lagrangian "
        "prices + exact core; for 10^5 customers and up). Default: the scenario's solver.method, else auto.",
        show_default=False)] = None,
    dask: Annotated[str | None, typer.Option(
        "--dask", help="Run the decomposition on a Dask cluster: 'local' (a LocalCluster on this machine) or a "
        "scheduler address (tcp://host:8786). 'customers' must be a folder of parquet partitions; the plan is "
        "written to OUT/plan/, one file per partition. Needs: pip install 'cvo[dask]'.", show_default=False)] = None,
) -> None:
    """Solve SCENARIO and write the plan (plan.parquet) and its summary (summary.json).

    Example: cvo optimize scenarios/weekly.yaml --out out/weekly --method decompose
    """
    from optimizer.console import PassProgress

    if dask is not None:
        _optimize_on_dask(scenario, out, dask, json_output)
        return
    try:
        loaded = load_scenario(scenario)
        with PassProgress(Console(stderr=True), f"Solving {loaded.name}") as progress:
            plan = optimize_plan(loaded, method, progress)
        out_dir = out if out is not None else Path("out") / loaded.name
        summary = write_outputs(plan, out_dir)
    except CvoError as error:
        raise _fail(error) from None
    if json_output:
        typer.echo(json.dumps(summary, indent=2))
        return
    from optimizer.console import render_summary

    console = Console(width=max(100, Console().width), highlight=False)
    render_summary(summary, console)
    console.print(f"Wrote {out_dir / PLAN_FILE} and {out_dir / SUMMARY_FILE}")


def _optimize_on_dask(scenario: Path, out: Path | None, address: str, json_output: bool) -> None:
    """``cvo optimize --dask``: the partitioned run of optimizer/distributed.py."""
    try:
        from distributed import Client, LocalCluster

        from optimizer.distributed import PLAN_FOLDER, optimize_distributed
    except ImportError:
        raise _fail(CvoError("--dask needs the Dask extra, which is not installed",
                             fix="pip install 'cvo[dask]'")) from None
    try:
        loaded = load_scenario(scenario)
        out_dir = out if out is not None else Path("out") / loaded.name
        cluster = LocalCluster(threads_per_worker=1, dashboard_address=None) if address == "local" else None
        with Client(cluster if cluster is not None else address) as client:
            with Console(stderr=True).status(f"Solving {loaded.name} on {client.scheduler_info()['address']} …"):
                run = optimize_distributed(loaded, client, out_dir)
        if cluster is not None:
            cluster.close()
    except CvoError as error:
        raise _fail(error) from None
    if not run.summary:
        raise _fail(SolverError(f"No plan: the decomposition stopped '{run.result.termination}'",
                                where=str(scenario), fix="Check the limits with `cvo validate`, or raise "
                                "solver.time_limit_s"))
    typer.echo(json.dumps(run.summary, indent=2) if json_output else
               f"status {run.summary['status']}  objective {run.summary['objective']:,.2f}  gap "
               f"{run.summary['gap']:.1e}\nWrote {out_dir / PLAN_FOLDER}/ and {out_dir / SUMMARY_FILE}")


@app.command()
def validate(scenario: ScenarioArg) -> None:
    """Check SCENARIO and its data without solving; list every problem with its location.

    Example: cvo validate scenarios/weekly.yaml
    """
    try:
        loaded = load_scenario(scenario)
        formulation = formulate(loaded)
    except CvoError as error:
        raise _fail(error) from None
    problem = formulation.problem
    customers, _ = problem.candidate_pairs()
    typer.echo(
        f"{scenario} is valid: {problem.n_customers:,} customers, {problem.n_campaigns} campaigns, "
        f"{int(problem.eligible.sum()):,} eligible pairs ({customers.size:,} worth a variable), "
        f"{len(problem.rows)} constraints."
    )



@app.command()
def score(
    out: Annotated[Path, typer.Option("--out", help="Folder for customers.parquet, scores.parquet and "
                                      "score_report.json.")],
    history: Annotated[Path | None, typer.Option(help="Campaign history: customer_id, campaign_id, treated, "
                                                 "converted, revenue, and feature columns.")] = None,
    customers: Annotated[Path | None, typer.Option(help="Customer table whose columns add features and who "
                                                   "are scored.")] = None,
    transactions: Annotated[Path | None, typer.Option(help="Transaction log (customer_id, date, amount) for "
                                                      "RFM, P(alive) and LTV.")] = None,
    cutoff: Annotated[str | None, typer.Option(help="Date customer values are computed at, e.g. 1997-09-30.")] = None,
    column: Annotated[list[str] | None, typer.Option(help="Map a transaction column: ROLE=NAME with ROLE one of "
                                                     "customer_id, date, amount; repeatable.")] = None,
    months: Annotated[int, typer.Option(help="LTV horizon in months.")] = 12,
    discount: Annotated[float, typer.Option(help="Monthly discount rate of the LTV.")] = 0.01,
    holdout: Annotated[float, typer.Option(min=0.01, max=0.9, help="Share of the history held out for the "
                                           "model report.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split.")] = 0,
) -> None:
    """Fit customer values (BG/NBD, Gamma-Gamma) and response models (T-learner) and write the tables
    cvo optimize reads.

    Example: cvo score --history examples/data/history.parquet --customers examples/data/customers.parquet
    --out out/scores
    """
    from optimizer.score import score as run_score
    from optimizer.score import write_scores
    from optimizer.uplift import UpliftOptions

    try:
        run = run_score(history=history, customers=customers, transactions=transactions, cutoff=cutoff,
                        options=UpliftOptions(holdout=holdout, seed=seed), months=months, monthly_discount=discount,
                        transaction_columns=_mapping(column or []))
        written = write_scores(run, out)
    except CvoError as error:
        raise _fail(error) from None
    _print_score(run)
    typer.echo("Wrote " + ", ".join(map(str, written)))


def _mapping(pairs: list[str]) -> dict[str, str]:
    """'amount=dollar_value' options as {'amount': 'dollar_value'}."""
    mapping = {}
    for pair in pairs:
        role, separator, name = pair.partition("=")
        if not separator or not role or not name:
            raise ScenarioError(f"'{pair}' is not KEY=VALUE", where="cvo score / cvo evaluate",
                                fix="Write e.g. --column amount=dollar_value or --cost mens_email=0.10")
        mapping[role.strip()] = name.strip()
    return mapping


def _amount(text: str, campaign: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ScenarioError(f"The cost of '{campaign}' is '{text}', not a number", where="--cost",
                            fix="Write e.g. --cost mens_email=0.10") from None


def _choice(kind, text: str, option: str):
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ScenarioError(f"{option} '{text}' is not one of {allowed}", where=option,
                            fix=f"Use one of {allowed}") from None


def _print_score(run) -> None:
    from optimizer.uplift_report import format_report

    if run.value is not None:
        fit, spend = run.value.bgnbd, run.value.gamma_gamma
        typer.echo(f"BG/NBD r={fit.r:.4g} alpha={fit.alpha:.4g} a={fit.a:.4g} b={fit.b:.4g} "
                   f"(log-likelihood {fit.log_likelihood:,.1f}, {fit.n_customers:,} customers); "
                   f"Gamma-Gamma p={spend.p:.4g} q={spend.q:.4g} gamma={spend.gamma:.4g}")
    if run.model is not None:
        typer.echo(format_report(run.model.report))


@app.command()
def evaluate(
    plan: Annotated[Path, typer.Argument(help="plan.parquet written by cvo optimize.", show_default=False)],
    history: Annotated[Path, typer.Option(help="Randomized campaign history to evaluate the plan on.")],
    outcome: Annotated[str, typer.Option(help="Outcome column to value the plan by.")] = "revenue",
    propensity: Annotated[str, typer.Option(help="Assignment probabilities: shares (completely randomized), "
                                            "model (estimated from features) or given (a column).")] = "shares",
    propensity_column: Annotated[str | None, typer.Option(help="Column of given propensities.")] = None,
    cost: Annotated[list[str] | None, typer.Option(help="Cost per contact of a campaign, CAMPAIGN=AMOUNT; "
                                                   "repeatable.")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the interval (0: normal approximation).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON.")] = False,
) -> None:
    """Estimate what PLAN would have earned on a randomized history (inverse propensity weighting),
    beside baselines: nobody, everybody with the best campaign, random at the same volume.

    Example: cvo evaluate out/weekly/plan.parquet --history examples/data/history.parquet
    """
    from optimizer.evaluate import EvaluateOptions, Propensity, evaluate_files, format_evaluation

    try:
        costs = {campaign: _amount(amount, campaign) for campaign, amount in _mapping(cost or []).items()}
        options = EvaluateOptions(outcome=outcome, propensity=_choice(Propensity, propensity, "--propensity"),
                                  propensity_column=propensity_column, costs=costs or None, bootstrap=bootstrap,
                                  seed=seed)
        result = evaluate_files(plan, history, options=options)
    except CvoError as error:
        raise _fail(error) from None
    typer.echo(json.dumps(result.to_dict(), indent=2) if json_output else format_evaluation(result))

"""cvo optimize and cvo validate: solve a scenario, or check it without solving."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from optimizer.cli.app import (
    DateOption,
    HistoryOption,
    QuietOption,
    ScenarioArg,
    app,
    day,
    fail,
    progress_console,
    shown,
    with_history,
)
from optimizer.errors import CvoError, SolverError
from optimizer.solve.method import Method


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
    date: DateOption = None,
    history: HistoryOption = None,
    dask: Annotated[str | None, typer.Option(
        "--dask", help="Run the decomposition on a Dask cluster: 'local' (a LocalCluster on this machine) or a "
        "scheduler address (tcp://host:8786). 'customers' must be a folder of parquet partitions; the plan is "
        "written to OUT/plan/, one file per partition. Needs: pip install 'cvo\\[dask]'.", show_default=False)] = None,
    quiet: QuietOption = False,
) -> None:
    """Solve SCENARIO and write the plan (plan.parquet) and its summary (summary.json).

    Example: cvo optimize scenarios/weekly.yaml --out out/weekly --method decompose
    """
    from optimizer.plan.outputs import write_plan
    from optimizer.plan.workflow import optimize as optimize_plan
    from optimizer.reporting.console import PassProgress
    from optimizer.scenario.schema import load_scenario
    from optimizer.store.files import PLAN_FILE, SUMMARY_FILE, claimed_output_folder

    if dask is not None:
        _optimize_on_dask(scenario, out, dask, json_output, history, day(date), quiet)
        return
    try:
        loaded = with_history(load_scenario(scenario), history)
        out_dir = out if out is not None else Path("out") / loaded.name
        progress = PassProgress(progress_console(quiet), f"Solving {loaded.name}")
        with claimed_output_folder(out_dir), progress:
            plan = optimize_plan(loaded, method, progress, day(date))
            summary = write_plan(plan, out_dir)
    except CvoError as error:
        raise fail(error) from None
    if json_output:
        typer.echo(json.dumps(summary, indent=2))
        return
    from optimizer.reporting.console import render_summary

    console = Console(width=max(100, Console().width), highlight=False)
    render_summary(summary, console)
    console.print(f"Wrote {out_dir / PLAN_FILE} and {out_dir / SUMMARY_FILE}")
    if not summary["contact_history_found"]:
        console.print(f"No contact history at {shown(Path(summary['contact_history']))} yet: no earlier contacts "
                      "to respect (`cvo commit` creates it).")
    if summary.get("scores_ignored"):
        from optimizer.reporting.console import ignored_scores_line

        console.print(ignored_scores_line(summary["scores_ignored"], [c["id"] for c in summary["campaigns"]]),
                      markup=False)




def _optimize_on_dask(
    scenario: Path, out: Path | None, address: str, json_output: bool, history: Path | None, run_date: dt.date | None,
    quiet: bool,
) -> None:
    """``cvo optimize --dask``: the partitioned run of optimizer/plan/distributed.py."""
    try:
        from distributed import Client, LocalCluster

        from optimizer.plan.distributed import optimize_distributed
        from optimizer.reporting.console import PassProgress
        from optimizer.scenario.schema import load_scenario
        from optimizer.store.files import PLAN_FOLDER, SUMMARY_FILE, claimed_output_folder
    except ImportError:
        raise fail(CvoError("--dask needs the Dask extra, which is not installed",
                             fix="pip install 'cvo[dask]'")) from None
    try:
        loaded = with_history(load_scenario(scenario), history)
        out_dir = out if out is not None else Path("out") / loaded.name
        with claimed_output_folder(out_dir):  # a second run into the folder stops before solving
            cluster = LocalCluster(  # type: ignore[no-untyped-call]  # distributed leaves __init__ unannotated
                threads_per_worker=1, dashboard_address=None) if address == "local" else None
            with Client(  # type: ignore[no-untyped-call]  # distributed leaves __init__ unannotated
                cluster if cluster is not None else address
            ) as client:
                title = f"Solving {loaded.name} on {client.scheduler_info()['address']}"
                with PassProgress(progress_console(quiet), title) as progress:
                    run = optimize_distributed(loaded, client, out_dir, run_date, progress)
            if cluster is not None:
                cluster.close()
    except CvoError as error:
        raise fail(error) from None
    if not run.summary:
        raise fail(SolverError(f"No plan: the decomposition stopped '{run.result.termination}'",
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
    from optimizer.plan.workflow import validate as validate_plan

    try:
        formulation = validate_plan(scenario)
    except CvoError as error:
        raise fail(error) from None
    problem = formulation.problem
    customers, _ = problem.candidate_pairs()
    typer.echo(
        f"{scenario} is valid: {problem.n_customers:,} customers, {problem.n_campaigns} campaigns, "
        f"{int(problem.eligible.sum()):,} eligible pairs ({customers.size:,} worth a variable), "
        f"{len(problem.rows)} constraints."
    )

"""cvo optimize, cvo validate and cvo rules: solve a scenario, check it without solving, or export a plan as rules."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from optimizer.cli.app import (
    DateOption,
    HistoryOption,
    QuietOption,
    ScenarioArg,
    SetOption,
    app,
    day,
    fail,
    given,
    progress_console,
    shown,
    with_history,
)
from optimizer.errors import CvoError, InfeasibleError, ScenarioError, SolverError
from optimizer.solve.method import Method

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


@app.command()
def optimize(
    scenario: ScenarioArg,
    out: Annotated[str | None, typer.Option("--out", callback=given, help="Folder for plan.parquet and summary.json "
                                             "(default: out/<scenario name>), or an object-store URL (s3://, "
                                             "gs://, abfs://: the run under URL/runs/<run_id>, then "
                                             "URL/current.json).")] = None,
    json_output: Annotated[bool, typer.Option("--json", metavar="",
                                              help="Print the summary as JSON instead of tables.")] = False,
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
    scheduler_file: Annotated[Path | None, typer.Option(
        "--scheduler-file", help="Run on the Dask cluster whose scheduler wrote this file (dask scheduler "
        "--scheduler-file F; dask-jobqueue, dask-mpi), as --dask ADDRESS does.", show_default=False)] = None,
    quiet: QuietOption = False,
    overrides: SetOption = None,
    sample: Annotated[float | None, typer.Option(
        "--sample", help="Plan a share of the customers (0.05: 5 %), every limit over customers scaled by it: a "
        "quick look at a scenario, not a plan to send (cvo commit refuses it).", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed of the --sample draw (default: the scenario's seed).", show_default=False)] = None,
) -> None:
    """Solve SCENARIO and write the plan (plan.parquet) and its summary (summary.json).

    Example: cvo optimize scenarios/weekly.yaml --out out/weekly --method decompose
    """
    from optimizer.plan.outputs import write_plan
    from optimizer.plan.workflow import optimize as optimize_plan
    from optimizer.reporting.console import PassProgress
    from optimizer.scenario.schema import load_scenario
    from optimizer.store.datasets import local_path
    from optimizer.store.files import PLAN_FILE, SCENARIO_FILE, SUMMARY_FILE
    from optimizer.store.history_file import check_not_committed
    from optimizer.store.object_runs import object_store_url, output_folder, publish

    if seed is not None and sample is None:
        raise fail(ScenarioError("--seed sets the draw of --sample, and no --sample was given", where="--seed",
                                 fix="Add --sample SHARE for a plan of a sample, or leave out --seed (the control "
                                     "draw's seed is the scenario's 'seed', e.g. --set seed=7)"))
    if scheduler_file is not None:
        if dask is not None:
            raise fail(ScenarioError("--dask and --scheduler-file both name a cluster", where="--scheduler-file",
                                     fix="Give one of them"))
        dask = f"scheduler-file:{scheduler_file}"
    if dask is not None:
        if sample is not None:
            raise fail(ScenarioError("--sample plans a sample in memory; it does not run with --dask", where="--sample",
                                     fix="Leave out --dask for a quick look on a sample"))
        _optimize_on_dask(scenario, out, dask, json_output, history, day(date), quiet, method, overrides or [])
        return
    try:
        loaded = with_history(load_scenario(scenario, overrides or []), history)
        default = loaded.name if sample is None else f"{loaded.name}_sample"  # never over the real plan
        url = object_store_url(out) if out is not None else None
        out_dir = local_path(out) if out is not None and url is None else Path("out") / default
        if url is None:
            check_not_committed(out_dir, loaded.history_location())  # before the solve
        progress = PassProgress(progress_console(quiet), f"Solving {loaded.name}")
        with output_folder(out_dir, url, loaded.storage_options) as folder, progress:
            plan = optimize_plan(loaded, method, progress, day(date), sample, seed)
            summary = write_plan(plan, folder)
            where = out_dir if url is None else publish(folder, url, summary["run_id"], loaded.storage_options)
    except CvoError as error:
        raise fail(error) from None
    if json_output:
        typer.echo(json.dumps(summary, indent=2))
        return
    from optimizer.reporting.console import render_summary, sample_line

    console = Console(width=max(100, Console().width), highlight=False)
    if summary.get("sample"):
        console.print(sample_line(summary["sample"]), markup=False)
    render_summary(summary, console)
    written = [PLAN_FILE, SUMMARY_FILE, SCENARIO_FILE, *summary.get("contact_lists", {}).values()]
    console.print(f"Wrote {where}/: {', '.join(written)}")
    if not summary["contact_history_found"]:
        from optimizer.store.datasets import is_url

        history = summary["contact_history"]
        console.print(f"No contact history at {shown(history if is_url(history) else Path(history))} yet: no "
                      "earlier contacts to respect (`cvo commit` creates it).")
    _noted_scores(summary, loaded, lambda line: console.print(line, markup=False))
    _note_unused_channels(loaded, lambda line: console.print(line, markup=False))




def _optimize_on_dask(
    scenario: Path, out: str | None, address: str, json_output: bool, history: str | None, run_date: dt.date | None,
    quiet: bool, method: Method | None, overrides: list[str],
) -> None:
    """``cvo optimize --dask``: the partitioned run of optimizer/plan/distributed.py."""
    try:
        import distributed  # noqa: F401  the extra, checked before anything is read

        from optimizer.plan.distributed import check_distributable, optimize_distributed
        from optimizer.reporting.console import PassProgress
        from optimizer.scenario.schema import load_scenario
        from optimizer.solve.results import Termination
        from optimizer.store.datasets import local_path
        from optimizer.store.files import PLAN_FOLDER, SCENARIO_FILE, SUMMARY_FILE
        from optimizer.store.folders import check_run_folder, claimed_output_folder
        from optimizer.store.history_file import check_not_committed
        from optimizer.store.object_runs import object_store_url
    except ImportError:
        raise fail(CvoError("--dask needs the Dask extra, which is not installed",
                             fix="pip install 'cvo[dask]'")) from None
    try:
        loaded = with_history(load_scenario(scenario, overrides), history)
        _check_decomposition(method, loaded.solver.method, loaded.source)
        check_distributable(loaded)
        url = object_store_url(out) if out is not None else None
        out_dir = local_path(out) if out is not None and url is None else Path("out") / loaded.name
        console = progress_console(quiet)
        if url is None:
            check_run_folder(out_dir)  # before a cluster starts
            check_not_committed(out_dir, loaded.history_location())
        # an object store has no lock: each run writes its own prefix (optimizer/store/object_runs.py)
        with claimed_output_folder(out_dir) if url is None else nullcontext(), _cluster(address, quiet) as client:
            title = f"Solving {loaded.name} on {client.scheduler_info()['address']}"
            with PassProgress(console, title) as progress:
                run = optimize_distributed(loaded, client, url or out_dir, run_date, progress)
    except CvoError as error:
        raise fail(error) from None
    if not run.summary and run.result.termination is Termination.INFEASIBLE:
        raise fail(InfeasibleError(f"No plan satisfies every constraint of scenario '{loaded.name}': the "
                                   "decomposition proved it over the partitions", where=str(scenario),
                                   fix=f"See which limits conflict in a run on a sample (cvo optimize {scenario} "
                                   "--sample 0.01 names them, with amounts for the sample's scaled limits), then "
                                   "change them"))
    if not run.summary:
        raise fail(SolverError(f"No plan: the decomposition stopped '{run.result.termination}' without one",
                                where=str(scenario), fix="Raise solver.time_limit_s, or loosen the >= rows "
                                "(minimum audiences) that a plan must meet"))
    typer.echo(json.dumps(run.summary, indent=2) if json_output else
               f"status {run.summary['status']}  objective {run.summary['objective']:,.2f}  gap "
               f"{run.summary['gap']:.1e}\nWrote {run.out_dir}/: {PLAN_FOLDER}/ (one file per partition), contacts/ "
               f"(the contact lists, one CSV per partition each), {SUMMARY_FILE}, {SCENARIO_FILE}")
    if not json_output:
        _noted_scores(run.summary, loaded, typer.echo)


CONNECT_TIMEOUT_S = 5  # to reach a scheduler
WORKER_TIMEOUT_S = 5  # for a scheduler's first worker (a started worker joins in about a second)


def _check_decomposition(method: Method | None, scenario_method: Method, source: str) -> None:
    """--dask runs the decomposition: an exact solve asked for on the command line or in the scenario is refused."""
    if (method or scenario_method) is Method.EXACT:
        given = "--method exact" if method is Method.EXACT else f"{source}, solver.method"
        raise ScenarioError("--dask runs the decomposition, but the exact solver was asked for: it needs every "
                            "customer in one model on one machine", where=given,
                            fix="Leave out --method exact (or set solver.method to auto or decompose) to run on the "
                            "cluster, or run without --dask")


def _scheduler_file(address: str) -> str | None:
    """The scheduler file of ``--scheduler-file`` (passed on as 'scheduler-file:F'), None for an
    address; CvoError when the file is not there (distributed would wait for it forever)."""
    if not address.startswith("scheduler-file:"):
        return None
    file = address.removeprefix("scheduler-file:")
    if not Path(file).is_file():
        raise CvoError(f"The scheduler file {file} does not exist", where="--scheduler-file",
                       fix="Give the file the scheduler writes (dask scheduler --scheduler-file FILE), on a file "
                       "system this machine sees")
    return file


@contextmanager
def _cluster(address: str, quiet: bool) -> Iterator[Any]:
    """A Dask client of a LocalCluster on this machine ('local', its dashboard on a free port) or of
    the scheduler at ``address``, with a worker at least; CvoError (exit 1) when the scheduler cannot
    be reached or has no workers. The dashboard's link goes to stderr (unless ``quiet``)."""
    from distributed import Client, LocalCluster

    if address == "local":
        with LocalCluster(  # type: ignore[no-untyped-call]  # distributed leaves __init__ unannotated
                threads_per_worker=1, dashboard_address=":0",
                silence_logs=logging.ERROR) as cluster, Client(cluster) as local:  # type: ignore[no-untyped-call]
            # the scheduler runs here: its notices (a shuffle started, a worker closed) are not the user's
            _announce(local, quiet)
            yield local
        return
    file = _scheduler_file(address)
    named, flag = (f"at {address}", "--dask") if file is None else (f"of the scheduler file {file}", "--scheduler-file")
    try:
        client = Client(address if file is None else None, scheduler_file=file,  # type: ignore[no-untyped-call]
                        timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        raise CvoError(f"The Dask scheduler {named.replace(address, repr(address))} cannot be reached: {error}",
                       where=flag,
                       fix="Give the address `dask scheduler` prints (tcp://host:8786) and check that it runs, or "
                       "use --dask local") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
        except TimeoutError:
            start = f"dask worker {address}" if file is None else f"dask worker --scheduler-file {file}"
            raise CvoError(f"The Dask scheduler {named} has no workers (waited {WORKER_TIMEOUT_S} s)", where=flag,
                           fix=f"Start workers with `{start}`, then run again") from None
        _announce(client, quiet)
        yield client


def _announce(client: Any, quiet: bool) -> None:
    """The dashboard's link on stderr, when the scheduler serves one (a terminal or a batch log alike)."""
    if not quiet and client.scheduler_info().get("services", {}).get("dashboard"):
        typer.echo(f"Dask dashboard: {client.dashboard_link}", err=True)


@app.command()
def validate(scenario: ScenarioArg, date: DateOption = None, history: HistoryOption = None,
             overrides: SetOption = None) -> None:
    """Check SCENARIO and its data without solving; list every problem with its location.

    The contact policy is checked, and days_since() in expressions counts, as cvo optimize would on
    --date (default today), against the contact history of --history (default the scenario's).

    Example: cvo validate scenarios/weekly.yaml --date 2026-03-02
    """
    from optimizer.plan.workflow import validate as validate_plan
    from optimizer.scenario.schema import load_scenario

    try:
        formulation = validate_plan(with_history(load_scenario(scenario, overrides or []), history), day(date))
    except CvoError as error:
        raise fail(error) from None
    problem, lists = formulation.problem, formulation.data.lists
    customers, _ = problem.candidate_pairs()
    listed = "".join(f", {count:,} {name}" for name, count in (("forced", lists.n_forced),
                                                              ("excluded", lists.n_excluded)) if count)
    campaigns = len(formulation.scenario.campaigns)
    offers = f" ({problem.n_campaigns} offers with their variants)" if problem.n_campaigns != campaigns else ""
    typer.echo(
        f"{scenario} is valid: {problem.n_customers:,} customers{listed}, {campaigns} campaigns{offers}, "
        f"{int(problem.eligible.sum()):,} eligible pairs ({customers.size:,} worth a variable), "
        f"{len(problem.rows)} constraints."
    )
    ignored = {} if formulation.data.scores is None else formulation.data.scores.ignored
    _note_scores(ignored, formulation.unscored_customers(), problem.n_customers, formulation.scenario,
                 typer.echo)  # as cvo optimize says them
    _note_unused_channels(formulation.scenario, typer.echo)


def _note_scores(ignored: dict[str, int], unscored: int, customers: int, scenario: Scenario,
                 say: Callable[[str], Any]) -> None:
    """Say which score rows name campaigns not in the scenario (a misspelt id leaves customers
    unscored), and how many customers the scores table has no row for, if any."""
    from optimizer.reporting.console import ignored_scores_line, unscored_customers_line

    if ignored:
        say(ignored_scores_line(ignored, scenario.campaign_ids()))
    if unscored:
        say(unscored_customers_line(unscored, customers, str(scenario.scores)))


def _noted_scores(summary: dict[str, Any], scenario: Scenario, say: Callable[[str], Any]) -> None:
    """``_note_scores`` from a run's summary (summary.json has both counts)."""
    _note_scores(summary.get("scores_ignored") or {}, summary.get("unscored_customers") or 0, summary["customers"],
                 scenario, say)


def _note_unused_channels(scenario: Scenario, say: Callable[[str], Any]) -> None:
    """Say which channels under 'channels' no campaign uses (their capacity binds nobody), if any."""
    unused = scenario.unused_channels()
    if unused:
        from optimizer.reporting.console import unused_channels_line

        say(unused_channels_line(unused, scenario.where(f"channels.{unused[0]}")))


@app.command()
def rules(
    out_dir: Annotated[str, typer.Argument(metavar="OUT_DIR",
                                           help="Folder of a plan: cvo optimize SCENARIO --out OUT_DIR (or the "
                                           "object-store URL it wrote to).", show_default=False)],
    depth: Annotated[int, typer.Option("--depth", help="Conditions per rule at most (1-8).")] = 3,
    json_output: Annotated[bool, typer.Option("--json", metavar="",
                                              help="Print the rules and figures as JSON.")] = False,
) -> None:
    """Export the plan in OUT_DIR as rules over customer columns, for systems that take rules, not lists.

    A shallow decision tree that reproduces the plan; each rule is a condition in the scenario's
    expression language and a campaign. Prints the rules, their agreement with the plan (share of
    customers given the same campaign) and their value loss; writes OUT_DIR/rules.json and rules.txt.

    Example: cvo rules out/weekly --depth 3
    """
    from optimizer.plan.rules import run_rules

    try:
        exported, written = run_rules(out_dir, depth)
    except CvoError as error:
        raise fail(error) from None
    typer.echo(json.dumps(exported.to_dict(), indent=2) if json_output else
               f"{exported.text()}\nWrote {written[0]} and {written[1]}")


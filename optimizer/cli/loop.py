"""The weekly loop: cvo commit, cvo history, cvo measure, cvo report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from optimizer.cli.app import QuietOption, app, fail, progress_console, shown
from optimizer.errors import CvoError


@app.command()
def commit(
    out_dir: Annotated[str, typer.Argument(metavar="OUT_DIR",
                                           help="Folder written by cvo optimize (plan.parquet, summary.json), "
                                            "or the object-store URL it wrote to.",
                                            show_default=False)],
    history: Annotated[str | None, typer.Option(help="Contact history file (DuckDB), or its object-store URL. "
                                                "Default: the scenario's contact_policy.history, recorded in "
                                                "summary.json.")] = None,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Commit a stale plan (runs committed since it was "
                                        "computed contacted its customers): the scenario's contact policy is checked "
                                        "again against the history as it is now, only the customers it still "
                                        "allows are recorded, and the run's contacts_*.csv are cut to them.")] = False,
) -> None:
    """Record the plan in OUT_DIR as sent, in the contact history.

    Every treated and control customer is recorded with its campaign, channel, date and measurement
    window, in one transaction. Committing the same run twice records it once. A plan computed
    before other runs that contacted its customers were committed is refused as stale.

    Example: cvo commit out/weekly
    """
    from optimizer.loop.commits import commit as commit_plan

    try:
        done = commit_plan(out_dir, history, force)
    except CvoError as error:
        raise fail(error) from None
    if done.created:
        typer.echo(f"Created the contact history {shown(done.history)}")
    if done.dropped:
        typer.echo(f"Left out {done.dropped:,} customers the contact policy no longer allows (--force); the send "
                   f"lists in {out_dir} leave them out too")
    verb = "Recorded" if done.recorded else "Already recorded (nothing changed):"
    typer.echo(f"{verb} run {done.run_id} sent on {done.run_date}: {done.contacts:,} customers in "
               f"{shown(done.history)}")
    for note in done.notes:
        typer.echo(f"Note: {note}")


@app.command()
def void(
    run: Annotated[str, typer.Argument(metavar="RUN",
                                       help="A run id (or unique prefix) listed by cvo history, or the folder "
                                       "cvo optimize wrote it to.", show_default=False)],
    history: Annotated[str | None, typer.Option(help="Contact history file, or its object-store URL. Default: "
                                                "the one named in RUN/summary.json when RUN is a folder.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why the run is taken back, kept in the history.")] = None,
) -> None:
    """Take back a run committed by mistake: its contacts stop counting for the contact policy.

    Nothing is deleted: the void is recorded with its time and reason, and cvo history shows it.

    Example: cvo void 3f9c2a1b --history scenarios/contact_history.duckdb --reason "sent twice"
    """
    from optimizer.loop.measurement import resolve_run
    from optimizer.store.ledger import void as void_run

    try:
        run_id, path, options = resolve_run(run, history)
        voided, contacts = void_run(path, run_id, reason, options)
    except CvoError as error:
        raise fail(error) from None
    typer.echo(f"Voided run {voided}: its {contacts:,} contacts no longer count for the contact policy "
               f"({shown(path)})")


@app.command()
def history(
    source: Annotated[str, typer.Argument(metavar="SOURCE",
                                          help="A contact history file (DuckDB) or object-store URL, a scenario "
                                          "whose contact_policy.history it is, or a folder written by cvo "
                                          "optimize.")],
    json_output: Annotated[bool, typer.Option("--json", metavar="", help="Print the runs as JSON.")] = False,
) -> None:
    """List the runs recorded in a contact history, newest first.

    Example: cvo history scenarios/weekly.yaml
    """
    from optimizer.store.history_file import runs

    try:
        table = runs(*_history_path(source))
    except CvoError as error:
        raise fail(error) from None
    if json_output:
        typer.echo(json.dumps(table, indent=2, default=lambda value: value.isoformat()))
        return
    if not table:
        typer.echo("No runs recorded yet.")
        return
    from optimizer.reporting.console import runs_table

    Console(width=max(200, Console().width), highlight=False).print(runs_table(table))


def _history_path(given: str) -> tuple[Path | str, dict[str, Any]]:
    """A history given directly (a file or an object-store URL), through a scenario, or through an
    optimize output folder; and the fsspec options to read it with (the scenario's)."""
    from optimizer.scenario.schema import load_scenario
    from optimizer.store.history_file import recorded_history
    from optimizer.store.runs import read_summary, run_storage_options

    source = Path(given)
    if source.is_dir():
        return recorded_history(read_summary(source), None, source), run_storage_options(source)
    if source.suffix in (".yaml", ".yml"):
        loaded = load_scenario(source)
        return recorded_history({}, loaded.history_location(), source), loaded.storage_options
    return recorded_history({}, given, source), {}



@app.command()
def measure(
    run: Annotated[str, typer.Argument(metavar="RUN",
                                       help="A folder written by cvo optimize and recorded by cvo commit, or a run "
                                       "id (or unique prefix) listed by cvo history.", show_default=False)],
    outcomes: Annotated[Path, typer.Option(help="What the customers did over the measurement window: customer_id "
                                           "and revenue and/or converted (.csv or .parquet).")],
    history: Annotated[str | None, typer.Option(help="Contact history file, or its object-store URL. Default: "
                                                "the one named in RUN/summary.json.")] = None,
    customers: Annotated[Path | None, typer.Option(help="Customer features for the sub-personas. Default: the "
                                                   "run's scenario's customers table.")] = None,
    customers_column: Annotated[str | None, typer.Option(help="The --customers table's id column. Default: the "
                                                         "run's scenario's customer_id.",
                                                         show_default=False)] = None,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="False discovery rate of the sub-personas "
                                         "(Benjamini-Hochberg).")] = 0.05,
    out: Annotated[Path | None, typer.Option(help="Folder for measurement.json (default: RUN when it is a folder, "
                                             "else out/measure/<run id>).")] = None,
    json_output: Annotated[bool, typer.Option("--json", metavar="", help="Print the measurement as JSON.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Measure a sent run against its control groups, and find the sub-groups where it worked or not.

    Per campaign: treated vs control response and revenue, incremental revenue with 95% intervals and
    p-values, ROI after cost; then the sub-groups that responded much better or worse, as eligibility
    rules for the next scenario.

    Example: cvo measure out/weekly --outcomes outcomes.csv
    """
    from optimizer.loop.lift_text import format_measurement
    from optimizer.loop.measurement import measure_run, run_held, write_measurement
    from optimizer.loop.personas import format_personas

    try:
        held = run_held(out) if out is not None and out.is_dir() else None
        with progress_console(quiet).status("Measuring …") as status:
            result = measure_run(run, outcomes, history=history, customers=customers, alpha=alpha,
                                 stage=status.update, customers_column=customers_column)
        folder = out or (Path(run) if Path(run).is_dir() else Path("out") / "measure" / result.run_id)
        path = write_measurement(result, folder, held)
    except CvoError as error:
        raise fail(error) from None
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    if result.voided is not None:
        typer.echo(f"Warning: {result.voided}.\n")
    typer.echo(format_measurement(result.measurement))
    typer.echo("")
    typer.echo(result.personas_note or format_personas(result.personas, alpha=alpha))
    typer.echo(f"Wrote {path}")



@app.command()
def report(
    out_dir: Annotated[str, typer.Argument(metavar="OUT_DIR",
                                           help="Folder of a plan: cvo optimize SCENARIO --out OUT_DIR (or the "
                                            "object-store URL it wrote to).",
                                            show_default=False)],
    sweep: Annotated[Path | None, typer.Option("--sweep", help="Folder of a sweep (sweep.json, frontier.png) run "
                                               "elsewhere. Default: OUT_DIR, when a sweep was run there.",
                                               show_default=False)] = None,
) -> None:
    """Write OUT_DIR/report.html, one self-contained page a marketing manager can read.

    The plan, its limits and their shadow prices, what each rule removed, why customers got nothing
    and, if a sweep was run, the frontier.

    Example: cvo report out/weekly --sweep out/weekly/sweep
    """
    from optimizer.reporting.report import report_run

    try:
        path = report_run(out_dir, sweep)
    except CvoError as error:
        raise fail(error) from None
    typer.echo(f"Wrote {path}")

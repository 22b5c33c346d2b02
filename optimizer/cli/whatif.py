"""The planner's what-ifs: cvo sweep and cvo compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optimizer.cli.app import (
    DateOption,
    HistoryOption,
    MethodOption,
    QuietOption,
    ScenarioArg,
    SetOption,
    app,
    day,
    fail,
    folder,
    progress_console,
    with_history,
)
from optimizer.errors import CvoError, ScenarioError

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario


@app.command()
def sweep(
    scenario: ScenarioArg,
    budget: Annotated[str | None, typer.Option(
        "--budget", help="Sweep the total budget over START:STOP:COUNT (COUNT evenly spaced values, both ends "
        "included), e.g. 5000:50000:10.", show_default=False)] = None,
    limit: Annotated[str | None, typer.Option(
        "--limit", help="Sweep any limit instead: NAME=START:STOP:COUNT, e.g. capacity\\[email]=5000:20000:4 "
        "(NAME as in the Constraints table of cvo optimize).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", parser=folder, help="Folder for sweep.json, sweep.csv and frontier.png "
                                     "(default: out/<scenario name>/sweep).")] = None,
    json_output: Annotated[bool, typer.Option("--json", metavar="",
                                              help="Print the sweep as JSON instead of a table.")] = False,
    method: MethodOption = None,
    date: DateOption = None,
    history: HistoryOption = None,
    quiet: QuietOption = False,
    overrides: SetOption = None,
) -> None:
    """Solve SCENARIO at several values of one limit: the efficient frontier.

    At each value: the objective, spend, marginal value and every shadow price, written to sweep.json,
    sweep.csv and frontier.png. Each value is a solve with the scenario's solver.time_limit_s.

    Example: cvo sweep scenarios/weekly.yaml --budget 5000:50000:10
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optimizer.scenario.schema import load_scenario
    from optimizer.store.files import FRONTIER_FILE, SWEEP_CSV, SWEEP_FILE, SWEEP_FOLDER
    from optimizer.store.folders import claimed_output_folder
    from optimizer.whatif.frontier import format_sweep, sweep as run_sweep, write_sweep

    try:
        name, values = _swept_limit(budget, limit)
        loaded = with_history(load_scenario(scenario, overrides or []), history)
        out_dir = out if out is not None else Path("out") / loaded.name / SWEEP_FOLDER
        with claimed_output_folder(out_dir):  # a second run into the folder stops before solving
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=progress_console(quiet), transient=True) as bar:
                task = bar.add_task(f"Sweeping {name} of {loaded.name}", total=len(values))
                result = run_sweep(loaded, name, values, lambda done, total: bar.update(
                    task, completed=done, total=total), method, day(date))
            write_sweep(result, out_dir)
    except CvoError as error:
        raise fail(error) from None
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    typer.echo(format_sweep(result))
    typer.echo(f"Wrote {out_dir / SWEEP_FILE}, {out_dir / SWEEP_CSV} and {out_dir / FRONTIER_FILE}")


def _swept_limit(budget: str | None, limit: str | None) -> tuple[str, list[float]]:
    """The limit and values of ``--budget START:STOP:COUNT`` or ``--limit NAME=START:STOP:COUNT`` (exactly one)."""
    from optimizer.whatif.frontier import parse_limit, parse_range

    if budget is not None and limit is None:
        return "budget", parse_range(budget)
    if limit is not None and budget is None:
        return parse_limit(limit)
    raise ScenarioError("Give one limit to sweep: --budget or --limit", where="cvo sweep",
                        fix="Write e.g. --budget 5000:50000:10 or --limit capacity[email]=5000:20000:4")


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(
        metavar="SCENARIO...",
help="Two or more scenario YAML files; customers moved are counted from the first one's plan.",
        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", parser=folder, help="Folder for compare.json (default: out/compare).")] = None,
    json_output: Annotated[bool, typer.Option("--json", metavar="", help="Print the comparison as JSON instead of a "
                                              "table.")] = False,
    method: MethodOption = None,
    date: DateOption = None,
    history: HistoryOption = None,
    quiet: QuietOption = False,
    overrides: SetOption = None,
) -> None:
    """Solve each SCENARIO and compare the plans side by side.

    Objective, spend, audiences, KPIs and shadow prices, with the customers who change campaign from
    the first plan; a scenario without a plan is reported, not fatal. Each scenario is solved with its
    own solver.time_limit_s.

    Example: cvo compare scenarios/weekly.yaml scenarios/tight_budget.yaml --out out/compare
    """
    from optimizer.store.folders import claimed_output_folder
    from optimizer.whatif.comparison import (
        PLANS_FOLDER,
        compare as run_compare,
        format_comparison,
        write_comparison,
    )

    try:
        if len(scenarios) < 2:
            raise ScenarioError(f"cvo compare needs two or more scenario files, got {len(scenarios)}",
                                where="cvo compare", fix="Name every scenario to compare, e.g. "
                                "cvo compare scenarios/weekly.yaml scenarios/tight_budget.yaml")
        out_dir = out if out is not None else Path("out") / "compare"
        with claimed_output_folder(out_dir):  # a second run into the folder stops before solving
            with progress_console(quiet).status(f"Reading {len(scenarios)} scenarios …") as status:
                loaded = [with_history(_compared(path, overrides or []), history) for path in scenarios]
                comparison = run_compare(loaded, method, day(date), stage=status.update,
                                         plans_dir=out_dir / PLANS_FOLDER)
            written = write_comparison(comparison, out_dir)
    except CvoError as error:
        raise fail(error) from None
    typer.echo(json.dumps(comparison.to_dict(), indent=2) if json_output else format_comparison(comparison))
    if not json_output:
        plans = f" and each plan in {PLANS_FOLDER}/" if any(s.plan_folder for s in comparison.scenarios) else \
            " (no scenario has a plan to save)"
        typer.echo(f"Wrote {out_dir}/: {', '.join(path.name for path in written)}{plans}")


def _compared(path: Path, overrides: list[str]) -> Scenario:
    """The scenario at ``path`` with the --set changes; a change it cannot take (a campaign it lacks)
    says that cvo compare sets each one in every scenario, and how to change only some."""
    from optimizer.scenario.schema import load_scenario

    try:
        return load_scenario(path, overrides)
    except ScenarioError as error:
        if not error.problem.startswith("--set "):
            raise
        raise ScenarioError(error.problem, where=error.where, fix=f"{(error.fix or '').rstrip('.')}. cvo compare sets "
                            "every --set in each scenario it compares; to change only some, write the change in their "
                            "files (or in a file that extends one: extends: weekly.yaml)") from None

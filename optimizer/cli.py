"""The ``cvo`` command line: a thin layer over optimizer.plan and optimizer.outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from optimizer.errors import CvoError
from optimizer.formulate import formulate
from optimizer.outputs import PLAN_FILE, SUMMARY_FILE, write_outputs
from optimizer.plan import optimize as optimize_plan
from optimizer.scenario import load_scenario

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
) -> None:
    """Solve SCENARIO and write the plan (plan.parquet) and its summary (summary.json).

    Example: cvo optimize scenarios/weekly.yaml --out out/weekly
    """
    try:
        loaded = load_scenario(scenario)
        with Console(stderr=True).status(f"Solving {loaded.name} …"):
            plan = optimize_plan(loaded)
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


"""The optimize workflow: scenario → Problem → solve (exact or decompose) → control groups → plan.

Everything the CLI's ``cvo optimize`` does is one call here::

    from optimizer.plan import optimize
    plan = optimize("scenarios/weekly.yaml")
    plan.summary["status"], plan.assignments.head()
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.controls import CONTROL, TREATMENT, draw_controls
from optimizer.decompose import solve_decompose
from optimizer.errors import InfeasibleError, SolverError
from optimizer.exact import solve_exact
from optimizer.formulate import Formulation, formulate
from optimizer.partitions import Progress
from optimizer.problem import NO_CAMPAIGN, CouplingRow, Problem
from optimizer.relaxation import Conflict, Diagnosis, diagnose
from optimizer.results import SolutionStatus, SolveResult, Termination
from optimizer.scenario import Method, Scenario, SolverOptions, load_scenario
from optimizer.summary import build_summary

AUTO_DECOMPOSE_PAIRS = 100_000


@dataclass(frozen=True)
class Plan:
    """A solved scenario: who gets what (``assignments``), and the figures behind it."""

    formulation: Formulation
    result: SolveResult
    control: np.ndarray
    assignments: pd.DataFrame
    summary: dict[str, Any]


def optimize(
    scenario: Scenario | str | Path, method: Method | None = None, progress: Progress | None = None,
    run_date: dt.date | None = None,
) -> Plan:
    """Solve a scenario to a plan; raise InfeasibleError or SolverError when there is none.

    ``method`` overrides the scenario's solver.method; ``progress`` hears of each pass over the
    customers when the decomposition runs; ``run_date`` (default today) is the day the plan is
    sent, against which the contact policy reads the contact history.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if method is not None:
        scenario = scenario.model_copy(update={"solver": scenario.solver.model_copy(update={"method": method})})
    formulation = formulate(scenario, run_date=run_date)
    problem = formulation.problem
    result = solve(problem, scenario.solver, progress)
    if result.termination is Termination.INFEASIBLE:
        raise _infeasible(scenario, problem)
    if result.status is SolutionStatus.NONE:
        raise _no_plan(scenario, result)
    fractions = np.array([campaign.control_fraction for campaign in scenario.campaigns])
    control = draw_controls(result.choice, problem.customer_ids, problem.campaign_ids, fractions, scenario.seed)
    assignments = plan_table(problem, result.choice, control)
    summary = build_summary(formulation, result, control)
    return Plan(formulation, result, control, assignments, summary)


def chosen_method(problem: Problem, options: SolverOptions) -> Method:
    """The solver ``auto`` stands for: the decomposition from AUTO_DECOMPOSE_PAIRS eligible pairs.

    Measured (docs/benchmarks.md): below that the exact solver is as fast or faster (30k × 4
    example: 5.8 s against 9.7 s); above it the decomposition wins by orders of magnitude.
    """
    if options.method is not Method.AUTO:
        return options.method
    return Method.DECOMPOSE if int(problem.eligible.sum()) >= AUTO_DECOMPOSE_PAIRS else Method.EXACT


def solve(problem: Problem, options: SolverOptions, progress: Progress | None = None) -> SolveResult:
    """Run the chosen solver on ``problem``."""
    if chosen_method(problem, options) is Method.DECOMPOSE:
        return solve_decompose(problem, options, progress)
    return solve_exact(problem, options)


def plan_table(problem: Problem, choice: np.ndarray, control: np.ndarray) -> pd.DataFrame:
    """One row per customer: campaign_id and group (null when none), expected value and spend.

    Controls receive nothing, so their expected value and spend are 0.
    """
    given = choice != NO_CAMPAIGN
    treated = given & ~control
    rows = np.arange(problem.n_customers)
    safe = np.where(given, choice, 0)
    campaign_ids = np.array(problem.campaign_ids, dtype=object)
    return pd.DataFrame({
        "customer_id": pd.array(problem.customer_ids.astype(str), dtype="string"),
        "campaign_id": pd.array(np.where(given, campaign_ids[safe], None), dtype="string"),
        "group": pd.array(np.where(given, np.where(control, CONTROL, TREATMENT), None), dtype="string"),
        "expected_value": np.where(treated, problem.pair_value[rows, safe], 0.0),
        "expected_spend": np.where(treated, problem.spend[rows, safe], 0.0),
    })


def _infeasible(scenario: Scenario, problem: Problem) -> InfeasibleError:
    customers, campaigns = problem.candidate_pairs()
    diagnosis = diagnose(problem, customers, campaigns, time_limit=scenario.solver.time_limit_s)
    return InfeasibleError(
        f"No plan satisfies every constraint of scenario '{scenario.name}'. {describe_conflict(diagnosis)}",
        where=scenario.source,
        fix="Change one of the limits named above in the scenario file (the change shown is the smallest "
        "that makes a plan possible), then run again",
    )


def describe_conflict(diagnosis: Diagnosis) -> str:
    """'These limits conflict: min_audience[x] (>= 3000, ...); budget (<= 2000, ...). Any one of
    these changes makes a plan possible: lower min_audience[x] by 1,250 (to 1,750); or raise ...'."""
    involved = [conflict.row for conflict in diagnosis.conflicts]
    if not involved:
        return "The solver proved the constraints cannot all hold, but no relaxation of the limits was found"
    text = "These limits conflict: " + "; ".join(_label(row) for row in [*involved, *diagnosis.binding])
    if diagnosis.alone:
        return f"{text}. Any one of these changes makes a plan possible: {'; or '.join(map(_change, diagnosis.alone))}"
    changes = ", and ".join(map(_change, diagnosis.conflicts))
    return f"{text}. No single limit can fix it; the smallest joint change: {changes}"


def _label(row: CouplingRow) -> str:
    return f"{row.name} ({row.sense} {row.rhs:,.6g}, {row.source})"


def _change(conflict: Conflict) -> str:
    verb = "raise" if conflict.change > 0 else "lower"
    row = conflict.row
    return f"{verb} {row.name} by {abs(conflict.change):,.6g} (to {row.rhs + conflict.change:,.6g})"


def _no_plan(scenario: Scenario, result: SolveResult) -> SolverError:
    if result.termination is Termination.TIME_LIMIT:
        bound = f"; the best possible objective is at most {result.bound:,.6g}" if result.bound is not None else ""
        return SolverError(
            f"The solver found no plan within the time limit of {scenario.solver.time_limit_s:g} s{bound}",
            where=f"{scenario.source}, solver.time_limit_s",
            fix="Raise solver.time_limit_s, or loosen the >= constraints (min_audience, floors) "
            "that make plans hard to find",
        )
    return SolverError(
        f"The solver stopped ({result.termination}) without a plan",
        where=scenario.source,
        fix="Run again; if it persists, report it with the scenario file",
    )


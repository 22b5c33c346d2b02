"""The optimize workflow: scenario and its data → Problem → solve → control groups → plan and summary.

Everything the CLI's ``cvo optimize`` does is one call here::

    from optimizer.plan.workflow import optimize
    plan = optimize("scenarios/weekly.yaml")
    plan.summary["status"], plan.assignments.head()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import CvoError, InfeasibleError, SolverError, listed
from optimizer.plan.controls import CONTROL, FORCED, TREATMENT, tie_keys
from optimizer.scenario.data import findings, load_data
from optimizer.scenario.formulation import Formulation, formulate, planned_rates, response_values
from optimizer.scenario.groups import breakdown_levels
from optimizer.scenario.offers import Offer, offer_fractions
from optimizer.scenario.sample import check_share
from optimizer.scenario.schema import Scenario, load_scenario
from optimizer.solve.clock import Clock
from optimizer.solve.fixed import overused, without_fixed
from optimizer.solve.options import Method
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import SolutionStatus, SolveResult, Termination
from optimizer.solve.rounding import rounded
from optimizer.solve.shortfalls import Shortfall, describe_shortfall, label, obvious_conflicts

if TYPE_CHECKING:
    from optimizer.solve.customers import Progress  # numba: only the solving commands load it
    from optimizer.solve.infeasibility import Conflict

Ratios = Mapping[str, tuple[float, NDArray[np.float64]]]  # each ratio row's r and per weights (Formulation)


@dataclass(frozen=True)
class Plan:
    """A solved scenario: who gets what (``assignments``), and the figures behind it."""

    formulation: Formulation
    result: SolveResult
    control: NDArray[np.bool_]
    assignments: pd.DataFrame
    summary: dict[str, Any]


def optimize(
    scenario: Scenario | str | Path, method: Method | None = None, progress: Progress | None = None,
    run_date: dt.date | None = None, sample: float | None = None, sample_seed: int | None = None,
) -> Plan:
    """Solve a scenario to a plan; raise InfeasibleError or SolverError when there is none.

    ``method`` overrides the scenario's solver.method; ``progress`` hears of each pass over the
    customers when the decomposition runs; ``run_date`` (default today) is the day the plan is
    sent, against which the contact policy reads the contact history; ``sample`` plans a share of
    the customers drawn with ``sample_seed`` (default the scenario's seed) under limits scaled by
    it, a quick look not to be sent (optimizer/scenario/sample.py).
    """
    if sample is not None:
        check_share(sample)  # before the data are read
    loaded = with_method(scenario, method)
    found = findings(loaded)  # the data's problems listed with the expressions', as cvo validate does
    data = load_data(loaded, run_date, found=found)
    if sample is not None:
        data = data.sampled(sample, data.scenario.seed if sample_seed is None else sample_seed)
    formulation = formulate(data, found=found)
    forced = data.lists.forced
    result = _solved(formulation.problem, data.scenario, progress, forced, formulation.ratios)
    if result.choice is None:  # a result with a status other than none has a plan
        raise TypeError("the solver's result has no plan")
    from optimizer.plan.controls import draw_controls  # numba: loaded by the commands that solve, not by validate
    from optimizer.reporting.summary import build_summary, unassigned_reasons

    control = draw_controls(result.choice, formulation.problem.customer_ids, formulation.problem.campaign_ids,
                            offer_fractions(data.scenario), data.scenario.seed,
                            None if forced is None else forced != NO_CAMPAIGN, formulation.strata)
    worth = response_values(data, result.choice)
    assignments = plan_table(formulation.problem, result.choice, control, worth,
                             unassigned_reasons(formulation, result.choice), forced, formulation.offers)
    summary = build_summary(formulation, result, control, (*planned_rates(data, result.choice), worth))
    return Plan(formulation, result, control, assignments, summary)


def with_method(scenario: Scenario | str | Path, method: Method | None) -> Scenario:
    """The scenario (read from its file if a path is given, checked if given as an object) with
    ``method`` as its solver method."""
    loaded = scenario.checked() if isinstance(scenario, Scenario) else load_scenario(scenario)
    if method is None:
        return loaded
    return loaded.model_copy(update={"solver": loaded.solver.model_copy(update={"method": method})})


def validate(scenario: Scenario | str | Path, run_date: dt.date | None = None) -> Formulation:
    """The scenario's Problem once its file, its data and the conflicts seen without solving are
    checked: what ``cvo validate`` runs. ``run_date`` (default today) is the day the plan is sent,
    against which the contact policy reads the contact history.

    Every problem found is raised in one error (ScenarioError, DataError, InfeasibleError, HistoryError, or
    Problems listing each, optimizer/errors.py): the problems of the file itself (ScenarioInvalid),
    else those of the data and the expressions, each part checked on its own (the tables, the
    history and the lists; each campaign, constraint and KPI; each minimum audience). Conflicts
    between limits are checked last, once everything they need is valid."""
    loaded = with_method(scenario, None)
    found = findings(loaded)
    data = load_data(loaded, run_date, found=found)
    found.attempt(None, breakdown_levels, data)  # the report's breakdowns, checked before a solve rather than after
    formulation = formulate(data, found=found)
    check_limits(formulation.problem, formulation.scenario, formulation.data.lists.forced)
    return formulation


@dataclass(frozen=True)
class LimitConflict:
    """Limits no plan can meet together, seen without solving: what conflicts (``text``), where, and
    how to mend it."""

    text: str
    where: str
    fix: str


def limit_conflicts(
    problem: Problem, scenario: Scenario, forced: NDArray[np.intp] | None = None
) -> list[LimitConflict]:
    """Every conflict of these kinds: the forced customers alone use more of a limit than it allows;
    minimum audiences need more customers than the forced leave eligible; minimum audiences need more
    of a limit than it allows (what the forced customers left of it), even with their cheapest
    customers (optimizer/solve/shortfalls.py). On a limit the forced customers alone break, the
    shortfall says how much the minimum audiences need besides."""
    found = []
    over = [] if forced is None else overused(problem, forced)
    if over:
        found.append(LimitConflict(
            "the forced customers alone use " + "; ".join(f"{use:,.6g} of {label(row)}" for row, use in over),
            f"{scenario.source}, forced", "Raise those limits, or take customers off the forced lists"))
    rest = problem if forced is None else without_fixed(problem, forced)
    short = [] if forced is None else _forced_audiences(problem, rest)
    if short:
        found.append(LimitConflict("; ".join(short), f"{scenario.source}, forced",
                                   "Lower those minimum audiences, or take customers off the forced lists of other "
                                   "campaigns"))
    shortfalls = [_whole(one, problem, forced) for one in obvious_conflicts(rest)]
    if shortfalls:
        found.append(_shortfall_conflict(scenario, shortfalls))
    return found


def check_limits(problem: Problem, scenario: Scenario, forced: NDArray[np.intp] | None = None) -> None:
    """InfeasibleError listing every ``limit_conflicts`` found, if any."""
    errors: list[CvoError] = [conflict_error(scenario, conflict)
                              for conflict in limit_conflicts(problem, scenario, forced)]
    if errors:
        raise listed(errors, f"Scenario '{scenario.name}'")


def conflict_error(scenario: Scenario, conflict: LimitConflict) -> InfeasibleError:
    """The error telling one conflict of the scenario's limits."""
    return InfeasibleError(f"No plan satisfies every constraint of scenario '{scenario.name}': {conflict.text}",
                           where=conflict.where, fix=conflict.fix)


def shortfall_error(scenario: Scenario, shortfalls: list[Shortfall]) -> InfeasibleError:
    """The error of minimum audiences that break limits even with their cheapest customers."""
    return conflict_error(scenario, _shortfall_conflict(scenario, shortfalls))


def _shortfall_conflict(scenario: Scenario, shortfalls: list[Shortfall]) -> LimitConflict:
    return LimitConflict("; and ".join(map(describe_shortfall, shortfalls)), scenario.source,
                         "Change one of the limits named above in the scenario file, then run again")


def _forced_audiences(problem: Problem, rest: Problem) -> list[str]:
    """The minimum audiences that need more customers than are eligible once the forced customers
    are taken (a customer forced into one campaign cannot fill another's audience), told as such."""
    short = []
    for whole, row in zip(problem.rows, rest.rows):
        if row.family == "min_audience" and row.rhs > 0:
            left = int(rest.eligible[:, row.campaigns].any(axis=1).sum())
            if left < row.rhs:
                forced_in = int(round(whole.rhs - row.rhs))
                short.append(f"{row.name} needs {row.rhs:,.0f} customers besides the {forced_in:,} forced into it, "
                             f"and only {left:,} eligible customers are not forced into another campaign")
    return short


def _whole(found: Shortfall, problem: Problem, forced: NDArray[np.intp] | None) -> Shortfall:
    """A shortfall of what the forced customers leave, told against the scenario's own limits: their
    use added back to the least use (the amount to raise a limit by is the same)."""
    if forced is None:
        return found
    index = {row.name: position for position, row in enumerate(problem.rows)}
    used = float(problem.row_activity(forced)[index[found.limit.name]])
    return Shortfall(tuple(problem.rows[index[row.name]] for row in found.needs), problem.rows[index[found.limit.name]],
                     found.least + used)


def _solved(problem: Problem, scenario: Scenario, progress: Progress | None,
            forced: NDArray[np.intp] | None = None, ratios: Ratios | None = None) -> SolveResult:
    """The solver's result when it has a plan; InfeasibleError or SolverError otherwise. The
    diagnosis of an infeasible scenario shares the solve's time limit."""
    check_limits(problem, scenario, forced)
    from optimizer.solve.solver import solve  # pyomo and numba: loaded by the commands that solve

    clock = Clock.start(scenario.solver.time_limit_s)
    result = solve(problem, scenario.solver, progress, lambda: tie_keys(problem.customer_ids, scenario.seed), forced)
    if result.termination is Termination.INFEASIBLE:
        raise _infeasible(scenario, problem, clock, forced, ratios or {})
    if result.status is SolutionStatus.NONE:
        raise _no_plan(scenario, problem, result)
    return result


def plan_table(problem: Problem, choice: NDArray[np.integer[Any]], control: NDArray[np.bool_],
               value_per_response: NDArray[np.float64], reasons: NDArray[np.object_],
               forced: NDArray[np.intp] | None = None, offers: tuple[Offer, ...] | None = None) -> pd.DataFrame:
    """One row per customer: campaign_id, its offer ``variant`` (null for a campaign without
    variants; ``offers`` are the problem's columns, None: each a campaign of that id) and group
    (treatment, control, or forced for a customer of a forced list; null when none), expected value
    and spend, the
    value of one response the objective used (treated and control alike; NaN when none), the
    campaign's channel, and for a customer given nothing the code of why (``reasons``:
    optimizer/reporting/summary.py UNASSIGNED).

    Controls receive nothing, so their expected value and spend are 0.
    """
    given = choice != NO_CAMPAIGN
    treated = given & ~control
    rows = np.arange(problem.n_customers)
    group = np.where(control, CONTROL, TREATMENT) if forced is None else \
        np.where(forced != NO_CAMPAIGN, FORCED, np.where(control, CONTROL, TREATMENT))
    safe = np.where(given, choice, 0)
    campaign_ids = np.array(problem.campaign_ids if offers is None else [o.campaign.id for o in offers], dtype=object)
    variants = np.array([None] * problem.n_campaigns if offers is None else [o.variant_id for o in offers],
                        dtype=object)
    return pd.DataFrame({
        "customer_id": pd.array(problem.customer_ids.astype(str), dtype="string"),
        "campaign_id": pd.array(np.where(given, campaign_ids[safe], np.array(None)), dtype="string"),
        "variant": pd.array(np.where(given, variants[safe], np.array(None)), dtype="string"),
        "group": pd.array(np.where(given, group, np.array(None)), dtype="string"),
        "expected_value": np.where(treated, problem.pair_value[rows, safe], 0.0),
        "expected_spend": np.where(treated, problem.spend[rows, safe], 0.0),
        "value_per_response": np.where(given, value_per_response, np.nan),
        "channel": pd.array(np.where(given, np.array(problem.channels, dtype=object)[safe], np.array(None)),
                            dtype="string"),
        "reason": pd.array(reasons, dtype="string"),
    })


def _infeasible(scenario: Scenario, problem: Problem, clock: Clock,
                forced: NDArray[np.intp] | None = None, ratios: Ratios | None = None) -> InfeasibleError:
    """The diagnosis of an infeasible ``problem``; with ``forced``, of what is left once the forced
    customers have their campaigns, told against the scenario's own limits (a change of a limit is
    the same amount either way; only where it leads to moves by the forced customers' use)."""
    from optimizer.solve.infeasibility import describe_conflict, diagnose

    rest = problem if forced is None else without_fixed(problem, forced)
    customers, campaigns = rest.candidate_pairs()
    diagnosis = diagnose(rest, customers, campaigns, clock)
    own = {row.name: _ratio_labelled(row, ratios or {}) for row in problem.rows}  # the scenario's own rows
    diagnosis = replace(diagnosis, conflicts=[replace(c, row=own[c.row.name]) for c in diagnosis.conflicts],
                        alone=[replace(c, row=own[c.row.name]) for c in diagnosis.alone],
                        binding=[own[row.name] for row in diagnosis.binding],
                        not_alone=[own[row.name] for row in diagnosis.not_alone])
    left = ". The forced customers' use of each limit is counted in" if forced is not None else ""
    return InfeasibleError(
        f"No plan satisfies every constraint of scenario '{scenario.name}'. "
        f"{describe_conflict(diagnosis, _ratio_words(problem, ratios or {}, forced))}{left}",
        where=scenario.source,
        fix="Change one of the limits named above in the scenario file, then run again" if diagnosis.conflicts else
        "Give the diagnosis more time to name the limits that conflict (e.g. --set solver.time_limit_s=60), or "
        "check the minimum audiences, budgets and capacities against each other",
    )


def _ratio_words(problem: Problem, ratios: Ratios,
                 forced: NDArray[np.intp] | None) -> Callable[[Conflict], str | None]:
    """A change of a ratio row (Σ e ≥ r Σ per, solved as Σ (e − r per) ≥ 0) told as a change of its
    ratio r: with the plan that proved the change, the ratio it reaches, Σ e / Σ per = r + lhs / Σ per
    (rounded towards the side that plan meets); else only which way r must move."""
    index = {row.name: r for r, row in enumerate(problem.rows)}

    def words(conflict: Conflict) -> str | None:
        row = conflict.row
        if row.family != "custom" or row.name not in ratios:
            return None
        limit, per = ratios[row.name]
        moved = f"{'lower' if conflict.change < 0 else 'raise'} the ratio of {row.name} ({row.sense} {limit:,.6g})"
        if conflict.plan is None:  # no plan proved the change: only which way the ratio must move
            return moved
        plan = conflict.plan if forced is None else np.where(forced != NO_CAMPAIGN, forced, conflict.plan)
        given = np.flatnonzero(plan != NO_CAMPAIGN)
        total = float(per[given, plan[given]].sum())
        if total <= 0:
            return None
        reached = limit + float(problem.row_activity(plan)[index[row.name]]) / total
        return f"{moved} to {rounded(reached, up=row.sense is not Sense.GE):,.6g} (a plan was found at that ratio)"
    return words


def _ratio_labelled(row: CouplingRow, ratios: Ratios) -> CouplingRow:
    """A ratio row whose source says the ratio it holds (its own rhs is the linear form's 0)."""
    if row.family != "custom" or row.name not in ratios:
        return row
    return replace(row, source=f"{row.source}: a ratio {row.sense} {ratios[row.name][0]:,.6g}")


def _no_plan(scenario: Scenario, problem: Problem, result: SolveResult) -> SolverError:
    if result.termination is Termination.TIME_LIMIT:
        bound = f"; the best possible objective is at most {result.bound:,.6g}" if result.bound is not None else ""
        floors = [row.name for row in problem.rows if row.sense is not Sense.LE]
        hard = (f"no plan meeting every limit was found in time; its >= and == limits ({', '.join(floors)}) are "
                "the ones a plan stopped early can miss" if floors else "no plan meeting every limit was found")
        return SolverError(
            f"The solver found no plan within the time limit of {scenario.solver.time_limit_s:g} s: {hard}{bound}",
            where=f"{scenario.source}, solver.time_limit_s",
            fix="Raise solver.time_limit_s, or loosen those limits (min_audience, floors)" if floors else
            "Raise solver.time_limit_s",
        )
    return SolverError(
        f"The solver stopped ({result.termination}) without a plan",
        where=scenario.source,
        fix="Run again; if it persists, report it with the scenario file",
    )


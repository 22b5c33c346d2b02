"""The exact solver: LP relaxation, reduced-cost fixing, and the Pyomo model of the remaining
core solved by HiGHS branch and bound.

1. Solve the LP relaxation over the candidate pairs (highspy): bound z_LP, reduced costs d_p.
2. Keep the CORE_PAIRS pairs of smallest |d_p| (and every fractional one) free, fix the others
   at their LP value (0 or 1), and solve that core as a MIP. Its plan is feasible for the whole.
3. A plan that differs from the fixed values on pair p is worth at most z_LP - |d_p|, so no plan
   outside the core beats z_LP - t, t = min |d_p| over the fixed pairs:
       bound = min(z_LP, max(core bound, z_LP - t)).
4. When every row counts campaigns (one coefficient per campaign), the audience-size bound
   (optimizer/solve/audiences.py) at the LP's prices keeps the audience sizes integer, which z_LP does
   not: bound = min(that bound, the bound of step 3).
5. If the gap is still above mip_gap, widen the core to every pair with |d_p| <= z_LP - z_plan
   (no better plan lies outside it), at most the WIDEST_CORE of least |d_p|, and solve again.

One choice per customer and m coupling rows leave at most m fractional customers in the LP, so
z_LP is tight and a core of a few thousand pairs usually proves a gap of 1e-6 on its own.
HiGHS ignores its time limit while presolving (measured: 190 s at 100k × 10 under a 30 s limit),
so presolve runs only on cores small enough for it to be quick.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any, cast

import numpy as np
import pyomo.environ as pyo
from numpy.typing import NDArray
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import Results, SolutionStatus as PyomoSolution, TerminationCondition

from optimizer.solve.audiences import AUDIENCE_LIMIT_S, audience_bound
from optimizer.solve.balancing import balancing_pass, signed_prices
from optimizer.solve.clock import Clock
from optimizer.solve.lagrangian import price_out, priced_problem
from optimizer.solve.model import build_model
from optimizer.solve.options import SolverOptions
from optimizer.solve.partitions import Customers
from optimizer.solve.problem import NO_CAMPAIGN, Problem
from optimizer.solve.relaxation import Relaxation, quiet_highs_banner, solve_relaxation
from optimizer.solve.repair import REPAIR_SHARE, repair
from optimizer.solve.results import SolutionStatus, SolveResult, Termination

CORE_PAIRS = 5_000
# With the audience-size bound (every row counts campaigns) the bound proves the plan and the core
# only has to find it; measured at 100k × 10 planned (decompose): a first core of 10,000 pairs
# took 2.3 s in all, 1,000 0.50 s, 100 0.52 s, every one optimal; later, with a master of 3,000
# customers, 1,000 pairs 0.18 s and 300 0.16 s.
AUDIENCE_CORE_PAIRS = 300
PRESOLVE_BELOW = 20_000
# A widened core keeps at most this many pairs (those of least |d|; the rest stay fixed and bound the
# gap as in step 3): HiGHS does not keep its time limit at the root of larger cores (measured: a
# 54,136-pair core of 10^6 × 20 near-infeasible ran 111 s under a 14 s limit, 8 s of it LP).
WIDEST_CORE = 20_000
KILL_GRACE = 1.0  # s: a HiGHS run still going this long after its limit is stopped (see run_highs)
# s per pair: what Pyomo takes to hand a model to HiGHS and read its answer back inside the child,
# on top of HiGHS's own limit (measured 0.45 s for a 15,000-pair core; twice that, as a margin).
TRANSLATION_SECONDS = 6e-5

_TERMINATION = {
    TerminationCondition.convergenceCriteriaSatisfied: Termination.OPTIMAL,
    TerminationCondition.maxTimeLimit: Termination.TIME_LIMIT,
    TerminationCondition.provenInfeasible: Termination.INFEASIBLE,
    TerminationCondition.locallyInfeasible: Termination.INFEASIBLE,
    TerminationCondition.infeasibleOrUnbounded: Termination.INFEASIBLE,
}


def solve_exact(problem: Problem, options: SolverOptions | None = None) -> SolveResult:
    """Proven-optimal plan of ``problem`` (or the best within the time limit, with its bound)."""
    options = options or SolverOptions()
    clock = Clock.start(options.time_limit_s)
    customers, campaigns = problem.candidate_pairs()
    if customers.size == 0:
        return _empty_plan(problem, clock.elapsed())
    work = clock.reserving(REPAIR_SHARE * clock.limit)
    lp = solve_relaxation(problem, customers, campaigns, time_limit=work.allow())
    if not lp.feasible:
        if lp.proven:
            return SolveResult(Termination.INFEASIBLE, SolutionStatus.NONE, None, None, None, 0.0, clock.elapsed(),
                               "exact", int(customers.size))
        return _repaired(problem, np.zeros(len(problem.rows)), None, options, clock)
    result = solve_with_relaxation(problem, customers, campaigns, lp, options, work)
    if result.choice is None and result.termination is not Termination.INFEASIBLE:
        return _repaired(problem, _optimum_prices(lp), result.bound, options, clock)
    return _final(result, options, clock, lp)


def _repaired(problem: Problem, prices: NDArray[np.float64], bound: float | None, options: SolverOptions,
              clock: Clock) -> SolveResult:
    """A plan repaired from ``prices`` (optimizer/solve/repair.py) when the exact steps found none in
    time, with the better of its bound and ``bound``; no plan when repair finds none either."""
    priced = priced_problem(problem)
    customers = Customers(priced)
    found = repair(customers, balancing_pass(customers, signed_prices(problem.rows, prices), 0), clock)
    known = np.inf if bound is None else bound
    if found is None:
        return SolveResult(Termination.TIME_LIMIT, SolutionStatus.NONE, None, None, bound, 0.0, clock.elapsed(),
                           "exact", 0)
    choice = price_out(priced, found.prices).choice.astype(np.intp)
    choice[found.moved] = found.moved_choice
    value = problem.objective(choice)
    result = SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, choice, value,
                         max(value, min(known, found.bound)), 0.0, clock.elapsed(), "exact", 0,
                         shadow_prices=found.prices)
    return result.settled(options.mip_gap)


def _optimum_prices(lp: Relaxation) -> NDArray[np.float64]:
    if lp.shadow_prices is None:
        raise TypeError("a feasible LP relaxation has shadow prices")
    return lp.shadow_prices


def solve_with_relaxation(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], lp: Relaxation, options: SolverOptions,
    clock: Clock, allowed_gap: float | None = None, core_pairs: int | None = None,
) -> SolveResult:
    """Steps 2-5 of the module docstring, from the LP optimum over the candidate pairs.

    ``allowed_gap`` is the absolute gap the plan may have (default: mip_gap × |z_LP|); a caller
    solving part of a larger problem passes the whole problem's; ``core_pairs`` the size of the
    first core (default CORE_PAIRS, read when called; see ``first_core_size``).
    """
    lp_bound, _, reduced_costs = _optimum(lp)
    if allowed_gap is None:
        allowed_gap = options.mip_gap * max(1.0, abs(lp_bound))
    distance = np.abs(reduced_costs)
    counts_only = problem.campaign_coefficients(customers, campaigns) is not None
    size = first_core_size(CORE_PAIRS if core_pairs is None else core_pairs, counts_only)
    core = _smallest(distance, size) | _fractional(lp)
    rounded = _rounded_plan(problem, customers, campaigns, lp, clock)
    started = time.perf_counter()
    result = _solve_core(problem, customers, campaigns, lp, core, options, clock, 0.5 * allowed_gap, rounded)
    first_core_seconds = time.perf_counter() - started
    if _unproven(result, allowed_gap) and result.objective is not None and result.bound is not None:
        result = replace(result, bound=max(result.objective, min(result.bound, _audience_bound(
            problem, customers, campaigns, lp, clock))))
    # a wider core takes at least as long as the first, and HiGHS does not check its limit everywhere in a MIP
    if _unproven(result, allowed_gap) and not core.all() and clock.remaining() > first_core_seconds:
        reach = lp_bound - result.objective if result.objective is not None else np.inf
        core = core | (_smallest(distance, WIDEST_CORE) & (distance <= reach + 1e-9))
        result = _solve_core(problem, customers, campaigns, lp, core, options, clock, 0.5 * allowed_gap, result)
    if result.termination is Termination.INFEASIBLE and not core.all():
        result = replace(result, termination=Termination.TIME_LIMIT)  # only the core was shown infeasible
    return result


def first_core_size(core_pairs: int, counts_only: bool) -> int:
    """The first core's pairs: ``core_pairs``, at most AUDIENCE_CORE_PAIRS when every row counts
    campaigns (the audience-size bound then proves what the core finds)."""
    return min(core_pairs, AUDIENCE_CORE_PAIRS) if counts_only else core_pairs


def _audience_bound(problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], lp: Relaxation,
                    clock: Clock) -> float:
    """optimizer/solve/audiences.py's bound at the LP's prices when every row counts campaigns, else inf.

    Φ(μ) = Σ_i max(0, max_j c_ij - μ_j) over the candidate pairs, μ = Aᵀλ, N_j = candidate pairs of j.
    """
    coefficients = problem.campaign_coefficients(customers, campaigns)
    if coefficients is None:
        return np.inf
    if lp.shadow_prices is None:
        raise TypeError("the LP relaxation has no shadow prices")
    campaign_prices = lp.shadow_prices @ coefficients
    best = np.zeros(problem.n_customers)
    np.maximum.at(best, customers, problem.value[customers, campaigns] - campaign_prices[campaigns])
    eligible = np.bincount(campaigns, minlength=problem.n_campaigns)
    return audience_bound(problem.rows, coefficients, campaign_prices, float(best.sum()), eligible,
                          problem.n_customers, clock.allow(AUDIENCE_LIMIT_S))


def _final(result: SolveResult, options: SolverOptions, clock: Clock, lp: Relaxation) -> SolveResult:
    """Optimal only when the gap is proven within mip_gap; a plan short of that ran out of time."""
    if result.choice is not None:
        result = result.settled(options.mip_gap)
    return replace(result, solve_seconds=clock.elapsed() - result.build_seconds, shadow_prices=lp.shadow_prices)


def _unproven(result: SolveResult, allowed_gap: float) -> bool:
    return result.objective is None or result.bound is None or result.bound - result.objective > allowed_gap


def _rounded_plan(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], lp: Relaxation, clock: Clock
) -> SolveResult | None:
    """The LP optimum without its fractional customers: a plan to fall back on, if it is feasible."""
    lp_bound, x, _ = _optimum(lp)
    whole = x > 1 - 1e-9
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    choice[customers[whole]] = campaigns[whole]
    if problem.violations(choice):
        return None
    objective = problem.objective(choice)
    return SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, choice, objective, max(lp_bound, objective),
                       0.0, clock.elapsed(), "exact", int(customers.size))


def _smallest(distance: NDArray[np.float64], count: int) -> NDArray[np.bool_]:
    mask = np.zeros(distance.size, dtype=bool)
    mask[np.argsort(distance, kind="stable")[:count]] = True
    return mask


def _fractional(lp: Relaxation) -> NDArray[np.bool_]:
    _, x, _ = _optimum(lp)
    return (x > 1e-9) & (x < 1 - 1e-9)


def _optimum(lp: Relaxation) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """The bound, x and reduced costs of a solved relaxation; a TypeError for one without (as using None would)."""
    if lp.bound is None or lp.x is None or lp.reduced_costs is None:
        raise TypeError("the LP relaxation has no optimum (bound, x and reduced costs)")
    return lp.bound, lp.x, lp.reduced_costs


def _objective(result: SolveResult) -> float:
    """The objective of a result with a plan; a TypeError for one without (as comparing None would)."""
    if result.objective is None:
        raise TypeError("the result has no objective")
    return result.objective


def _solve_core(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], lp: Relaxation,
    core: NDArray[np.bool_], options: SolverOptions, clock: Clock, absolute_gap: float,
    floor: SolveResult | None = None,
) -> SolveResult:
    """Fix the pairs outside ``core`` at their LP value, solve the rest, bound the whole.

    The result keeps the better of the core's plan and ``floor``'s, and the tighter bound.
    """
    fixed = np.full(problem.n_customers, NO_CAMPAIGN)
    _, x, _ = _optimum(lp)
    at_one = ~core & (x > 0.5)
    fixed[customers[at_one]] = campaigns[at_one]
    free = np.zeros_like(problem.eligible)
    free[customers[core], campaigns[core]] = True
    core_options = options.model_copy(update={"presolve": options.presolve or core.sum() < PRESOLVE_BELOW})
    part = solve_full_model(problem.restrict(free, fixed), core_options, clock.allow(), absolute_gap)
    bound = _whole_bound(problem, lp, core, fixed, part)
    part = replace(part, method="exact", candidate_pairs=int(customers.size), core_pairs=int(core.sum()),
                   build_seconds=part.build_seconds + (floor.build_seconds if floor else 0.0))
    if part.choice is not None:
        choice = np.where(part.choice != NO_CAMPAIGN, part.choice, fixed)
        part = replace(part, choice=choice, objective=problem.objective(choice))
    if floor is not None and floor.choice is not None and (
        part.choice is None or _objective(floor) > _objective(part)
    ):
        part = replace(part, termination=floor.termination, status=floor.status, choice=floor.choice,
                       objective=floor.objective)
    if floor is not None and floor.bound is not None:
        bound = min(bound, floor.bound)
    if part.objective is not None:
        bound = max(bound, part.objective)
    return replace(part, bound=float(bound) if np.isfinite(bound) else None)


def _whole_bound(
    problem: Problem, lp: Relaxation, core: NDArray[np.bool_], fixed: NDArray[np.integer[Any]], part: SolveResult
) -> float:
    """min(z_LP, max(best plan inside the core, z_LP - least |d| outside it))."""
    lp_bound, _, reduced_costs = _optimum(lp)
    outside = float(np.min(np.abs(reduced_costs)[~core], initial=np.inf))
    if part.termination is Termination.INFEASIBLE:
        inside = -np.inf
    elif part.bound is None:
        inside = np.inf
    else:
        inside = part.bound + problem.objective(fixed)
    return min(lp_bound, max(inside, lp_bound - outside))


def solve_full_model(
    problem: Problem, options: SolverOptions | None = None, time_limit: float | None = None,
    absolute_gap: float = 0.0,
) -> SolveResult:
    """The Pyomo model over every candidate pair of ``problem``, solved by HiGHS as it is."""
    options = options or SolverOptions()
    started = time.perf_counter()
    customers, campaigns = problem.candidate_pairs()
    if customers.size == 0:
        return _empty_plan(problem, time.perf_counter() - started)
    model = build_model(problem, customers, campaigns)
    build_seconds = time.perf_counter() - started
    limit = time_limit if time_limit is not None else max(1.0, options.time_limit_s - build_seconds)
    run = run_highs(model, options, limit, absolute_gap)
    solve_seconds = time.perf_counter() - started - build_seconds
    if run.chosen is None:
        return SolveResult(run.termination, SolutionStatus.NONE, None, None, run.bound, build_seconds, solve_seconds,
                           "full_model", int(customers.size))
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    choice[customers[run.chosen]] = campaigns[run.chosen]
    objective = problem.objective(choice)
    status = SolutionStatus.OPTIMAL if run.termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
    return SolveResult(run.termination, status, choice, objective,
                       None if run.bound is None else max(objective, run.bound), build_seconds, solve_seconds,
                       "full_model", int(customers.size))


@dataclass(frozen=True)
class HighsRun:
    """How one HiGHS run of a model ended, its best bound, and its plan as the chosen pairs
    (``model.assign``; None without a plan)."""

    termination: Termination
    bound: float | None
    chosen: NDArray[np.bool_] | None


def run_highs(model: pyo.ConcreteModel, options: SolverOptions, time_limit: float, absolute_gap: float) -> HighsRun:
    """HiGHS on ``model`` within ``time_limit`` seconds, kept even where HiGHS does not check it.

    HiGHS 1.16 checks its time limit (and its interrupt callbacks) only between steps of a MIP; a
    root heuristic of one step ran 13 s past a 9 s limit on an 11,778-pair core (linesearch
    rounding with conflict analysis; tight 10^5 × 20). So on Linux, the run is made in a forked
    child process that is killed KILL_GRACE seconds after the limit (plus what Pyomo takes to hand
    the model over, TRANSLATION_SECONDS per pair), the run then counting as out of time without a
    plan (the caller keeps the plan it had). Elsewhere (no safe fork), and inside a daemonic process
    (a multiprocessing or Dask worker, which may not have children), HiGHS runs here.
    """
    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return _highs_here(model, options, time_limit, absolute_gap)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_highs_in_child, args=(sender, model, options, time_limit, absolute_gap),
                            daemon=True)
    try:
        child.start()
    finally:
        sender.close()
    grace = KILL_GRACE + TRANSLATION_SECONDS * len(model.assign)
    try:
        if not receiver.poll(time_limit + grace):
            return HighsRun(Termination.TIME_LIMIT, None, None)
        outcome = receiver.recv()
    except EOFError:  # the child died without a word (killed from outside, out of memory): no plan from it
        return HighsRun(Termination.ERROR, None, None)
    finally:
        child.kill()
        child.join()
        receiver.close()
    if isinstance(outcome, str):
        raise RuntimeError(f"HiGHS failed: {outcome}")
    return cast(HighsRun, outcome)


def _highs_in_child(sender: Connection, model: pyo.ConcreteModel, options: SolverOptions, time_limit: float,
                    absolute_gap: float) -> None:
    """The forked child's side of ``run_highs``: the run, or the error's text, sent back."""
    try:
        sender.send(_highs_here(model, options, time_limit, absolute_gap))
    except Exception as error:  # noqa: BLE001  # any failure is reported to the parent, which raises it
        sender.send(f"{type(error).__name__}: {error}")
    finally:
        sender.close()


def _highs_here(model: pyo.ConcreteModel, options: SolverOptions, time_limit: float, absolute_gap: float) -> HighsRun:
    """HiGHS stops at mip_gap relative to its own objective, or at ``absolute_gap`` if given."""
    quiet_highs_banner()
    results = SolverFactory("highs").solve(
        model,
        time_limit=time_limit,
        rel_gap=options.mip_gap if absolute_gap == 0.0 else 0.0,
        abs_gap=absolute_gap,
        threads=1,
        solver_options={"presolve": "on" if options.presolve else "off"},
        raise_exception_on_nonoptimal_result=False,
        load_solutions=False,
    )
    termination = _TERMINATION.get(results.termination_condition, Termination.ERROR)
    if results.solution_status not in (PyomoSolution.optimal, PyomoSolution.feasible):
        return HighsRun(termination, _bound(results), None)
    results.solution_loader.load_vars()
    chosen = np.array([model.assign[p].value or 0.0 for p in model.pairs], dtype=float) > 0.5
    return HighsRun(termination, _bound(results), chosen)


def _bound(results: Results) -> float | None:
    bound = results.objective_bound
    return float(bound) if bound is not None and np.isfinite(bound) else None


def _empty_plan(problem: Problem, seconds: float) -> SolveResult:
    """No pair is worth a variable: the empty plan is optimal if it meets every row."""
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    if problem.violations(choice):
        return SolveResult(Termination.INFEASIBLE, SolutionStatus.NONE, None, None, None, seconds, 0.0, "exact", 0)
    return SolveResult(Termination.OPTIMAL, SolutionStatus.OPTIMAL, choice, 0.0, 0.0, seconds, 0.0, "exact", 0)

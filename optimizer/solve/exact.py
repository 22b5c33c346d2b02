"""The exact solver: LP relaxation, reduced-cost fixing, and the Pyomo model of the remaining
core solved by HiGHS branch and bound.

1. Solve the LP relaxation over the candidate pairs (highspy): bound z_LP, reduced costs d_p.
2. A core: keep some pairs free (every fractional one among them), fix the others at their LP
   value (0 or 1), and solve that core as a MIP. Its plan is feasible for the whole.
3. A plan that differs from the fixed values on pair p is worth at most z_LP - m_p, m_p the
   pair's move cost (relaxation.py's ``move_costs``: |d_p| to take a pair at 0; to leave one at
   1, |d_p| plus the least its customer loses by taking another pair or nothing), so no plan
   outside the core beats z_LP - t, t = min m_p over the fixed pairs:
       bound = min(z_LP, max(core bound, z_LP - t)).
4. When every row counts campaigns (one coefficient per campaign), a first core of the CORE_PAIRS
   pairs of least m_p finds the plan and the audience-size bound (optimizer/solve/audiences.py)
   at the LP's prices proves it: it keeps the audience sizes integer, which z_LP does not;
   bound = min(that bound, the bound of step 3).
5. If the gap is still above mip_gap, small cores around the LP optimum improve the plan (the
   better of the LP's rounding and a caller's plan; optimizer/solve/neighbourhoods.py) until z_LP
   proves it; short of that, widen the core towards every pair with m_p <= z_LP - z_plan (no
   better plan lies outside it): cores of the WIDER_CORES pairs of least m_p among those, smallest
   first, each solved from the best plan so far as HiGHS's start, until one proves the plan or
   holds every such pair.

One choice per customer and m coupling rows leave at most m fractional customers in the LP, so
z_LP is tight: a plan within mip_gap of it is often found without proving anything in a core.
HiGHS ignores its time limit while presolving (measured: 190 s at 100k × 10 under a 30 s limit),
so presolve runs only on cores small enough for it to be quick, and never on a core given a start.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.audiences import AUDIENCE_LIMIT_S, audience_bound
from optimizer.solve.balancing import balancing_pass, signed_prices, warm_start
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.highs_run import run_highs
from optimizer.solve.lagrangian import price_out, priced_problem
from optimizer.solve.model import build_model, set_start
from optimizer.solve.neighbourhoods import improve
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import NO_CAMPAIGN, Problem
from optimizer.solve.relaxation import Relaxation, move_costs, solve_relaxation
from optimizer.solve.repair import REPAIR_SHARE, repair
from optimizer.solve.results import SolutionStatus, SolveResult, Termination, gap_allowed

# With the audience-size bound (every row counts campaigns) the bound proves the plan and the core
# only has to find it; measured at 100k × 10 planned (decompose): a first core of 10,000 pairs
# took 2.3 s in all, 1,000 0.50 s, 100 0.52 s, every one optimal; later, with a master of 3,000
# customers, 1,000 pairs 0.18 s and 300 0.16 s.
CORE_PAIRS = 300
PRESOLVE_BELOW = 20_000
# Widened cores, smallest first: each adds to the core the pairs of least move cost within reach, this many
# at most (the rest stay fixed and bound the gap as in step 3), until one proves the plan. HiGHS's
# time grows much faster than the core: on tight 10^5 × 10 seed 1 the 11 pairs where the optimum
# leaves the LP's rounding were among the 3,300 of least |d|, and a core of 4,000 pairs proved it in
# 0.8 s, 8,000 in 2.1 s, 20,000 in 30.8 s. On bench/seeds.py's five seeds at 10^5 × 10 (60 s limit,
# docs/benchmarks.md, 2026-12-07) against one core of 20,000: tight 5 of 5 proven, worst 3.4 s (was
# 4 of 5, worst 61 s); variants 2 of 5 (was 1); custom the same median (9.1 s), its worst 22 -> 36 s
# (a 14,000-pair core HiGHS took 23 s on).
# And HiGHS does not keep its time limit at the root of larger cores (measured: a 54,136-pair
# core of 10^6 × 20 near-infeasible ran 111 s under a 14 s limit, 8 s of it LP).
WIDER_CORES = (2_500, 4_000, 6_000, 9_000, 14_000, 20_000)


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
        return _repaired(problem, None, None, options, clock, _ended(work))
    result = solve_with_relaxation(problem, customers, campaigns, lp, options, work)
    if result.choice is None and result.termination is not Termination.INFEASIBLE:
        return _repaired(problem, _optimum_prices(lp), result.bound, options, clock, _ended(work))
    if result.choice is not None and result.termination is not Termination.TIME_LIMIT:
        result = replace(result, termination=Termination.STALLED)  # ended with time left: settled() keeps it unproven
    return _final(result, options, clock, lp)


def _ended(work: Clock) -> Termination:
    """Why the exact steps stopped without a plan: out of time, or with time left (HiGHS could not
    solve the LP relaxation, numerically, nor prove it infeasible)."""
    return Termination.TIME_LIMIT if work.expired() else Termination.STALLED


def _repaired(problem: Problem, prices: NDArray[np.float64] | None, bound: float | None, options: SolverOptions,
              clock: Clock, termination: Termination) -> SolveResult:
    """A plan repaired from ``prices`` (optimizer/solve/repair.py) when the exact steps found none
    (stopped for ``termination``), with the better of its bound and ``bound``; no plan when repair
    finds none either. Without prices (the LP relaxation cut by the limit), from the duals of the
    LP over a hashed sample (balancing.warm_start): measured on scenarios/tight_budget.yaml (30,000
    customers, four minimum audiences) under a 0.5 s limit, whose LP took 0.66 s, the mend found no
    plan from zero prices and found one from the sample's (0.05 s); on bench/instances.py's custom
    kind at 30,000 × 10 a plan of 49,644 against 12,031. It has no shadow prices: the repair's are
    where its search stopped, not the LP's duals (measured: weekly under a 0.5 s limit, its budget
    binding, reported a budget price of 0 at 6,000, 9,000 and 12,000, and cvo sweep drew those
    zeros as the frontier's prices)."""
    priced = priced_problem(problem)
    customers = Customers(priced)
    prices = warm_start(customers, clock) if prices is None else prices
    found = repair(customers, balancing_pass(customers, signed_prices(problem.rows, prices), 0), clock)
    known = np.inf if bound is None else bound
    if found is None:
        return SolveResult(termination, SolutionStatus.NONE, None, None, bound, 0.0, clock.elapsed(),
                           "exact", 0)
    choice = price_out(priced, found.prices).choice.astype(np.intp)
    choice[found.moved] = found.moved_choice
    value = problem.objective(choice)
    result = SolveResult(termination, SolutionStatus.FEASIBLE, choice, value,
                         max(value, min(known, found.bound)), 0.0, clock.elapsed(), "exact", 0)
    return result.settled(options.mip_gap)


def _optimum_prices(lp: Relaxation) -> NDArray[np.float64]:
    if lp.shadow_prices is None:
        raise TypeError("a feasible LP relaxation has shadow prices")
    return lp.shadow_prices


def solve_with_relaxation(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], lp: Relaxation, options: SolverOptions,
    clock: Clock, allowed_gap: float | None = None, least_bound: float = -np.inf,
    floor: NDArray[np.integer[Any]] | None = None, attempt: int = 0,
) -> SolveResult:
    """Steps 2-5 of the module docstring, from the LP optimum over the candidate pairs, and from the
    plan ``floor`` (a campaign or NO_CAMPAIGN per customer) when it is feasible and better than the
    LP's rounding: a caller's earlier plan that steps 2-5 then only improve.

    ``allowed_gap`` is the absolute gap the plan may have (default: ``gap_allowed(mip_gap, z_LP)``); a caller
    solving part of a larger problem passes the whole problem's, and as ``least_bound`` the least
    bound of this part that can prove the whole (the customers left outside may gain that much):
    when it already leaves the plan more than the gap, no core is widened to prove this part.
    ``attempt`` numbers a caller's repeated searches (optimizer/solve/neighbourhoods.py).

    A plan's termination says how the search ended: TIME_LIMIT when a core given the time left was
    stopped by its limit or the clock has run out, else OPTIMAL (it ended by itself; whether that
    proves the whole is ``settled()``'s to say), never a label of the plan it started from.
    """
    lp_bound, x, reduced_costs = _optimum(lp)
    if allowed_gap is None:
        allowed_gap = gap_allowed(options.mip_gap, lp_bound)
    distance = move_costs(customers, x, reduced_costs, lp.choice_duals)
    core = _fractional(lp)
    result = _better_plan(_rounded_plan(problem, customers, campaigns, lp, clock),
                          _plan_of(problem, floor, lp_bound, int(customers.size), clock))

    def solve(free: NDArray[np.bool_], floor: SolveResult | None, limit: Clock) -> SolveResult:
        return _solve_core(problem, customers, campaigns, lp, free, options, limit, 0.5 * allowed_gap, floor,
                           distance)

    def proven(plan: SolveResult | None) -> bool:
        return not _unproven(plan, allowed_gap)

    cut = False  # a core given the time left was stopped by its limit: the time ran out in it

    def solve_in_time_left(free: NDArray[np.bool_], floor: SolveResult | None) -> SolveResult:
        nonlocal cut
        found = solve(free, floor, clock)
        cut |= found.termination is Termination.TIME_LIMIT
        return found

    if problem.campaign_coefficients(customers, campaigns) is not None or core.all():
        core |= _smallest(distance, CORE_PAIRS)  # with every pair fractional, the whole problem
        result = _audience_bounded(solve_in_time_left(core, result), problem, customers, campaigns, lp, clock,
                                   allowed_gap)
    if not proven(result) and not core.all():
        differs = partial(_differs, customers=customers, campaigns=campaigns, x=x)
        # The rounds draw their pairs by |d_p| (most of them pairs at 1, to leave), not by move cost:
        # drawn by move cost, five seeds of expected 10^5 × 10 took 1.4-16.3 s against 1.6-4.1 s
        # (custom 1.4-3.6 s against 5.2-10.9 s; seeds 2026 and 1-4, 60 s limit, 2026-12-07).
        result = improve(np.abs(reduced_costs), campaigns, core, result, differs, proven, solve, clock, attempt)
        nearest = np.argsort(distance, kind="stable")  # by move cost: the pairs within reach come first
        for widest in WIDER_CORES:
            if proven(result) or not _worth_widening(result, least_bound, allowed_gap, clock):
                break
            within = int(_within_reach(distance, lp_bound, result).sum())
            core = core | differs(result)
            core[nearest[:min(widest, within)]] = True
            result = solve_in_time_left(core, result)
            if within <= widest or cut:
                break  # that core held every pair within reach, or its limit cut it: no time for a wider one
    if result is None:
        return SolveResult(Termination.TIME_LIMIT, SolutionStatus.NONE, None, None, lp_bound, 0.0, clock.elapsed(),
                           "exact", int(customers.size))
    if result.choice is not None:
        return replace(result, termination=Termination.TIME_LIMIT if cut or clock.expired() else Termination.OPTIMAL)
    if result.termination is Termination.INFEASIBLE and not core.all():
        result = replace(result, termination=Termination.TIME_LIMIT)  # only the core was shown infeasible
    return result


def _worth_widening(plan: SolveResult | None, least_bound: float, allowed_gap: float, clock: Clock) -> bool:
    """Whether to solve a widened core: always without a plan (even out of time: a small core may
    prove there is none), else with time left and a bound that can prove the whole (``least_bound``)."""
    if plan is None or plan.objective is None:
        return True
    return not clock.expired() and least_bound - plan.objective <= allowed_gap


def _within_reach(distance: NDArray[np.float64], lp_bound: float, plan: SolveResult | None) -> NDArray[np.bool_]:
    """The pairs with m_p <= z_LP - z_plan (all, without a plan): a plan that changes any other
    pair is worth less than ``plan``."""
    reach = np.inf if plan is None or plan.objective is None else lp_bound - plan.objective
    return distance <= reach + 1e-9


def _differs(plan: SolveResult | None, customers: NDArray[np.intp], campaigns: NDArray[np.intp],
             x: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The candidate pairs where ``plan`` differs from the LP optimum rounded (x_p > 0.5); none without a plan."""
    if plan is None or plan.choice is None:
        return np.zeros(customers.size, dtype=bool)
    chosen: NDArray[np.bool_] = (plan.choice[customers] == campaigns) != (x > 0.5)
    return chosen


def _audience_bounded(result: SolveResult, problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp],
                      lp: Relaxation, clock: Clock, allowed_gap: float) -> SolveResult:
    """``result`` with the audience-size bound where that is tighter, while its gap is open."""
    if _unproven(result, allowed_gap) and result.objective is not None and result.bound is not None:
        return replace(result, bound=max(result.objective, min(result.bound, _audience_bound(
            problem, customers, campaigns, lp, clock))))
    return result


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


def _unproven(result: SolveResult | None, allowed_gap: float) -> bool:
    return (result is None or result.objective is None or result.bound is None
            or result.bound - result.objective > allowed_gap)


def _rounded_plan(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], lp: Relaxation, clock: Clock
) -> SolveResult | None:
    """The LP optimum without its fractional customers: a plan to fall back on, if it is feasible."""
    lp_bound, x, _ = _optimum(lp)
    whole = x > 1 - 1e-9
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    choice[customers[whole]] = campaigns[whole]
    return _plan_of(problem, choice, lp_bound, int(customers.size), clock)


def _plan_of(problem: Problem, choice: NDArray[np.integer[Any]] | None, lp_bound: float, pairs: int,
             clock: Clock) -> SolveResult | None:
    """``choice`` as a plan bounded by z_LP, if it is feasible (None if not, or without one)."""
    if choice is None or problem.violations(choice):
        return None
    objective = problem.objective(choice)
    return SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, choice, objective, max(lp_bound, objective),
                       0.0, clock.elapsed(), "exact", pairs)


def _better_plan(one: SolveResult | None, other: SolveResult | None) -> SolveResult | None:
    """The plan of higher objective (the first on a tie); None only when neither has one."""
    if one is None or other is None:
        return one or other
    return other if _objective(other) > _objective(one) else one


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
    floor: SolveResult | None = None, costs: NDArray[np.float64] | None = None,
) -> SolveResult:
    """Fix the pairs outside ``core`` at their LP value, solve the rest, bound the whole.

    HiGHS starts from ``floor``'s plan where the core holds it (then without presolve: HiGHS 1.16
    misreads a start in presolve's reduced space, tests/solve/test_highs_run.py); the result keeps
    the better of the core's plan and ``floor``'s, and the tighter bound. ``costs`` are the
    candidate pairs' move costs (``move_costs``; computed here if not given).
    """
    fixed = np.full(problem.n_customers, NO_CAMPAIGN)
    _, x, reduced_costs = _optimum(lp)
    at_one = ~core & (x > 0.5)
    fixed[customers[at_one]] = campaigns[at_one]
    free = np.zeros_like(problem.eligible)
    free[customers[core], campaigns[core]] = True
    start = _start(floor, fixed, free)
    core_options = options.model_copy(update={"presolve": options.presolve or (
        start is None and core.sum() < PRESOLVE_BELOW)})
    part = solve_full_model(problem.restrict(free, fixed), core_options, clock.allow(), absolute_gap, start)
    if costs is None:
        costs = move_costs(customers, x, reduced_costs, lp.choice_duals)
    bound = _whole_bound(problem, lp, core, fixed, part, costs)
    part = replace(part, method="exact", candidate_pairs=int(customers.size), core_pairs=int(core.sum()),
                   build_seconds=part.build_seconds + (floor.build_seconds if floor else 0.0))
    if part.choice is not None:
        choice = np.where(part.choice != NO_CAMPAIGN, part.choice, fixed)
        part = replace(part, choice=choice, objective=problem.objective(choice))
    if floor is not None and floor.choice is not None and (
        part.choice is None or _objective(floor) > _objective(part)
    ):
        part = replace(part, termination=_kept_floor_reason(part.termination), status=floor.status,
                       choice=floor.choice, objective=floor.objective)
    if floor is not None and floor.bound is not None:
        bound = min(bound, floor.bound)
    if part.objective is not None:
        bound = max(bound, part.objective)
    return replace(part, bound=float(bound) if np.isfinite(bound) else None)


def _kept_floor_reason(run: Termination) -> Termination:
    """Why a core that kept its floor's plan stopped: its own run's reason (TIME_LIMIT: cut by its
    limit; ERROR: HiGHS failed), with a core shown infeasible read as a search that ended (OPTIMAL:
    nothing it holds beats the floor). Never the floor's own label, which says nothing of this run."""
    return Termination.OPTIMAL if run is Termination.INFEASIBLE else run


def _start(floor: SolveResult | None, fixed: NDArray[np.integer[Any]],
           free: NDArray[np.bool_]) -> NDArray[np.integer[Any]] | None:
    """``floor``'s plan as the core's start, if the core can hold it: it keeps every fixed
    customer's campaign and chooses only free pairs otherwise (None if not, or without a plan)."""
    if floor is None or floor.choice is None:
        return None
    choice, held = floor.choice, fixed != NO_CAMPAIGN
    chosen = np.flatnonzero(~held & (choice != NO_CAMPAIGN))
    return choice if np.array_equal(choice[held], fixed[held]) and free[chosen, choice[chosen]].all() else None


def _whole_bound(
    problem: Problem, lp: Relaxation, core: NDArray[np.bool_], fixed: NDArray[np.integer[Any]], part: SolveResult,
    costs: NDArray[np.float64],
) -> float:
    """min(z_LP, max(best plan inside the core, z_LP - least move cost ``costs`` outside it))."""
    lp_bound, _, _ = _optimum(lp)
    outside = float(np.min(costs[~core], initial=np.inf))
    if part.termination is Termination.INFEASIBLE:
        inside = -np.inf
    elif part.bound is None:
        inside = np.inf
    else:
        inside = part.bound + problem.objective(fixed)
    return min(lp_bound, max(inside, lp_bound - outside))


def solve_full_model(
    problem: Problem, options: SolverOptions | None = None, time_limit: float | None = None,
    absolute_gap: float = 0.0, start: NDArray[np.integer[Any]] | None = None,
) -> SolveResult:
    """The Pyomo model over every candidate pair of ``problem``, solved by HiGHS as it is, from
    ``start`` (a campaign or NO_CAMPAIGN per customer) as its MIP start if given and presolve is off."""
    options = options or SolverOptions()
    started = time.perf_counter()
    customers, campaigns = problem.candidate_pairs()
    if customers.size == 0:
        return _empty_plan(problem, time.perf_counter() - started)
    model = build_model(problem, customers, campaigns)
    if start is not None:
        set_start(model, start[customers] == campaigns, campaigns)
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


def _empty_plan(problem: Problem, seconds: float) -> SolveResult:
    """No pair is worth a variable: the empty plan is optimal if it meets every row."""
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    if problem.violations(choice):
        return SolveResult(Termination.INFEASIBLE, SolutionStatus.NONE, None, None, None, seconds, 0.0, "exact", 0)
    return SolveResult(Termination.OPTIMAL, SolutionStatus.OPTIMAL, choice, 0.0, 0.0, seconds, 0.0, "exact", 0)

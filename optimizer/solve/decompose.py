"""Exact at scale: Lagrangian prices, a small master LP, reduced-cost fixing, an exact core.

With one choice per customer and m coupling rows, an LP optimum has at most m fractional
customers and, at the optimal prices λ*, almost every customer's priced-out best choice
(optimizer/solve/lagrangian.py) is already its choice in the optimal plan. So:

1. **Warm start.** λ = the row duals of the LP over a hashed sample of customers.
2. **Balancing.** Passes move each row's price to where its lhs meets its limit, read off
   per-row histograms of breakpoints, while L(λ) falls: first over nested hashed samples, then
   over all customers (optimizer/solve/balancing.py). The lowest-L prices are the start prices λ0.
   From SCREEN_ABOVE customers, one screening pass at the sample prices fixes everyone far from
   a tie and steps 2-5 run on the few candidates near one (optimizer/solve/screening.py), which
   proves the bound for all: by a region of prices when every row has one coefficient per
   campaign, else by one more pass at the candidates' last prices. Should that screen be given
   up, the passes over everyone start from its reduced problem's duals, balanced once
   (SOLVED_PASSES), or, from above optimizer/solve/sample_lp.py's SAMPLE_LP_ABOVE customers,
   from the LP optimum of the largest sample, which the balancing alone leaves rows short of.
   A screen given up with no time left for those passes leaves a plan repaired from its prices
   (optimizer/solve/repair.py), or, past the limit, its own unproven plan, bounded by one pass
   (measured on variants 10^7 × 20 under a 5 s limit: 11.6 s against 16.6 s with the repair,
   whose plan was 0.01 % better).
3. **Master LP, priced out (optimizer/solve/pricing.py).** The master LP decides the MASTER
   customers of smallest margin at λ0 over their few best campaigns; every other customer keeps
   its best at λ0. Its duals are priced out over everyone and customers and columns join it
   (column generation) until L(λ) meets its value: L(λ) is then the LP optimum over all n·k
   pairs, found without ever building that LP.
4. **Exact core (optimizer/solve/master_core.py).** optimizer/solve/exact.py's core step on
   the master: the pairs of least move cost are solved as a MIP (Pyomo + HiGHS), the
   rest fixed at their LP values.
5. **Proof.** A plan that moves any fixed customer off its best, or uses a pair outside the
   master, is worth at most L(λ) - t, t the least such margin (lagrangian.py), so

       bound = min(L(λ), max(core bound + value of the fixed customers, L(λ) - t)),

   and never above the lowest L(λ) any pass has seen (every pass's prices are sign-correct).

   When every row counts campaigns, the audience-size bound at λ (optimizer/solve/audiences.py: the
   same Lagrangian bound with integer audience sizes) may be lower still; it closes the
   integrality gap budgets leave at 10^5 customers, which L(λ) cannot.
   If the gap is above mip_gap, everything within L(λ) - z_plan of being chosen joins the
   master and steps 3-5 repeat while time allows, each core started from the best plan so far
   (its customers' choices, and those who joined held at λ0 as the plan held them). When two
   widenings in a row move neither the plan nor the bound, one last core, widened even where
   its bound cannot prove the whole, spends the time left on a better plan.

Every step that reads all customers is a map over partitions (optimizer/solve/partitions.py) and a
reduction of a few numbers, so ``Customers`` may be one in-memory array or a Dask cluster
(optimizer/plan/distributed.py). Only the master's few thousand customers reach Pyomo or HiGHS.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts, screening
from optimizer.solve.audiences import AUDIENCE_LIMIT_S
from optimizer.solve.balancing import (
    STALL_SHARE,
    Pass,
    SampledPrices,
    balance,
    price_pass,
    sample_prices,
    signed_prices,
)
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers, Progress
from optimizer.solve.lagrangian import PricedProblem, kept_dtype, priced_problem
from optimizer.solve.master_core import PlanSpec, solve_core, widen
from optimizer.solve.options import SolverOptions
from optimizer.solve.pricing import (
    OutOfTime,
    lower,
    overfull,
    releasing,
    solve_prices,
    started_master,
)
from optimizer.solve.problem import Problem
from optimizer.solve.repair import last_resort, repair, repair_reserve
from optimizer.solve.results import SolutionStatus, SolveResult, Termination, gap_allowed
from optimizer.solve.sample_lp import sample_lp_prices

# Customers the master LP starts with: a 30th of all, between MASTER/5 and MASTER. Measured: at
# 100k × 10, 10,000 took 0.22 s in all and 3,000 0.16 s; at 10^6 × 20 and on the 10^7's candidates,
# whose prices are rougher, 3,000 needed more rounds (0.58 -> 0.71 s, 1.3 -> 2.8 s).
MASTER = 10_000
# The share of the time left that a screened decomposition leaves to the passes over everyone,
# should it fail. Measured on tight 10^7 × 20 under 120 s: the sample prices left the candidates
# a problem whose master LP diverged for 100 s, and the passes over everyone then had 6 s (a
# repaired plan of gap 3.4e-2); with half kept back they had 53 s (gap 3.1e-2: their own master
# LP diverges there too). Screens that succeed took 2.4 s (planned) and 22 s (50 campaigns).
SCREEN_KEEPS = 0.5
# Widenings of the master, while a round fits in the time left and the last one moved the plan or
# the bound (measured: tight 10^6 × 20, 120 s limit: seven widenings of 10-13 s each left the plan
# and bound of the second, gap 6.5e-6, exactly as they were).
MAX_WIDENINGS = 10
STALL_REACH = 4.0  # a widening that found nothing new is followed by one that reaches this much further
# A screen without a region (a weight that differs per customer) is given up, for the passes over
# everyone, once balancing its candidates leaves their L (with V) more than this share of L(λ̂)
# below L(λ̂), or SCREEN_GAPS allowed gaps if that is more: the customers fixed at their best at λ̂
# then hold rows where the optimum needs others, which only the pass at the reduced problem's prices
# would show, after its whole solve. Measured on 10^7 × 20 (bench/instances.py), the reduced
# problem's optimum against L(λ̂) from the 1M sample's prices: expected 7e-7 short (proven through
# the screen in 9.8 s, against 22-27 s over everyone); variants 2.5e-4 short (never provable there).
# On small instances with rough sample prices L(λ̂) itself is that far above the optimum (30,000
# customers, samples of 1,000 and 8,000: 0.8-1.6e-4), where the screen still proved the plan.
SCREEN_SHORTFALL = 5e-5
SCREEN_GAPS = 10.0
# Balancing passes over everyone after a screen given up, when the reduced problem's plan was
# proven and its prices are the start: they are already optimal duals over the customers that
# decide the rows, and the master LP over everyone moves them the rest of the way in fewer seconds
# than more passes would. Measured on wide 10^7 × 50 (seed 2026, 120 s): 12.2 -> 10.6-11.1 s. Never from the
# samples' prices, which need the passes (tight 10^7 × 20: 21 -> 24.6 s; variants 10^7 × 20 reached
# its 120 s limit without a plan of its own).
SOLVED_PASSES = 1


def solve_decompose(
    problem: Problem | PricedProblem, options: SolverOptions | None = None, progress: Progress | None = None
) -> SolveResult:
    """Proven-optimal plan (or the best within the time limit, with its bound) by decomposition."""
    options = options or SolverOptions()
    priced = problem if isinstance(problem, PricedProblem) else priced_problem(problem, kept_dtype(options.precision))
    customers = Customers(priced, progress)
    result, plan = decompose(customers, options)
    if plan is None:
        return result
    choice = np.concatenate(customers.map(parts.partition_plan, plan.start, plan.master, plan.master_choice,
                                          stage="plan"))
    return replace(result, choice=choice)


def decompose(customers: Customers, options: SolverOptions) -> tuple[SolveResult, PlanSpec | None]:
    """Steps 1-5 of the module docstring: the result (without its choice array) and the plan."""
    clock = Clock.start(options.time_limit_s)
    sampled = sample_prices(customers, options.mip_gap, clock)
    prices = sampled.prices
    if screening.applies(customers, sampled.margins):
        reserve = repair_reserve(customers, clock.limit)  # a repair over everyone, should the screen fail
        kept = SCREEN_KEEPS * max(0.0, clock.remaining() - reserve)  # and the passes over everyone
        screened = _decompose_screened(customers, sampled, options, clock.reserving(reserve + kept))
        if screened.result is not None:
            return screened.result, screened.plan
        if clock.remaining() <= reserve:  # no time for the passes over everyone: a plan from the screen's prices
            known = price_pass(customers, screened.prices)  # and a bound
            out_of_time = screened.fallback is not None and clock.expired()  # then the screen's plan, unrepaired
            found = (replace(_no_plan(clock, Termination.TIME_LIMIT), bound=known.bound), None) if out_of_time \
                else _repaired(customers, known, None, options, clock)
            return _kept(found, screened.fallback, options, clock)
        if screened.solved:
            start, passes = screened.prices, SOLVED_PASSES
        else:
            start, passes = _sample_lp_prices(customers, screened.prices, options, clock), None
        return _kept(_decompose_all(customers, start, sampled.magnitude, 1e4 * customers.price_scale,
                                    options, clock, passes=passes), screened.fallback, options, clock)
    return _decompose_all(customers, prices, sampled.magnitude, 1e4 * customers.price_scale, options, clock)


def _sample_lp_prices(customers: Customers, prices: NDArray[np.float64], options: SolverOptions,
                      clock: Clock) -> NDArray[np.float64]:
    """optimizer/solve/sample_lp.py's start prices, leaving a repair over everyone its time (from
    SAMPLE_LP_ABOVE customers, where the screen always applies: a screen given up is their only way in)."""
    return sample_lp_prices(customers, prices, options, _master_size,
                            clock.reserving(repair_reserve(customers, clock.limit)))


def _kept(found: tuple[SolveResult, PlanSpec | None], fallback: tuple[float, PlanSpec] | None,
          options: SolverOptions, clock: Clock) -> tuple[SolveResult, PlanSpec | None]:
    """The better of the plan found over everyone and the screen's unproven plan (value, plan),
    with the bound found over everyone (measured: integer 10^7 under 120 s ended with a repaired
    plan worth 22.1 M where the screen had one of 68.5 M)."""
    result, plan = found
    if fallback is None or (result.objective is not None and result.objective >= fallback[0]):
        return found
    value, spec = fallback
    kept = replace(result, status=SolutionStatus.FEASIBLE, objective=value,  # _final settles the termination
                   bound=None if result.bound is None else max(result.bound, value))
    return _final(kept, options, clock), spec


@dataclass(frozen=True)
class Screened:
    """The screened decomposition's result and plan for all customers, or none (the passes over
    everyone take over, from ``prices``, keeping ``fallback``: the value and plan of a feasible
    plan the screen found but could not prove for all). ``solved``: ``prices`` are those of the
    reduced problem's proven plan (``_solved``), not the samples' nor an unproven plan's (see
    SOLVED_PASSES)."""

    prices: NDArray[np.float64]
    solved: bool = False
    result: SolveResult | None = None
    plan: PlanSpec | None = None
    fallback: tuple[float, PlanSpec] | None = None


def _decompose_screened(customers: Customers, sampled: SampledPrices, options: SolverOptions, clock: Clock) -> Screened:
    """optimizer/solve/screening.py: one pass over everyone, steps 2-5 on the candidates. No result when
    the reduced problem's prices leave the region (or, without one, a pass at them finds a fixed
    customer whose best moved), it has no plan (at once when its audience sizes cannot meet its
    limits), or its proven plan is not proven for all (the fixed customers' least margin is below L - z)."""
    if sampled.margins is None:
        raise TypeError("screening needs the sampled margins (see screening.applies)")
    screen = _freed(customers, screening.screen(customers, sampled.prices,
                                                screening.threshold(sampled.margins, customers.n)))
    if not screen.meetable(clock.allow(AUDIENCE_LIMIT_S)):
        customers.standing("screen given up: its candidates cannot meet the limits left", None, None)
        return Screened(sampled.prices)
    candidates = Customers(screen.reduced, customers.progress, value_outside=screen.fixed_value)
    reduced_options = options.model_copy(update={"mip_gap": screen.reduced_gap(options.mip_gap)})
    within = -np.inf if screen.coefficients is not None else screen.lagrangian - screen.fixed_value - max(
        SCREEN_SHORTFALL * abs(screen.lagrangian), SCREEN_GAPS * gap_allowed(options.mip_gap, screen.lagrangian))
    result, plan = _decompose_all(candidates, sampled.prices, abs(screen.lagrangian - screen.fixed_value),
                                  1e4 * candidates.price_scale, reduced_options, clock, within)
    prices = result.shadow_prices if result.shadow_prices is not None else sampled.prices
    solved = _solved(result)
    if plan is None or result.objective is None:
        return Screened(prices, solved)
    choice = np.concatenate(candidates.map(parts.partition_plan, plan.start, plan.master, plan.master_choice,
                                           stage="plan"))
    whole = PlanSpec(screen.prices, screen.candidates, choice)  # the fixed customers' usage left the rows' room
    objective = reduce(add, customers.map(parts.plan_totals, whole.start, whole.master, whole.master_choice,
                                          stage="plan")).value
    if result.bound is None:
        raise TypeError("the reduced problem's plan has no bound")
    if screen.coefficients is None:
        bound, at_last = screen.verified(customers, result.bound, signed_prices(customers.rows, prices))
        if at_last > screen.lagrangian:  # should the passes over everyone be needed, from the prices of lower L
            prices, solved = screen.prices, False  # (measured: variants 3·10^5 × 10 from the candidates' prices,
            # 54 s, gap 4e-3)
    elif screen.covers(result.shadow_prices):
        bound = screen.bound(result.bound, price_pass(candidates, prices).bound, prices,
                             clock.allow(AUDIENCE_LIMIT_S))
    else:
        return Screened(prices, solved, fallback=(objective, whole))
    found = _final(replace(result, objective=objective, bound=max(bound, objective)), options, clock)
    customers.standing("screened plan", found.objective, found.bound)
    if found.termination is not Termination.OPTIMAL and (result.termination is Termination.OPTIMAL
                                                         or screen.coefficients is None):
        # moving a fixed customer might gain more than the gap; and without a region, an unproven screen's
        # bound is L at prices that may be far from everyone's (variants 3·10^5 × 10, screened from 10^5:
        # stalled at gap 1.0e-2 and out of time at 4.4e-3, where the passes over everyone prove it in 2-3 s)
        return Screened(prices, solved, fallback=(objective, whole))
    return Screened(prices, solved, found, whole)


def _solved(result: SolveResult) -> bool:
    """Whether a reduced problem's shadow prices are those of its proven plan: the duals of its
    master LP or a pass's whose L(λ) proves the plan, optimal duals up to the gap either way. Not
    a plan a repair found out of time, nor a stalled one: its prices may be a balancing pass's."""
    return result.shadow_prices is not None and result.termination is Termination.OPTIMAL


def _freed(customers: Customers, screen: screening.Screen) -> screening.Screen:
    """The screen with, for every <= row the fixed customers alone overfill, those of them who free it
    most cheaply among the candidates (pricing.releasing, as the master's first round takes them):
    the sample prices leave a row's use a little off its limit, and candidates chosen by margin
    alone may hold too little of it to bring it back (measured on expected 10^7 × 20: a direct-mail
    budget overfilled by 302 of 533,274 with 296k candidates, and the screen was given up)."""
    limits = np.array([row.rhs for row in screen.reduced.rows])
    over = overfull(customers.rows, limits)
    if over.size == 0:
        return screen
    return screening.joined(customers, screen, releasing(customers, screen.prices, screen.candidates, over,
                                                         -limits[over]))


def _decompose_all(
    customers: Customers, prices: NDArray[np.float64], magnitude: float, cap: NDArray[np.float64],
    options: SolverOptions, clock: Clock, within: float = -np.inf, passes: int | None = None,
) -> tuple[SolveResult, PlanSpec | None]:
    """Steps 2-5 over all of ``customers`` from ``prices``, balanced by at most ``passes`` passes (balancing.balance);
    when they end without a plan (out of time), a plan repaired from the best prices found
    (optimizer/solve/repair.py), with the lowest L(λ) seen as its bound. None of that, and no plan,
    when the balanced L(λ) is below ``within`` (a screen's candidates that cannot come near what
    everyone can: ``SCREEN_SHORTFALL``)."""
    overall, clock = clock, clock.reserving(repair_reserve(customers, clock.limit))
    stall = STALL_SHARE * options.mip_gap * max(1.0, magnitude)
    balanced = balance(customers, prices, cap, stall, clock, _master_size(customers.n), passes=passes)
    customers.standing("balanced prices", None, balanced.bound)
    if balanced.bound < within:
        return _no_plan(overall, Termination.STALLED), None
    start = balanced.prices
    master = started_master(customers, balanced, cap)
    result, plan, lowest, reached, stalled = None, None, balanced, (-np.inf, np.inf), False
    for attempt in range(MAX_WIDENINGS + 1):
        clock = overall.reserving(repair_reserve(customers, overall.limit))  # as long as the passes now take
        started = clock.elapsed()
        try:
            state = solve_prices(customers, master, start, cap, options, clock)
        except OutOfTime as stopped:
            lowest = lower(lowest, stopped.lowest)
            break
        if state is None:
            return _no_plan(overall, Termination.INFEASIBLE), None
        lowest = lower(lowest, state.lowest)
        found, spec = solve_core(customers, master, state, start, options, clock, plan, attempt)
        if _value(found) > _value(result):
            plan = spec
        result = _better(result, found)  # its bound the cores': whether a widening moved it (_moved)
        shown = _bounded_by(result, lowest)
        customers.standing("exact core", shown.objective, shown.bound)
        if shown.proven(options.mip_gap) or result.termination is Termination.INFEASIBLE:
            break
        if clock.remaining() < clock.elapsed() - started:
            break  # a wider round takes at least as long
        if stalled and not _moved(result, reached):  # the last two found nothing new: a last, longer search
            found, spec = solve_core(customers, master, state, start, options, clock, plan, attempt + 1, last=True)
            plan = spec if _value(found) > _value(result) else plan
            result = _better(result, found)
            customers.standing("last exact core", result.objective, result.bound)
            if result.objective is not None and found.termination is not Termination.TIME_LIMIT:
                result = replace(result, termination=Termination.STALLED)  # settled() keeps it if unproven
            break
        stalled = not _moved(result, reached)
        reached = (_value(result), np.inf if result.bound is None else result.bound)
        reach = np.inf if result.objective is None else state.latest.bound - result.objective
        widen(customers, master, state.latest.prices, start, STALL_REACH * reach if stalled else reach)
    if result is not None and (result.termination is Termination.INFEASIBLE or result.bound == -np.inf):
        return _no_plan(overall, Termination.INFEASIBLE), None  # the core and the margins outside it prove it
    if plan is None or result is None or result.objective is None:
        return _repaired(customers, lowest, result, options, overall)
    return _final(_bounded_by(result, lowest), options, overall), plan


def _repaired(customers: Customers, known: Pass, result: SolveResult | None, options: SolverOptions,
              clock: Clock) -> tuple[SolveResult, PlanSpec | None]:
    """The plan repair finds from the prices of the lowest L(λ) seen; no plan when it finds none."""
    found = repair(customers, known, clock) or last_resort(customers)
    bound = min(known.bound, np.inf if result is None or result.bound is None else result.bound)
    customers.standing("repair", None if found is None else found.value, bound)
    if found is None:
        return replace(_no_plan(clock, Termination.TIME_LIMIT), bound=bound), None
    repaired = SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, None, found.value,
                           max(found.value, min(bound, found.bound)), 0.0, 0.0, "decompose", 0,
                           shadow_prices=known.prices)
    return _final(repaired, options, clock), PlanSpec(found.prices, found.moved, found.moved_choice)


def _master_size(n: int) -> int:
    """The customers the master LP starts with: a 30th of all, between MASTER/5 and MASTER."""
    return min(MASTER, max(MASTER // 5, n // 30))


def _moved(result: SolveResult, reached: tuple[float, float]) -> bool:
    """Whether ``result`` has a better plan or a lower bound than (plan value, bound) ``reached``."""
    bound = np.inf if result.bound is None else result.bound
    tolerance = 1e-12 * max(1.0, abs(_value(result)) if result.objective is not None else 1.0)
    return _value(result) > reached[0] + tolerance or bound < reached[1] - tolerance


def _value(result: SolveResult | None) -> float:
    return -np.inf if result is None or result.objective is None else result.objective


def _better(current: SolveResult | None, new: SolveResult) -> SolveResult:
    """The better plan, with the tighter of the two bounds."""
    if current is None:
        return new
    bounds = [b for b in (current.bound, new.bound) if b is not None]
    best = new if _value(new) > _value(current) else current
    return replace(best, bound=min(bounds) if bounds else None)


def _bounded_by(result: SolveResult, lowest: Pass) -> SolveResult:
    """``result`` with the lowest L(λ) seen as its bound, and that pass's prices as its shadow
    prices, where that is tighter: every pass's prices are sign-correct, so each L(λ) bounds every
    plan, not only the last one the core is built on (which, when the price loop stops before its
    end, can be far above the balanced prices' L). The screened path bounds the whole at the
    shadow prices, so they must be the bound's."""
    if result.bound is not None and result.bound <= lowest.bound:
        return result
    return replace(result, bound=max(lowest.bound, _value(result)), shadow_prices=lowest.prices)


def _final(result: SolveResult, options: SolverOptions, clock: Clock) -> SolveResult:
    """Optimal only when the gap is proven within mip_gap; a plan short of that ran out of time
    (or stalled: SolveResult.settled)."""
    if result.objective is None:
        stopped = Termination.INFEASIBLE if result.termination is Termination.INFEASIBLE else Termination.TIME_LIMIT
        return replace(result, termination=stopped, status=SolutionStatus.NONE, bound=None,
                       solve_seconds=clock.elapsed())
    return replace(result.settled(options.mip_gap), solve_seconds=clock.elapsed() - result.build_seconds)


def _no_plan(clock: Clock, termination: Termination) -> SolveResult:
    return SolveResult(termination, SolutionStatus.NONE, None, None, None, 0.0, clock.elapsed(), "decompose", 0)

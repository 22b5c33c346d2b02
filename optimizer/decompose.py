"""Exact at scale: Lagrangian prices, a small master LP, reduced-cost fixing, an exact core.

With one choice per customer and m coupling rows, an LP optimum has at most m fractional
customers and, at the optimal prices λ*, almost every customer's priced-out best choice
(optimizer/lagrangian.py) is already its choice in the optimal plan. So:

1. **Warm start.** λ0 = the row duals of the LP over a hashed sample of SAMPLE customers with
   every limit scaled by sample/n (HiGHS interior point).
2. **Master LP, priced out (column generation).** A pass at λ gives every customer's best
   choice and its margin over the next best. The master LP decides the MASTER customers of
   smallest margin over their few best campaigns; everyone else keeps its priced-out best and
   the master's limits shrink by what they use. Its duals are the next λ. A pass at the new λ
   gives the bound L(λ) and finds who wants to change: fixed customers whose best moved
   (regret > 0) join the master, master customers get the column of their new best. Since

       L(λ) - z_master = sum over fixed customers of regret + sum over master customers of
                         (best_i - their master dual),

   the loop stops when that difference is within a small share of the allowed gap, and then
   L(λ) is the LP optimum over all n·k pairs, found without ever building it.
3. **Exact core.** optimizer/exact.py's core step on the master: the pairs of smallest
   |reduced cost| are solved as a MIP (Pyomo + HiGHS), the rest fixed at their LP values.
4. **Proof.** A plan that moves any fixed customer off its best, or uses a pair outside the
   master, is worth at most L(λ) - t, t the least such margin (lagrangian.py), so

       bound = min(L(λ), max(core bound + value of the fixed customers, L(λ) - t)).

   If the gap is above mip_gap, the master widens to everything within L(λ) - z_plan of
   being chosen, and steps 2-4 repeat while time allows.

Large n·k never reach Pyomo or HiGHS: only the pass (numba) sees all customers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from optimizer.exact import Clock, solve_with_relaxation
from optimizer.lagrangian import (
    PassResult,
    PricedProblem,
    adjusted_values,
    evaluate_plan,
    price_out,
    priced_problem,
)
from optimizer.master import MasterLP, MasterSolution
from optimizer.problem import NO_CAMPAIGN, Problem
from optimizer.relaxation import Relaxation, solve_relaxation
from optimizer.results import SolutionStatus, SolveResult, Termination
from optimizer.scenario import SolverOptions

SAMPLE = 5_000
MASTER = 10_000
COLUMNS = 3
CORE_PAIRS = 10_000  # first exact core: measured at 100k × 10, 5,000 left a plan 2.1 below z_LP, 10,000 0.05
MAX_JOINING = 20_000
MAX_ROUNDS = 60
MAX_WIDENINGS = 3
MAX_BALANCING = 30
BALANCED = 1e-5  # a row is balanced when its lhs is this close (relative) to its limit
DUAL_SHARE = 0.01  # the master loop may leave this share of the allowed gap between L and z_master
STALL_SHARE = 0.1  # balancing stops when a pass lowers L by less than this share of the allowed gap

Progress = Callable[[str, int, int], None]  # (stage, customers done in this pass, customers)


class OutOfTime(Exception):
    """The master LP stopped at the time limit before its optimum."""


@dataclass(frozen=True)
class DualState:
    """Where the price loop ended: the master LP and its optimum, the last pass, the fixed plan."""

    master: MasterLP
    solution: MasterSolution
    latest: PassResult
    fixed: np.ndarray
    remaining: np.ndarray
    rounds: int


def solve_decompose(
    problem: Problem | PricedProblem, options: SolverOptions | None = None, progress: Progress | None = None
) -> SolveResult:
    """Proven-optimal plan (or the best within the time limit, with its bound) by decomposition."""
    options = options or SolverOptions()
    clock = Clock(time.perf_counter(), options.time_limit_s)
    priced = problem if isinstance(problem, PricedProblem) else priced_problem(problem)
    report = progress or (lambda stage, done, n: None)
    prices = warm_start(priced, clock)
    stall = STALL_SHARE * options.mip_gap * max(1.0, abs(_plan_scale(priced, prices)))
    cap = price_caps(priced)
    latest = balance(priced, prices, cap, stall, clock, report)
    prices = latest.prices
    master = MasterLP(priced, np.maximum(2.0 * np.abs(prices), 1e-6 * cap))
    customers = _initial_master(latest)
    master.add_customers(customers, _best_columns(priced, prices, customers))
    result = None
    for _ in range(MAX_WIDENINGS + 1):
        try:
            state = solve_prices(priced, master, latest, cap, options, clock, report)
        except OutOfTime:
            return result or _no_plan(clock, Termination.TIME_LIMIT)
        if state is None:
            return _no_plan(clock, Termination.INFEASIBLE)
        result = _better(result, _solve_core(priced, state, options, clock))
        done = _proven(result, options) or result.termination is Termination.INFEASIBLE
        if done or clock.elapsed() >= options.time_limit_s:
            break
        _widen(priced, state, np.inf if result.objective is None else state.latest.bound - result.objective)
        latest = state.latest
    return _final(result, options, clock)


def warm_start(priced: PricedProblem, clock: Clock) -> np.ndarray:
    """Row duals of the LP over a hashed sample of customers, limits scaled to the sample."""
    n = priced.n_customers
    if n <= SAMPLE:
        return np.zeros(len(priced.rows))
    sample = sample_customers(n, SAMPLE)
    scale = sample.size / n
    columns = np.isfinite(priced.value[sample])
    core = core_problem(priced, sample, columns, priced.rhs * scale)
    lp = solve_relaxation(core, *core.candidate_pairs(), time_limit=clock.remaining())
    return lp.shadow_prices if lp.feasible else np.zeros(len(priced.rows))


def balance(
    priced: PricedProblem, prices: np.ndarray, cap: np.ndarray, stall: float, clock: Clock, report: Progress
) -> PassResult:
    """Coordinate steps on the prices from breakpoint histograms, until each row's lhs meets its
    limit or a pass lowers L(λ) by less than ``stall``; returns the pass with the lowest L(λ).

    Each pass gives, per row, how much lhs changes as that row's price alone moves (lagrangian.py,
    ``Breakpoints``); every row's price moves to where its lhs is expected to meet its limit, all
    rows at once, damped by half whenever L(λ) rises.
    """
    best = None
    damping = 1.0
    for _ in range(MAX_BALANCING):
        latest = price_out(priced, prices, lambda done, n: report("balance", done, n), breakpoints=True)
        fell = np.inf if best is None else best.bound - latest.bound
        if fell > 0:
            best = latest
        else:
            damping /= 2
        moves = _price_moves(priced, latest)
        stalled = 0 <= fell <= stall
        if not moves.any() or stalled or damping < 1e-3 or clock.elapsed() >= clock.limit:
            break
        prices = np.clip(_signed(priced, best.prices + damping * _price_moves(priced, best)), -cap, cap)
    return best


def _plan_scale(priced: PricedProblem, prices: np.ndarray) -> float:
    """|L(λ)| at the warm start: the scale of the objective, for tolerances."""
    return price_out(priced, prices).bound


def _price_moves(priced: PricedProblem, latest: PassResult) -> np.ndarray:
    """Per row, the price move that should bring its lhs to its limit (0 where it already holds)."""
    moves = np.zeros(len(priced.rows))
    signs = priced.signs
    for r, (b, used, price) in enumerate(zip(priced.rhs, latest.usage, latest.prices)):
        change = b - used
        slack_ok = (signs[r] > 0 and change >= 0 and price <= 0) or (signs[r] < 0 and change <= 0 and price >= 0)
        if abs(change) <= BALANCED * max(1.0, abs(b)) or slack_ok:
            continue
        moves[r] = latest.breakpoints.move(r, change)
    return moves


def _signed(priced: PricedProblem, prices: np.ndarray) -> np.ndarray:
    """Prices clipped to their allowed sign: >= 0 on <= rows, <= 0 on >= rows."""
    signs = priced.signs
    return np.where(signs > 0, np.maximum(prices, 0.0), np.where(signs < 0, np.minimum(prices, 0.0), prices))


def sample_customers(n: int, size: int) -> np.ndarray:
    """About ``size`` of the n customers, chosen by a hash of their position (seedless, stable)."""
    keys = _splitmix(np.arange(n, dtype=np.uint64))
    threshold = np.uint64(min(2**64 - 1, int(size / n * 2**64)))
    return np.flatnonzero(keys < threshold)


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) ^ (x >> np.uint64(30))
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _initial_master(first: PassResult) -> np.ndarray:
    """The MASTER customers of smallest margin (everyone, on small problems)."""
    n = first.choice.size
    if n <= MASTER:
        return np.arange(n)
    return np.sort(np.argpartition(first.margin, MASTER)[:MASTER])


def _best_columns(priced: PricedProblem, prices: np.ndarray, customers: np.ndarray) -> np.ndarray:
    """(len(customers), k) mask of each customer's COLUMNS best eligible campaigns at ``prices``."""
    adjusted = adjusted_values(priced, prices, customers)
    k = priced.n_campaigns
    if k > COLUMNS:
        cutoff = np.partition(adjusted, k - COLUMNS, axis=1)[:, k - COLUMNS][:, None]
        return (adjusted >= cutoff) & np.isfinite(adjusted)
    return np.isfinite(adjusted)


def core_problem(priced: PricedProblem, customers: np.ndarray, columns: np.ndarray, rhs: np.ndarray) -> Problem:
    """The Problem of a few customers, restricted to ``columns``, with limits ``rhs`` (float64)."""
    weights = {f"w{w}": _rows_of(priced.weights[w], customers) for w in range(priced.weights.shape[0])}
    rows = tuple(
        replace(row, rhs=float(b), weight=row.weight if w < 0 else f"w{w}")
        for row, w, b in zip(priced.rows, priced.row_weight, rhs)
    )
    value = priced.value[customers].astype(float)
    eligible = columns & np.isfinite(value)
    k = priced.n_campaigns
    return Problem(
        customer_ids=customers, campaign_ids=priced.campaign_ids, channels=("",) * k,
        pair_value=np.where(eligible, value, 0.0), spend=np.zeros_like(value), eligible=eligible,
        treated_share=np.ones(k), rows=rows, weights=weights,
    )


def _rows_of(table: np.ndarray, customers: np.ndarray) -> np.ndarray:
    rows = table[customers] if table.shape[0] > 1 else np.broadcast_to(table, (len(customers), table.shape[1]))
    return np.asarray(rows, dtype=float)


def solve_prices(
    priced: PricedProblem, master: MasterLP, latest: PassResult, cap: np.ndarray, options: SolverOptions,
    clock: Clock, report: Progress,
) -> DualState | None:
    """Step 2: master LP and passes until L(λ) meets the master's value (None: no plan exists)."""
    fixed = latest.choice.copy()
    for rounds in range(1, MAX_ROUNDS + 1):
        fixed[master.master_customers()] = NO_CAMPAIGN
        fixed_value, fixed_usage = evaluate_plan(priced, fixed)
        remaining = priced.rhs - fixed_usage
        master.set_limits(remaining)
        solution = master.solve(clock.remaining())
        if solution is None:
            raise OutOfTime
        latest = price_out(priced, solution.prices, lambda done, n: report("pass", done, n))
        state = DualState(master, solution, latest, fixed, remaining, rounds)
        difference = latest.bound - (solution.value + fixed_value)
        settled = difference <= DUAL_SHARE * options.mip_gap * max(1.0, abs(latest.bound))
        if settled and solution.feasible or clock.elapsed() >= options.time_limit_s:
            return state
        movers, lacking = _joining(priced, latest, fixed, master)
        if not solution.feasible:
            if np.all(master.penalties[solution.violated] >= cap[solution.violated]):
                return None  # breaking these rows pays at any price a plan could need: no plan meets them
            master.raise_penalties(solution.violated, 4.0, cap)
        master.add_columns(master.master_customers(), lacking)
        master.add_customers(movers, _best_columns(priced, latest.prices, movers))
    return state


def _joining(
    priced: PricedProblem, latest: PassResult, fixed: np.ndarray, master: MasterLP
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed customers whose best moved (at most MAX_JOINING, largest regret first), and a mask of
    each master customer's new best campaign where the master lacks it (in join order)."""
    inside = master.master_customers()
    movers = np.flatnonzero((latest.choice != fixed) & (master.slot < 0))
    regret = _regret(priced, latest, fixed, movers)
    keep = regret > 1e-9 * (1.0 + np.abs(latest.bound) / max(1, priced.n_customers))
    movers, regret = movers[keep], regret[keep]
    if movers.size > MAX_JOINING:
        movers = np.sort(movers[np.argpartition(-regret, MAX_JOINING)[:MAX_JOINING]])
    best = latest.choice[inside]
    lacking = np.zeros((inside.size, priced.n_campaigns), dtype=bool)
    wants = (best != NO_CAMPAIGN) & ~master.has[np.arange(inside.size), np.maximum(best, 0)]
    lacking[np.flatnonzero(wants), best[wants]] = True
    return movers, lacking


def _regret(priced: PricedProblem, latest: PassResult, fixed: np.ndarray, customers: np.ndarray) -> np.ndarray:
    """best_i - adjusted value of the fixed choice, for a few customers (chunked)."""
    out = np.empty(customers.size)
    for start in range(0, customers.size, 50_000):
        chunk = customers[start:start + 50_000]
        adjusted = adjusted_values(priced, latest.prices, chunk)
        best = np.maximum(0.0, np.max(adjusted, axis=1, initial=-np.inf))
        held = np.where(fixed[chunk] == NO_CAMPAIGN, 0.0,
                        adjusted[np.arange(chunk.size), np.maximum(fixed[chunk], 0)])
        out[start:start + chunk.size] = best - held
    return out


def price_caps(priced: PricedProblem) -> np.ndarray:
    """Per row, a price no plan can need: 1e4 × what one unit of the row can be worth. Beyond
    it, a row still broken in the master shows that no plan meets the limits; it also bounds
    the balancing steps."""
    return 1e4 * priced.price_scale


def _solve_core(priced: PricedProblem, state: DualState, options: SolverOptions, clock: Clock) -> SolveResult:
    """Steps 3-4: the exact core on the master, then the plan and bound for all customers."""
    master, solution = state.master, state.solution
    inside = master.master_customers()
    core = core_problem(priced, inside, master.has, state.remaining)
    column_customer, campaigns = master.columns()
    lp = Relaxation(True, solution.value, solution.prices, solution.x, solution.reduced_costs)
    allowed_gap = options.mip_gap * max(1.0, abs(state.latest.bound))
    part = solve_with_relaxation(core, master.slot[column_customer], campaigns, lp, options, clock, allowed_gap,
                                 CORE_PAIRS)
    fixed_value, _ = evaluate_plan(priced, state.fixed)
    bound = state.latest.bound
    in_core = -np.inf if part.termination is Termination.INFEASIBLE else (
        np.inf if part.bound is None else part.bound + fixed_value)
    outside = _least_margin_outside(priced, state)
    bound = min(bound, max(in_core, bound - outside))
    termination = part.termination
    if termination is Termination.INFEASIBLE and np.isfinite(outside):
        termination = Termination.TIME_LIMIT  # only plans inside the master were shown impossible
    result = SolveResult(termination, part.status, None, None, bound, part.build_seconds, 0.0, "decompose",
                         len(column_customer), core_pairs=part.core_pairs, shadow_prices=state.latest.prices)
    if part.choice is None:
        return result
    choice = state.fixed.copy()
    chosen = part.choice != NO_CAMPAIGN
    choice[inside[chosen]] = part.choice[chosen]
    objective, _ = evaluate_plan(priced, choice)
    return replace(result, choice=choice, objective=objective, bound=max(bound, objective))


def _least_margin_outside(priced: PricedProblem, state: DualState) -> float:
    """t: the least L(λ) loss of moving a fixed customer, or of a pair the master lacks."""
    latest, fixed, master = state.latest, state.fixed, state.master
    outside = master.slot < 0
    kept = outside & (latest.choice == fixed)
    t = float(latest.margin[kept].min(initial=np.inf))
    if (outside & ~kept).any():
        t = min(t, 0.0)
    adjusted = adjusted_values(priced, latest.prices, master.master_customers())
    best = np.maximum(0.0, adjusted.max(axis=1, initial=-np.inf))
    lacking = ~master.has & np.isfinite(adjusted)
    if lacking.any():
        t = min(t, float((best[:, None] - adjusted)[lacking].min()))
    return t


def _widen(priced: PricedProblem, state: DualState, reach: float) -> None:
    """Everything within ``reach`` of being chosen joins the master (no better plan lies outside)."""
    latest, master = state.latest, state.master
    near = np.flatnonzero((latest.margin <= reach + 1e-9) & (master.slot < 0))
    master.add_customers(near, _best_columns(priced, latest.prices, near))
    inside = master.master_customers()
    adjusted = adjusted_values(priced, latest.prices, inside)
    best = np.maximum(0.0, adjusted.max(axis=1, initial=-np.inf))
    master.add_columns(inside, np.isfinite(adjusted) & (best[:, None] - adjusted <= reach + 1e-9))


def _better(current: SolveResult | None, new: SolveResult) -> SolveResult:
    """The better plan, with the tighter of the two bounds."""
    if current is None:
        return new
    bounds = [b for b in (current.bound, new.bound) if b is not None]
    best = new if (new.objective or -np.inf) > (current.objective or -np.inf) else current
    return replace(best, bound=min(bounds) if bounds else None)


def _proven(result: SolveResult, options: SolverOptions) -> bool:
    return result.gap is not None and result.gap <= options.mip_gap * (1 + 1e-9)


def _final(result: SolveResult, options: SolverOptions, clock: Clock) -> SolveResult:
    """Optimal only when the gap is proven within mip_gap; a plan short of that ran out of time."""
    if result.choice is None:
        stopped = Termination.INFEASIBLE if result.termination is Termination.INFEASIBLE else Termination.TIME_LIMIT
        return replace(result, termination=stopped, bound=None, solve_seconds=clock.elapsed())
    proven = _proven(result, options)
    return replace(
        result, termination=Termination.OPTIMAL if proven else Termination.TIME_LIMIT,
        status=SolutionStatus.OPTIMAL if proven else SolutionStatus.FEASIBLE,
        solve_seconds=clock.elapsed() - result.build_seconds,
    )


def _no_plan(clock: Clock, termination: Termination) -> SolveResult:
    return SolveResult(termination, SolutionStatus.NONE, None, None, None, 0.0, clock.elapsed(), "decompose", 0)

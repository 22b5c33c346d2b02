"""Dual prices by balancing: steps 1 and 2 of optimizer/solve/decompose.py.

For prices λ on the coupling rows, L(λ) = Σ_i max(0, max_j v_ij − λ·a_ij) + λ·b bounds every
plan (optimizer/solve/lagrangian.py). The prices that minimise it are found here, by passes only:

1. **Warm start.** λ = the row duals of the LP over a hashed sample of about SAMPLE customers,
   every limit scaled by sample/n (HiGHS); where a >= row has a price, those of a second LP over
   about REFINED customers, each over its REFINED_COLUMNS best campaigns at the first prices,
   solved from the basis those prices imply (optimizer/solve/master.py).
2. **Balancing.** Each pass collects, per row, a histogram of the price moves at which customers
   switch from their best to their runner-up (``Breakpoints``); every row's price moves to where
   its lhs is expected to meet its limit, all rows at once, damped by half when L(λ) rises, until
   a pass lowers L(λ) by less than a stall threshold. First over nested hashed samples of about
   COARSE customers (limits scaled by sample/n; a pass over s customers costs s/n of one over
   everyone), then over all customers.

Every pass is a map over partitions (optimizer/solve/partitions.py) and a reduction of a few numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from operator import add
from typing import cast

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.lagrangian import (
    Breakpoints,
    PricedProblem,
    adjusted_values,
    breakpoint_scale,
    price_out,
    to_problem,
)
from optimizer.solve.master import MasterLP, best_columns, held_campaigns
from optimizer.solve.problem import CouplingRow, Sense
from optimizer.solve.relaxation import solve_relaxation

# Customers of the warm start's LP. Measured: 5,000 took HiGHS 0.25 s at 10 campaigns and 0.45 s at 20;
# 1,000 about 0.03 s, and a 10,000 level of balancing then closes the difference (100k × 10: 0.51 s ->
# 0.27 s in all; 1M × 20: 1.24 -> 0.72 s).
SAMPLE = 1_000
# Customers of a second LP over each one's REFINED_COLUMNS best campaigns at the first LP's prices,
# when a >= row has a price there (``_floors_bind``). Coupled rows (a budget just above what two
# minimum audiences cost) form a ridge in L(λ) that the row-by-row balancing below crawls along; an
# LP prices them jointly. Measured on tight 10^6 × 20:
# L(λ) after the sample levels 458,299 from the 1,000 LP, 455,308 from a 5,000 LP over all columns
# (0.85 s), the same prices from 5,000 over their 3 best (0.26 s); optimum 454,994. 20,000 over all
# columns: 15 s, and no closer (the sample's own optimum).
REFINED = 5_000
REFINED_COLUMNS = 3
# Customers of the nested hashed samples balanced, smallest first, before the passes over everyone.
# Measured at 10M × 20: 100k alone left 5 full balancing passes (13.5 s in all), 100k then 1M 2 (7.8 s).
COARSE = (10_000, 100_000, 1_000_000)
MARGINS = 100_000  # sampled customers whose margins at the sample prices are returned
MAX_BALANCING = 30
BALANCED = 1e-5  # a row is balanced when its lhs is this close (relative) to its limit
STALL_SHARE = 0.1  # balancing stops when a pass lowers L by less than this share of the allowed gap
# Balancing also stops when each of CRAWL_PASSES falls of L(λ) in a row was at least CRAWL times the
# one before, and no more than it: L is falling linearly along a ridge of coupled rows (see
# REFINED), which the master LP crosses in a few rounds. Measured (seed 2026, 120 s; the falls, then
# the whole solve without -> with): tight 10^7 × 20 fell 16.4, 15.6, 15.5, 15.2, ... for 30 passes
# of 0.85 s (48.6 -> 36.5-42.0 s, 5 passes); custom 10^6 × 20 44, 39, 38, 37, ... (17.1 -> 13.2 s);
# tight 10^6 × 20 2.9, 2.8, 2.8, ... (4.5 -> 4.7 s: its first core then fell 1.1e-6 short of the
# bound, and a widening proved it). Not on the samples' levels, whose passes are cheap: there it
# moved the variants kind's start prices, and at 10^6 × 20 its exact core then missed the plan it
# had found (8.3 s -> 104 s).
CRAWL = 0.8
CRAWL_PASSES = 3


@dataclass(frozen=True)
class Pass:
    """A pass reduced over all customers: L(λ), row usages, and (a balancing pass) breakpoints
    and the MASTER customers of smallest margin."""

    prices: NDArray[np.float64]
    bound: float
    usage: NDArray[np.float64]
    breakpoints: Breakpoints | None = None
    nearest: NDArray[np.intp] | None = None


def price_pass(customers: Customers, prices: NDArray[np.float64]) -> Pass:
    """One pass over all customers, reduced: L(λ) and row usages (at the prices clipped to their
    rows' signs: only there does L bound every plan)."""
    prices = signed_prices(customers.rows, prices)
    totals = reduce(add, customers.map(parts.pass_totals, prices, stage="pass"))
    return Pass(prices, totals.value + float(prices @ customers.rhs), customers.usage(totals))


def balancing_pass(customers: Customers, prices: NDArray[np.float64], nearest: int) -> Pass:
    """A pass with the breakpoint histograms (at the prices clipped to their rows' signs); each
    partition keeps its ``nearest`` customers of smallest margin for ``with_nearest``."""
    prices = signed_prices(customers.rows, prices)
    scale = breakpoint_scale(customers.price_scale, prices)
    totals = reduce(add, customers.map(parts.balancing_totals, prices, scale, nearest, customers.coefficients,
                                       stage="balance"))
    return Pass(prices, totals.value + float(prices @ customers.rhs), customers.usage(totals),
                Breakpoints(scale, totals.histogram))


def with_nearest(customers: Customers, found: Pass, nearest: int) -> Pass:
    """The pass with its ``nearest`` customers of smallest margin, asked of the partitions once
    (they kept them from that pass): a few thousand indices per partition, not per pass."""
    near = reduce(add, customers.map(parts.nearest_customers, found.prices, nearest, stage="nearest"))
    return replace(found, nearest=near.nearest(nearest))


@dataclass(frozen=True)
class SampledPrices:
    """Steps 1-2 on samples: the prices, |L(λ)| estimated from the largest sample (what the stall
    threshold is relative to) and, when there were sample levels, the sorted margins of about
    MARGINS sampled customers at the prices (what optimizer/solve/screening.py sets its threshold from)."""

    prices: NDArray[np.float64]
    magnitude: float
    margins: NDArray[np.float64] | None = None


def sample_prices(customers: Customers, mip_gap: float, clock: Clock) -> SampledPrices:
    """Warm start and ``balance`` on nested hashed samples of about COARSE[0], COARSE[1], …
    customers in turn, limits scaled to each sample (a pass over a sample of s customers costs
    s/n of one over everyone, and each level leaves the next less to do). The levels are those
    with n > 2 s; without any, the warm start alone, and one pass over everyone for |L(λ)|.

    The samples keep the score matrix's dtype (float32 at scale: a 1M × 20 sample is 80 MB) and
    are nested: the largest is drawn once, and the warm start's and the smaller levels' are the
    customers of it whose key falls below their own, smaller threshold, the very customers a
    direct draw would give. The levels' prices are capped at 1e4 × the largest sample's price
    scale (no row is worth more per unit to any plan; no scan of everyone for the largest score)."""
    levels = [size for size in COARSE if customers.n > 2 * size]
    if not levels:
        prices = warm_start(customers, clock)
        return SampledPrices(prices, abs(price_pass(customers, prices).bound))
    shared, whole = customers.shared_weights, levels[-1] / customers.n
    largest = customers.sample(whole, keep_dtype=True)
    cap = 1e4 * largest.price_scale
    prices = _lp_prices(parts.subsample(largest, SAMPLE / customers.n, shared), customers, clock)
    if _floors_bind(customers.rows, prices):
        prices = _refined_prices(parts.subsample(largest, REFINED / customers.n, shared), customers, clock, prices, cap)
    for size in levels:
        coarse = scaled_customers(parts.subsample(largest, size / customers.n, shared, whole), customers.n,
                                  largest.price_scale)
        stall = STALL_SHARE * mip_gap * max(1.0, abs(price_pass(coarse, prices).bound))
        best = balance(coarse, prices, cap, stall, clock, 0, crawl=False)
        prices = best.prices
    margins = price_out(parts.subsample(largest, MARGINS / customers.n, shared, whole), prices).margin
    return SampledPrices(prices, abs(best.bound) * customers.n / coarse.n, np.sort(margins))


def warm_start(customers: Customers, clock: Clock) -> NDArray[np.float64]:
    """Row duals of the LP over a hashed sample of about SAMPLE customers, limits scaled to it."""
    if customers.n <= SAMPLE:
        return np.zeros(len(customers.rows))
    return _lp_prices(customers.sample(SAMPLE / customers.n), customers, clock)


def _lp_prices(sample: PricedProblem, customers: Customers, clock: Clock) -> NDArray[np.float64]:
    """Row duals of the LP over ``sample`` with every limit scaled by sample/n (zeros where it is infeasible)."""
    problem = to_problem(sample, np.isfinite(sample.value), _scaled_limits(sample, customers))
    lp = solve_relaxation(problem, *problem.candidate_pairs(), time_limit=clock.allow())
    if not lp.feasible:
        return np.zeros(len(customers.rows))
    if lp.shadow_prices is None:
        raise TypeError("a feasible LP relaxation without shadow prices")
    return lp.shadow_prices


def _refined_prices(sample: PricedProblem, customers: Customers, clock: Clock, start: NDArray[np.float64],
                    cap: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row duals of the LP over ``sample``, each customer over its REFINED_COLUMNS best campaigns at
    ``start``, every limit scaled by sample/n; ``start`` itself where the LP has no optimum (a row it
    cannot meet, or out of time). Solved as a master LP (optimizer/solve/master.py) whose basis
    starts each customer at its best at ``start``, not cold: the same prices (to 1e-13) from a
    third to a fifth of the pivots' time (measured on 5,038 customers at 10^5 × 10, seeds 2026, 1, 2:
    planned 0.15 -> 0.04 s, integer 0.15 -> 0.06 s, custom 0.21 -> 0.09 s, tight 0.09 -> 0.06 s).
    Rows are elastic at ``cap`` a unit, above what a unit of any row is worth to a plan, so a slack
    is used only where no plan of the sample meets the row."""
    sample = sample.take(np.arange(sample.n_customers), sample.customer_ids, customers.shared_weights)  # float64
    adjusted = adjusted_values(sample, start, np.arange(sample.n_customers))
    master = MasterLP(sample.rows, sample.campaign_ids, cap)
    master.set_limits(_scaled_limits(sample, customers))
    master.add_customers(sample, customers.shared_weights, best_columns(adjusted, REFINED_COLUMNS),
                         held_campaigns(adjusted), start)
    solution = master.solve(clock.allow())
    return start if solution is None or not solution.feasible else solution.prices


def _scaled_limits(sample: PricedProblem, customers: Customers) -> NDArray[np.float64]:
    """Every row's limit scaled by the sample's share of all customers."""
    return customers.rhs * sample.n_customers / customers.n


def _floors_bind(rows: tuple[CouplingRow, ...], prices: NDArray[np.float64]) -> bool:
    """Whether some >= row has a price: a floor competing with the caps for the same customers, the
    ridge the REFINED LP is for. (Without one it did not pay: offer variants at 10^5 × 10, whose
    rows are all caps, took 17 -> 66 s, 9 -> 51 s and 40 -> 78 s on three instance seeds with it.)"""
    return any(row.sense is Sense.GE and price != 0.0 for row, price in zip(rows, prices))


def scaled_customers(sample: PricedProblem, n: int, price_scale: NDArray[np.float64]) -> Customers:
    """A sample as Customers of its own, every limit scaled by sample/n, with ``price_scale``."""
    scale = sample.n_customers / n
    return Customers(replace(sample, rows=tuple(replace(row, rhs=row.rhs * scale) for row in sample.rows)),
                     price_scale=price_scale)


def balance(
    customers: Customers, prices: NDArray[np.float64], cap: NDArray[np.float64], stall: float, clock: Clock,
    nearest: int, crawl: bool = True, passes: int | None = None,
) -> Pass:
    """Coordinate steps on the prices from breakpoint histograms, until each row's lhs meets its
    limit, a pass lowers L(λ) by less than ``stall``, (``crawl``) L falls linearly (CRAWL) or
    ``passes`` passes (MAX_BALANCING if None) ran; returns the pass with the lowest L(λ) (with its
    ``nearest`` customers of smallest margin).

    Each pass gives, per row, how much lhs changes as that row's price alone moves (lagrangian.py,
    ``Breakpoints``); every row's price moves to where its lhs is expected to meet its limit, all
    rows at once, damped by half whenever L(λ) rises.
    """
    best: Pass | None = None
    damping = 1.0
    falls: list[float] = []
    for number in range(1, max(1, MAX_BALANCING if passes is None else passes) + 1):
        latest = balancing_pass(customers, prices, nearest)
        fell = np.inf if best is None else best.bound - latest.bound
        falls.append(fell)
        if best is None or fell > 0:  # the first pass is the best so far (it fell by inf)
            best = latest
        else:
            damping /= 2
        customers.standing(f"balancing pass {number}", None, best.bound)  # signed prices: L(λ) bounds every plan
        moves = price_moves(customers, latest)
        if not moves.any() or 0 <= fell <= stall or damping < 1e-3 or clock.expired() or crawl and _crawling(falls):
            break
        prices = np.clip(signed_prices(customers.rows, best.prices + damping * price_moves(customers, best)), -cap, cap)
    best = cast(Pass, best)  # at least one pass ran
    return with_nearest(customers, best, nearest) if nearest else best


def _crawling(falls: list[float]) -> bool:
    """Whether each of the last CRAWL_PASSES falls of L was between CRAWL times the one before and
    the one before (a fall that grows is no crawl)."""
    last = falls[-CRAWL_PASSES - 1:]
    return len(last) > CRAWL_PASSES and all(0 < before < np.inf and CRAWL * before <= after <= before
                                            for before, after in zip(last, last[1:]))


def price_moves(customers: Customers, latest: Pass) -> NDArray[np.float64]:
    """Per row, the price move that should bring its lhs to its limit (0 where it already holds),
    never past 0 on a row whose price has a sign: where no price of that sign meets the limit (too
    few customers switch), the row goes slack at price 0. (Unclipped, a move past 0 is the same
    step at every damping: measured on the variants kind, two slack rows' moves of -2.65e6 left
    every damped step of the balancing worse than its start.)"""
    moves = np.zeros(len(customers.rows))
    for r, (row, used, price) in enumerate(zip(customers.rows, latest.usage, latest.prices)):
        change = row.rhs - used
        slack_ok = (row.sense is Sense.LE and change >= 0 and price <= 0) or (
            row.sense is Sense.GE and change <= 0 and price >= 0)
        if abs(change) <= BALANCED * max(1.0, abs(row.rhs)) or slack_ok:
            continue
        if latest.breakpoints is None:
            raise TypeError("a pass without breakpoints cannot say how far a price should move")
        moves[r] = latest.breakpoints.move(r, change)
    return signed_prices(customers.rows, latest.prices + moves) - latest.prices


def signed_prices(rows: tuple[CouplingRow, ...], prices: NDArray[np.float64]) -> NDArray[np.float64]:
    """Prices clipped to their allowed sign: >= 0 on <= rows, <= 0 on >= rows."""
    le = np.array([row.sense is Sense.LE for row in rows])
    ge = np.array([row.sense is Sense.GE for row in rows])
    return np.where(le, np.maximum(prices, 0.0), np.where(ge, np.minimum(prices, 0.0), prices))

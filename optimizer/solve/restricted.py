"""Degenerate scores, exactly: the customers near a tie, restricted to their near options, as classes.

When values take a few levels (3, 5, 8 per response; costs of 1 or 2) and every row has one
coefficient a_rj per campaign, a pass at prices λ0 near the optimum (the sample prices,
optimizer/solve/balancing.py) leaves many customers exactly tied between options and everyone else
a whole value step or more from a tie (measured: integer 10^7 × 20, 28 % at margin 0, the rest at
1 or more). With T in the first wide gap of the sampled margins, the candidates are the customers
of margin below T at λ0; each keeps its options within T of its best (nothing is always allowed),

    S_i = { j : c_ij - μ0_j >= best_i(λ0) - T },   μ = Aᵀλ,

and everyone else is held at its best at λ0. Candidates whose kept rows are equal (values on S_i,
-inf elsewhere) are interchangeable: the restricted problem is an LP and a MIP over classes with
integer counts (optimizer/solve/classes.py), a few thousand classes where the per-customer
decomposition had millions of tied customers in its master.

**Column generation.** The restricted LP's duals λ are priced out over everyone (one pass): held
customers whose best at λ is not their held choice join the candidates (keeping their held choice
and their options within T of their best at λ), and candidates whose best at λ is an option they
lost get back the options within T of it, until nobody moves: L(λ) then equals the restricted
LP's value, the LP optimum over all pairs (measured: integer 10^6 × 20, two rounds).

**Proof.** Every plan is worth at most B = min(L(λ), Φ(μ) + h(μ)), Φ + h the audience-size bound
(optimizer/solve/audiences.py: a plan x is worth Σ_i (c_i,x_i - μ_x_i) + μ·N(x) <= Φ(μ) - Σ_i regret_i
+ h(μ)). A plan that moves a held customer off its held choice, or gives a candidate a lost
option, has a regret of at least t, the least margin at λ of such a move, so it is worth at most
B - t; every other plan is one of the restricted problem's. So

    bound = min(B, max(V + restricted MIP bound, B - t)),

V the held customers' value (when the loop stops early, at the time limit or MAX_ROUNDS, t is
unknown and the bound is B). When B - t is what keeps the plan z unproven, every move within
B - z of being chosen at λ joins the restriction (held customers of that margin become
candidates, candidates keep those options), so that t >= B - z, and the MIP runs again
(WIDENINGS times at most).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import reduce
from operator import add
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts, screening
from optimizer.solve.audiences import audience_bound_at
from optimizer.solve.balancing import MARGINS, sample_prices, signed_prices
from optimizer.solve.classes import CLASS_LIMIT, Classes, class_prices, kept_classes, solve_classes
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers, Progress
from optimizer.solve.lagrangian import PricedProblem, plan_sums, price_out
from optimizer.solve.options import SolverOptions
from optimizer.solve.results import SolutionStatus, SolveResult, Termination, better

# The threshold keeps at most this share of the sampled customers below it (measured: at 2M × 20
# with minimum audiences at 0.2 × the eligible customers, more than half were tied at margin 0).
MOST_SHARE = 0.9
WIDE = 0.9  # the first gap of at least this share of the widest is taken (integer margins: 0 | 1 | 2 …)
MOST_CANDIDATES = 4_000_000  # candidates at most (their rows go to the driver: 320 MB at 20 campaigns)
MAX_ROUNDS = 30
# A row's first penalty is twice its start price (at least 1e-6 of its cap), raised PENALTY_RISE
# times a round that breaks it, up to PRICE_CAP × its price scale, which no plan pays (as the
# decomposition's master does: optimizer/solve/master.py).
PENALTY_RISE = 4.0
PRICE_CAP = 1e4
MOVE_TOLERANCE = 1e-9  # regret, relative to the largest price, below which a held customer does not move
# The share of the time limit the price loop may take: the rest is for the class MIP and, should
# it not prove its plan, the perturbed decomposition. Measured on integer 10^7 × 20 under 10 s: 0.5
# stopped the loop before its one round ended (the decomposition then: gap 2.6e-3), 0.75 proved the
# plan in 7.6 s. (Limits too short for the loop skip it: optimizer/solve/solver.py, RESTRICTED_PASSES.)
PRICING_SHARE = 0.75
# Of the time left, the share a class MIP may take: the rest is the perturbed decomposition's, should
# the MIP not prove its plan (measured: 1,483 classes of values in steps of 0.1 under competing
# minimum audiences took the whole of a 5 s limit, gap 2.2e-5; the exact solver proves it in 3.6 s).
MIP_SHARE = 0.5
WIDENINGS = 3  # restrictions widened at most, to prove a plan that moves no held customer


@dataclass(frozen=True)
class Restriction:
    """The held customers' prices ``start`` (each holds its best there), the candidates (sorted
    global indices), their full rows and the options each keeps (``keep``, candidates × k), T,
    the held customers' value V and row use U, and each campaign's eligible customers."""

    start: NDArray[np.float64]
    candidates: NDArray[np.intp]
    rows: PricedProblem
    keep: NDArray[np.bool_]
    below: float
    held_value: float
    held_usage: NDArray[np.float64]
    eligible: NDArray[np.float64]

    def classes(self, limits: NDArray[np.float64]) -> tuple[PricedProblem, Classes] | None:
        """The classes of candidates whose kept rows (lost options -inf) are equal: one kept row per
        class as the class problem under ``limits``, and the classes over it (None past CLASS_LIMIT)."""
        classes = kept_classes(self.rows.value, self.keep, CLASS_LIMIT)
        if classes is None:
            return None
        first = self.rows.value[classes.first]
        value = np.where(self.keep[classes.first], first, first.dtype.type(-np.inf))
        rows = tuple(replace(row, rhs=float(b)) for row, b in zip(self.rows.rows, limits))
        representatives = replace(self.rows, customer_ids=np.arange(classes.size), value=value, rows=rows)
        return representatives, replace(classes, first=np.arange(classes.size, dtype=np.intp))


@dataclass(frozen=True)
class PricedRound:
    """One round: its restriction and restricted problem (its classes), the duals λ priced out over
    everyone (L(λ), and the lowest L of all rounds), and t (None unless nobody moves at λ)."""

    restriction: Restriction
    kept: PricedProblem
    classes: Classes
    prices: NDArray[np.float64]
    lagrangian: float
    lowest: float
    least_move: float | None


def solve_restricted(priced: PricedProblem, options: SolverOptions, progress: Progress | None = None,
                     tie_keys: Callable[[], NDArray[np.uint64]] | None = None) -> SolveResult | None:
    """The plan over restricted classes with its bound (module docstring); None when the scores do
    not fall into few restricted classes from the sample prices, no plan meets the rows, or the
    time is too short for the price loop (PRICING_SHARE of the limit)."""
    clock = Clock.start(options.time_limit_s)
    customers = Customers(priced, progress)
    if customers.coefficients is None or customers.n == 0:
        return None
    pricing = clock.reserving((1.0 - PRICING_SHARE) * clock.limit)
    sampled = sample_prices(customers, options.mip_gap, pricing)
    if pricing.expired():
        return None
    last = _price_loop(customers, _restriction(customers, sampled.prices), pricing)
    if last is None:
        return None
    keys = None if tie_keys is None else tie_keys()
    at_prices = min(last.lagrangian, audience_bound_at(customers, last.prices, last.lagrangian, clock,
                                                       last.restriction.eligible))
    result = _plan(customers, last, at_prices, options, clock, keys)
    if result is None:  # no plan in the time the MIP had: the bound still holds for the perturbed path's plan
        return SolveResult(Termination.TIME_LIMIT, SolutionStatus.NONE, None, None, min(last.lowest, at_prices), 0.0,
                           clock.elapsed(), "restricted classes", 0, shadow_prices=last.prices)
    for _ in range(WIDENINGS):
        reach = _reach(result, last, at_prices, options.mip_gap, clock)
        widened = None if reach is None else _widened(customers, last, reach)
        found = None if widened is None else _plan(customers, widened, at_prices, options, clock, keys)
        if widened is None or found is None:
            break
        last, result = widened, better(result, found)
    stopped = Termination.TIME_LIMIT if clock.expired() else Termination.STALLED  # rounds or widenings used up
    return replace(result, termination=stopped, solve_seconds=clock.elapsed()).settled(options.mip_gap)


def _reach(result: SolveResult, last: PricedRound, at_prices: float, mip_gap: float, clock: Clock) -> float | None:
    """B - z: how far a widening must reach for t to prove the plan z; None when a widening cannot
    help (no plan, proven, out of time, t unknown, or t already at least B - z)."""
    if result.objective is None or result.proven(mip_gap) or clock.expired() or last.least_move is None:
        return None
    reach = at_prices - result.objective
    return reach if reach > last.least_move else None


def threshold(margins: NDArray[np.float64], share: float) -> float | None:
    """T: the middle of the first gap between consecutive sorted sampled ``margins``, among the
    ``share`` smallest, that is at least WIDE × the widest (None when they are all equal)."""
    within = margins[:int(share * margins.size) + 1]
    within = within[np.isfinite(within)]  # a customer of one option has an infinite margin
    if within.size < 2:
        return None
    gaps = np.diff(within)
    if gaps.max() <= 0:
        return None
    first = int(np.argmax(gaps >= WIDE * gaps.max()))
    return float(within[first] + gaps[first] / 2)


def _restriction(customers: Customers, prices: NDArray[np.float64]) -> Restriction | None:
    """The candidates at ``prices`` (module docstring), or None when there are too many."""
    sample = customers.sample(min(1.0, MARGINS / max(1, customers.n)), keep_dtype=True)
    below = threshold(np.sort(price_out(sample, prices).margin), min(MOST_SHARE, MOST_CANDIDATES / customers.n))
    if below is None:
        return None
    screen = screening.screen(customers, prices, below)  # the held customers' V and U come with it
    if screen.candidates.size > MOST_CANDIDATES:
        return None
    keep = np.zeros(screen.reduced.value.shape, dtype=bool)
    _widen(screen.reduced.value, _campaign_prices(customers, prices), below, keep)
    return Restriction(prices, screen.candidates, screen.reduced, keep, below, screen.fixed_value,
                       screen.fixed_usage, screen.eligible)


def _campaign_prices(customers: Customers, prices: NDArray[np.float64]) -> NDArray[np.float64]:
    """μ = Aᵀλ: what the prices charge each campaign."""
    if customers.coefficients is None:
        raise TypeError("restricted classes need one coefficient per campaign in every row")
    return np.asarray(prices @ customers.coefficients, dtype=np.float64)


def _price_loop(customers: Customers, restriction: Restriction | None, clock: Clock) -> PricedRound | None:
    """Column generation (module docstring) until nobody moves and no row is broken, MAX_ROUNDS, or
    the time is up; the last round solved (None: no LP optimum in time, or too many classes). Rows
    the held customers leave no plan for are broken at a penalty, PENALTY_RISE times higher each
    round that breaks them, up to what no plan pays (1e4 × the price scale)."""
    if restriction is None:
        return None
    last, cap = None, PRICE_CAP * customers.price_scale
    penalties = np.maximum(2.0 * np.abs(restriction.start), 1e-6 * cap)
    took = 0.0  # the last round's seconds: a round is not begun in less time than that
    for _ in range(MAX_ROUNDS):
        if restriction is None or clock.remaining() <= took:
            break
        started = clock.elapsed()
        found = restriction.classes(_limits(customers, restriction))
        duals = None if found is None else class_prices(*found, penalties, clock)
        if found is None or duals is None:
            break
        kept, classes = found
        prices = signed_prices(customers.rows, duals.prices)
        moved = _moves(customers, restriction, prices)
        movers, lagrangian = np.sort(moved.movers), moved.totals.value + float(prices @ customers.rhs)
        lost = _least_lost(restriction.rows.value, _campaign_prices(customers, prices), restriction.keep)
        settled = movers.size == 0 and lost >= 0 and duals.broken.size == 0
        last = PricedRound(restriction, kept, classes, prices, lagrangian,
                           min(lagrangian, np.inf if last is None else last.lowest),
                           min(moved.least_outside, lost) if settled else None)
        customers.standing("restricted LP", None, last.lowest)
        if settled:
            break
        took, broken = clock.elapsed() - started, duals.broken
        if movers.size == 0 and lost >= 0 and np.all(penalties[broken] >= cap[broken]):
            return None  # breaking them pays at any price a plan could need: the perturbed path says why
        penalties[broken] = np.minimum(PENALTY_RISE * penalties[broken], cap[broken])
        restriction = _joined(customers, _kept_near(customers, restriction, prices, restriction.below), movers,
                              prices, restriction.below)
    return last


def _kept_near(customers: Customers, restriction: Restriction, prices: NDArray[np.float64],
               below: float) -> Restriction:
    """``restriction`` with each candidate also keeping its options within ``below`` of its best at ``prices``."""
    keep = restriction.keep.copy()
    _widen(restriction.rows.value, _campaign_prices(customers, prices), below, keep)
    return replace(restriction, keep=keep)


def _widened(customers: Customers, last: PricedRound, reach: float) -> PricedRound | None:
    """``last`` with every move within ``reach`` of being chosen at its prices in the restriction:
    held customers of margin at most ``reach`` join, candidates keep their options within it; t is
    then at least ``reach`` (None past MOST_CANDIDATES or CLASS_LIMIT)."""
    near = reduce(add, customers.map(parts.near, last.prices, reach, last.restriction.candidates, MOST_CANDIDATES,
                                     stage="widen"))
    restriction = _joined(customers, _kept_near(customers, last.restriction, last.prices, reach),
                          np.sort(near.customers), last.prices, reach)
    if restriction is None:
        return None
    found = restriction.classes(_limits(customers, restriction))
    if found is None:
        return None
    kept, classes = found
    lost = _least_lost(restriction.rows.value, _campaign_prices(customers, last.prices), restriction.keep)
    return replace(last, restriction=restriction, kept=kept, classes=classes, least_move=min(reach, lost))


def _limits(customers: Customers, restriction: Restriction) -> NDArray[np.float64]:
    """The limits the held customers leave the candidates, b - U."""
    return screening.settled(customers.rhs - restriction.held_usage)


def _moves(customers: Customers, restriction: Restriction, prices: NDArray[np.float64]) -> parts.Round:
    """One pass at ``prices``: L(prices) (its totals), the held customers whose best beats their held
    choice, and the least margin of the held customers who stay (partitions.price_round)."""
    least = MOVE_TOLERANCE * max(1.0, float(np.abs(prices).max(initial=0.0)))
    return reduce(add, customers.map(parts.price_round, restriction.start, prices, restriction.candidates,
                                     MOST_CANDIDATES, least, stage="pass"))


def _joined(customers: Customers, restriction: Restriction, movers: NDArray[np.intp],
            prices: NDArray[np.float64], below: float) -> Restriction | None:
    """``restriction`` with ``movers`` as candidates, each keeping its held choice (its best at the
    start prices) and its options within ``below`` of its best at ``prices``; None past
    MOST_CANDIDATES."""
    if movers.size == 0:
        return restriction
    if restriction.candidates.size + movers.size > MOST_CANDIDATES:
        return None
    joining = customers.gather(movers, keep_dtype=True)
    value, weight_sums, counts = plan_sums(joining, price_out(joining, restriction.start).choice)  # what they held
    keep = np.zeros(joining.value.shape, dtype=bool)
    _widen(joining.value, _campaign_prices(customers, restriction.start), 0.0, keep)
    _widen(joining.value, _campaign_prices(customers, prices), below, keep)
    candidates = np.r_[restriction.candidates, movers]
    order = np.argsort(candidates, kind="stable")
    rows = replace(restriction.rows, customer_ids=candidates[order],
                   value=np.concatenate([restriction.rows.value, joining.value])[order])
    return replace(restriction, candidates=candidates[order], rows=rows,
                   keep=np.concatenate([restriction.keep, keep])[order], held_value=restriction.held_value - value,
                   held_usage=restriction.held_usage - joining.row_usage(weight_sums, counts))


def _plan(customers: Customers, last: PricedRound, at_prices: float, options: SolverOptions, clock: Clock,
          tie_keys: NDArray[np.uint64] | None) -> SolveResult | None:
    """The restricted MIP's plan for all customers and its bound (module docstring), B =
    ``at_prices`` the bound at the round's prices."""
    restriction = last.restriction
    bound = min(last.lowest, at_prices)
    reduced_gap = options.mip_gap * max(1.0, abs(bound)) / max(1.0, abs(bound - restriction.held_value))
    part = solve_classes(last.kept, last.classes, options.model_copy(
        update={"time_limit_s": clock.allow(MIP_SHARE * clock.remaining()), "mip_gap": reduced_gap}),
        None if tie_keys is None else tie_keys[restriction.candidates], with_lp=False)
    if part.choice is None:
        return None
    choice = np.concatenate(customers.map(parts.partition_plan, restriction.start, restriction.candidates,
                                          part.choice, stage="plan"))
    value, _, _ = plan_sums(customers.priced, choice)
    if last.least_move is not None and part.bound is not None:
        bound = min(bound, max(restriction.held_value + part.bound, at_prices - last.least_move))
    customers.standing("restricted classes", value, max(bound, value))
    result = SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, choice, value, max(bound, value),
                         part.build_seconds, clock.elapsed() - part.build_seconds, "restricted classes",
                         part.candidate_pairs, shadow_prices=last.prices)
    return result.settled(options.mip_gap)


@numba.njit(cache=True, nogil=True)
def _widen(value: NDArray[Any], campaign_prices: NDArray[np.float64], below: float,
           keep: NDArray[np.bool_]) -> None:  # pragma: no cover
    """Mark in ``keep`` each customer's options within ``below`` of its best at ``campaign_prices``
    (nothing, worth 0, counts as an option)."""
    for i in range(value.shape[0]):
        best = 0.0
        for j in range(value.shape[1]):
            best = max(best, value[i, j] - campaign_prices[j])
        for j in range(value.shape[1]):
            if value[i, j] - campaign_prices[j] >= best - below:
                keep[i, j] = True


@numba.njit(cache=True, nogil=True)
def _least_lost(value: NDArray[Any], campaign_prices: NDArray[np.float64],
                keep: NDArray[np.bool_]) -> float:  # pragma: no cover
    """The least margin at ``campaign_prices`` of an option a customer did not keep, below its
    best kept one (nothing counting as kept, worth 0); -1 when some customer's best is not kept."""
    least = np.inf
    for i in range(value.shape[0]):
        kept_best = 0.0
        for j in range(value.shape[1]):
            if keep[i, j]:
                kept_best = max(kept_best, value[i, j] - campaign_prices[j])
        for j in range(value.shape[1]):
            adjusted = value[i, j] - campaign_prices[j]
            if not keep[i, j] and adjusted > -np.inf:
                if adjusted > kept_best:
                    return -1.0
                least = min(least, kept_best - adjusted)
    return least

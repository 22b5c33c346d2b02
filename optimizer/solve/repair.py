"""A feasible plan from prices alone, for when the exact steps found none within the time limit.

At prices λ every customer takes its priced-out best (optimizer/solve/lagrangian.py), and the plan's
row sums u(λ) follow in one pass. A row the plan breaks gets a dearer price (a <= row: fewer
customers choose what it counts) or a cheaper one (a >= row), by the move the breakpoint histograms
estimate meets its limit, times ESCALATION each time the row is still broken, and the pass is repeated,
as long as the next pass (timed like the last) ends by a deadline: LATE_SECONDS past the time limit
when no other step has found a plan, the limit itself when one has.
Raising the prices of <= rows far enough leaves every customer an option of zero coefficient on
them, or nothing, so when the empty plan meets every row (no >= limit above 0, no negative
coefficient) the passes lead to a plan, given enough of them; with >= rows they may not, and then
none is claimed.

The plan's value is L(λ) - λ·b + λ·u(λ) (the priced-out values of the chosen options plus their
prices), and L at the first prices, which are the best the solve knew, bounds every plan.

With <= rows only the drop below always runs and ends with a plan unless an option with a
negative coefficient stands in its way; for that case, when the empty plan meets every row,
``last_resort`` prices every row out of reach in one pass: each customer takes only an option no
row counts.

When some row is a >= or == row, the plan is first mended customer by customer: when every row
counts campaigns, by filling the audiences to sizes that meet every row (optimizer/solve/fill.py,
where price moves flip tied customers all at once), else or if that finds none, by the moves that
most lower the rows' breaches (optimizer/solve/mend.py, where price moves trade customers back and
forth between competing rows); the price passes then run in the time the limit leaves (past it if
neither found a plan), and the better plan is kept. With <= rows only, the best prices' plan is
first brought within its limits by dropping customers from the over-full rows
(optimizer/solve/drop.py, about one pass); the price passes then run in the time the limit leaves,
the better plan kept, and the mend only if neither found one. A plan the best prices give as they
are is taken as it is.

Measured (bench/instances.py's variants kind, 10^6 × 20, seeds 2026 and 1, `solve` on this VM):
under a 1 s limit the price passes first ended at 3.5-3.8 s with 5,786,444 and 5,695,222 (and in
one bench run, out of time for its passes, with the empty plan); the drop first ends at 1.5 s with
5,799,455 and 5,812,962. Under 2 s and 4 s the plans were better too and ended within 0.4 s of the
limit, where they ended 1-3 s past it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.balancing import Pass, balancing_pass, price_moves, price_pass, signed_prices
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.drop import drop_to_limits
from optimizer.solve.fill import MovedPlan, fill_audiences
from optimizer.solve.mend import mend
from optimizer.solve.problem import Sense, broken_rows

REPAIR_PASSES = 40  # passes at most (far-off prices on rows that trade customers take ~10 per row)
ESCALATION = 4.0  # a row still broken after its move gets this many times the move
LATE_SECONDS = 3.0  # how far past the time limit a repair may end: no pass starts that would end later
RESERVED_PASSES = 10  # passes a time limit keeps back for a repair (a balancing pass counts 3)
REPAIR_SHARE = 0.2  # at most this share of a time limit is kept for a repaired plan
PASS_SECONDS = 6e-9  # a pass's time per (customer, campaign) pair: 1.2 s at 10^7 × 20 on a slow day (0.4 s fast)
SMALLEST_MOVE = 1e-3  # of a row's price scale: the move of a broken row the histograms saw no move for
FILL_PASSES = 1  # the time of a fill (optimizer/solve/fill.py), in passes (measured: 0.65 s at 10^7 × 20, a pass ~1 s)


@dataclass(frozen=True)
class Repaired:
    """A feasible plan: every customer's priced-out best at ``prices`` except ``moved`` (sorted
    global indices), who get ``moved_choice``; its value and a bound."""

    prices: NDArray[np.float64]
    value: float
    bound: float
    moved: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    moved_choice: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))


def repair(customers: Customers, start: Pass, clock: Clock) -> Repaired | None:
    """A plan meeting every row, from the prices of the pass ``start`` (module docstring), or None
    when none of the drop, the fill, the mend or the price passes found one in the time allowed."""
    prices = signed_prices(customers.rows, start.prices)  # L bounds every plan only at prices of the rows' signs
    seen = start if np.array_equal(prices, start.prices) else price_pass(customers, prices)
    if all(row.sense is Sense.LE for row in customers.rows):
        return _within_caps(customers, seen, clock)
    return _with_floors(customers, seen, clock)


def _with_floors(customers: Customers, start: Pass, clock: Clock) -> Repaired | None:
    """With >= or == rows, from the plan of ``start`` (a pass at prices of the rows' signs): that
    plan if it meets every row; else the fill or the mend, when a fill fits before LATE_SECONDS past
    the limit, then the price passes beside it (``_with_passes``). No balancing pass runs before
    the fill: at 10^7 × 50 one took 1.7 s and left the fill no time (tight under 5 s: no plan at 8.8 s)."""
    if not broken_rows(customers.rows, start.usage).any():
        return _as_repaired(customers, start, start.bound)  # the best prices' own plan: nothing to mend
    took = _pass_time(customers)
    mended = None
    if not _too_late(clock, FILL_PASSES * took):
        filled = fill_audiences(customers, start.prices, clock) if customers.coefficients is not None else None
        mended = _mended(filled or mend(customers, start.prices, took, clock, clock.limit + LATE_SECONDS),
                         start.bound)
    return _with_passes(customers, start, mended, took, clock)


def _within_caps(customers: Customers, start: Pass, clock: Clock) -> Repaired | None:
    """With <= rows only, from the plan of ``start`` (a pass at prices of the rows' signs): that plan
    if it meets every row; else the plan that drops customers from its over-full rows (about a pass,
    optimizer/solve/drop.py), then the price passes beside it (``_with_passes``); the mend only
    when neither found a plan."""
    if not broken_rows(customers.rows, start.usage).any():
        return _as_repaired(customers, start, start.bound)
    dropped = _mended(drop_to_limits(customers, start.prices, start.usage), start.bound)
    took = _pass_time(customers)
    return _with_passes(customers, start, dropped, took, clock) or \
        _mended(mend(customers, start.prices, took, clock, clock.limit + LATE_SECONDS), start.bound)


def _with_passes(customers: Customers, start: Pass, found: Repaired | None, took: float,
                 clock: Clock) -> Repaired | None:
    """The better of ``found`` (another step's plan; None: none) and the price passes from
    ``start``, after a balancing pass for their moves when ``start`` is not one (run only when it
    and a pass fit), each reckoned at ``took``: by the limit itself when ``found`` is a plan, else
    up to LATE_SECONDS past it."""
    deadline = clock.limit + (LATE_SECONDS if found is None else 0.0)
    repriced = None
    if start.breakpoints is not None or clock.elapsed() + 4 * took <= deadline:  # a balancing pass and a pass
        origin = start if start.breakpoints is not None else balancing_pass(customers, start.prices, 0)
        repriced = _repriced(customers, origin, took, clock, deadline)
    if found is None:
        return repriced
    return found if repriced is None or repriced.value <= found.value else repriced


def _pass_time(customers: Customers) -> float:
    """A pass's time, as reckoned before it runs: the slowest plain pass so far, or PASS_SECONDS a pair."""
    return max(PASS_SECONDS * customers.n * len(customers.campaign_ids), customers.pass_seconds)


def _as_repaired(customers: Customers, latest: Pass, bound: float) -> Repaired:
    """The plan of a pass that meets every row, worth L(λ) - λ·b + λ·u(λ), with ``bound``."""
    value = latest.bound - float(latest.prices @ customers.rhs) + float(latest.prices @ latest.usage)
    return Repaired(latest.prices, value, bound)


def _mended(moved: MovedPlan | None, bound: float) -> Repaired | None:
    """A fill's or a mend's plan as a repair's, with ``bound``."""
    if moved is None:
        return None
    return Repaired(moved.prices, moved.value, bound, moved.moved, moved.moved_choice)


def _repriced(customers: Customers, origin: Pass, took: float, clock: Clock, deadline: float) -> Repaired | None:
    """The price passes of the module docstring from ``origin`` (a balancing pass), each timed
    like the last (``took``), none started that would end after ``deadline`` (seconds on
    ``clock``). The moves are read off ``origin``, and for a row that breaks later,
    at the prices then; the checks are plain passes."""
    rows = customers.rows
    moves = _fixing_moves(customers, origin)
    scale = np.zeros(len(rows))
    latest, bound = origin, origin.bound
    for _ in range(REPAIR_PASSES):
        broken = broken_rows(rows, latest.usage)
        if not broken.any():
            return _as_repaired(customers, latest, bound)
        unknown = broken & (moves == 0)
        if unknown.any():  # broken since the first pass, which saw no move for them: read it now
            if latest.breakpoints is None and clock.elapsed() + 3 * took > deadline:
                return None
            here = latest if latest.breakpoints is not None else balancing_pass(customers, latest.prices, 0)
            moves[unknown] = _fixing_moves(customers, here)[unknown]
        unknown &= moves == 0  # no move seen: go by the price's own size, towards the limit
        size = np.maximum(np.abs(latest.prices), SMALLEST_MOVE * customers.price_scale)
        moves[unknown] = (np.sign(latest.usage - customers.rhs) * size)[unknown]
        scale[broken] = np.maximum(1.0, ESCALATION * scale[broken])  # each time a row is still broken
        if clock.elapsed() + took > deadline:
            return None
        timed = time.perf_counter()
        latest = price_pass(customers, signed_prices(rows, origin.prices + scale * moves))
        took = time.perf_counter() - timed
        bound = min(bound, latest.bound)
    return None


LAST_RESORT_PRICE = 1e30  # on every <= row: no option a row counts is worth taking at it


def last_resort(customers: Customers) -> Repaired | None:
    """When the repair found no plan and the empty plan meets every row (only <= rows, limits >= 0):
    one pass at prices no value can pay, in which each customer takes its best option that no row
    counts (or nothing), a plan that meets every row whatever the data; None otherwise. Its value is
    the pass's sum of priced-out values, exact since every chosen option's coefficients are 0."""
    rows = customers.rows
    if any(row.sense is not Sense.LE or row.rhs < 0 for row in rows):
        return None
    prices = np.full(len(rows), LAST_RESORT_PRICE)
    totals = reduce(add, customers.map(parts.pass_totals, prices, stage="pass"))
    if np.any(customers.usage(totals) != 0):  # an option of negative coefficient became worth taking
        return None
    return Repaired(prices, float(totals.value), np.inf)


def _too_late(clock: Clock, seconds: float) -> bool:
    """Whether a pass of ``seconds`` would end more than LATE_SECONDS past the time limit."""
    return clock.elapsed() + seconds > clock.limit + LATE_SECONDS


def _fixing_moves(customers: Customers, latest: Pass) -> NDArray[np.float64]:
    """Per row the breakpoint histograms' price move towards its limit, for the rows the pass breaks
    and in the direction that mends them (a row within its limit gets none: balancing would move a
    slack row's price back towards 0, which is no repair)."""
    broken = broken_rows(customers.rows, latest.usage)
    direction = np.sign(latest.usage - customers.rhs)  # over its limit: dearer; under: cheaper
    moves = price_moves(customers, latest)
    return np.where(broken & (np.sign(moves) == direction), moves, 0.0)


def repair_reserve(customers: Customers, limit: float) -> float:
    """Seconds kept back from a time limit for a repaired plan: RESERVED_PASSES passes, each of
    PASS_SECONDS per pair or as long as the slowest pass over everyone so far took (measured: at
    10^6 customers × 60 offers with expected spend, on a loaded machine, 1.3 s where the estimate
    said 0.36 s, and the repair ran out of time), at most REPAIR_SHARE of it."""
    return min(REPAIR_SHARE * limit, RESERVED_PASSES * _pass_time(customers))

"""A plan that meets every row, by moving customers one at a time: for when price moves cycle.

Price moves (optimizer/solve/repair.py) cannot mend every plan. Two floors that compete for the
same customers (two minimum audiences on one channel), or a floor and a cap on the same
customers (an e-mail audience floor under a cap on e-mail responses), trade the customers back
and forth as their prices grow (measured: custom 10^6 × 20 under a 4 s limit ended without a
plan after 40 such passes, the floors' prices at -7e9). The audience fill
(optimizer/solve/fill.py) mends such plans only when every row has one coefficient per
campaign; this takes rows of any coefficients (custom rows, ratio rows, expected spend).

A plan's row sums u break row r, aimed at a_r, by

    breach_r(u) = max(0, u_r - a_r) (<=),   max(0, a_r - u_r) (>=),   |u_r - a_r| (==),

and the plan by V(u) = sum_r breach_r(u) / s_r, each row in its own scale: s_r = max(|b_r|, |u_r|,
1) at the start (a ratio row, b_r = 0, is measured against its own sums). The aims lie MEND_MARGIN
× s_r inside the limits b_r (a_r = b_r on an == row), so that a floor and a cap that trade the same
customers each have room to give. From every customer's priced-out best at prices λ, each round

1. asks every partition for its customers' best moves. Customer i moving from its option c (or
   nothing) to o (another eligible campaign, or nothing) loses l = (c_ic - λ·a_ic) - (c_io -
   λ·a_io) priced out (nothing is worth 0) and mends the broken rows by h = sum_r d_r (a_rio -
   a_ric) / s_r, with d_r = +1 under a floor's aim, -1 over a cap's, sign(a_r - u_r) off an ==
   row's; on a row met d_r = 0, or, if an earlier round found it broken, the side away from its
   limit (-1 for a cap, +1 for a floor, 0 for ==), so that offers to mend one row weigh what they
   would undo of the rows it trades customers with. Each customer offers its move of least l / h among those with h > 0
   (``kernels.moves_kernel``), and a partition its MEND_MOVES × (its share of the customers)
   offers of least l / h;
2. takes the offers in order of l / h and makes each that lowers V at the row sums as they then
   stand (``kernels.mend_sweep``), so a move that would break a row met by more than it mends the
   broken ones is passed over, until every row meets its limit itself (each move costs value: the
   aims only steer);
3. weighs each row still broken MEND_WEIGHING times more (s_r / MEND_WEIGHING): the rows a round
   could not mend lead the next one's offers (without it, measured on custom 10^6 × 20, two
   e-mail floors and a cap on e-mail responses took turns being broken round after round).

Within a round V falls with every move made. The rounds end at a plan that meets every limit, at a
round that makes no move, after MEND_ROUNDS or out of time, and may end with rows broken (no
single move lowers V): the plan is checked against the limits on its own totals, and claimed only
if it meets every one. Each step is a map over partitions, so it runs on a Dask
cluster too.

Measured (bench/instances.py's custom kind, `solve` on this VM, against the price passes alone):
2 × 10^5 × 10 under a 1 s limit ends at 1.1-1.2 s with a plan 0.6 % below the bound, where there
was none; 10^6 × 20 under a 4 s limit at 4.8 s with one 1.05 % below it, where there was none at
6.9 s. On 2,123 tiny random instances from random prices (tests/instances.py) repair now finds a
plan on 52 where the price passes found none, loses none, and none is worse.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.fill import MovedPlan, moved_arrays
from optimizer.solve.kernels import mend_sweep, moves_kernel
from optimizer.solve.lagrangian import row_signs
from optimizer.solve.partitions import Partition
from optimizer.solve.problem import broken_rows

MEND_MOVES = 100_000  # offers a round, over all partitions
MEND_ROUNDS = 50  # rounds at most
ROUND_PASSES = 5  # a round's time in passes over everyone, until one is timed (the moves' kernel: ~3.5)
MEND_MARGIN = 1e-3  # of a row's scale: how far inside its limit the moves aim (room to trade in)
MEND_WEIGHING = 2.0  # a row broken after a round weighs this many times more in the next
NO_MOVE = -2  # moves_kernel's option for a customer no move of whom mends a broken row


@dataclass(frozen=True)
class Offers:
    """Moves a partition offers: its customers (global indices), the campaign each would move to
    (NO_CAMPAIGN: nothing), the loss per unit of mending l / h, and the (m, moves) row changes."""

    customers: NDArray[np.intp]
    campaigns: NDArray[np.int32]
    ratios: NDArray[np.float64]
    deltas: NDArray[np.float64]


def mend(customers: Customers, prices: NDArray[np.float64], pass_seconds: float, clock: Clock,
         deadline: float) -> MovedPlan | None:
    """Rounds 1-3 of the module docstring from the priced-out plan at ``prices``, none started that
    would end after ``deadline`` (seconds on ``clock``; a round is reckoned at ROUND_PASSES passes
    of ``pass_seconds`` until one is timed); the plan, or None when it still breaks a limit."""
    took = ROUND_PASSES * pass_seconds
    if clock.elapsed() + took + 2 * pass_seconds > deadline:  # a round, and the plan's sums before and after
        return None
    senses, limits = row_signs(customers.rows), customers.rhs
    moved: dict[int, int] = {}
    usage = customers.usage(_totals(customers, prices, moved))
    scale = np.maximum.reduce([np.abs(limits), np.abs(usage), np.ones(len(customers.rows))])
    aims = limits - senses * MEND_MARGIN * scale
    contested = np.zeros(len(limits), dtype=bool)  # rows broken in some round so far
    for _ in range(MEND_ROUNDS):
        broken = _guide(usage, aims, senses)
        if _meets(customers, usage) or clock.elapsed() + took + pass_seconds > deadline:
            break
        started = time.perf_counter()
        contested |= broken != 0
        guide = np.where(broken != 0, broken, np.where(contested, -senses, 0)) / scale  # met rows: do not undo them
        ids, choice = moved_arrays(moved)
        offers = customers.map(offered_moves, prices, ids, choice, guide, MEND_MOVES / customers.n, stage="mend")
        offered = _merged(offers)
        made = mend_sweep(offered.deltas, usage, aims, limits, senses, scale)  # moves usage along
        scale[_guide(usage, aims, senses) != 0] /= MEND_WEIGHING
        moved.update(zip(offered.customers[made].tolist(), offered.campaigns[made].tolist()))
        took = time.perf_counter() - started
        if not made.any():
            break
    totals = _totals(customers, prices, moved)
    if not _meets(customers, customers.usage(totals)):
        return None
    return MovedPlan(prices, *moved_arrays(moved), float(totals.value))


def _totals(customers: Customers, prices: NDArray[np.float64], moved: dict[int, int]) -> parts.Totals:
    """The totals of the plan: every customer's best at ``prices``, the ``moved`` ones as moved."""
    return reduce(add, customers.map(parts.plan_totals, prices, *moved_arrays(moved), stage="mend"))


def _meets(customers: Customers, usage: NDArray[np.float64]) -> bool:
    """Whether row sums ``usage`` meet every limit (CouplingRow.satisfied's tolerance)."""
    return not broken_rows(customers.rows, usage).any()


def _guide(usage: NDArray[np.float64], aims: NDArray[np.float64], senses: NDArray[np.int8]) -> NDArray[np.float64]:
    """d_r of the module docstring: +1 where the row sum must rise, -1 where it must fall, else 0."""
    under = (usage < aims) & (senses <= 0)
    over = (usage > aims) & (senses >= 0)
    guide: NDArray[np.float64] = under.astype(float) - over.astype(float)
    return guide


def _merged(offers: list[Offers]) -> Offers:
    """All partitions' offers in order of l / h."""
    ratios = np.concatenate([offer.ratios for offer in offers])
    order = np.argsort(ratios, kind="stable")
    return Offers(np.concatenate([offer.customers for offer in offers])[order],
                  np.concatenate([offer.campaigns for offer in offers])[order], ratios[order],
                  np.concatenate([offer.deltas for offer in offers], axis=1)[:, order])


def offered_moves(part: Partition, prices: NDArray[np.float64], ids: NDArray[np.intp], choice: NDArray[np.int32],
                  guide: NDArray[np.float64], share: float) -> Offers:
    """Step 1 of the module docstring on one partition, for the plan of ``prices`` and the moved
    customers ``ids`` (given ``choice``), with d_r / s_r as ``guide``: its ceil(share × size) offers."""
    priced = part.priced
    plan = parts.partition_plan(part, prices, ids, choice)
    option, ratios = np.empty(part.size, dtype=np.int32), np.empty(part.size)
    moves_kernel(priced.value, priced.weights, *priced.prices_by_weight(prices), *priced.prices_by_weight(guide),
                 plan, option, ratios)
    local = np.flatnonzero(option != NO_MOVE)
    count = min(local.size, math.ceil(share * part.size))
    if local.size > count:
        local = local[np.argpartition(ratios[local], count - 1)[:count]]
    target = option[local]
    deltas = _coefficients(part, local, target) - _coefficients(part, local, plan[local])
    return Offers(local + part.offset, target, ratios[local], deltas)


def _coefficients(part: Partition, local: NDArray[np.intp], campaigns: NDArray[np.int32]) -> NDArray[np.float64]:
    """(m, len(local)) a_rij of each customer's given campaign (0 for nothing)."""
    has = campaigns >= 0
    out = np.zeros((len(part.priced.rows), local.size))
    out[:, has] = part.priced.pair_coefficients(local[has], campaigns[has])
    return out

"""A plan within every <= limit in about one pass: drop customers from the over-full rows.

The first step of a repair with <= rows only (optimizer/solve/repair.py), before the price passes
and the mend, which need more passes than a short limit leaves. At prices λ every customer takes
its priced-out best, and the plan's row sums u break the rows B by e_r = u_r - b_r > 0. With <=
rows only, giving a customer nothing never raises a row sum that its option counts with a
coefficient >= 0, so the plan is mended by dropping customers alone. Customer
i, on option j of value c_ij, relieves the broken rows by h_i = Σ_{r in B} a_rij / e_r (each row in
its own excess) and costs c_ij; the customers go in order of c_ij / h_i (least value per unit of
excess first), each dropped only when it lowers the plan's excess Σ_r max(0, u_r - b_r) / e_r at
the row sums as they then stand (``kernels.mend_sweep``), so that customers of rows already met
are kept, until every row meets its limit.

A customer whose option has a negative coefficient on some row is never dropped (that would raise
the row); when the others cannot bring every row within its limit, there is no plan (None).
Each partition offers only its first customers in that order, up to where their coefficients
cover every e_r: the sweep meets every row by the time it passes them (a customer it passes over
touches rows met already), so it never reaches the rest (up to rounding: the cover is a cumulative
sum, the sweep subtracts one customer at a time; the plan is checked on its own totals, and a row
left within ROW_TOLERANCE of its limit meets it).

Measured on bench/instances.py's variants kind, 10^6 × 20 (27 rows, 9 of them broken at the best
prices a 1 s limit left): 15,501 customers dropped in 0.34 s, a plan 0.33 % below the bound, where
the price passes had one 0.56 % below it after 2.2 s. One gather per weight, not per row, for the
coefficients (0.86 s when read row by row for all 27 rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.customers import Customers
from optimizer.solve.fill import MovedPlan
from optimizer.solve.kernels import mend_sweep
from optimizer.solve.partitions import Partition
from optimizer.solve.problem import NO_CAMPAIGN, Sense, broken_rows


@dataclass(frozen=True)
class Droppable:
    """The customers a partition offers to drop (global indices), in order of c_ij / h_i, and
    their (broken rows, customers) coefficients a_rij."""

    customers: NDArray[np.intp]
    ratios: NDArray[np.float64]
    coefficients: NDArray[np.float64]


def drop_to_limits(customers: Customers, prices: NDArray[np.float64],
                   usage: NDArray[np.float64]) -> MovedPlan | None:
    """The module docstring's plan from every customer's priced-out best at ``prices``, whose row
    sums are ``usage``; None when some row is not a <= row or dropping cannot meet every limit."""
    rows = customers.rows
    if any(row.sense is not Sense.LE for row in rows):
        return None
    limits = customers.rhs
    broken = np.flatnonzero(broken_rows(rows, usage))
    excess = usage[broken] - limits[broken]
    offered = customers.map(droppable, prices, broken, excess, stage="drop")
    ratios = np.concatenate([offer.ratios for offer in offered])
    order = np.argsort(ratios, kind="stable")
    coefficients = np.concatenate([offer.coefficients for offer in offered], axis=1)[:, order]
    dropped = mend_sweep(-coefficients, usage[broken].copy(), limits[broken], limits[broken],
                         np.ones(broken.size, dtype=np.int8), excess)
    ids = np.sort(np.concatenate([offer.customers for offer in offered])[order][dropped])
    choice = np.full(ids.size, NO_CAMPAIGN, dtype=np.int32)
    totals = reduce(add, customers.map(parts.plan_totals, prices, ids, choice, stage="drop"))
    if broken_rows(rows, customers.usage(totals)).any():
        return None
    return MovedPlan(prices, ids, choice, float(totals.value))


def droppable(part: Partition, prices: NDArray[np.float64], broken: NDArray[np.intp],
              excess: NDArray[np.float64]) -> Droppable:
    """One partition's offers (module docstring): its customers whose option counts on a ``broken``
    row (over its limit by ``excess``) and has no negative coefficient, in order of c_ij / h_i, up
    to the first whose coefficients, with those before it, cover every row's excess."""
    priced = part.priced
    choice = part.held(prices)
    chosen = np.flatnonzero(choice != NO_CAMPAIGN)
    guide = np.zeros(len(priced.rows))
    guide[broken] = 1.0 / excess
    relief = priced.pair_combined(chosen, choice[chosen], guide)
    keep = relief > 0
    for r in np.flatnonzero(priced.negative_rows):  # a drop would raise such a row: keep those customers
        keep &= priced.row_pair_coefficients(int(r), chosen, choice[chosen]) >= 0
    chosen, relief = chosen[keep], relief[keep]
    ratios = priced.value[chosen, choice[chosen]].astype(float) / relief
    order = np.argsort(ratios, kind="stable")
    coefficients = priced.pair_coefficients(chosen[order], choice[chosen[order]], broken)
    covered = np.cumsum(coefficients, axis=1) >= excess[:, None]
    needed = int(covered.argmax(axis=1).max()) + 1 if covered.size and covered[:, -1].all() else order.size
    return Droppable(chosen[order[:needed]] + part.offset, ratios[order[:needed]], coefficients[:, :needed])

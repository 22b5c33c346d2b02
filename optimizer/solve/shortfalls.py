"""Conflicts seen without solving: minimum audiences whose cheapest customers already break a limit.

Before any solve, each minimum audience b_j (a >= row counting campaign j, or its offer variants
together) needs b_j of the customers eligible for j; the b_j smallest coefficients of those customers
(each at its cheapest variant) on a <= row s give the least any
plan can use of s, and when the minimums' least uses summed exceed s's limit, no plan exists
(``obvious_conflicts``; a customer counted for two campaigns makes this a relaxation, so the
shortfall it names is the least change that could help). Rows with a negative coefficient are left
out: a customer of another campaign could make room on them. Numpy only: ``cvo validate`` runs it
without loading a solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense


@dataclass(frozen=True)
class Shortfall:
    """Minimum audiences (``needs``) whose cheapest customers use at least ``least`` of ``limit``."""

    needs: tuple[CouplingRow, ...]
    limit: CouplingRow
    least: float


def obvious_conflicts(problem: Problem) -> list[Shortfall]:
    """Conflicts between minimum audiences and <= limits, seen without solving (module docstring)."""
    return cheapest_uses(problem).shortfalls()


@dataclass(frozen=True)
class CheapestUses:
    """Per <= limit, whether a customer has a negative coefficient on it, and per limit and minimum
    audience the ``needed`` smallest coefficients of the customers eligible for the minimum's
    campaigns: what ``shortfalls`` reads. Adds up over partitions of the customers (``+``), so a
    partitioned run checks the same conflicts without one table of every customer."""

    rows: tuple[CouplingRow, ...]
    negative: dict[int, bool]  # by the limit's row index
    smallest: dict[tuple[int, int], NDArray[np.float64]]  # by (limit, minimum) row index, ascending

    def __add__(self, other: CheapestUses) -> CheapestUses:
        smallest = {}
        for key, values in self.smallest.items():
            both = np.concatenate([values, other.smallest[key]])
            smallest[key] = np.sort(both)[:_needed(self.rows[key[1]])]
        return CheapestUses(self.rows, {r: self.negative[r] or other.negative[r] for r in self.negative}, smallest)

    def shortfalls(self) -> list[Shortfall]:
        """Each limit the minimum audiences' least uses, summed, exceed."""
        found = []
        for r, negative in self.negative.items():
            if negative:
                continue  # a customer of negative coefficient, in any campaign, could make room: no conflict seen
            uses = [(self.rows[m], float(values.sum())) for (limit, m), values in self.smallest.items() if limit == r]
            needed = [(row, use) for row, use in uses if use > 0]
            least = sum(use for _, use in needed)
            if needed and least > self.rows[r].rhs + 1e-6 * max(1.0, abs(self.rows[r].rhs)):
                found.append(Shortfall(tuple(row for row, _ in needed), self.rows[r], least))
        return found


def cheapest_uses(problem: Problem) -> CheapestUses:
    """The CheapestUses of ``problem``'s customers."""
    rows = problem.rows
    minimums = [m for m, row in enumerate(rows) if row.sense is Sense.GE and row.weight == COUNT and row.rhs > 0
                and (row.campaigns.sum() == 1 or row.family == "min_audience")]  # disjoint: one campaign's offers
    negative, smallest = {}, {}
    for r, limit in enumerate(rows):
        if limit.sense is not Sense.LE:
            continue
        columns = {j: _column(problem, limit, j) for j in range(problem.n_campaigns)}
        negative[r] = any(np.any(column[problem.eligible[:, j]] < 0) for j, column in columns.items())
        for m in minimums:
            coefficients, eligible = _cheapest(problem, columns, rows[m])
            smallest[r, m] = _smallest(coefficients[eligible], _needed(rows[m]))
    return CheapestUses(rows, negative, smallest)


def _needed(minimum: CouplingRow) -> int:
    return max(0, int(np.ceil(minimum.rhs - 1e-9)))


def _smallest(values: NDArray[np.floating[Any]], count: int) -> NDArray[np.float64]:
    """The ``count`` smallest values, ascending (all of them when there are no more)."""
    values = np.asarray(values, dtype=float)
    if count < values.size:
        values = np.partition(values, count - 1)[:count] if count > 0 else values[:0]
    return np.sort(values)


def _cheapest(problem: Problem, columns: dict[int, NDArray[np.float64]],
              minimum: CouplingRow) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each customer's least coefficient over the campaigns a minimum audience counts (a campaign's
    offer variants: a customer counts once), and whether any of them is open to the customer."""
    counted = [int(j) for j in np.flatnonzero(minimum.campaigns)]
    eligible = problem.eligible[:, counted]
    stacked = np.column_stack([columns[j] for j in counted])
    least: NDArray[np.float64] = np.where(eligible, stacked, np.inf).min(axis=1)
    return least, np.asarray(eligible.any(axis=1))


def _column(problem: Problem, row: CouplingRow, j: int) -> NDArray[np.float64]:
    """Campaign j's coefficients a_rij of every customer on ``row`` (no (n, k) copy)."""
    if not row.campaigns[j]:
        return np.zeros(problem.n_customers)
    if row.weight == COUNT:
        return np.ones(problem.n_customers)
    return np.asarray(problem.weights[row.weight][:, j], dtype=float)


def describe_shortfall(shortfall: Shortfall) -> str:
    """'min_audience[a] (>= 1,000, campaigns[0].min_audience) and ... need at least 4,512.3 of budget (<= 2,000,
    budget): raise budget by at least 2,512.3 (to 4,512.3; a plan may need more), or
    lower those minimum audiences'."""
    needs = " and ".join(label(row) for row in shortfall.needs)
    limit = shortfall.limit
    short = shortfall.least - limit.rhs
    return (f"{needs} need at least {_up(shortfall.least)} of {label(limit)}, even with their cheapest eligible "
            f"customers: raise {limit.name} by at least {_up(short)} (to {_up(shortfall.least)}; a plan may need "
            "more), or lower those minimum audiences")


def _up(amount: float, digits: int = 6) -> str:
    """``amount`` to ``digits`` significant digits, rounded up: a limit set to the figure shown is
    enough (1,430.092934 shown as 1,430.09 was not: --set budget=1430.09 failed again).

    >>> _up(1430.092934), _up(0.002934), _up(2512.3)
    ('1,430.1', '0.002934', '2,512.3')
    """
    if amount <= 0 or not math.isfinite(amount):
        return f"{amount:,.{digits}g}"
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(amount)))
    return f"{math.ceil(round(amount * scale, 6)) / scale:,.{digits}g}"


def label(row: CouplingRow) -> str:
    """A limit as messages name it: 'budget (<= 2,000, budget)'."""
    return f"{row.name} ({row.sense} {row.rhs:,.6g}, {row.source})"

"""Customers whose campaign is settled before the solve (a forced list): the others are solved
with what the settled ones use taken off every limit, and the two plans joined.

For settled customers F, customer i in F with campaign f_i, and the rest R:

    rest:    the Problem over R with each row's limit b_r - sum_{i in F} a_{r,i,f_i}
    plan:    x = x_rest on R, f_i on F
    value:   z = z_rest + sum_{i in F} v_{i,f_i}       (a settled customer is never held out,
    bound:   B = B_rest + sum_{i in F} v_{i,f_i}        so it is worth its whole v, not (1 - f_j) v)

This is exact: every plan that gives F their campaigns is a plan of the rest plus F's, with the
same rows, so the best of one is the best of the other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import SolveResult


def without_fixed(problem: Problem, fixed: NDArray[np.integer[Any]]) -> Problem:
    """The rest: ``fixed`` customers (campaign index, -1 for free ones) out, the limits lowered by their use."""
    return problem.restrict(np.ones_like(problem.eligible), fixed)


def fixed_value(problem: Problem, fixed: NDArray[np.integer[Any]]) -> float:
    """sum_{i in F} v_{i,f_i}: what the settled customers are worth, all of them treated."""
    customers = np.flatnonzero(fixed != NO_CAMPAIGN)
    return float(problem.pair_value[customers, fixed[customers]].sum())


def with_fixed(result: SolveResult, problem: Problem, fixed: NDArray[np.integer[Any]]) -> SolveResult:
    """The rest's result joined with the settled customers' campaigns (module docstring)."""
    extra = fixed_value(problem, fixed)
    choice = None if result.choice is None else np.where(fixed != NO_CAMPAIGN, fixed, result.choice)
    return replace(result, choice=choice,
                   objective=None if result.objective is None else result.objective + extra,
                   bound=None if result.bound is None else result.bound + extra)


def overused(problem: Problem, fixed: NDArray[np.integer[Any]]) -> list[tuple[CouplingRow, float]]:
    """The <= and == limits the settled customers alone use more of than they allow, with that use,
    among those no other customer could make room on (no negative coefficient of an eligible pair)."""
    used = problem.row_activity(np.asarray(fixed))
    free = problem.eligible & (fixed == NO_CAMPAIGN)[:, None]
    return [(row, float(use)) for row, use in zip(problem.rows, used)
            if row.sense is not Sense.GE and use > row.rhs and not row.satisfied(float(use))
            and not np.any(problem.coefficients(row)[free] < 0)]

"""A plan at audience sizes that meet every row, for when price moves alone find none.

When every coupling row has one coefficient a_rj per campaign (audiences, capacities, budgets of
one cost per contact), a plan meets every row exactly when its audience sizes n_j do. So, from
prices λ at which each customer takes its priced-out best (counts c_j):

1. the integer sizes n nearest c that meet every row (least Σ_j |n_j - c_j|; a MIP of 3k
   columns, optimizer/solve/audiences.py's ``audience_sizes``);
2. a campaign with c_j > n_j drops the c_j - n_j members of least value v_ij (they get nothing);
3. a campaign with c_j < n_j takes the n_j - c_j customers with nothing of greatest v_ij among
   those eligible for it, one campaign after another.

Every size is then n_j and the plan meets every row (checked on the plan's totals); None when
HiGHS finds no sizes or too few customers are free for a campaign. Tied customers that price
moves flip all at once (near-infeasible budgets under minimum audiences: tight 10^7 × 20 ended
without a plan) are taken one by one here. Each step is a map over partitions, so it runs on a
Dask cluster too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.audiences import AUDIENCE_LIMIT_S, audience_sizes
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.partitions import Partition
from optimizer.solve.problem import NO_CAMPAIGN, broken_rows


@dataclass(frozen=True)
class MovedPlan:
    """A plan: each customer's best at ``prices`` except ``moved`` (sorted global indices), who get
    ``moved_choice``; its value."""

    prices: NDArray[np.float64]
    moved: NDArray[np.intp]
    moved_choice: NDArray[np.int32]
    value: float


def fill_audiences(customers: Customers, prices: NDArray[np.float64], clock: Clock) -> MovedPlan | None:
    """Steps 1-3 of the module docstring from the priced-out plan at ``prices``."""
    coefficients = customers.coefficients
    if coefficients is None:
        return None
    counts = reduce(add, customers.map(_campaign_counts, prices, stage="fill"))
    eligible = reduce(add, customers.map(parts.eligible_counts, stage="fill"))
    sizes = audience_sizes(customers.rows, coefficients, counts, eligible, customers.n, clock.allow(AUDIENCE_LIMIT_S))
    if sizes is None:
        return None
    moved: dict[int, int] = {}
    for j in np.flatnonzero(counts > sizes):
        dropped = _pick(customers, _least_valued_members, prices, moved, int(j), int(counts[j] - sizes[j]))
        moved.update(dict.fromkeys(dropped.tolist(), NO_CAMPAIGN))
    for j in np.flatnonzero(counts < sizes):
        need = int(sizes[j] - counts[j])
        taken = _pick(customers, _most_valued_free, prices, moved, int(j), need)
        if taken.size < need:
            return None
        moved.update(dict.fromkeys(taken.tolist(), int(j)))
    ids, choice = moved_arrays(moved)
    totals = reduce(add, customers.map(parts.plan_totals, prices, ids, choice, stage="fill"))
    usage = customers.usage(totals)
    if broken_rows(customers.rows, usage).any():
        return None
    return MovedPlan(prices, ids, choice, float(totals.value))


def moved_arrays(moved: dict[int, int]) -> tuple[NDArray[np.intp], NDArray[np.int32]]:
    """The customers ``moved`` (global index → campaign or NO_CAMPAIGN), sorted, and their campaigns."""
    ids = np.array(sorted(moved), dtype=np.intp)
    return ids, np.array([moved[i] for i in ids.tolist()], dtype=np.int32)


def _pick(customers: Customers, candidates: Any, prices: NDArray[np.float64], moved: dict[int, int], campaign: int,
          count: int) -> NDArray[np.intp]:
    """The ``count`` customers ``candidates`` ranks first over all partitions (global indices)."""
    ids, choice = moved_arrays(moved)
    found = customers.map(candidates, prices, ids, choice, campaign, count, stage="fill")
    everyone = np.concatenate([found_ids for found_ids, _ in found])
    ranks = np.concatenate([rank for _, rank in found])
    return everyone[np.argsort(ranks, kind="stable")[:count]]


def _campaign_counts(part: Partition, prices: NDArray[np.float64]) -> NDArray[np.int64]:
    """Per campaign, this partition's customers whose priced-out best at ``prices`` it is."""
    held = part.held(prices)
    return np.bincount(held[held >= 0], minlength=part.priced.n_campaigns).astype(np.int64)


def _least_valued_members(part: Partition, prices: NDArray[np.float64], ids: NDArray[np.intp],
                          choice: NDArray[np.int32], campaign: int, count: int
                          ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """At most ``count`` members of ``campaign`` in the plan, of least value (rank: the value)."""
    members = np.flatnonzero(parts.partition_plan(part, prices, ids, choice) == campaign)
    return _first(part, members, part.priced.value[members, campaign].astype(float), count)


def _most_valued_free(part: Partition, prices: NDArray[np.float64], ids: NDArray[np.intp],
                      choice: NDArray[np.int32], campaign: int, count: int
                      ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """At most ``count`` customers with nothing in the plan, eligible for ``campaign``, of greatest
    value (rank: minus the value)."""
    value = part.priced.value[:, campaign].astype(float)
    free = np.flatnonzero((parts.partition_plan(part, prices, ids, choice) == NO_CAMPAIGN) & np.isfinite(value))
    return _first(part, free, -value[free], count)


def _first(part: Partition, local: NDArray[np.intp], rank: NDArray[np.float64], count: int
           ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """The ``count`` of ``local`` of least ``rank``, as global indices with their ranks."""
    if local.size > count:
        keep = np.argpartition(rank, count - 1)[:count] if count > 0 else np.zeros(0, dtype=np.intp)
        local, rank = local[keep], rank[keep]
    return local + part.offset, rank

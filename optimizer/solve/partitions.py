"""Customers in partitions, and everything the decomposition asks of one partition.

Each function below reads one partition and returns a few numbers or a few customers, never
anything of size n, so the decomposition runs the same over one in-memory partition or over
the partitions of a Dask cluster (optimizer/plan/distributed.py): every pass is a map over
partitions and a reduction of m numbers.

Customers are named by their global index (position in the whole customer table). The plan of
a customer outside the master is its priced-out best at the *start prices* λ0 (the prices the
master was built at), so a partition never has to remember it: it recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import reduce
from operator import add
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.keys import position_keys, sampled_positions, share_threshold
from optimizer.solve.lagrangian import PassResult, PricedProblem, adjusted_values, plan_sums, price_out
from optimizer.solve.problem import NO_CAMPAIGN

REGRET_CHUNK = 10_000  # customers whose (m, chunk, k) coefficients are built at once
RELEASE_SHORTLIST = 4  # customers per one wanted whose exact release loss is computed (releasing)


@dataclass(frozen=True)
class Partition:
    """A slice of the customers: its lean arrays, the global index of its first customer and,
    when it is a file of a partitioned dataset, that file's name."""

    priced: PricedProblem
    offset: int
    name: str = ""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> int:
        return self.priced.n_customers

    def local(self, customers: NDArray[np.intp]) -> NDArray[np.intp]:
        """Local positions of the given (sorted) global indices that fall in this partition."""
        lo, hi = np.searchsorted(customers, [self.offset, self.offset + self.size])
        return customers[lo:hi] - self.offset

    def held(self, start: NDArray[np.float64]) -> NDArray[np.int32]:
        """Each customer's best campaign at the start prices: the plan of a customer outside the
        master. Remembered for the last start prices asked (one int32 per customer), since every
        master round needs it again."""
        key = start.tobytes()
        if self.memo.get("start") != key:
            self.memo.update(start=key, held=price_out(self.priced, start).choice)
        held: NDArray[np.int32] = self.memo["held"]
        return held

    def outside(self, master: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Mask of this partition's customers not in the (sorted) master."""
        mask = np.ones(self.size, dtype=bool)
        mask[self.local(master)] = False
        return mask


@dataclass(frozen=True)
class Totals:
    """Sums over customers of one partition (or, added up, of all): what a pass reduces to."""

    value: float
    weight_sums: NDArray[np.float64]
    counts: NDArray[np.float64]
    histogram: NDArray[np.float64]

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.value + other.value, self.weight_sums + other.weight_sums, self.counts + other.counts,
                      self.histogram + other.histogram)


def _totals(result: PassResult, histogram: NDArray[np.float64]) -> Totals:
    """A pass's totals with ``histogram`` (every pass sums the weights and counts of its best choices)."""
    if result.weight_sums is None or result.counts is None:
        raise TypeError("a pass result without its weight sums and counts")
    return Totals(result.best_total, result.weight_sums, result.counts, histogram)


def pass_totals(part: Partition, prices: NDArray[np.float64]) -> Totals:
    """sum_i max(0, best_i), and the best choices' weight sums and counts, at ``prices``."""
    result = price_out(part.priced, prices)
    return _totals(result, np.zeros((len(prices), 2, 0)))


def plan_totals(
    part: Partition, start: NDArray[np.float64], master: NDArray[np.intp], master_choice: NDArray[np.integer[Any]]
) -> Totals:
    """Value, weight sums and counts of the plan: best at ``start`` outside the master, and
    ``master_choice`` (aligned with the sorted ``master``) inside it."""
    choice = partition_plan(part, start, master, master_choice)
    value, weight_sums, counts = plan_sums(part.priced, choice)
    return Totals(value, weight_sums, counts, np.zeros((len(start), 2, 0)))


def partition_plan(
    part: Partition, start: NDArray[np.float64], master: NDArray[np.intp], master_choice: NDArray[np.integer[Any]]
) -> NDArray[np.int32]:
    """The campaign index of each of the partition's customers in the plan (see plan_totals)."""
    choice = part.held(start).copy()
    lo, hi = np.searchsorted(master, [part.offset, part.offset + part.size])
    choice[master[lo:hi] - part.offset] = master_choice[lo:hi]
    return choice


def balancing_totals(part: Partition, prices: NDArray[np.float64], breakpoints: NDArray[np.float64], count: int,
                     coefficients: NDArray[np.float64] | None = None) -> Totals:
    """pass_totals with breakpoints at ``prices`` (``coefficients``: the a_rj of all customers when
    every row has one per campaign). The pass's choices are remembered as the plan at ``prices``
    (``held``): the balancing's best pass gives the start prices, so the first master round needs
    no pass of its own for them; and so are its ``count`` customers of smallest margin, which
    ``nearest_customers`` hands over once, for the best pass only (not with every pass's totals)."""
    result = price_out(part.priced, prices, breakpoints=breakpoints, coefficients=coefficients)
    keep, _ = _least(result.margin, count)
    part.memo.update(start=prices.tobytes(), held=result.choice,
                     nearest=((prices.tobytes(), count), Near(keep + part.offset, result.margin[keep])))
    if result.breakpoints is None:
        raise TypeError("a pass given breakpoints returned no histograms")
    return _totals(result, result.breakpoints.histogram)


def nearest_customers(part: Partition, prices: NDArray[np.float64], count: int) -> Near:
    """The ``count`` customers of smallest margin at ``prices``: those the balancing pass at these
    prices remembered, or found by a pass of their own."""
    key, found = part.memo.get("nearest", (None, None))
    if key == (prices.tobytes(), count) and found is not None:
        remembered: Near = found
        return remembered
    margin = price_out(part.priced, prices).margin
    keep, _ = _least(margin, count)
    return Near(keep + part.offset, margin[keep])


@dataclass(frozen=True)
class Screening:
    """A screening pass for one partition (or, added up, all): its totals at the prices, the
    customers whose margin is below the threshold (global indices), the least margin of the
    others, and the customers eligible for each campaign."""

    totals: Totals
    candidates: NDArray[np.intp]
    least_outside: float
    eligible: NDArray[np.float64]

    def __add__(self, other: Screening) -> Screening:
        return Screening(self.totals + other.totals, np.r_[self.candidates, other.candidates],
                         min(self.least_outside, other.least_outside), self.eligible + other.eligible)


def screening_totals(part: Partition, prices: NDArray[np.float64], below: float) -> Screening:
    """pass_totals at ``prices``, the customers of margin below ``below`` and the least margin of
    the others (optimizer/solve/screening.py). The pass's choices are remembered as the plan at
    ``prices`` (``held``): the plan of every customer that is not a candidate."""
    result = price_out(part.priced, prices, count_eligible=True)
    part.memo.update(start=prices.tobytes(), held=result.choice)
    inside = result.margin < below
    if result.eligible is None:
        raise TypeError("a pass asked to count the eligible customers returned no counts")
    totals = _totals(result, np.zeros((len(prices), 2, 0)))
    return Screening(totals, np.flatnonzero(inside) + part.offset, float(result.margin[~inside].min(initial=np.inf)),
                     result.eligible)


@dataclass(frozen=True)
class Round:
    """One pass at a master round's prices, for one partition (or, added up, all): the pass's
    totals, the fixed customers whose best moved (global indices, regret), and the least margin
    of a fixed customer that did not move."""

    totals: Totals
    movers: NDArray[np.intp]
    regret: NDArray[np.float64]
    least_outside: float

    def __add__(self, other: Round) -> Round:
        return Round(self.totals + other.totals, np.r_[self.movers, other.movers], np.r_[self.regret, other.regret],
                     min(self.least_outside, other.least_outside))


def price_round(
    part: Partition, start: NDArray[np.float64], prices: NDArray[np.float64], master: NDArray[np.intp], count: int,
    least: float,
) -> Round:
    """At ``prices``, in one pass: pass_totals; the customers outside the master whose best beats
    their plan (best at ``start``) by more than ``least`` (at most ``count``, largest regret first);
    and the least loss in L(prices) of moving a customer outside the master off its plan: its
    margin where the plan is its best at ``prices``, 0 where it is not (ties the loop left)."""
    held = part.held(start)
    latest = price_out(part.priced, prices)
    outside = part.outside(master)
    moved = (latest.choice != held) & outside
    candidates = np.flatnonzero(moved)
    regret = _regret(part.priced, prices, candidates, held[candidates])
    keep = regret > least
    candidates, regret = candidates[keep], regret[keep]
    top, _ = _least(-regret, count)
    candidates, regret = candidates[top], regret[top]
    kept = float(latest.margin[outside & ~moved].min(initial=np.inf))
    totals = _totals(latest, np.zeros((len(prices), 2, 0)))
    return Round(totals, candidates + part.offset, regret, min(kept, 0.0) if moved.any() else kept)


def _regret(
    priced: PricedProblem, prices: NDArray[np.float64], customers: NDArray[np.intp], held: NDArray[np.int32]
) -> NDArray[np.float64]:
    """best_i - priced-out value of the held choice (0 for none), in chunks."""
    out = np.empty(customers.size)
    for start in range(0, customers.size, REGRET_CHUNK):
        chunk = slice(start, start + REGRET_CHUNK)
        adjusted = adjusted_values(priced, prices, customers[chunk])
        best = np.maximum(0.0, np.max(adjusted, axis=1, initial=-np.inf))
        rows = np.arange(adjusted.shape[0])
        kept = np.where(held[chunk] == NO_CAMPAIGN, 0.0, adjusted[rows, np.maximum(held[chunk], 0)])
        out[chunk] = best - kept
    return out


@dataclass(frozen=True)
class Release:
    """Customers outside the master who could give up room on over-full rows, for one partition
    (or, added up, all): global index, the row, the loss in L(λ) per unit given up, and the units;
    and per (partition, row) of ``unseen_rows``, ``unseen``: at most the loss of every customer the
    partition had but did not give (inf: it gave them all)."""

    customers: NDArray[np.intp]
    rows: NDArray[np.intp]
    loss: NDArray[np.float64]
    units: NDArray[np.float64]
    unseen_rows: NDArray[np.intp]
    unseen: NDArray[np.float64]

    def __add__(self, other: Release) -> Release:
        return Release(*(np.r_[getattr(self, column.name), getattr(other, column.name)] for column in fields(self)))

    def least_unseen(self, r: int) -> float:
        """At most the loss of every customer of row r that no partition gave."""
        return float(np.min(self.unseen[self.unseen_rows == r], initial=np.inf))


def releasing(
    part: Partition, start: NDArray[np.float64], master: NDArray[np.intp], over: NDArray[np.intp], count: int
) -> Release:
    """For each row r of ``over``, ``count`` customers outside the master whose plan (best at
    ``start``) uses r and who give up its room cheaply: a customer holding j moves to the
    alternative j* (or nothing) with a_rij* < a_rij that loses least per unit,

        loss_i = min_j' (adj_ij - adj_ij') / (a_rij - a_rij'),   units_i = a_rij - a_rij*,

    with what the customers it does not give lose at least (the least loss left out, or the
    least lower bound left off the shortlist).
    The loss is computed for the RELEASE_SHORTLIST × count of least margin_i / a_rij, its lower
    bound when the row has no negative coefficient (then for all): measured at 10^7 × 20, the
    loss of every user of a total budget took 5.2 s, a pass's margins 0.1 s a partition."""
    held, outside = part.held(start), part.outside(master)
    none, nothing = np.zeros(0, np.intp), np.zeros(0)
    pieces = [Release(none, none, nothing, nothing, none, nothing)]
    chosen = np.flatnonzero(outside & (held >= 0))
    holds = held[chosen]
    margin = price_out(part.priced, start).margin if over.size and chosen.size else np.zeros(0)
    for r in over:
        counts = part.priced.campaigns[r, holds]  # row r counts the campaign they hold
        units = part.priced.row_pair_coefficients(int(r), chosen[counts], holds[counts])
        users, units = chosen[counts][units > 0], units[units > 0]
        unseen = np.inf
        if not part.priced.negative_rows[r]:
            shortlist, unseen = _least(margin[users] / units, RELEASE_SHORTLIST * count)
            users = users[shortlist]
        loss, freed = np.empty(users.size), np.empty(users.size)
        for first in range(0, users.size, REGRET_CHUNK):
            chunk = slice(first, first + REGRET_CHUNK)
            loss[chunk], freed[chunk] = _release_loss(part.priced, start, users[chunk], held[users[chunk]], r)
        keep, left_out = _least(loss, count)
        unseen = min(unseen, left_out)
        pieces.append(Release(users[keep] + part.offset, np.full(keep.size, r), loss[keep], freed[keep],
                              np.array([r]), np.array([unseen])))
    return reduce(add, pieces)


def least_first(customers: NDArray[np.intp], keys: NDArray[np.float64], count: int) -> NDArray[np.intp]:
    """The ``count`` customers of least key (of equal keys, the lower index), sorted by index: the
    same customers however the partitions that found them were split."""
    return np.sort(customers[np.lexsort((customers, keys))[:count]])


def _least(values: NDArray[np.float64], count: int) -> tuple[NDArray[np.intp], float]:
    """Positions of the ``count`` least values (all of them when there are no more), and the least
    value left out (inf: none)."""
    if values.size <= count:
        return np.arange(values.size), np.inf
    order: NDArray[np.intp] = np.argpartition(values, count)
    return order[:count], float(values[order[count]])


def _release_loss(priced: PricedProblem, prices: NDArray[np.float64], customers: NDArray[np.intp],
                  held: NDArray[np.int32], r: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per customer, the least loss per unit of row r given up and the units that move frees
    (``releasing``), nothing included as an alternative."""
    adjusted = np.c_[adjusted_values(priced, prices, customers), np.zeros(customers.size)]
    units = np.c_[priced.row_coefficients(r, customers), np.zeros(customers.size)]
    rows = np.arange(customers.size)
    freed = units[rows, held][:, None] - units
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit: NDArray[np.float64] = np.where(freed > 0, (adjusted[rows, held][:, None] - adjusted) / freed, np.inf)
    best = np.argmin(per_unit, axis=1)
    return np.maximum(per_unit[rows, best], 0.0), freed[rows, best]


@dataclass(frozen=True)
class Near:
    """Customers near a tie, for one partition (or, added up, all): global indices and their
    margins (those outside the master within reach of another choice, or a balancing pass's
    customers of smallest margin)."""

    customers: NDArray[np.intp]
    margins: NDArray[np.float64]

    def __add__(self, other: Near) -> Near:
        return Near(np.r_[self.customers, other.customers], np.r_[self.margins, other.margins])

    def nearest(self, count: int) -> NDArray[np.intp]:
        """The (sorted) ``count`` of least margin, ties broken by index."""
        return least_first(self.customers, self.margins, count)


def near(part: Partition, prices: NDArray[np.float64], reach: float, master: NDArray[np.intp], count: int) -> Near:
    """The ``count`` customers outside the master of least margin within ``reach`` of another choice."""
    margin = price_out(part.priced, prices).margin
    within = np.flatnonzero((margin <= reach) & part.outside(master))
    kept = within[_least(margin[within], count)[0]]
    return Near(kept + part.offset, margin[kept])


def eligible_counts(part: Partition) -> NDArray[np.intp]:
    """Per campaign, the customers of this partition eligible for it (a finite score)."""
    counts: NDArray[np.intp] = np.isfinite(part.priced.value).sum(axis=0)
    return counts


def sample_rows(part: Partition, share: float, shared: bool, keep_dtype: bool = False) -> PricedProblem:
    """customer_rows of the customers in the hashed sample of about ``share`` of all customers."""
    chosen = sampled_positions(part.offset, part.offset + part.size, share_threshold(share))
    return customer_rows(part, chosen, shared, keep_dtype)


def subsample(sample: PricedProblem, share: float, shared: bool, whole: float = 0.0) -> PricedProblem:
    """The customers of a hashed sample (named by global index) that are in the smaller hashed
    sample of about ``share`` of all customers: that sample itself when ``sample`` holds it.
    ``sample`` itself, not a copy, when it is the sample of ``whole`` >= ``share``."""
    if share >= whole > 0.0:
        return sample
    chosen = np.flatnonzero(position_keys(sample.customer_ids.astype(np.uint64)) < share_threshold(share))
    return sample.take(chosen, sample.customer_ids[chosen], shared, keep_dtype=True)


def customer_rows(
    part: Partition, customers: NDArray[np.intp], shared: bool, keep_dtype: bool = False
) -> PricedProblem:
    """The given customers (sorted global indices) that are in this partition, as a PricedProblem
    named by global index, float64 unless ``keep_dtype`` (``shared``: the weights are one row
    for everyone)."""
    local = part.local(customers)
    return part.priced.take(local, local + part.offset, shared, keep_dtype)

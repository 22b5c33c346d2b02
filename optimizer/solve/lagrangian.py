"""The Lagrangian of the assignment problem and its one hot loop: the pass over all customers.

Give every coupling row r a price λ_r (λ_r >= 0 on a <= row, <= 0 on a >= row, free on ==).
Priced out, each customer decides alone:

    L(λ) = sum_i max(0, max_j  c_ij - sum_r λ_r a_rij)  +  sum_r λ_r b_r,

and L(λ) >= every feasible plan's value, for every λ (weak duality). Because a customer's
choice polytope {x_i >= 0, sum_j x_ij <= 1} has integral vertices, min_λ L(λ) equals the LP
relaxation's optimum. A plan that gives customer i anything but its priced-out best is worth
at most L(λ) - (best_i - adjusted value of what it gets): the margin that reduced-cost fixing uses.

The pass computes, in one read of the (n, k) values, every customer's best and second-best
priced-out option (nothing counts as an option worth 0) and the m row usages of the best
choices. It is compiled with numba and makes no (n, k) temporaries, so it costs about one
read of the score matrix (see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.kernels import (
    BINS,
    BINS_PER_OCTAVE,
    GAP_BINS,
    LOWEST_OCTAVE,
    largest_finite,
    pair_breakpoints,
    pass_kernel,
    plan_kernel,
)
from optimizer.solve.method import Precision
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense

CHUNK = 1 << 20  # customers per kernel call: the unit of progress reporting
SCALE_SAMPLE = 5_000

_SENSE_SIGN = {Sense.LE: 1, Sense.GE: -1, Sense.EQ: 0}


@dataclass(frozen=True)
class PricedProblem:
    """The assignment problem as the pass reads it: lean arrays, no eligibility mask.

    ``value[i, j]`` is c_ij, or -inf where customer i is not eligible for campaign j (float32
    or float64, C-contiguous). ``weights[w]`` is a weight array of shape (n, k), or (1, k) when
    it is the same for every customer (a cost per contact). Row r sums ``weights[row_weight[r]]``
    (or 1 per customer when row_weight[r] == -1) over the campaigns in ``campaigns[r]``.
    """

    customer_ids: NDArray[Any]
    campaign_ids: tuple[str, ...]
    value: NDArray[np.floating[Any]]
    weights: NDArray[np.floating[Any]]
    row_weight: NDArray[np.intp]
    campaigns: NDArray[np.bool_]
    rows: tuple[CouplingRow, ...]

    @property
    def n_customers(self) -> int:
        return int(self.value.shape[0])

    @property
    def n_campaigns(self) -> int:
        return int(self.value.shape[1])

    @cached_property
    def largest_value(self) -> float:
        """max |c_ij| over eligible pairs (one compiled scan, no (n, k) temporaries)."""
        return float(largest_finite(self.value)) if self.value.size else 0.0

    @cached_property
    def least_coefficients(self) -> NDArray[np.float64]:
        """Per row, the least positive |a_rij| (read off the first customers; 1 if none)."""
        head = self.weights[:, :SCALE_SAMPLE]
        least = []
        for r, weight in enumerate(self.row_weight):
            table = np.abs(head[weight][:, self.campaigns[r]]) if weight >= 0 else np.ones(1)
            least.append(float(table[table > 0].min(initial=1.0)))
        return np.array(least)

    @property
    def price_scale(self) -> NDArray[np.float64]:
        """Per row, (1 + max |c_ij|) / least positive |a_rij|: what one unit of the row can be
        worth to a plan."""
        return (1.0 + self.largest_value) / self.least_coefficients

    @property
    def rhs(self) -> NDArray[np.float64]:
        return np.array([row.rhs for row in self.rows], dtype=float)

    @property
    def signs(self) -> NDArray[np.int8]:
        """+1 for a <= row, -1 for a >= row, 0 for ==: the sign a row's price may take."""
        return row_signs(self.rows)

    def row_usage(self, per_weight: NDArray[np.float64], counts: NDArray[np.float64]) -> NDArray[np.float64]:
        """lhs of every row from the per-campaign sums of each weight and the audience counts."""
        return row_usage(self.row_weight, self.campaigns, per_weight, counts)

    def coefficients(self, customers: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
        """(m, len(customers), k) coefficients a_rij of the given customers, float64."""
        out = np.empty((len(self.rows), len(customers), self.n_campaigns))
        for r in range(len(self.rows)):
            out[r] = self.row_coefficients(r, customers)
        return out

    def row_coefficients(self, r: int, customers: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
        """(len(customers), k) coefficients a_rij of row r for the given customers, float64."""
        weight = self.row_weight[r]
        if weight < 0:
            table = np.ones((1, self.n_campaigns))
        else:
            table = self.weights[weight][customers] if self.weights.shape[1] > 1 else self.weights[weight]
        out: NDArray[np.float64] = np.broadcast_to(table * self.campaigns[r], (len(customers), self.n_campaigns))
        return out.astype(float)

    @cached_property
    def negative_rows(self) -> NDArray[np.bool_]:
        """Per row, whether some customer has a negative coefficient a_rij on a campaign it counts."""
        least = self.weights.min(axis=1) if self.weights.size else np.zeros((0, self.n_campaigns))  # (q, k)
        return np.array([weight >= 0 and bool((least[weight][self.campaigns[r]] < 0).any())
                         for r, weight in enumerate(self.row_weight)], dtype=bool)

    def pair_coefficients(
        self, customers: NDArray[np.integer[Any]], campaigns: NDArray[np.integer[Any]],
        rows: NDArray[np.integer[Any]] | None = None,
    ) -> NDArray[np.float64]:
        """(len(rows), pairs) coefficients a_rij of the given (customer, campaign) pairs on ``rows``
        (default: every row), float64: one gather per weight, shared by the rows that sum it."""
        rows = np.arange(len(self.rows)) if rows is None else rows
        out = np.empty((len(rows), len(customers)))
        gathered: dict[int, NDArray[np.float64]] = {}
        for i, r in enumerate(rows.tolist()):
            weight = int(self.row_weight[r])
            if weight not in gathered:
                gathered[weight] = self.row_pair_coefficients(r, customers, campaigns, counted=False)
            out[i] = gathered[weight] * self.campaigns[r, campaigns]
        return out

    def row_pair_coefficients(
        self, r: int, customers: NDArray[np.integer[Any]], campaigns: NDArray[np.integer[Any]], counted: bool = True,
    ) -> NDArray[np.float64]:
        """(pairs,) coefficients a_rij of row r for the given (customer, campaign) pairs, float64
        (``counted`` False: the row's weight of each pair, whether the row counts its campaign or not)."""
        mask = self.campaigns[r, campaigns] if counted else np.ones(len(campaigns), dtype=bool)
        weight = self.row_weight[r]
        if weight < 0:
            ones: NDArray[np.float64] = mask.astype(float)
            return ones
        table = self.weights[weight]
        out: NDArray[np.float64] = (table[customers, campaigns] if table.shape[0] > 1 else table[0, campaigns]) * mask
        return out.astype(float)

    def pair_combined(self, customers: NDArray[np.integer[Any]], campaigns: NDArray[np.integer[Any]],
                      multipliers: NDArray[np.float64]) -> NDArray[np.float64]:
        """(pairs,) Σ_r μ_r a_rij of the given (customer, campaign) pairs for row multipliers μ:
        one gather per weight, not one per row."""
        per_weight, per_count = self.prices_by_weight(multipliers)
        total: NDArray[np.float64] = per_count[campaigns].astype(float)
        for weight in np.flatnonzero(per_weight.any(axis=1)):
            table = self.weights[weight]
            total += (table[customers, campaigns] if table.shape[0] > 1 else table[0, campaigns]) \
                * per_weight[weight, campaigns]
        return total

    def take(
        self, customers: NDArray[np.integer[Any]], ids: NDArray[Any], shared: bool, keep_dtype: bool = False
    ) -> PricedProblem:
        """The given customers (local positions) as a PricedProblem named by ``ids``, float64
        unless ``keep_dtype`` (then the arrays keep theirs); ``shared`` weights (one row for all
        customers) are kept as they are. (np.take gathers rows 3.5 times as fast as fancy indexing.)"""
        weights = self.weights if shared else np.take(self.weights, customers, axis=1)
        value = np.take(self.value, customers, axis=0)
        if keep_dtype:
            return replace(self, customer_ids=ids, value=value, weights=weights)
        return replace(self, customer_ids=ids, value=value.astype(float), weights=weights.astype(float))

    def campaign_coefficients(self) -> NDArray[np.float64] | None:
        """(m, k) a_rj when every row has one coefficient per campaign (weights shared by all
        customers, or counts); None when some weight differs per customer."""
        if self.weights.shape[1] != 1:
            return None
        return np.array([self.campaigns[r] * (1.0 if weight < 0 else self.weights[weight, 0].astype(float))
                         for r, weight in enumerate(self.row_weight)]).reshape(len(self.rows), self.n_campaigns)

    def prices_by_weight(self, prices: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(q, k) price per unit of each weight and (k,) price per audience member, per campaign."""
        per_weight = np.zeros((self.weights.shape[0], self.n_campaigns))
        per_count = np.zeros(self.n_campaigns)
        for r, weight in enumerate(self.row_weight):
            target = per_count if weight < 0 else per_weight[weight]
            target += prices[r] * self.campaigns[r]
        return per_weight, per_count


def row_signs(rows: tuple[CouplingRow, ...]) -> NDArray[np.int8]:
    """+1 for a <= row, -1 for a >= row, 0 for ==: the sign each row's price may take."""
    return np.array([_SENSE_SIGN[row.sense] for row in rows], dtype=np.int8)


def stack(pieces: list[PricedProblem], shared: bool) -> PricedProblem:
    """One PricedProblem of the customers of several (same rows and campaigns)."""
    first = pieces[0]
    weights = first.weights if shared else np.concatenate([p.weights for p in pieces], axis=1)
    return replace(first, customer_ids=np.concatenate([p.customer_ids for p in pieces]),
                   value=np.concatenate([p.value for p in pieces]), weights=weights)


def to_problem(priced: PricedProblem, columns: NDArray[np.bool_], rhs: NDArray[np.float64]) -> Problem:
    """A few customers of a PricedProblem as a float64 Problem limited to ``columns`` (c, k),
    with limits ``rhs``: what the Pyomo model and the LP relaxation take."""
    n, k = priced.value.shape
    weights = {f"w{w}": np.broadcast_to(priced.weights[w], (n, k)).astype(float)
               for w in range(priced.weights.shape[0])}
    rows = tuple(replace(row, rhs=float(b), weight=COUNT if w < 0 else f"w{w}", campaigns=priced.campaigns[r])
                 for r, (row, w, b) in enumerate(zip(priced.rows, priced.row_weight, rhs)))
    value = priced.value.astype(float)
    eligible = columns & np.isfinite(value)
    return Problem(
        customer_ids=priced.customer_ids, campaign_ids=priced.campaign_ids, channels=("",) * k,
        pair_value=np.where(eligible, value, 0.0), spend=np.zeros((n, k)), eligible=eligible,
        treated_share=np.ones(k), rows=rows, weights=weights,
    )


def row_usage(
    row_weight: NDArray[np.intp], campaigns: NDArray[np.bool_], per_weight: NDArray[np.float64],
    counts: NDArray[np.float64],
) -> NDArray[np.float64]:
    """lhs of every row from per-campaign sums of each weight (q, k) and audience counts (k,)."""
    usage = np.empty(len(row_weight))
    for r, weight in enumerate(row_weight):
        totals = counts if weight < 0 else per_weight[weight]
        usage[r] = totals[campaigns[r]].sum()
    return usage


def kept_dtype(precision: Precision | str) -> type[np.floating[Any]]:
    """The dtype of the lean arrays' values for the solver's ``precision`` (ValueError for another)."""
    return np.float32 if Precision(precision) is Precision.FLOAT32 else np.float64


def priced_problem(problem: Problem, dtype: type[np.floating[Any]] = np.float64) -> PricedProblem:
    """The lean arrays of a Problem: ineligible pairs become -inf, weights are stacked once, and
    kept as one row (1, k) when they are the same for every customer (a cost per contact). The
    values are kept in ``dtype``; the weights always in float64, so that a plan meets each limit
    as exactly in float32 as in float64 (a rounded weight could put a limit that a plan just
    meets out of reach, or let one be broken)."""
    value = np.where(problem.eligible, problem.value, -np.inf).astype(dtype, copy=False)
    names = sorted({row.weight for row in problem.rows if row.weight != COUNT})
    weights = np.stack([problem.weights[name] for name in names], dtype=float) if names else np.zeros(
        (0, 1, problem.n_campaigns))
    if weights.shape[1] > 1 and np.all(weights == weights[:, :1]):
        weights = np.ascontiguousarray(weights[:, :1])  # one weight per campaign, the same for every customer
    row_weight = np.array([names.index(row.weight) if row.weight != COUNT else -1 for row in problem.rows], dtype=int)
    campaigns = np.zeros((len(problem.rows), problem.n_campaigns), dtype=bool)
    for r, row in enumerate(problem.rows):
        campaigns[r] = row.campaigns
    return PricedProblem(problem.customer_ids, problem.campaign_ids, np.ascontiguousarray(value), weights,
                         row_weight, campaigns, problem.rows)


@dataclass(frozen=True)
class PassResult:
    """What one pass at prices λ says.

    ``choice[i]`` is customer i's priced-out best campaign (-1: nothing); ``margin[i]`` what the
    customer's next-best option is worth less; ``best_total`` = sum_i max(0, best_i);
    ``usage[r]`` row r's lhs if every customer took its best; ``bound`` = L(λ).
    """

    prices: NDArray[np.float64]
    choice: NDArray[np.int32]
    margin: NDArray[np.float64]
    best_total: float
    usage: NDArray[np.float64]
    bound: float
    breakpoints: Breakpoints | None = None
    weight_sums: NDArray[np.float64] | None = None
    counts: NDArray[np.float64] | None = None
    eligible: NDArray[np.float64] | None = None


def price_out(
    priced: PricedProblem, prices: NDArray[np.float64], progress: Callable[[int, int], None] | None = None,
    breakpoints: NDArray[np.float64] | None = None, coefficients: NDArray[np.float64] | None = None,
    count_eligible: bool = False,
) -> PassResult:
    """One pass over all customers at ``prices`` (see the module docstring).

    ``progress(done, n)`` hears after each chunk of customers. Given ``breakpoints`` (a price
    scale per row, see ``breakpoint_scale``), the pass also collects, per row, where customers
    would switch from their best option to their runner-up as that row's price alone moves;
    given also ``coefficients`` (the (m, k) a_rj when every row has one per campaign), it bins
    each customer's margin once per (chosen, runner) pair instead of once per row
    (kernels.pair_breakpoints). With ``count_eligible``, it also counts the customers eligible
    for each campaign.
    """
    n, k = priced.value.shape
    per_weight, per_count = priced.prices_by_weight(prices)
    choice = np.empty(n, dtype=np.int32)
    margin = np.empty(n, dtype=np.float64)
    weight_sums = np.zeros((priced.weights.shape[0], k))
    counts = np.zeros(k)
    collect = breakpoints is not None
    scale = breakpoints if breakpoints is not None else np.ones(len(priced.rows))
    by_pair = collect and coefficients is not None
    histogram = np.zeros((len(priced.rows), 2, BINS if collect else 0))
    pair_histogram = np.zeros((k + 1, k + 1, GAP_BINS) if by_pair else (0, 0, 0))
    gap_scale = _gap_scale(scale, coefficients) if by_pair and coefficients is not None else 1.0
    eligible = np.zeros(k if count_eligible else 0)
    best_total = 0.0
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        weights = priced.weights if priced.weights.shape[1] == 1 else priced.weights[:, start:stop]
        best_total += pass_kernel(priced.value[start:stop], weights, per_weight, per_count, choice[start:stop],
                                  margin[start:stop], weight_sums, counts, priced.row_weight,
                                  priced.campaigns.astype(np.float64), scale, histogram if not by_pair else
                                  histogram[:, :, :0], gap_scale, pair_histogram, eligible)
        if progress is not None:
            progress(stop, n)
    if by_pair and coefficients is not None:
        pair_breakpoints(pair_histogram, coefficients, scale, gap_scale, histogram)
    usage = priced.row_usage(weight_sums, counts)
    found = Breakpoints(scale, histogram) if collect else None
    return PassResult(prices, choice, margin, best_total, usage, best_total + float(prices @ priced.rhs), found,
                      weight_sums, counts, eligible if count_eligible else None)


def _gap_scale(scale: NDArray[np.float64], coefficients: NDArray[np.float64]) -> float:
    """Where the margins' histogram is centred: the largest row scale times that row's least
    positive |a_rj| (about the largest value a customer can have)."""
    magnitude = np.abs(coefficients)
    least = np.array([row[row > 0].min(initial=1.0) for row in magnitude])
    return float(np.max(scale * least, initial=1.0))


@dataclass(frozen=True)
class Breakpoints:
    """Per row r, a histogram of how far its price alone may move before customers switch.

    A customer whose best option beats its runner-up by margin μ, and whose switch would change
    row r's lhs by -Δa, switches when λ_r moves by μ / Δa. ``histogram[r, 0, b]`` sums the lhs
    lost when raising λ_r by up to ``edge(r, b)``; ``histogram[r, 1, b]`` the lhs gained when
    lowering it as far. Bins are log-spaced around ``scale[r]``.
    """

    scale: NDArray[np.float64]
    histogram: NDArray[np.float64]

    def edges(self, r: int) -> NDArray[np.float64]:
        """Upper edge of every bin of row r, as a price move."""
        octaves = LOWEST_OCTAVE + (np.arange(BINS) + 1) / BINS_PER_OCTAVE
        edges: NDArray[np.float64] = self.scale[r] * np.exp2(octaves)
        return edges

    def move(self, r: int, change: float) -> float:
        """The price move of row r expected to change its lhs by ``change`` (signed). Where the
        histogram holds less than ``change``, twice the furthest breakpoint it holds (the row's
        scale if none): it counts only switches to each customer's runner-up, so a customer whose
        runner-up uses the row too (another offer of the same campaign) is missed, and its largest
        edge, ~10^6 × the scale, would be a move no damping brings back (measured on the variants
        kind: every damped step of a balancing stayed worse than its start)."""
        direction = 0 if change < 0 else 1
        cumulative = np.cumsum(self.histogram[r, direction])
        edges = self.edges(r)
        b = int(np.searchsorted(cumulative, abs(change)))
        if b >= BINS:
            filled = np.flatnonzero(self.histogram[r, direction])
            step: float = 2.0 * edges[filled[-1]] if filled.size else float(self.scale[r])
        else:
            before = cumulative[b - 1] if b > 0 else 0.0
            low = edges[b - 1] if b > 0 else 0.0
            share = (abs(change) - before) / max(cumulative[b] - before, 1e-300)
            step = low + share * (edges[b] - low)
        return step if direction == 0 else -step


def breakpoint_scale(price_scale: NDArray[np.float64], prices: NDArray[np.float64]) -> NDArray[np.float64]:
    """A row's histogram scale: its price, or its natural price scale if that is larger."""
    return np.maximum(np.abs(prices), price_scale)


def adjusted_values(
    priced: PricedProblem, prices: NDArray[np.float64], customers: NDArray[np.integer[Any]]
) -> NDArray[np.float64]:
    """(len(customers), k) priced-out values c_ij - sum_r λ_r a_rij of a few customers."""
    per_weight, per_count = priced.prices_by_weight(prices)
    adjusted: NDArray[np.float64] = priced.value[customers].astype(float) - per_count
    for w in range(priced.weights.shape[0]):
        table = priced.weights[w]
        adjusted -= (table[customers] if table.shape[0] > 1 else table[0]) * per_weight[w]
    return adjusted


def evaluate_plan(priced: PricedProblem, choice: NDArray[np.integer[Any]]) -> tuple[float, NDArray[np.float64]]:
    """A plan's value sum_i c_i,choice_i and the lhs of every row."""
    value, weight_sums, counts = plan_sums(priced, choice)
    return value, priced.row_usage(weight_sums, counts)


def plan_sums(
    priced: PricedProblem, choice: NDArray[np.integer[Any]]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """A plan's value, its per-campaign sums of each weight and its audience counts (one pass)."""
    weight_sums = np.zeros((priced.weights.shape[0], priced.n_campaigns))
    counts = np.zeros(priced.n_campaigns)
    value = plan_kernel(priced.value, priced.weights, choice.astype(np.int32, copy=False), weight_sums, counts)
    return value, weight_sums, counts

"""The compiled loops over customers: the pass, its breakpoint histograms, and a plan's sums.

The pass reads each customer's k scores once. For customer i at prices λ it computes the
priced-out values a_ij = c_ij - Σ_r λ_r a_rij into a buffer of k, then, in three loops the
compiler turns into vector instructions (no branch per campaign):

    top_i    = max_j a_ij
    chosen_i = min { j : a_ij = top_i }              (the first best, as a strict > scan picks it)
    second_i = max { a_ij : a_ij < top_i }           (= top_i when two campaigns tie)

and takes "nothing" (value 0) as an option: best_i = max(0, top_i), margin_i = best_i - the
runner-up. Measured at 10M × 20 float32: 0.78 s with one branchy best/second scan, about a
third of that with these loops; numpy's row argmax takes 0.41 s.

The fast-math flags allow reassociation (what lets max vectorise) but not "no infinities":
ineligible pairs are -inf.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.floating[Any]]  # float32 or float64: the score matrix and weights keep their dtype

SAFE_MATH = {"reassoc", "nsz", "arcp", "contract"}
NONE, NO_RUNNER = -1, -2

BINS = 192
BINS_PER_OCTAVE = 4
LOWEST_OCTAVE = -36  # bin 0 holds price moves up to scale * 2**-36
QUARTER_OCTAVES = (2**0.25, 2**0.5, 2**0.75)  # BINS_PER_OCTAVE = 4 bins between 2^e and 2^(e+1)
GAP_BINS = 336  # margins binned per (chosen, runner) pair: 84 octaves from gap_scale * 2**-60
LOWEST_GAP_OCTAVE = -60


@numba.njit(cache=True, nogil=True)
def largest_finite(value: Floats) -> float:  # pragma: no cover
    """max |v| over the finite entries of a 2-D array (0 if none)."""
    largest = 0.0
    for i in range(value.shape[0]):
        for j in range(value.shape[1]):
            v = abs(value[i, j])
            if v > largest and v != np.inf:
                largest = v
    return largest


@numba.njit(cache=True, nogil=True)
def log_bin(ratio: float, lowest_octave: int, bins: int) -> int:  # pragma: no cover
    """floor((log2(ratio) - lowest_octave) * BINS_PER_OCTAVE), clipped to [0, bins), without a
    log: ratio = m 2^e, 0.5 <= m < 1. A ratio of 0 falls in bin 0."""
    if ratio <= 0.0:
        return 0
    mantissa, exponent = math.frexp(ratio)
    twice = 2.0 * mantissa
    quarter = (twice >= QUARTER_OCTAVES[0]) + (twice >= QUARTER_OCTAVES[1]) + (twice >= QUARTER_OCTAVES[2])
    return min(max((exponent - 1 - lowest_octave) * BINS_PER_OCTAVE + quarter, 0), bins - 1)


@numba.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def _adjust(value: Floats, weights: Floats, per_weight: NDArray[np.float64], offset: NDArray[np.float64], shared: bool,
            i: int, adjusted: NDArray[np.float64]) -> None:  # pragma: no cover
    """adjusted[j] = c_ij - Σ_r λ_r a_rij (``offset`` already holds the shared part)."""
    k = adjusted.shape[0]
    for j in range(k):
        adjusted[j] = np.float64(value[i, j]) - offset[j]
    if not shared:
        for w in range(weights.shape[0]):
            for j in range(k):
                adjusted[j] -= np.float64(weights[w, i, j]) * per_weight[w, j]


@numba.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def _best_two(adjusted: NDArray[np.float64]) -> tuple[float, int, float]:  # pragma: no cover
    """(top, first index reaching it, runner-up value: the largest below top, or top if tied)."""
    k = adjusted.shape[0]
    top = -np.inf
    for j in range(k):
        top = max(top, adjusted[j])
    first = k
    ties = 0
    for j in range(k):
        hit = adjusted[j] >= top
        first = min(first, j if hit else k)
        ties += 1 if hit else 0
    second = -np.inf
    for j in range(k):
        second = max(second, adjusted[j] if adjusted[j] < top else -np.inf)
    return top, first, top if ties > 1 else second


@numba.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def _runner(adjusted: NDArray[np.float64], chosen: int, second: float) -> int:  # pragma: no cover
    """The first campaign other than ``chosen`` worth ``second``."""
    k: int = adjusted.shape[0]
    runner = k
    for j in range(k):
        runner = min(runner, j if (j != chosen and adjusted[j] >= second) else k)
    return runner


@numba.njit(cache=True, nogil=True)
def pass_kernel(value: Floats, weights: Floats, per_weight: NDArray[np.float64], per_count: NDArray[np.float64],
                choice: NDArray[np.int32], margin: NDArray[np.float64], weight_sums: NDArray[np.float64],
                counts: NDArray[np.float64], row_weight: NDArray[np.intp], row_campaigns: NDArray[np.float64],
                scale: NDArray[np.float64], histogram: NDArray[np.float64], gap_scale: float,
                pair_histogram: NDArray[np.float64], eligible: NDArray[np.float64]) -> float:  # pragma: no cover
    """Best and second-best priced-out option of each customer (module docstring); sums of the
    best choices; switch points, when collected: per (chosen, runner) pair in ``pair_histogram``
    (weights shared by all customers, see ``pair_breakpoints``) or per row in ``histogram``;
    the customers eligible for each campaign, into a non-empty ``eligible``."""
    n, k = value.shape
    q = weights.shape[0]
    shared = weights.shape[1] == 1
    by_pair = pair_histogram.shape[2] > 0
    by_row = histogram.shape[2] > 0
    count_eligible = eligible.shape[0] > 0
    offset = per_count.copy()  # with weights shared by all customers, the whole price of a campaign
    if shared:
        for j in range(k):
            for w in range(q):
                offset[j] += np.float64(weights[w, 0, j]) * per_weight[w, j]
    adjusted = np.empty(k)
    audience = np.zeros(k)  # this call's counts (``counts`` may hold earlier chunks')
    total = 0.0
    for i in range(n):
        _adjust(value, weights, per_weight, offset, shared, i, adjusted)
        if count_eligible:
            for j in range(k):
                eligible[j] += 1.0 if adjusted[j] > -np.inf else 0.0
        top, first, second = _best_two(adjusted)
        if top > 0.0:
            chosen, best, second = first, top, max(second, 0.0)
        else:
            chosen, best, second = NONE, 0.0, top
        choice[i] = chosen
        margin[i] = best - second
        total += best
        if chosen >= 0:
            audience[chosen] += 1.0
            if not shared:
                for w in range(q):
                    weight_sums[w, chosen] += weights[w, i, chosen]
        if by_pair or by_row:
            runner = _runner_of(adjusted, chosen, first, second)
            if runner == NO_RUNNER:
                continue
            if by_pair:
                pair_histogram[chosen + 1, runner + 1,
                               log_bin((best - second) / gap_scale, LOWEST_GAP_OCTAVE, GAP_BINS)] += 1.0
            else:
                add_breakpoints(weights, 0 if shared else i, chosen, runner, best - second, row_weight,
                                row_campaigns, scale, histogram)
    for j in range(k):
        counts[j] += audience[j]
        if shared:
            for w in range(q):
                weight_sums[w, j] += audience[j] * np.float64(weights[w, 0, j])
    return total


@numba.njit(cache=True, nogil=True)
def _runner_of(adjusted: NDArray[np.float64], chosen: int, first: int, second: float) -> int:  # pragma: no cover
    """The option a customer switches to from its best: a campaign, NONE, or NO_RUNNER (none
    at all: no campaign is eligible)."""
    if chosen == NONE:
        return first if second > -np.inf else NO_RUNNER
    if second > 0.0:
        return _runner(adjusted, chosen, second)
    return NONE


@numba.njit(cache=True, nogil=True)
def _coefficient(weights: Floats, row: int, j: int, r: int, row_weight: NDArray[np.intp],
                 row_campaigns: NDArray[np.float64]) -> float:  # pragma: no cover
    if j < 0:
        return 0.0
    if row_weight[r] < 0:
        count: float = row_campaigns[r, j]
        return count
    coefficient: float = np.float64(weights[row_weight[r], row, j]) * row_campaigns[r, j]
    return coefficient


@numba.njit(cache=True, nogil=True)
def add_breakpoints(weights: Floats, row: int, chosen: int, runner: int, gap: float, row_weight: NDArray[np.intp],
                    row_campaigns: NDArray[np.float64], scale: NDArray[np.float64],
                    histogram: NDArray[np.float64]) -> None:  # pragma: no cover
    """One customer's switch points: for each row r its switch changes by δ = a_r,chosen -
    a_r,runner, it switches when λ_r alone moves by gap / |δ|: |δ| goes to that move's bin."""
    bins = histogram.shape[2]
    for r in range(row_weight.shape[0]):
        delta = _coefficient(weights, row, chosen, r, row_weight, row_campaigns) - _coefficient(
            weights, row, runner, r, row_weight, row_campaigns)
        if delta == 0.0:
            continue
        b = log_bin(gap / abs(delta) / scale[r], LOWEST_OCTAVE, bins)
        histogram[r, 0 if delta > 0 else 1, b] += abs(delta)


@numba.njit(cache=True, nogil=True)
def pair_breakpoints(pair_histogram: NDArray[np.float64], coefficients: NDArray[np.float64], scale: NDArray[np.float64],
                     gap_scale: float, histogram: NDArray[np.float64]) -> None:  # pragma: no cover
    """Per-row histograms (``add_breakpoints``) from margins binned per (chosen, runner) pair.

    With one coefficient a_rj per campaign, a customer switching from c to u changes row r by
    δ = a_rc - a_ru whoever it is, so the pass bins only each customer's margin g (one log per
    customer instead of m). Gap bin b holds g/gap_scale in [2^(G + b/4), 2^(G + (b+1)/4)); the
    move g/|δ| then spans row bins [x, x+1), x = (G - LOWEST_OCTAVE + log2(gap_scale/(|δ| scale_r)))·4
    + b, shared between floor(x) and floor(x)+1 in proportion (margins taken as spread evenly in
    log within a bin)."""
    m, k = coefficients.shape
    bins = histogram.shape[2]
    for c in range(k + 1):
        for u in range(k + 1):
            if c == u or pair_histogram[c, u].sum() == 0.0:
                continue
            for r in range(m):
                delta = (coefficients[r, c - 1] if c > 0 else 0.0) - (coefficients[r, u - 1] if u > 0 else 0.0)
                if delta == 0.0:
                    continue
                side = 0 if delta > 0 else 1
                start = (LOWEST_GAP_OCTAVE - LOWEST_OCTAVE + math.log2(gap_scale / (abs(delta) * scale[r]))) * 4
                for g in range(pair_histogram.shape[2]):
                    mass = pair_histogram[c, u, g] * abs(delta)
                    if mass == 0.0:
                        continue
                    x = start + g
                    low = math.floor(x)
                    share = x - low
                    histogram[r, side, min(max(low, 0), bins - 1)] += (1.0 - share) * mass
                    histogram[r, side, min(max(low + 1, 0), bins - 1)] += share * mass


@numba.njit(cache=True, nogil=True)
def plan_kernel(value: Floats, weights: Floats, choice: NDArray[np.int32], weight_sums: NDArray[np.float64],
                counts: NDArray[np.float64]) -> float:  # pragma: no cover
    """A plan's value Σ_i c_i,choice_i, and per campaign its weight sums and audience count."""
    q = weights.shape[0]
    shared = weights.shape[1] == 1
    total = 0.0
    for i in range(choice.shape[0]):
        j = choice[i]
        if j < 0:
            continue
        total += value[i, j]
        counts[j] += 1.0
        row = 0 if shared else i
        for w in range(q):
            weight_sums[w, j] += weights[w, row, j]
    return total


@numba.njit(cache=True, nogil=True)
def _breach(used: float, limit: float, sense: int) -> float:  # pragma: no cover
    """How far ``used`` is outside a row's limit: over a <= (sense 1), under a >= (-1), off an == (0)."""
    if sense > 0:
        return max(0.0, used - limit)
    if sense < 0:
        return max(0.0, limit - used)
    return abs(used - limit)


@numba.njit(cache=True, nogil=True)
def mend_sweep(deltas: NDArray[np.float64], usage: NDArray[np.float64], aims: NDArray[np.float64],
               limits: NDArray[np.float64], senses: NDArray[np.int8],
               scale: NDArray[np.float64]) -> NDArray[np.bool_]:  # pragma: no cover
    """The moves (columns of the (m, moves) row changes ``deltas``, in the order given) that each
    lower V(u) = Σ_r breach_r(u_r from its aim) / scale_r at the row sums ``usage`` as they stand
    when the move comes up, until every row meets its limit (no move after that is made: each costs
    value); ``usage`` is updated in place by every move made."""
    m, moves = deltas.shape
    made = np.zeros(moves, dtype=np.bool_)
    for t in range(moves):
        met = True
        for r in range(m):
            met = met and _breach(usage[r], limits[r], senses[r]) <= 0.0
        if met:
            break
        change = 0.0
        for r in range(m):
            if deltas[r, t] != 0.0:
                change += (_breach(usage[r] + deltas[r, t], aims[r], senses[r])
                           - _breach(usage[r], aims[r], senses[r])) / scale[r]
        if change < 0.0:
            made[t] = True
            for r in range(m):
                usage[r] += deltas[r, t]
    return made


@numba.njit(cache=True, nogil=True)
def _combined(weights: Floats, row: int, j: int, per_weight: NDArray[np.float64],
              per_count: NDArray[np.float64]) -> float:  # pragma: no cover
    """Σ_r μ_r a_rij of one pair (``row``: the customer's row of the weights), for row multipliers
    μ given per weight and per count as PricedProblem.prices_by_weight gives them."""
    total = float(per_count[j])
    for w in range(weights.shape[0]):
        total += weights[w, row, j] * per_weight[w, j]
    return total


@numba.njit(cache=True, nogil=True)
def moves_kernel(value: Floats, weights: Floats, price_weight: NDArray[np.float64], price_count: NDArray[np.float64],
                 guide_weight: NDArray[np.float64], guide_count: NDArray[np.float64], held: NDArray[np.int32],
                 option: NDArray[np.int32], ratio: NDArray[np.float64]) -> None:  # pragma: no cover
    """Each customer's move of least loss per unit of mending (optimizer/solve/mend.py): from
    ``held[i]`` (-1: nothing) to option[i] (-1: nothing; -2: no move mends), with ratio[i] = l / h,
    where l is the loss of priced-out value at the prices and h = Σ_r g_r (a_r,i,option - a_r,i,held)
    for the guide's multipliers g (prices and guide both per weight and per count)."""
    shared = weights.shape[1] == 1
    for i in range(value.shape[0]):
        row = 0 if shared else i
        c = held[i]
        here, mend_here = 0.0, 0.0
        if c >= 0:
            here = value[i, c] - _combined(weights, row, c, price_weight, price_count)
            mend_here = _combined(weights, row, c, guide_weight, guide_count)
        best, pick = np.inf, -2
        if c >= 0 and mend_here < 0.0:  # to nothing: h = -mend_here, l = here
            best, pick = here / -mend_here, -1
        for j in range(value.shape[1]):
            if j == c or not math.isfinite(value[i, j]):
                continue
            gain = _combined(weights, row, j, guide_weight, guide_count) - mend_here
            if gain > 0.0:
                loss = here - (value[i, j] - _combined(weights, row, j, price_weight, price_count))
                if loss / gain < best:
                    best, pick = loss / gain, j
        option[i], ratio[i] = pick, best

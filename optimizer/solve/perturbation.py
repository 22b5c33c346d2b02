"""Degenerate scores (few distinct values: sparse integer values, few costs) broken by a tiny,
deterministic perturbation; the plan found is then proven on the true values.

When values take a handful of levels (3, 5, 8 per response; costs of 1 or 2), thousands of
customers are exactly tied between options at the optimal prices, and the decomposition must take
every one of them into its master (measured: 100,000 × 10 with values in {-2, …, 14}, 126,169
master pairs, 55 s). With every value raised by

    ε_ij = PERTURBATION · s · u_ij,   u_ij ∈ [0, 1) a splitmix64 key of (customer position i, campaign j),
    s = the mean |c_ij| of a sample,

the ties are broken the same way every run (the same plan for the same data), and the same
instance took 0.6 s. The perturbed problem's plan is a plan of the true one (the rows are
untouched); its value and bound are computed again on the true values:

    bound = min(B', L(λ), Φ(μ) + h(μ))

with B' the perturbed solve's bound (every true plan is worth at most its perturbed value, since
ε >= 0), L(λ) the true Lagrangian bound at the final prices λ and, when every row counts campaigns,
the audience-size bound at μ = Aᵀλ (optimizer/solve/audiences.py). Measured on that instance:
gap 4e-7. When that does not prove the gap (rows on per-customer weights have no audience-size
bound), the decomposition runs on the true values with the time left, and the better plan and the
tighter bound are kept. The perturbed copy of the score matrix costs one more matrix in memory.
"""

from __future__ import annotations

from dataclasses import replace
from functools import reduce
from operator import add
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.audiences import audience_bound_at
from optimizer.solve.balancing import price_pass
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers, Progress
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.keys import mix
from optimizer.solve.lagrangian import PricedProblem
from optimizer.solve.options import SolverOptions
from optimizer.solve.repair import PASS_SECONDS, REPAIR_SHARE
from optimizer.solve.results import SolveResult, better

PERTURBATION = 1e-4  # ε relative to the mean |value| (measured: 4e-7 proved in 0.6 s; 10 times more left 1.3e-6)
SAMPLE_ROWS = 2_000  # customers whose values decide whether the scores are degenerate
DISTINCT_SHARE = 0.01  # degenerate: at most this share of the sampled values are distinct
PROOF_PASSES = 3  # passes kept back from the time limit to value and prove the plan on the true values
RESTART_PASSES = 10  # the least time, in passes, worth a second decomposition on the true values


def degenerate(priced: PricedProblem) -> bool:
    """Few distinct values among a sample of customers' finite values."""
    step = max(1, priced.n_customers // SAMPLE_ROWS)
    sample = priced.value[::step][:SAMPLE_ROWS]
    finite = sample[np.isfinite(sample)]
    return bool(finite.size >= 100 and np.unique(finite).size <= DISTINCT_SHARE * finite.size)


def solve_perturbed(priced: PricedProblem, options: SolverOptions, progress: Progress | None = None) -> SolveResult:
    """The decomposition on the perturbed values, the plan valued and proven on the true ones."""
    clock = Clock.start(options.time_limit_s)
    perturbed = perturb(priced)
    proof = min(REPAIR_SHARE * clock.limit, PROOF_PASSES * PASS_SECONDS * priced.value.size)
    result = solve_decompose(perturbed, options.model_copy(update={"time_limit_s": clock.allow(
        clock.remaining() - proof)}), progress)
    if result.choice is None:
        return result
    customers = Customers(priced)
    value = float(reduce(add, customers.map(_plan_value, result.choice, stage="plan")))
    bound = np.inf if result.bound is None else result.bound  # ε >= 0, so the perturbed bound holds for the true values
    if result.shadow_prices is None or clock.expired():
        return replace(result, objective=value, bound=max(bound, value)).settled(options.mip_gap)
    latest = price_pass(customers, result.shadow_prices)
    bound = min(bound, latest.bound)
    if customers.coefficients is not None:
        bound = min(bound, audience_bound_at(customers, latest.prices, latest.bound, clock))
    proven = replace(result, objective=value, bound=max(bound, value), solve_seconds=clock.elapsed())
    if proven.proven(options.mip_gap) or clock.remaining() < RESTART_PASSES * PASS_SECONDS * priced.value.size:
        return proven.settled(options.mip_gap)  # a decomposition's samples and screen alone take a few passes
    exact = solve_decompose(priced, options.model_copy(update={"time_limit_s": clock.allow()}), progress)
    return better(proven, exact).settled(options.mip_gap)


def perturb(priced: PricedProblem) -> PricedProblem:
    """A copy of ``priced`` with every finite value raised by ε_ij (module docstring)."""
    sample = priced.value[:: max(1, priced.n_customers // SAMPLE_ROWS)]
    scale = float(np.abs(sample[np.isfinite(sample)]).mean()) if np.isfinite(sample).any() else 1.0
    value = np.empty_like(priced.value)
    _perturbed(priced.value, PERTURBATION * max(scale, 1e-12), value)
    return replace(priced, value=value)


@numba.njit(cache=True, nogil=True)
def _perturbed(value: NDArray[Any], epsilon: float, out: NDArray[Any]) -> None:  # pragma: no cover
    k = value.shape[1]
    for i in range(value.shape[0]):
        for j in range(k):
            key = mix(np.uint64(i * k + j) + np.uint64(0x9E3779B97F4A7C15))
            out[i, j] = value[i, j] + epsilon * (np.float64(key >> np.uint64(11)) * 2.0**-53)


def _plan_value(part: parts.Partition, choice: NDArray[np.integer[Any]]) -> float:
    """The true value of the partition's customers' campaigns in ``choice`` (all customers' plan)."""
    local = choice[part.offset:part.offset + part.size]
    chosen = np.flatnonzero(local >= 0)
    return float(part.priced.value[chosen, local[chosen]].astype(float).sum())

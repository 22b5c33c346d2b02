"""Compile the solver's numba loops once, ahead of the first solve: ``python -m optimizer.solve.warmup``.

numba compiles a loop the first time it is called with new argument types (the values in float32
or float64, the weights one row per campaign or one per customer, contiguous or a partition's
view) and caches the machine code on disk (``cache=True``). Without this step the first solve
after an install pays for that inside its time limit: 10^6 × 20 with custom rows under a 1 s limit
ended after 4.4 s without a plan, compiling the mend's loops, where a warm cache gives a plan
(docs/benchmarks.md). ``make`` runs it after installing; a pip install can run the command above.

Each instance below is tiny, and each kind of call the solver makes at scale is made on it: the
decomposition's passes, master and core, the mend, the repair, classes of tied customers, restricted
classes and the perturbation of few distinct values, and the hashed samples.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.keys import sampled_positions
from optimizer.solve.lagrangian import PricedProblem, evaluate_plan, price_out
from optimizer.solve.mend import mend
from optimizer.solve.options import Method, SolverOptions
from optimizer.solve.perturbation import perturb
from optimizer.solve.problem import COUNT, CouplingRow, Sense
from optimizer.solve.repair import last_resort
from optimizer.solve.solver import solve

CUSTOMERS = 400
CAMPAIGNS = 4


def instances() -> Iterator[PricedProblem]:
    """The warm-up's instances: each value dtype × weight layout, and tied customers."""
    for dtype in (np.float64, np.float32):
        for weights in ("shared", "per_customer", "view"):
            yield _instance(dtype, weights)
        yield _instance(dtype, "none")
        yield _tied(_instance(dtype, "per_customer"))
        yield _whole(_instance(dtype, "shared"))


def _instance(dtype: type[np.floating], weights: str, seed: int = 7) -> PricedProblem:
    """CUSTOMERS × CAMPAIGNS with a floor on campaign 0 and, unless ``weights`` is "none", a budget
    and a cap on responses, on weights that are one per campaign ("shared"), one per customer
    ("per_customer"), or one per customer read through a non-contiguous view, as a partition of
    more than CHUNK customers reads them ("view")."""
    rng = np.random.default_rng(seed)
    n, k = CUSTOMERS, CAMPAIGNS
    value = rng.normal(1.0, 1.0, size=(n, k))
    value[rng.random((n, k)) < 0.2] = -np.inf
    only_first, every = np.arange(k) == 0, np.ones(k, dtype=bool)
    rows = [CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 0.4 * n, COUNT, only_first),
            CouplingRow("max_audience", "max_audience", Sense.LE, 0.6 * n, COUNT, every)]
    stacked = np.zeros((0, 1, k))
    if weights != "none":
        stacked = rng.uniform(0.1, 1.5, size=(2, n if weights != "shared" else 1, k))
        if weights == "view":
            stacked = np.concatenate([stacked, stacked], axis=1)[:, :n]
        rows += [CouplingRow("budget", "budget", Sense.LE, 0.3 * n, "cost", every),
                 CouplingRow("responses", "custom", Sense.LE, 0.4 * n, "response", every)]
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)),
        value=np.ascontiguousarray(value, dtype=dtype), weights=stacked,
        row_weight=np.array([-1, -1, 0, 1][: len(rows)]), campaigns=np.array([row.campaigns for row in rows]),
        rows=tuple(rows),
    )


def _tied(priced: PricedProblem) -> PricedProblem:
    """Every customer a copy of one of five: few classes (optimizer/solve/classes.py)."""
    rows = np.arange(priced.n_customers) % 5
    weights = priced.weights if priced.weights.shape[1] == 1 else np.ascontiguousarray(priced.weights[:, rows])
    return PricedProblem(priced.customer_ids, priced.campaign_ids, np.ascontiguousarray(priced.value[rows]),
                         weights, priced.row_weight, priced.campaigns, priced.rows)


def _whole(priced: PricedProblem) -> PricedProblem:
    """Values rounded to whole numbers: few distinct values, which restricted classes solve
    (optimizer/solve/restricted.py; measured: their loops compiled inside a bench job's limit,
    integer 10^5 × 10 took 0.8 s instead of 0.2 s)."""
    return PricedProblem(priced.customer_ids, priced.campaign_ids, np.round(priced.value).astype(
        priced.value.dtype), priced.weights, priced.row_weight, priced.campaigns, priced.rows)


def warm(priced: PricedProblem) -> None:
    """Make each call the solver makes at scale once on ``priced``."""
    solve(priced, SolverOptions(method=Method.DECOMPOSE, time_limit_s=60, mip_gap=0.01))  # the loops, not a proof
    customers = Customers(priced)
    zero: NDArray[np.float64] = np.zeros(len(priced.rows))
    evaluate_plan(priced, price_out(priced, zero, breakpoints=np.ones(len(priced.rows)),
                                    coefficients=customers.coefficients).choice)
    mend(customers, zero, 0.0, Clock.start(60.0), 60.0)
    last_resort(customers)
    perturb(priced)
    sampled_positions(0, CUSTOMERS, np.uint64(1 << 63))


def main() -> None:
    started = time.perf_counter()
    for priced in instances():
        warm(priced)
    print(f"Compiled the solver's loops in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()

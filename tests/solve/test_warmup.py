"""optimizer/solve/warmup.py: after the warm-up, no solve compiles a numba loop again."""

from __future__ import annotations

from dataclasses import replace

import numba
import numpy as np
from instances import competing, integer_valued, medium_problem, offer_levels, per_campaign_costs, tied

from optimizer.solve import classes, customers, kernels, keys, lagrangian, perturbation, warmup
from optimizer.solve.lagrangian import PricedProblem, priced_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.solver import solve

PARTITION = 1_000  # customers per partition in the test: views of the weights, as beyond CHUNK at scale


def compiled() -> dict[str, set[str]]:
    """Every numba loop of the solver with the argument types it has machine code for."""
    loops = {f"{module.__name__}.{name}": loop for module in (kernels, classes, keys, perturbation)
             for name, loop in vars(module).items() if isinstance(loop, numba.core.registry.CPUDispatcher)}
    return {name: {str(types) for types in loop.signatures} for name, loop in loops.items()}


def instances() -> list[PricedProblem]:
    """The kinds users bring, built as a scenario builds them, in float64 and float32."""
    rng = np.random.default_rng(4)
    problems = [medium_problem(1, n=3_000), per_campaign_costs(medium_problem(2, n=3_000), rng),
                tied(medium_problem(3, n=60), np.full(60, 50)), integer_valued(medium_problem(4, n=3_000), rng),
                offer_levels(3_000)]
    built = [priced_problem(problem, dtype) for problem in problems for dtype in (np.float64, np.float32)]
    mixed = competing(3_000)
    return [*built, mixed, replace(mixed, value=mixed.value.astype(np.float32))]


def test_after_the_warm_up_solves_of_every_kind_compile_nothing(monkeypatch) -> None:
    for priced in warmup.instances():
        warmup.warm(priced)
    before = compiled()
    monkeypatch.setattr(customers, "CHUNK", PARTITION)
    monkeypatch.setattr(lagrangian, "CHUNK", PARTITION)
    for priced in instances():
        solve(priced, SolverOptions(time_limit_s=0.05))  # out of time at once: the repair and the mend
        solve(priced, SolverOptions(time_limit_s=5.0, mip_gap=0.01))  # the passes, the master and the core
    assert compiled() == before


def test_the_warm_up_covers_both_value_dtypes_and_weight_layouts() -> None:
    seen = {(priced.value.dtype.name, priced.weights.shape[1] == 1, priced.weights.flags.c_contiguous)
            for priced in warmup.instances()}
    assert seen == {(dtype, shared, contiguous) for dtype in ("float64", "float32")
                    for shared, contiguous in ((True, True), (False, True), (False, False))}

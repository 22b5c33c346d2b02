"""optimizer/solve/perturbation.py: degenerate scores (few distinct values) solved on perturbed values
and proven on the true ones: the same optimum as the exact solver, the same plan every run."""

from __future__ import annotations

import numpy as np
import pytest
from instances import assert_plan_and_bound, integer_valued, medium_problem

from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.options import Method, SolverOptions
from optimizer.solve.perturbation import degenerate, perturb
from optimizer.solve.results import Termination
from optimizer.solve.solver import solve


@pytest.fixture(scope="module", params=[21, 22, 23])
def integers(request: pytest.FixtureRequest):
    seed = request.param
    return integer_valued(medium_problem(seed, n=3_000, k=5), np.random.default_rng(seed))


def test_few_distinct_values_are_degenerate_and_continuous_scores_are_not(integers) -> None:
    assert degenerate(priced_problem(integers))
    assert not degenerate(priced_problem(medium_problem(21, n=3_000, k=5)))


def test_the_perturbed_plan_is_proven_on_the_true_values_and_matches_the_exact_solver(integers) -> None:
    fast = solve(integers, SolverOptions(method=Method.DECOMPOSE))
    exact = solve_exact(integers, SolverOptions())
    assert fast.termination is Termination.OPTIMAL and exact.termination is Termination.OPTIMAL
    assert_plan_and_bound(integers, fast)
    assert fast.objective == pytest.approx(exact.objective, rel=1e-6)
    assert fast.bound >= exact.objective - 1e-6 * abs(exact.objective)


def test_the_perturbation_is_small_positive_and_the_same_every_time(integers) -> None:
    priced = priced_problem(integers)
    once, again = perturb(priced).value, perturb(priced).value
    np.testing.assert_array_equal(once, again)
    finite = np.isfinite(priced.value)
    change = once[finite] - priced.value[finite]
    assert change.min() >= 0 and change.max() <= 1e-3 * np.abs(priced.value[finite]).mean()
    assert np.array_equal(np.isfinite(once), finite)

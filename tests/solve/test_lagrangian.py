"""The compiled pass against a plain numpy reference, weak duality, and the breakpoint histograms."""

from __future__ import annotations

import numpy as np
import pytest
from instances import budget_only, medium_problem, random_problem

from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import (
    PricedProblem,
    breakpoint_scale,
    evaluate_plan,
    largest_finite,
    price_out,
    priced_problem,
    stack,
    to_problem,
)
from optimizer.solve.relaxation import solve_relaxation


def reference_pass(priced: PricedProblem, prices: np.ndarray):
    """The pass written the obvious way, with (n, k) temporaries."""
    n, k = priced.value.shape
    coefficients = priced.coefficients(np.arange(n))
    adjusted = priced.value.astype(float) - np.tensordot(prices, coefficients, axes=1)
    options = np.c_[np.zeros(n), adjusted]  # option 0 is "nothing"
    order = np.argsort(-options, axis=1, kind="stable")
    best = options[np.arange(n), order[:, 0]]
    second = options[np.arange(n), order[:, 1]] if k else np.full(n, -np.inf)
    choice = order[:, 0] - 1
    chosen = choice >= 0
    usage = coefficients[:, np.flatnonzero(chosen), choice[chosen]].sum(axis=1)
    return choice, best - second, best.sum() + prices @ priced.rhs, usage


def signed_prices(priced: PricedProblem, rng: np.random.Generator) -> np.ndarray:
    return rng.exponential(0.5, len(priced.rows)) * np.where(priced.signs == 0, rng.choice([-1, 1]), priced.signs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_compiled_pass_matches_numpy(dtype):
    rng = np.random.default_rng(3)
    for _ in range(60):
        problem = random_problem(rng)
        priced = priced_problem(problem, dtype)
        prices = signed_prices(priced, rng)
        choice, margin, bound, usage = reference_pass(priced, prices)
        result = price_out(priced, prices, count_eligible=True)
        assert np.array_equal(result.eligible, np.isfinite(priced.value).sum(axis=0))
        tolerance = 1e-9 if dtype is np.float64 else 1e-5
        assert np.array_equal(result.choice, choice) or np.allclose(
            np.where(result.choice >= 0, margin, 0), np.where(choice >= 0, margin, 0))
        assert result.margin == pytest.approx(margin, abs=tolerance)
        assert result.bound == pytest.approx(bound, abs=tolerance * 10)
        assert result.usage == pytest.approx(usage, abs=tolerance * 10)


def test_per_campaign_weights_read_like_a_full_matrix():
    problem = medium_problem(4, n=200)
    priced = priced_problem(problem)
    costs = np.array([0.5, 1.0, 2.0, 3.0])
    full = PricedProblem(priced.customer_ids, priced.campaign_ids, priced.value,
                         np.broadcast_to(costs, (1, 200, 4)).copy(), priced.row_weight, priced.campaigns, priced.rows)
    shared = PricedProblem(priced.customer_ids, priced.campaign_ids, priced.value, costs.reshape(1, 1, 4),
                           priced.row_weight, priced.campaigns, priced.rows)
    prices = np.array([0.3, 0.1, -0.2, 0.4])
    a, b = price_out(full, prices), price_out(shared, prices)
    assert np.array_equal(a.choice, b.choice)
    assert a.usage == pytest.approx(b.usage) and a.bound == pytest.approx(b.bound)


def test_every_sign_correct_price_bounds_the_optimum():
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(60):
        problem = random_problem(rng)
        best = solve_exact(problem)
        if best.objective is None:
            continue
        priced = priced_problem(problem)
        for _ in range(5):
            assert price_out(priced, signed_prices(priced, rng)).bound >= best.objective - 1e-9
        checked += 1
    assert checked > 20


def test_at_the_lp_duals_the_bound_is_the_lp_optimum():
    problem = medium_problem(6)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    assert price_out(priced_problem(problem), lp.shadow_prices).bound == pytest.approx(lp.bound, rel=1e-9)


def test_a_plan_is_valued_and_counted_as_the_problem_does():
    rng = np.random.default_rng(8)
    for _ in range(40):
        problem = random_problem(rng)
        choice = np.array([rng.choice([-1, *np.flatnonzero(row)]) for row in problem.eligible])
        value, usage = evaluate_plan(priced_problem(problem), choice)
        assert value == pytest.approx(problem.objective(choice))
        assert usage == pytest.approx(problem.row_activity(choice))


def test_breakpoints_predict_a_small_price_move():
    """Near the optimal price, the histogram's step for a 2% cut in spend cuts it by about that."""
    problem = budget_only(4_000)
    priced = priced_problem(problem)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    start = price_out(priced, lp.shadow_prices, breakpoints=breakpoint_scale(priced.price_scale, lp.shadow_prices))
    wanted = -0.02 * start.usage[0]
    step = start.breakpoints.move(0, wanted)
    assert step > 0
    after = price_out(priced, lp.shadow_prices + step)
    assert after.usage[0] - start.usage[0] == pytest.approx(wanted, rel=0.25)


def test_pair_coefficients_take_stack_and_to_problem_keep_the_instance():
    problem = medium_problem(2, n=300)
    priced = priced_problem(problem)
    customers, campaigns = problem.candidate_pairs()
    full = priced.coefficients(np.arange(300))
    assert np.array_equal(priced.pair_coefficients(customers, campaigns), full[:, customers, campaigns])
    some = np.array([3, 0, 3])
    assert np.array_equal(priced.pair_coefficients(customers, campaigns, some), full[some][:, customers, campaigns])
    multipliers = np.random.default_rng(2).normal(size=len(priced.rows))
    assert priced.pair_combined(customers, campaigns, multipliers) == \
        pytest.approx(multipliers @ full[:, customers, campaigns], rel=1e-12)
    halves = [priced.take(np.arange(0, 150), np.arange(0, 150), False),
              priced.take(np.arange(150, 300), np.arange(150, 300), False)]
    again = to_problem(stack(halves, False), np.ones((300, 4), dtype=bool), priced.rhs)
    choice = solve_exact(problem).choice
    assert again.objective(choice) == pytest.approx(problem.objective(choice))
    assert again.row_activity(choice) == pytest.approx(problem.row_activity(choice))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_largest_value_skips_ineligible_pairs(dtype):
    value = np.array([[1.5, -np.inf, -7.25], [np.inf * -1, 3.0, 0.0]], dtype=dtype)
    assert largest_finite(value) == 7.25
    assert largest_finite(np.full((3, 2), -np.inf, dtype=dtype)) == 0.0
    assert largest_finite(value[1:, 1:]) == 3.0  # a strided view

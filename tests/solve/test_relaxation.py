"""Shadow prices against finite differences of the LP optimum.

The LP optimum V(b) of a maximisation is concave and piecewise linear in each rhs b_r, so a
shadow price must lie between the right and left derivatives, and equal them where V is
smooth. The instances below have real-valued data and rhs, so every row sits strictly inside
a linear piece and both one-sided differences agree (the test checks that it is so). The choice
rows' duals and the move costs built on them are checked against every feasible plan of tiny
instances.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from instances import feasible_plans, random_problem

from optimizer.solve.exact import solve_exact
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.relaxation import move_costs, solve_relaxation
from optimizer.solve.results import Termination

EPSILON = 1e-5


def lp_problem(seed: int, n: int = 30, k: int = 3, mix: Sense = Sense.EQ) -> Problem:
    """Real-valued values, spends and limits: a budget, a campaign budget, a floor, a cap and an == mix."""
    rng = np.random.default_rng(seed)
    spend = rng.uniform(0.5, 3.0, size=(n, k))
    weights = rng.uniform(-1.0, 2.0, size=(n, k))
    first, last = np.arange(k) == 0, np.arange(k) == k - 1
    rows = (
        CouplingRow("budget", "budget", Sense.LE, 0.4 * spend.sum() / k, "spend", np.ones(k, bool)),
        CouplingRow("budget[k0]", "campaign_budget", Sense.LE, 0.1 * spend[:, 0].sum(), "spend", first),
        CouplingRow("min_audience[k2]", "min_audience", Sense.GE, 0.25 * n + 0.37, COUNT, last),
        CouplingRow("capacity", "channel_capacity", Sense.LE, 0.6 * n + 0.21, COUNT, ~last),
        CouplingRow("mix", "custom", mix, float(rng.uniform(1.0, 3.0)), "custom:mix", np.ones(k, bool)),
    )
    return Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        campaign_ids=tuple(f"k{j}" for j in range(k)), channels=("email",) * k,
        pair_value=rng.normal(1.0, 2.0, size=(n, k)), spend=spend,
        eligible=rng.random((n, k)) < 0.8, treated_share=np.array([0.9, 1.0, 0.8][:k]),
        rows=rows, weights={"spend": spend, "custom:mix": weights},
    )


def shifted(problem: Problem, r: int, delta: float) -> Problem:
    rows = list(problem.rows)
    rows[r] = dataclasses.replace(rows[r], rhs=rows[r].rhs + delta)
    return dataclasses.replace(problem, rows=tuple(rows))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_shadow_prices_are_derivatives_of_the_lp_optimum(seed: int):
    problem = lp_problem(seed)
    customers, campaigns = problem.candidate_pairs()
    base = solve_relaxation(problem, customers, campaigns)
    assert base.feasible
    nonzero = 0
    for r, row in enumerate(problem.rows):
        up = solve_relaxation(shifted(problem, r, EPSILON), customers, campaigns)
        down = solve_relaxation(shifted(problem, r, -EPSILON), customers, campaigns)
        right, left = (up.bound - base.bound) / EPSILON, (base.bound - down.bound) / EPSILON
        assert right == pytest.approx(left, abs=1e-3), f"{row.name} sits on a breakpoint; pick another seed"
        assert base.shadow_prices[r] == pytest.approx(right, rel=1e-3, abs=1e-3), row.name
        nonzero += abs(right) > 1e-3
    assert nonzero >= 2, "too few binding rows for the test to mean anything"


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_shadow_prices_have_the_sign_of_their_row(seed: int):
    """More room under a <= limit never hurts a maximisation, a higher >= floor never helps."""
    problem = lp_problem(seed)
    prices = solve_relaxation(problem, *problem.candidate_pairs()).shadow_prices
    for row, price in zip(problem.rows, prices):
        if row.sense is Sense.LE:
            assert price >= -1e-9, row.name
        elif row.sense is Sense.GE:
            assert price <= 1e-9, row.name


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_lp_bound_is_at_least_the_exact_optimum(seed: int):
    # an == row with real weights is met by no 0/1 plan, so the MIP gets a <= row instead
    problem = lp_problem(seed, mix=Sense.LE)
    relaxation = solve_relaxation(problem, *problem.candidate_pairs())
    result = solve_exact(problem)
    assert result.termination is Termination.OPTIMAL
    assert relaxation.bound >= result.objective - 1e-6


def test_relaxation_without_candidate_pairs_is_the_empty_plan():
    """Every pair loses value and no row asks for any: the LP optimum is 0, every price 0."""
    spend = np.ones((2, 1))
    problem = Problem(
        customer_ids=np.array(["a", "b"], dtype=object), campaign_ids=("x",), channels=("email",),
        pair_value=np.array([[-1.0], [-2.0]]), spend=spend, eligible=np.ones((2, 1), bool),
        treated_share=np.array([1.0]),
        rows=(CouplingRow("budget", "budget", Sense.LE, 5.0, "spend", np.array([True])),),
        weights={"spend": spend},
    )
    customers, campaigns = problem.candidate_pairs()
    assert customers.size == 0
    relaxation = solve_relaxation(problem, customers, campaigns)
    assert relaxation.feasible and relaxation.bound == 0.0
    assert relaxation.shadow_prices.tolist() == [0.0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_choice_duals_are_what_each_pair_earns_past_its_prices_and_reduced_cost(seed: int):
    """u_i = c_ij - sum_r λ_r a_rij - d_ij for every pair of a customer with a choice row, u_i >= 0;
    0 for a customer with one pair."""
    problem = lp_problem(seed)
    customers, campaigns = problem.candidate_pairs()
    lp = solve_relaxation(problem, customers, campaigns)
    priced = sum(price * problem.coefficients(row)[customers, campaigns]
                 for price, row in zip(lp.shadow_prices, problem.rows))
    earned = problem.value[customers, campaigns] - priced - lp.reduced_costs
    several = np.bincount(customers)[customers] > 1
    assert np.allclose(lp.choice_duals[several], earned[several], atol=1e-7)
    assert np.all(lp.choice_duals >= -1e-9)
    assert np.all(lp.choice_duals[~several] == 0.0)
    assert np.any(lp.choice_duals > 1e-6)


def test_no_plan_that_changes_a_pair_beats_the_lp_bound_less_its_move_cost():
    """Every feasible plan x' of a tiny instance, for every candidate pair p it changes against the
    LP optimum rounded, is worth at most z_LP - m_p; and m_p, which counts what a customer at 1
    loses by leaving, is above |d_p| for some pair a feasible plan changes (else the test proves
    nothing new)."""
    rng = np.random.default_rng(11)
    above_reduced_cost = 0
    for _ in range(150):
        problem = random_problem(rng, n=int(rng.integers(2, 8)))
        customers, campaigns = problem.candidate_pairs()
        lp = solve_relaxation(problem, customers, campaigns)
        plans, values = feasible_plans(problem)
        if not lp.feasible or customers.size == 0 or values.size == 0:
            continue
        cost = move_costs(customers, lp.x, lp.reduced_costs, lp.choice_duals)
        slack = sum(abs(price) * 1e-6 * max(1.0, abs(row.rhs)) for price, row in zip(lp.shadow_prices, problem.rows))
        changed = (plans[:, customers] == campaigns) != (lp.x > 0.5)
        above_reduced_cost += int(np.sum(changed & (cost > np.abs(lp.reduced_costs) + 1e-9)))
        least = np.where(changed, lp.bound - cost, np.inf).min(axis=1)
        assert np.all(values <= least + 1e-7 + slack)
    assert above_reduced_cost > 0

"""Shadow prices against finite differences of the LP optimum, and the infeasibility diagnosis.

The LP optimum V(b) of a maximisation is concave and piecewise linear in each rhs b_r, so a
shadow price must lie between the right and left derivatives, and equal them where V is
smooth. The instances below have real-valued data and rhs, so every row sits strictly inside
a linear piece and both one-sided differences agree (the test checks that it is so).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from instances import all_plans, brute_force, random_problem

from optimizer.solve.exact import solve_exact
from optimizer.solve.infeasibility import diagnose
from optimizer.solve.problem import COUNT, NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.relaxation import solve_relaxation
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


def with_changes(problem: Problem, conflicts) -> Problem:
    """The problem with every conflicting row's rhs moved by the change the diagnosis asks for."""
    change = {conflict.row.name: conflict.change for conflict in conflicts}
    rows = tuple(dataclasses.replace(row, rhs=row.rhs + change.get(row.name, 0.0)) for row in problem.rows)
    return dataclasses.replace(problem, rows=rows)


def test_diagnose_a_floor_the_budget_cannot_pay_for():
    """30 customers at spend 1; min_audience 20 but a budget of 10.

    Either the floor drops by 10 (weighted cost 10/20) or the budget rises by 10 (cost 10/10);
    the least relaxation lowers the floor, and the budget is the limit it runs into.
    """
    n = 30
    spend = np.ones((n, 1))
    budget = CouplingRow("budget", "budget", Sense.LE, 10.0, "spend", np.array([True]))
    floor = CouplingRow("min_audience[x]", "min_audience", Sense.GE, 20.0, COUNT, np.array([True]))
    problem = Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object), campaign_ids=("x",), channels=("email",),
        pair_value=np.linspace(0.5, 3.0, n).reshape(n, 1), spend=spend, eligible=np.ones((n, 1), bool),
        treated_share=np.array([0.9]), rows=(budget, floor), weights={"spend": spend},
    )
    assert solve_exact(problem).termination is Termination.INFEASIBLE
    diagnosis = diagnose(problem, *problem.candidate_pairs())
    assert [(c.row.name, pytest.approx(c.change, abs=1e-6)) for c in diagnosis.conflicts] == [("min_audience[x]", -10)]
    assert [row.name for row in diagnosis.binding] == ["budget"]
    repaired = solve_exact(with_changes(problem, diagnosis.conflicts))
    assert repaired.termination is Termination.OPTIMAL
    assert int((repaired.choice != NO_CAMPAIGN).sum()) == 10
    alone = {c.row.name: c.change for c in diagnosis.alone}
    assert alone == {"min_audience[x]": pytest.approx(-10, abs=1e-6), "budget": pytest.approx(10, abs=1e-6)}


def least_relaxation(problem: Problem) -> float:
    """Brute force: min over all plans of sum_r (violation of row r) / max(1, |b_r|)."""
    plans = all_plans(problem)
    customers = np.arange(problem.n_customers)
    total = np.zeros(len(plans))
    for row in problem.rows:
        lhs = np.c_[problem.coefficients(row), np.zeros(problem.n_customers)][customers, plans].sum(axis=1)
        excess = {Sense.LE: lhs - row.rhs, Sense.GE: row.rhs - lhs, Sense.EQ: np.abs(lhs - row.rhs)}[row.sense]
        total += np.maximum(excess, 0.0) / max(1.0, abs(row.rhs))
    return float(total.min())


def test_diagnosis_of_random_infeasible_instances_is_least_and_repairs_them():
    """The joint change is the least one (brute force over all plans) and makes a plan possible;
    so does each single-row change the diagnosis offers."""
    rng = np.random.default_rng(99)
    diagnosed = 0
    while diagnosed < 25:
        problem = random_problem(rng)
        if brute_force(problem) is not None:
            continue
        diagnosed += 1
        diagnosis = diagnose(problem, *problem.candidate_pairs())
        assert diagnosis.conflicts, "an infeasible instance needs at least one change"
        cost = sum(abs(c.change) / max(1.0, abs(c.row.rhs)) for c in diagnosis.conflicts)
        assert cost == pytest.approx(least_relaxation(problem), abs=1e-6)
        repaired = with_changes(problem, diagnosis.conflicts)
        assert brute_force(repaired) is not None
        assert solve_exact(repaired).termination is Termination.OPTIMAL
        for conflict in diagnosis.alone:  # each single-row change suffices on its own
            assert brute_force(with_changes(problem, [conflict])) is not None, conflict.row.name


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

"""The master LP: the LP relaxation when it holds everyone, warm joins, elastic rows."""

from __future__ import annotations

import dataclasses

import highspy
import numpy as np
import pytest
from instances import medium_problem

from optimizer.solve.lagrangian import price_out, priced_problem
from optimizer.solve.master import MasterLP
from optimizer.solve.problem import COUNT, CouplingRow, Sense
from optimizer.solve.relaxation import solve_relaxation


def everyone(problem, penalties: float = 1e6) -> tuple[MasterLP, object]:
    priced = priced_problem(problem)
    n = priced.n_customers
    master = MasterLP(priced.rows, priced.campaign_ids, np.full(len(priced.rows), penalties))
    customers = np.arange(n)
    master.add_customers(priced.take(customers, customers, False), False, np.isfinite(priced.value), np.full(n, -1),
                         None)
    master.set_limits(priced.rhs)
    return master, priced


def joined_at_their_best() -> tuple[MasterLP, object, object, np.ndarray]:
    """Every customer joining a new master at its best at the LP optimum's prices."""
    problem = medium_problem(2)
    priced = priced_problem(problem)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    best = price_out(priced, lp.shadow_prices).choice
    customers = np.arange(priced.n_customers)
    master = MasterLP(priced.rows, priced.campaign_ids, np.full(len(priced.rows), 1e6))
    master.add_customers(priced.take(customers, customers, False), False, np.isfinite(priced.value), best,
                         lp.shadow_prices)
    return master, priced, lp, best


def test_with_every_customer_the_master_is_the_lp_relaxation():
    problem = medium_problem(1)
    master, priced = everyone(problem)
    solution = master.solve(60.0)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    assert solution.feasible
    assert solution.value == pytest.approx(lp.bound, rel=1e-9)
    assert price_out(priced, solution.prices).bound == pytest.approx(lp.bound, rel=1e-9)


def in_two_batches(problem, penalties: float) -> MasterLP:
    """Every customer joining a master in two batches, the second with columns added after."""
    priced = priced_problem(problem)
    n = priced.n_customers
    master = MasterLP(priced.rows, priced.campaign_ids, np.full(len(priced.rows), penalties))
    for batch in (np.arange(n // 2), np.arange(n // 2, n)):
        columns = np.isfinite(priced.value[batch])
        columns[:, 1:] = False  # the first campaign only, then the rest as columns of their own
        master.add_customers(priced.take(batch, batch, False), False, columns, np.full(batch.size, -1), None)
    master.add_columns(np.arange(n), np.isfinite(priced.value))
    master.set_limits(priced.rhs)
    return master


@pytest.mark.parametrize("broken", [False, True])
def test_each_columns_choice_dual_is_what_its_pair_earns_past_its_prices_and_reduced_cost(broken: bool):
    """u_i = c_ij - sum_r λ_r a_rij - d_ij on every column, u_i >= 0, columns added in batches;
    also with a floor no plan meets, broken through its slack (λ then its penalty)."""
    problem = medium_problem(3)
    if broken:
        impossible = CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 10_000.0, COUNT, np.arange(4) == 0)
        problem = dataclasses.replace(problem, rows=(*problem.rows, impossible))
    master = in_two_batches(problem, 5.0 if broken else 1e6)
    solution = master.solve(60.0)
    assert solution.feasible is not broken
    slots, campaigns = master.columns()
    customers = master.customers[slots]
    earned = problem.value[customers, campaigns] - solution.reduced_costs - sum(
        price * problem.coefficients(row)[customers, campaigns] for price, row in zip(solution.prices, problem.rows))
    assert np.allclose(solution.choice_duals, earned, atol=1e-7)
    assert np.all(solution.choice_duals >= -1e-9) and np.any(solution.choice_duals > 1e-6)


def test_a_master_far_from_its_last_basis_is_solved_by_the_interior_point_method(monkeypatch):
    """More dual simplex pivots than WARM_ITERATIONS allows: the interior point method finds the
    same optimum, and its basis is where the next solve starts (no pivots when nothing moved)."""
    monkeypatch.setattr("optimizer.solve.master.WARM_ITERATIONS", 5)
    problem = medium_problem(1)
    master, priced = everyone(problem)
    interior = master._interior
    calls = []
    monkeypatch.setattr(master, "_interior", lambda seconds: calls.append(seconds) or interior(seconds))
    solution = master.solve(60.0)
    assert master.highs.getInfo().simplex_iteration_count == 0  # the follow-up run starts at the optimal basis
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    assert len(calls) == 1
    assert solution.value == pytest.approx(lp.bound, rel=1e-9)
    assert price_out(priced, solution.prices).bound == pytest.approx(lp.bound, rel=1e-9)
    again = master.solve(60.0)
    assert len(calls) == 1 and master.highs.getInfo().simplex_iteration_count == 0
    assert again.value == pytest.approx(solution.value, rel=1e-12)


def test_a_master_out_of_time_in_the_interior_point_method_has_no_solution(monkeypatch):
    monkeypatch.setattr("optimizer.solve.master.WARM_ITERATIONS", 5)
    master, _ = everyone(medium_problem(1))
    monkeypatch.setattr(master, "_interior", lambda seconds: highspy.HighsModelStatus.kTimeLimit)
    assert master.solve(60.0) is None


def test_an_interior_point_method_that_fails_otherwise_leaves_dual_simplex_to_finish(monkeypatch):
    monkeypatch.setattr("optimizer.solve.master.WARM_ITERATIONS", 5)
    problem = medium_problem(1)
    master, _ = everyone(problem)
    monkeypatch.setattr(master, "_interior", lambda seconds: highspy.HighsModelStatus.kSolveError)
    solution = master.solve(60.0)
    assert solution is not None and master.highs.getInfo().simplex_iteration_count > 5
    assert solution.value == pytest.approx(solve_relaxation(problem, *problem.candidate_pairs()).bound, rel=1e-9)


def test_customers_joining_with_their_held_campaign_keep_the_optimum_warm():
    """Half the customers fixed at their best at the optimal prices, then joining: no pivots needed."""
    problem = medium_problem(2)
    priced = priced_problem(problem)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    best = price_out(priced, lp.shadow_prices).choice
    first, later = np.arange(0, 400, 2), np.arange(1, 400, 2)
    master = MasterLP(priced.rows, priced.campaign_ids, np.full(len(priced.rows), 1e6))
    master.add_customers(priced.take(first, first, False), False, np.isfinite(priced.value[first]),
                         np.full(first.size, -1), None)
    held_usage = priced.coefficients(later)[:, np.flatnonzero(best[later] >= 0), best[later][best[later] >= 0]]
    master.set_limits(priced.rhs - held_usage.sum(axis=1))
    master.solve(60.0)
    master.add_customers(priced.take(later, later, False), False, np.isfinite(priced.value[later]), best[later],
                         lp.shadow_prices)
    master.set_limits(priced.rhs)
    solution = master.solve(60.0)
    assert solution.value == pytest.approx(lp.bound, rel=1e-9)
    assert master.highs.getInfo().simplex_iteration_count < 50


def test_the_first_customers_start_from_their_held_campaigns():
    """A new master already has a basis: customers joining at their best at the optimal prices
    need only a few pivots on the first solve, not a cold start."""
    master, priced, lp, best = joined_at_their_best()
    master.set_limits(priced.rhs)
    solution = master.solve(60.0)
    assert solution.value == pytest.approx(lp.bound, rel=1e-9)
    assert master.highs.getInfo().simplex_iteration_count < 50


def test_a_held_campaign_starts_basic_only_where_another_is_worth_something_too():
    """Held alone (no other campaign worth anything at the prices): the column at its upper bound,
    the choice row basic, so the basis stays sparse. With others worth something: the column basic."""
    master, _, lp, best = joined_at_their_best()
    holding = np.flatnonzero(best >= 0)
    others = master.adjusted(lp.shadow_prices)[holding]
    others[np.arange(holding.size), best[holding]] = -np.inf
    alone = ~(others > 0).any(axis=1)
    basis = master.highs.getBasis()
    column = np.array(basis.col_status)[master.n_slacks + master.position[holding, best[holding]]]
    row = np.array(basis.row_status)[master.m + holding]
    assert 0 < alone.sum() < holding.size
    assert all(column[alone] == highspy.HighsBasisStatus.kUpper) and all(row[alone] == highspy.HighsBasisStatus.kBasic)
    assert all(column[~alone] == highspy.HighsBasisStatus.kBasic) and all(row[~alone] == highspy.HighsBasisStatus.kUpper)


def test_a_limit_no_plan_can_meet_is_broken_at_its_price_and_named():
    problem = medium_problem(3)
    impossible = CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 10_000.0, COUNT, np.arange(4) == 0)
    problem = dataclasses.replace(problem, rows=(problem.rows[0], impossible))
    master, _ = everyone(problem, penalties=5.0)
    solution = master.solve(60.0)
    assert not solution.feasible
    assert list(solution.violated) == [1]
    assert solution.prices[1] == pytest.approx(-5.0)

"""optimizer/solve/balancing.py: prices from the sample LP and breakpoint balancing reach the LP bound."""

from __future__ import annotations

import time

import numpy as np
import pytest
from instances import budget_only, medium_problem

from optimizer.solve import balancing
from optimizer.solve.balancing import balance, price_pass, sample_prices, warm_start
from optimizer.solve.exact import Clock
from optimizer.solve.lagrangian import price_out, priced_problem
from optimizer.solve.partitions import Customers
from optimizer.solve.relaxation import solve_relaxation


def clock() -> Clock:
    return Clock(time.perf_counter(), 60.0)


def test_balancing_from_zero_prices_reaches_the_lp_bound():
    problem = budget_only(4_000)
    priced = priced_problem(problem)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    balanced = balance(Customers(priced), np.zeros(1), 1e4 * priced.price_scale, 1e-9, clock(), 100)
    assert balanced.bound == pytest.approx(lp.bound, rel=1e-4)
    assert balanced.usage[0] == pytest.approx(problem.rows[0].rhs, rel=1e-2)
    assert balanced.nearest.size == 100 and np.all(np.diff(balanced.nearest) > 0)


def test_balancing_on_nested_samples_leaves_prices_near_the_lp_duals(monkeypatch):
    """Four rows, 3,000 customers, levels of 150 and 600: L at the sample-balanced prices is within
    a few percent of the LP bound (sampling error), and never below it (weak duality); the warm
    start is the LP over the 100 of the largest sample that a direct draw of 100 gives."""
    monkeypatch.setattr(balancing, "SAMPLE", 100)
    monkeypatch.setattr(balancing, "COARSE", (150, 600))
    problem = medium_problem(4, n=3_000)
    priced = priced_problem(problem)
    customers = Customers(priced)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    start = warm_start(customers, clock())
    sampled = sample_prices(customers, 1e-6, clock())
    at_start, balanced = price_pass(customers, start).bound, price_pass(customers, sampled.prices).bound
    assert lp.bound - 1e-6 <= balanced <= at_start + 1e-9
    assert balanced == pytest.approx(lp.bound, rel=0.03)
    assert sampled.magnitude == pytest.approx(abs(lp.bound), rel=0.1)
    assert sampled.margins is not None and np.all(sampled.margins[:-1] <= sampled.margins[1:])


def test_sample_margins_are_those_of_the_sampled_customers_at_the_prices(monkeypatch):
    monkeypatch.setattr(balancing, "COARSE", (150, 600))
    monkeypatch.setattr(balancing, "MARGINS", 300)
    problem = medium_problem(4, n=3_000)
    priced = priced_problem(problem)
    customers = Customers(priced)
    sampled = sample_prices(customers, 1e-6, clock())
    drawn = customers.sample(300 / 3_000)
    assert np.array_equal(sampled.margins, np.sort(price_out(drawn, sampled.prices).margin))


def test_without_a_level_small_enough_one_pass_gives_the_magnitude(monkeypatch):
    monkeypatch.setattr(balancing, "COARSE", (10_000,))
    monkeypatch.setattr(balancing, "SAMPLE", 1_000)
    problem = medium_problem(5, n=500)
    customers = Customers(priced_problem(problem))
    sampled = sample_prices(customers, 1e-6, clock())
    assert np.array_equal(sampled.prices, np.zeros(len(problem.rows)))  # 500 customers: no sample LP
    assert sampled.magnitude == pytest.approx(abs(price_pass(customers, sampled.prices).bound))
    assert sampled.margins is None

"""optimizer/balancing.py: prices from the sample LP and breakpoint balancing reach the LP bound."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_decompose import medium_problem
from test_lagrangian import budget_only

from optimizer import balancing
from optimizer.balancing import balance, coarse_balance, price_pass, warm_start
from optimizer.decompose import MASTER
from optimizer.exact import Clock
from optimizer.lagrangian import priced_problem
from optimizer.partitions import Customers
from optimizer.relaxation import solve_relaxation


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
    a few percent of the LP bound (sampling error), and never below it (weak duality)."""
    monkeypatch.setattr(balancing, "SAMPLE", 100)
    monkeypatch.setattr(balancing, "COARSE", (150, 600))
    problem = medium_problem(4, n=3_000)
    priced = priced_problem(problem)
    customers = Customers(priced)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    cap = 1e4 * customers.price_scale
    start = warm_start(customers, clock())
    prices, magnitude = coarse_balance(customers, start, cap, 1e-6, clock(), MASTER)
    at_start, balanced = price_pass(customers, start).bound, price_pass(customers, prices).bound
    assert lp.bound - 1e-6 <= balanced <= at_start + 1e-9
    assert balanced == pytest.approx(lp.bound, rel=0.03)
    assert magnitude == pytest.approx(abs(lp.bound), rel=0.1)


def test_without_a_level_small_enough_one_pass_gives_the_magnitude(monkeypatch):
    monkeypatch.setattr(balancing, "COARSE", (10_000,))
    problem = medium_problem(5, n=500)
    customers = Customers(priced_problem(problem))
    prices = np.array([0.3, 0.1, -0.2, 0.4])
    same, magnitude = coarse_balance(customers, prices, 1e4 * customers.price_scale, 1e-6, clock(), MASTER)
    assert same is prices and magnitude == pytest.approx(abs(price_pass(customers, prices).bound))

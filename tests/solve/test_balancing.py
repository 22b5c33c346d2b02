"""optimizer/solve/balancing.py: prices from the sample LP and breakpoint balancing reach the LP bound."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from instances import budget_only, medium_problem, offer_levels

from optimizer.solve import balancing
from optimizer.solve.balancing import (
    Pass,
    _crawling,
    _refined_prices,
    balance,
    price_moves,
    price_pass,
    sample_prices,
    signed_prices,
    warm_start,
)
from optimizer.solve.customers import Customers
from optimizer.solve.exact import Clock
from optimizer.solve.kernels import BINS
from optimizer.solve.lagrangian import (
    Breakpoints,
    adjusted_values,
    breakpoint_scale,
    price_out,
    priced_problem,
    to_problem,
)
from optimizer.solve.master import MasterLP, best_columns
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


def test_a_price_moves_to_zero_and_never_past_it_where_no_price_of_its_sign_meets_the_limit():
    """With empty histograms a slack <= row with a positive price and a >= row met with a negative
    price go to 0, not beyond it, so that a damped step moves them part way (a move past 0 made
    every damped step of a balancing as bad as the full one); an overfull row moves up by its scale."""
    problem = medium_problem(4, n=200)
    customers = Customers(priced_problem(problem))
    rows = customers.rows  # budget <=, budget[k1] <=, min_audience[k0] >=, max_audience[k2] <=
    prices = np.array([2.0, 0.0, -1.5, 0.3])
    usage = np.array([rows[0].rhs / 2, rows[1].rhs * 2, rows[2].rhs * 2, rows[3].rhs])
    empty = Breakpoints(breakpoint_scale(customers.price_scale, prices), np.zeros((4, 2, BINS)))
    moves = price_moves(customers, Pass(prices, 0.0, usage, empty))
    assert moves[0] == -2.0 and moves[2] == 1.5 and moves[3] == 0.0
    assert moves[1] == empty.scale[1]  # overfull, nobody known to switch: up by the row's scale
    for damping in (1.0, 0.5, 1e-3):
        assert np.all(signed_prices(rows, prices + damping * moves) == prices + damping * moves)


def test_balancing_offer_levels_from_the_sample_lp_gets_within_1e_4_of_the_lp_bound():
    """Ten campaigns at three offer levels, 5,000 customers: a customer's runner-up is often another
    level of the same campaign, so the histograms miss most of what a price move does; the
    balancing still closes L to 1e-4 of the LP bound (it used to stay at its start, 1.7e-3 above)."""
    problem = offer_levels(5_000, seed=1)
    priced = priced_problem(problem)
    customers = Customers(priced)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    start = warm_start(customers, clock())
    balanced = balance(customers, start, 1e4 * priced.price_scale, 1e-9, clock(), 0)
    assert price_pass(customers, start).bound > lp.bound * (1 + 1e-3)
    assert lp.bound - 1e-6 <= balanced.bound <= lp.bound * (1 + 1e-4)


def test_balancing_crawls_when_each_of_three_falls_keeps_most_of_the_one_before():
    assert _crawling([np.inf, 16.4, 15.6, 15.5, 15.2])  # tight 10^7 × 20's passes
    assert not _crawling([np.inf, 16.4, 15.6, 15.5])  # only two ratios yet
    assert not _crawling([np.inf, 50.0, 66.0, 4.0, 26.0, 6.5])  # variants': converging, unevenly
    assert not _crawling([np.inf, 10.0, 9.0, -1.0, 8.0])  # a rise (damped) is no crawl
    assert not _crawling([np.inf, 10.0, 5.0, 2.5, 1.25])  # a geometric fall converges
    assert not _crawling([np.inf, 10.0, 15.0, 25.0, 40.0])  # falls that grow: balancing is speeding up


def test_the_sample_levels_balance_without_the_crawl_rule(monkeypatch):
    """The crawl rule is for the passes over everyone: on the samples' cheap levels it moved the
    variants kind's start prices (and its exact core then missed its plan: 8.3 s -> 104 s)."""
    asked = []
    real = balancing.balance
    monkeypatch.setattr(balancing, "balance", lambda *args, **kwargs: asked.append(kwargs.get("crawl", True))
                        or real(*args, **kwargs))
    monkeypatch.setattr(balancing, "COARSE", (1_000, 4_000))
    sample_prices(Customers(priced_problem(medium_problem(3, n=12_000), np.float64)), 1e-6, clock())
    assert asked and not any(asked)


def restricted_lagrangian(priced, columns: np.ndarray, prices: np.ndarray) -> float:
    """L(λ) over the given columns only: the dual objective of the LP over them."""
    adjusted = np.where(columns, adjusted_values(priced, prices, np.arange(priced.n_customers)), -np.inf)
    return float(np.maximum(adjusted.max(axis=1), 0.0).sum() + prices @ priced.rhs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_refined_prices_are_an_optimum_of_the_dual_of_the_lp_over_each_customers_best_columns(seed):
    """The warm master's prices against HiGHS's cold LP over the same columns (each customer's
    REFINED_COLUMNS best at prices away from the optimum): the dual objective at them is the LP's
    optimum, however a degenerate LP splits its duals."""
    problem = medium_problem(seed, n=2_000, k=6)
    priced = priced_problem(problem)
    start = solve_relaxation(problem, *problem.candidate_pairs()).shadow_prices * 1.5
    columns = best_columns(adjusted_values(priced, start, np.arange(priced.n_customers)), balancing.REFINED_COLUMNS)
    restricted = to_problem(priced, columns, priced.rhs)
    cold = solve_relaxation(restricted, *restricted.candidate_pairs())
    refined = _refined_prices(priced, Customers(priced), clock(), start, 1e4 * priced.price_scale)
    assert not np.allclose(refined, start)
    assert np.all(signed_prices(priced.rows, refined) == refined)
    assert restricted_lagrangian(priced, columns, refined) == pytest.approx(cold.bound, rel=1e-9)
    assert restricted_lagrangian(priced, columns, cold.shadow_prices) == pytest.approx(cold.bound, rel=1e-9)


def test_refined_prices_keep_their_start_where_the_lp_has_no_optimum(monkeypatch):
    """A minimum audience above the customers there are (the elastic row breaks), or a master that
    ran out of time (MasterLP.solve's None)."""
    problem = medium_problem(4, n=1_000)
    priced = priced_problem(problem)
    start = solve_relaxation(problem, *problem.candidate_pairs()).shadow_prices
    cap = 1e4 * priced.price_scale
    rows = tuple(row if row.family != "min_audience" else dataclasses.replace(row, rhs=2_000.0) for row in priced.rows)
    impossible = dataclasses.replace(priced, rows=rows)
    assert np.array_equal(_refined_prices(impossible, Customers(impossible), clock(), start, cap), start)
    assert not np.array_equal(_refined_prices(priced, Customers(priced), clock(), start, cap), start)
    monkeypatch.setattr(MasterLP, "solve", lambda self, time_limit: None)
    assert np.array_equal(_refined_prices(priced, Customers(priced), clock(), start, cap), start)

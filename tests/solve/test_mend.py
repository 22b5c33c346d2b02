"""Mending a plan customer by customer (optimizer/solve/mend.py): rows of per-customer coefficients
that compete for the same customers, where price moves trade them back and forth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from instances import brute_force, competing, random_problem

from optimizer.solve.balancing import balancing_pass
from optimizer.solve.clock import Clock
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import PricedProblem, evaluate_plan, price_out, priced_problem, to_problem
from optimizer.solve.mend import mend
from optimizer.solve.options import SolverOptions
from optimizer.solve.partitions import Customers
from optimizer.solve.problem import COUNT, CouplingRow, Sense
from optimizer.solve.repair import _repriced
from optimizer.solve.results import SolutionStatus


def plan_of(customers: Customers, found) -> np.ndarray:
    choice = price_out(customers.priced, found.prices).choice.astype(np.intp)
    choice[found.moved] = found.moved_choice
    return choice


def broken(priced: PricedProblem, choice: np.ndarray) -> list[str]:
    _, usage = evaluate_plan(priced, choice)
    return [row.name for row, used in zip(priced.rows, usage) if not row.satisfied(float(used))]


def test_competing_rows_that_price_moves_cannot_mend_are_mended_customer_by_customer() -> None:
    priced = competing(20_000)
    customers = Customers(priced)
    start = balancing_pass(customers, np.zeros(len(priced.rows)), 0)
    assert broken(priced, start_plan := price_out(priced, start.prices).choice), "the start breaks rows"
    assert start_plan is not None
    assert _repriced(customers, start, 0.0, Clock.start(60.0)) is None, "price moves alone cycle here"
    found = mend(customers, start.prices, 0.0, Clock.start(60.0), 60.0)
    assert found is not None
    choice = plan_of(customers, found)
    assert broken(priced, choice) == []
    value, _ = evaluate_plan(priced, choice)
    assert found.value == pytest.approx(value, rel=1e-9)


def test_a_mended_plan_is_near_the_optimum_from_good_prices() -> None:
    """From the LP's prices (what a solve out of time has about), the mended plan loses little."""
    priced = competing(2_000)
    problem = to_problem(priced, np.isfinite(priced.value), priced.rhs)
    optimum = solve_exact(problem, SolverOptions())
    assert optimum.objective is not None and optimum.shadow_prices is not None
    customers = Customers(priced)
    found = mend(customers, optimum.shadow_prices, 0.0, Clock.start(60.0), 60.0)
    assert found is not None and broken(priced, plan_of(customers, found)) == []
    assert found.value >= optimum.objective - 0.01 * abs(optimum.objective)  # measured: 0.37 % less


def test_no_round_starts_past_the_deadline() -> None:
    customers = Customers(competing(1_000))
    clock = Clock.start(1.0)
    assert mend(customers, np.zeros(len(customers.rows)), 0.0, clock, clock.elapsed() - 0.1) is None


def test_an_infeasible_floor_is_not_mended() -> None:
    """More customers asked of campaign 0 than are eligible for it: no plan is claimed."""
    priced = competing(1_000)
    eligible = int(np.isfinite(priced.value[:, 0]).sum())
    rows = (CouplingRow("min_audience[k0]", "min_audience", Sense.GE, eligible + 1, COUNT, priced.campaigns[0]),
            *priced.rows[1:])
    priced = PricedProblem(**{**priced.__dict__, "rows": rows})
    assert mend(Customers(priced), np.zeros(len(rows)), 0.0, Clock.start(60.0), 60.0) is None


@settings(max_examples=150, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(-3.0, 3.0))
def test_a_mended_plan_always_meets_every_row_and_is_worth_its_value(seed: int, scale: float) -> None:
    """Tiny instances of every row family (custom rows of any sign and sense, == rows), from any
    prices: a plan claimed meets every row, and none is claimed for an infeasible instance."""
    rng = np.random.default_rng(seed)
    problem = random_problem(rng, n=int(rng.integers(1, 7)), k=int(rng.integers(1, 4)))
    priced = priced_problem(problem)
    customers = Customers(priced)
    prices = rng.normal(0.0, 10.0 ** scale, size=len(problem.rows))
    found = mend(customers, prices, 0.0, Clock.start(60.0), 60.0)
    if brute_force(problem) is None:
        assert found is None
        return
    if found is not None:
        choice = plan_of(customers, found)
        assert problem.violations(choice) == []
        assert found.value == pytest.approx(problem.objective(choice), abs=1e-9)


def test_a_short_limit_on_competing_custom_rows_still_returns_a_plan() -> None:
    """200,000 customers, a 1 s limit: the decomposition has no time to balance these rows, and the
    price passes of a repair trade customers between them; the mend finds a plan."""
    priced = competing(200_000)
    solve_decompose(competing(2_000), SolverOptions())  # loads the compiled passes
    mend(Customers(competing(100)), np.zeros(len(priced.rows)), 0.0, Clock.start(60.0), 60.0)  # and the mend's
    result = solve_decompose(priced, SolverOptions(time_limit_s=1.0))
    assert result.status is not SolutionStatus.NONE and result.choice is not None
    assert broken(priced, result.choice) == []
    value, _ = evaluate_plan(priced, result.choice)
    assert result.objective == pytest.approx(value, rel=1e-6)
    assert result.bound is not None and result.bound >= result.objective

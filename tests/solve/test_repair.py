"""A plan at every time limit (optimizer/solve/repair.py and the solvers' fallbacks): when the exact
steps run out of time, the best prices still give a plan that meets every row, with a bound."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from instances import assert_plan_and_bound, brute_force, medium_problem, random_problem

from optimizer.solve import repair as repair_module
from optimizer.solve.balancing import price_pass
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.drop import drop_to_limits
from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import PricedProblem, evaluate_plan, price_out, priced_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Sense
from optimizer.solve.repair import last_resort, repair
from optimizer.solve.results import SolutionStatus


def million(k: int = 10, floors: bool = False, seed: int = 11) -> PricedProblem:
    """1,000,000 customers × k campaigns in the decomposition's float32 arrays: a budget on one cost
    per contact, two capacities, a maximum audience and (``floors``) two minimum audiences."""
    rng = np.random.default_rng(seed)
    n = 1_000_000
    value = (rng.normal(0.5, 2.0, size=(n, k)) * rng.lognormal(0.0, 0.5, size=(n, 1))).astype(np.float32)
    value[rng.random((n, k)) < 0.4] = -np.inf
    cost = np.linspace(0.05, 3.0, k)
    every, only = np.ones(k, bool), lambda j: np.arange(k) == j  # noqa: E731
    rows = [
        CouplingRow("budget", "budget", Sense.LE, 0.05 * n, "cost", every),
        CouplingRow("capacity[a]", "channel_capacity", Sense.LE, 0.08 * n, COUNT, np.arange(k) < k // 2),
        CouplingRow("capacity[b]", "channel_capacity", Sense.LE, 0.03 * n, COUNT, np.arange(k) >= k // 2),
        CouplingRow("max_audience[k1]", "max_audience", Sense.LE, 0.01 * n, COUNT, only(1)),
    ]
    if floors:
        rows += [CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 0.02 * n, COUNT, only(0)),
                 CouplingRow("min_audience[k3]", "min_audience", Sense.GE, 0.01 * n, COUNT, only(3))]
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)), value=value,
        weights=cost.astype(np.float32).reshape(1, 1, k), row_weight=np.array([0 if r.weight == "cost" else -1
                                                                                for r in rows]),
        campaigns=np.array([r.campaigns for r in rows]), rows=tuple(rows),
    )


def broken_rows(priced: PricedProblem, choice: np.ndarray) -> list[str]:
    _, usage = evaluate_plan(priced, choice)
    return [row.name for row, used in zip(priced.rows, usage) if not row.satisfied(float(used))]


@pytest.mark.parametrize("floors", [False, True])
def test_a_one_second_limit_on_a_million_customers_returns_a_plan_and_its_bound(floors: bool) -> None:
    priced = million(floors=floors)
    solve_decompose(priced_problem(medium_problem(1, n=1_000)), SolverOptions())  # loads the compiled passes
    started = time.perf_counter()
    result = solve_decompose(priced, SolverOptions(time_limit_s=1.0))
    seconds = time.perf_counter() - started
    assert result.status is not SolutionStatus.NONE, f"no plan after {seconds:.2f} s ({result.termination})"
    assert result.choice is not None and broken_rows(priced, result.choice) == []
    value, _ = evaluate_plan(priced, result.choice)
    assert result.objective == pytest.approx(value, rel=1e-6)
    assert result.bound is not None and result.bound >= result.objective
    assert seconds < 1.0 + 4.0, f"{seconds:.2f} s against a 1 s limit"  # the few passes of a repair at most


def test_the_exact_solver_out_of_time_still_returns_a_plan() -> None:
    problem = medium_problem(5, n=30_000, k=5)
    result = solve_exact(problem, SolverOptions(time_limit_s=0.05))
    assert result.status is not SolutionStatus.NONE
    assert_plan_and_bound(problem, result)


@settings(max_examples=100, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(-3.0, 3.0))
def test_repair_finds_a_plan_whenever_the_empty_plan_meets_every_row(seed: int, scale: float) -> None:
    """<= rows of limits >= 0 only: from any prices, even far off, repair gives a plan."""
    rng = np.random.default_rng(seed)
    problem = random_problem(rng, n=int(rng.integers(1, 7)), k=int(rng.integers(1, 4)))
    rows = tuple(row for row in problem.rows if row.sense is Sense.LE and row.rhs >= 0)
    problem = type(problem)(**{**problem.__dict__, "rows": rows})
    priced = priced_problem(problem)
    customers = Customers(priced)
    prices = rng.normal(0.0, 10.0 ** scale, size=len(rows))
    found = repair(customers, price_pass(customers, prices), Clock.start(10.0))
    best = brute_force(problem)
    assert found is not None and best is not None
    choice = price_out(priced, found.prices).choice
    choice[found.moved] = found.moved_choice
    assert problem.violations(choice) == []
    assert found.value == pytest.approx(problem.objective(choice), abs=1e-9)
    assert found.bound >= best - 1e-9, "the bound holds for every plan"
    start = price_pass(customers, prices)
    dropped = drop_to_limits(customers, start.prices, start.usage)
    assert dropped is None or found.value >= dropped.value - 1e-9, "the better of the drop and the passes"


@settings(max_examples=60, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_last_resort_meets_every_row_when_the_empty_plan_does(seed: int) -> None:
    """No time for a repair: the plan at prices no value can pay takes only options no row counts,
    meets every row and is worth what the plan's own values sum to."""
    rng = np.random.default_rng(seed)
    problem = random_problem(rng, n=int(rng.integers(1, 7)), k=int(rng.integers(1, 4)))
    rows = tuple(row for row in problem.rows if row.sense is Sense.LE and row.rhs >= 0)
    problem = type(problem)(**{**problem.__dict__, "rows": rows})
    priced = priced_problem(problem)
    found = last_resort(Customers(priced))
    counted = np.any([problem.coefficients(row) != 0 for row in rows], axis=0) if rows else \
        np.zeros_like(problem.eligible)
    if any(np.any(problem.coefficients(row)[problem.eligible] < 0) for row in rows):
        return  # an option of negative coefficient: no last resort is claimed
    assert found is not None
    choice = price_out(priced, found.prices).choice
    assert problem.violations(choice) == []
    given_to = np.flatnonzero(choice >= 0)
    assert not counted[given_to, choice[given_to]].any()
    assert found.value == pytest.approx(problem.objective(choice), abs=1e-6)
    free = problem.eligible & ~counted
    assert found.value == pytest.approx(np.maximum(np.where(free, problem.value, 0.0), 0.0).max(axis=1).sum(), abs=1e-6)


def test_with_no_time_left_caps_only_are_met_by_dropping_customers_not_by_the_empty_plan(monkeypatch) -> None:
    """The limit long past: no balancing pass, price pass or mend may start, yet the plan of the
    best prices, customers dropped from its over-full rows, is kept (the last resort's plan is
    worth 0 here: every option counts towards the budget)."""
    priced = million()
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(len(priced.rows)))
    assert start.usage[0] > priced.rows[0].rhs, "the zero prices' plan breaks the budget"
    long_past = Clock(time.perf_counter() - 100.0, 1.0)
    monkeypatch.setattr(repair_module, "balancing_pass", None)  # called, it would fail the test
    found = repair(customers, start, long_past)
    assert found is not None and found.moved.size > 0
    choice = price_out(priced, found.prices).choice.astype(np.intp)
    choice[found.moved] = found.moved_choice
    assert broken_rows(priced, choice) == []
    value, _ = evaluate_plan(priced, choice)
    assert found.value == pytest.approx(value, rel=1e-9) and found.value > 0.0
    dropped = drop_to_limits(customers, start.prices, start.usage)
    assert dropped is not None and found.value == dropped.value, "no price pass started past the limit"
    resort = last_resort(customers)
    assert resort is not None and resort.value == 0.0


def test_with_floors_and_the_limit_long_past_no_balancing_pass_is_run_to_time_passes_that_cannot_start(
        monkeypatch) -> None:
    """Minimum audiences, the limit 100 s past: neither the fill nor a price pass may start, so no
    plan is claimed, and no balancing pass (3 passes' time: 1.7 s at 10^7 × 50) is spent first."""
    priced = million(floors=True)
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(len(priced.rows)))
    monkeypatch.setattr(repair_module, "balancing_pass", None)  # called, it would fail the test
    assert repair(customers, start, Clock(time.perf_counter() - 100.0, 1.0)) is None


def test_with_floors_and_time_the_fill_mends_the_plan_of_the_given_pass() -> None:
    priced = million(floors=True)
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(len(priced.rows)))
    assert broken_rows(priced, price_out(priced, start.prices).choice), "the zero prices' plan breaks rows"
    found = repair(customers, start, Clock.start(60.0))
    assert found is not None
    choice = price_out(priced, found.prices).choice.astype(np.intp)
    choice[found.moved] = found.moved_choice
    assert broken_rows(priced, choice) == []
    value, _ = evaluate_plan(priced, choice)
    assert found.value == pytest.approx(value, rel=1e-9) and found.bound >= found.value


def test_no_last_resort_with_a_floor() -> None:
    priced = million(k=10, floors=True)
    assert last_resort(Customers(priced)) is None

"""Filling the audiences to sizes that meet every row (optimizer/solve/fill.py): tight budgets under
minimum audiences, where price moves flip tied customers all at once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from optimizer.solve.balancing import balancing_pass
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.exact import solve_exact
from optimizer.solve.fill import fill_audiences
from optimizer.solve.lagrangian import PricedProblem, evaluate_plan, price_out, to_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Sense
from optimizer.solve.repair import repair


def tight(n: int, k: int = 5, seed: int = 3, slack: float = 1.05, levels: int = 0) -> PricedProblem:
    """n customers × k campaigns, one cost per contact: minimum audiences of a fifth of the
    customers on campaigns 0 and k - 1, a total budget ``slack`` × what they cost at least, a
    capacity; ``levels`` > 0 rounds the values to that many levels (exact ties)."""
    rng = np.random.default_rng(seed)
    value = rng.normal(1.0, 2.0, size=(n, k))
    if levels:
        value = np.round(value * levels / 8.0) * 8.0 / levels
    value[rng.random((n, k)) < 0.4] = -np.inf
    cost = np.linspace(0.5, 2.0, k)
    every, only = np.ones(k, bool), lambda j: np.arange(k) == j  # noqa: E731
    floor = round(0.2 * n)
    rows = (
        CouplingRow("min_audience[k0]", "min_audience", Sense.GE, floor, COUNT, only(0)),
        CouplingRow(f"min_audience[k{k - 1}]", "min_audience", Sense.GE, floor, COUNT, only(k - 1)),
        CouplingRow("budget", "budget", Sense.LE, slack * floor * (cost[0] + cost[-1]), "cost", every),
        CouplingRow("capacity", "channel_capacity", Sense.LE, 0.5 * n, COUNT, np.arange(k) < 3),
    )
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)), value=value,
        weights=cost.reshape(1, 1, k), row_weight=np.array([0 if row.weight == "cost" else -1 for row in rows]),
        campaigns=np.array([row.campaigns for row in rows]), rows=rows,
    )


def planned(customers: Customers, prices: np.ndarray, moved: np.ndarray, moved_choice: np.ndarray) -> np.ndarray:
    choice = price_out(customers.priced, prices).choice.astype(np.intp)
    choice[moved] = moved_choice
    return choice


def broken(priced: PricedProblem, choice: np.ndarray) -> list[str]:
    _, usage = evaluate_plan(priced, choice)
    return [row.name for row, used in zip(priced.rows, usage) if not row.satisfied(float(used))]


@pytest.mark.parametrize("levels", [0, 4])
def test_the_audiences_are_filled_to_sizes_that_meet_every_row(levels: int) -> None:
    priced = tight(20_000, levels=levels)
    customers = Customers(priced)
    prices = np.zeros(len(priced.rows))
    assert broken(priced, price_out(priced, prices).choice)  # the plan at zero prices breaks the budget and floors
    filled = fill_audiences(customers, prices, Clock.start(10.0))
    assert filled is not None
    choice = planned(customers, prices, filled.moved, filled.moved_choice)
    assert broken(priced, choice) == []
    assert filled.value == pytest.approx(evaluate_plan(priced, choice)[0])
    assert np.all(np.diff(filled.moved) > 0)  # sorted global indices, as a plan's master is


def test_a_fill_is_a_plan_near_the_optimum_of_a_tight_instance() -> None:
    priced = tight(3_000)
    rhs = np.array([row.rhs for row in priced.rows])
    best = solve_exact(to_problem(priced, np.ones(priced.value.shape, bool), rhs), SolverOptions())
    start = balancing_pass(Customers(priced), np.zeros(len(priced.rows)), 0)
    found = repair(Customers(priced), start, Clock.start(10.0))
    assert found is not None and found.moved.size > 0  # the fill made this plan
    choice = planned(Customers(priced), found.prices, found.moved, found.moved_choice)
    assert broken(priced, choice) == []
    assert found.value <= best.objective + 1e-6 and found.bound >= best.objective - 1e-6


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), slack=st.floats(0.9, 1.5), log_scale=st.floats(-3, 3))
def test_a_fill_never_claims_a_plan_that_breaks_a_row(seed: int, slack: float, log_scale: float) -> None:
    priced = tight(400, k=4, seed=seed, slack=slack, levels=seed % 3)
    customers = Customers(priced)
    prices = np.random.default_rng(seed).normal(0.0, 10.0**log_scale, len(priced.rows))
    filled = fill_audiences(customers, prices, Clock.start(10.0))
    if filled is not None:
        assert broken(priced, planned(customers, prices, filled.moved, filled.moved_choice)) == []

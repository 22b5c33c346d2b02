"""Dropping customers from the over-full rows (optimizer/solve/drop.py): a plan within every <= limit
in about one pass, for when the price passes and the mend have no time left."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from instances import brute_force, random_problem

from optimizer.solve import customers as customers_module
from optimizer.solve.balancing import price_pass
from optimizer.solve.customers import Customers
from optimizer.solve.drop import drop_to_limits
from optimizer.solve.lagrangian import PricedProblem, price_out, priced_problem, to_problem
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense


def caps_only(problem: Problem) -> Problem:
    """The instance with its <= rows of limits >= 0 only: the empty plan meets every row."""
    rows = tuple(row for row in problem.rows if row.sense is Sense.LE and row.rhs >= 0)
    return type(problem)(**{**problem.__dict__, "rows": rows})


def counts(value: list[list[float]], rows: list[CouplingRow], weights: np.ndarray | None = None) -> PricedProblem:
    """An instance of the given c_ij (-inf: not eligible) whose rows count audiences, or sum
    ``weights`` (n, k) where a row's weight is "w"."""
    value_array = np.array(value, dtype=float)
    n, k = value_array.shape
    stacked = np.zeros((0, n, k)) if weights is None else weights.reshape(1, n, k)
    return PricedProblem(customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)),
                         value=value_array, weights=stacked,
                         row_weight=np.array([-1 if row.weight == COUNT else 0 for row in rows]),
                         campaigns=np.array([row.campaigns for row in rows]), rows=tuple(rows))


def plan(priced: PricedProblem, found) -> np.ndarray:
    choice = price_out(priced, found.prices).choice.astype(np.intp)
    choice[found.moved] = found.moved_choice
    return choice


def test_the_least_value_per_unit_of_excess_goes_first_and_met_rows_keep_their_customers() -> None:
    """Caps of 1 on campaign 0 and of 2 on campaign 1, everyone on their best: each row one over.
    Customer 3 (worth 1) goes first and meets the second cap; customer 4 (worth 2) comes next but
    touches only that met row and stays; customer 1 (worth 3) meets the first. The optimum."""
    ineligible = -np.inf
    value = [[5, ineligible], [3, ineligible], [ineligible, 9], [ineligible, 1], [ineligible, 2]]
    rows = [CouplingRow("max_audience[k0]", "max_audience", Sense.LE, 1, COUNT, np.array([True, False])),
            CouplingRow("max_audience[k1]", "max_audience", Sense.LE, 2, COUNT, np.array([False, True]))]
    priced = counts(value, rows)
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(2))
    found = drop_to_limits(customers, start.prices, start.usage)
    assert found is not None
    assert found.moved.tolist() == [1, 3] and found.moved_choice.tolist() == [-1, -1]
    assert found.value == 16.0 == brute_force(to_problem(priced, np.isfinite(priced.value), priced.rhs))


def test_no_customer_of_a_negative_coefficient_is_dropped() -> None:
    """Customer 0's option counts +1 on a cap of 0 and -1 on another: dropping it would raise the
    second row, so it is not offered and there is no plan to claim (the repair's other steps and
    its last resort take such rows)."""
    rows = [CouplingRow("cap", "custom", Sense.LE, 0, "w", np.array([True])),
            CouplingRow("other", "custom", Sense.LE, -1, "w2", np.array([True]))]
    priced = counts([[1.0]], rows, np.array([[1.0]]))
    priced = PricedProblem(**{**priced.__dict__, "weights": np.array([[[1.0]], [[-1.0]]]),
                              "row_weight": np.array([0, 1])})
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(2))
    assert start.usage.tolist() == [1.0, -1.0]
    assert drop_to_limits(customers, start.prices, start.usage) is None


def test_the_customer_of_a_negative_coefficient_is_kept_and_another_dropped() -> None:
    """Caps "cap" <= 1 and "other" <= -1: customer 0 (worth 1) counts +1 and -1, customer 1 (worth 5)
    +1 and 0. Customer 0 has the lesser value, but dropping it would break "other"; dropping
    customer 1 meets both rows."""
    rows = [CouplingRow("cap", "custom", Sense.LE, 1, "w", np.array([True])),
            CouplingRow("other", "custom", Sense.LE, -1, "w2", np.array([True]))]
    priced = counts([[1.0], [5.0]], rows, np.ones((2, 1)))
    priced = PricedProblem(**{**priced.__dict__, "weights": np.array([[[1.0], [1.0]], [[-1.0], [0.0]]]),
                              "row_weight": np.array([0, 1])})
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(2))
    found = drop_to_limits(customers, start.prices, start.usage)
    assert found is not None and found.moved.tolist() == [1] and found.value == 1.0


def test_a_floor_is_not_for_dropping() -> None:
    rows = [CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 1, COUNT, np.array([True]))]
    priced = counts([[1.0], [2.0]], rows)
    customers = Customers(priced)
    start = price_pass(customers, np.zeros(1))
    assert drop_to_limits(customers, start.prices, start.usage) is None


@settings(max_examples=200, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(-3.0, 3.0), chunk=st.sampled_from([1, 2, 3, 1 << 20]))
def test_a_dropped_plan_meets_every_row_and_only_drops(seed: int, scale: float, chunk: int) -> None:
    """Tiny instances of <= rows (custom rows of either sign too), from any prices of the rows'
    signs, in partitions of ``chunk`` customers: the plan claimed meets every row, is worth its
    value, no more than the optimum, and differs from the priced-out plan only by customers given
    nothing. Without a negative coefficient there is always one."""
    rng = np.random.default_rng(seed)
    problem = caps_only(random_problem(rng, n=int(rng.integers(1, 7)), k=int(rng.integers(1, 4))))
    priced = priced_problem(problem)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(customers_module, "CHUNK", chunk)
        customers = Customers(priced)
    assert len(customers.partitions) == -(-priced.n_customers // chunk)
    start = price_pass(customers, np.abs(rng.normal(0.0, 10.0 ** scale, size=len(problem.rows))))
    found = drop_to_limits(customers, start.prices, start.usage)
    negative = any(np.any(problem.coefficients(row)[problem.eligible] < 0) for row in problem.rows)
    if found is None:
        assert negative, "without a negative coefficient, dropping always reaches a plan"
        return
    choice = plan(priced, found)
    assert problem.violations(choice) == []
    assert found.value == pytest.approx(problem.objective(choice), abs=1e-9)
    best = brute_force(problem)
    assert best is not None and found.value <= best + 1e-9
    kept = price_out(priced, start.prices).choice
    assert np.all((choice == kept) | (choice == -1))
    assert np.array_equal(np.flatnonzero(choice != kept), found.moved)

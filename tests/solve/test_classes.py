"""optimizer/solve/classes.py: customers with identical rows solved as classes with integer counts.

The classes are found exactly (a key collision or a one-bit difference is not a class), the class
problem's plan agrees with brute force over every per-customer plan, and a 60,000-customer
instance of 8 distinct rows is proven optimal in well under a second of solving."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from instances import assert_plan_and_bound, brute_force, random_problem, tied

from optimizer.solve import classes
from optimizer.solve.classes import find_classes, plan_of, solve_classes
from optimizer.solve.clock import Clock
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.results import SolutionStatus, Termination
from optimizer.solve.solver import solve


def segment_problem(n: int, segments: int, k: int, seed: int) -> Problem:
    """``n`` customers in ``segments`` segments of identical scores (a cell model's output), a
    budget, a campaign budget, a minimum and a maximum audience and a capacity."""
    rng = np.random.default_rng(seed)
    segment = rng.integers(0, segments, size=n)
    value = np.round(rng.normal(2.0, 3.0, size=(segments, k)), 3)[segment]
    spend = rng.choice([0.5, 1.0, 2.5, 4.0], size=(segments, k))[segment]
    eligible = (rng.random((segments, k)) < 0.8)[segment]
    everyone = np.ones(k, bool)
    rows = (
        CouplingRow("budget", "budget", Sense.LE, 0.3 * n, "spend", everyone),
        CouplingRow("budget[k1]", "campaign_budget", Sense.LE, 0.05 * n, "spend", np.arange(k) == 1),
        CouplingRow("min_audience[k0]", "min_audience", Sense.GE, round(0.05 * n), COUNT, np.arange(k) == 0),
        CouplingRow("max_audience[k2]", "max_audience", Sense.LE, round(0.1 * n), COUNT, np.arange(k) == 2),
        CouplingRow("capacity[sms]", "channel_capacity", Sense.LE, round(0.2 * n), COUNT, np.arange(k) >= k - 2),
    )
    return Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object), campaign_ids=tuple(f"k{j}" for j in range(k)),
        channels=("email",) * (k - 2) + ("sms",) * 2, pair_value=value, spend=spend, eligible=eligible,
        treated_share=np.ones(k), rows=rows, weights={"spend": spend},
    )


def test_a_segment_model_instance_is_proven_optimal_fast() -> None:
    problem = segment_problem(60_000, 8, 5, seed=1)
    started = time.perf_counter()
    result = solve(problem, SolverOptions(time_limit_s=60))
    seconds = time.perf_counter() - started
    assert result.method == "classes" and result.termination is Termination.OPTIMAL
    assert result.gap <= 1e-6
    assert_plan_and_bound(problem, result)
    assert result.shadow_prices is not None and len(result.shadow_prices) == len(problem.rows)
    assert seconds < 30, f"{seconds:.1f} s: the class problem is 8 x 5 integers"  # generous: a shared machine


@pytest.mark.parametrize("seed", range(40))
def test_classes_agree_with_brute_force_on_shrunk_copies(seed: int) -> None:
    """The same rows as a segment instance, one to three customers each: small enough to enumerate."""
    rng = np.random.default_rng(seed)
    distinct = random_problem(rng, n=int(rng.integers(2, 4)), k=int(rng.integers(1, 4)))
    problem = tied(distinct, rng.integers(1, 4, size=distinct.n_customers))
    if problem.n_customers > 8:
        problem = tied(distinct, np.ones(distinct.n_customers, dtype=int) * 2)
    best = brute_force(problem)
    found = find_classes(priced_problem(problem), most=problem.n_customers)
    assert found is not None and found.size <= distinct.n_customers
    result = solve_classes(priced_problem(problem), found, SolverOptions())
    if best is None:
        assert result.termination is Termination.INFEASIBLE and result.status is SolutionStatus.NONE
        return
    assert result.termination is Termination.OPTIMAL
    assert_plan_and_bound(problem, result, best)
    assert result.objective == pytest.approx(best, abs=1e-6)


def test_classes_and_the_decomposition_agree_on_a_tie_instance() -> None:
    problem = segment_problem(20_000, 6, 4, seed=3)
    by_classes = solve(problem, SolverOptions())
    per_customer = solve_decompose(problem, SolverOptions(time_limit_s=120))
    assert by_classes.method == "classes" and per_customer.method == "decompose"
    assert per_customer.termination is Termination.OPTIMAL
    assert by_classes.objective == pytest.approx(per_customer.objective, rel=1e-6)


def test_rows_that_differ_in_one_bit_are_different_classes() -> None:
    problem = segment_problem(2_000, 3, 3, seed=4)
    priced = priced_problem(problem)
    before = find_classes(priced)
    assert before is not None and before.size <= 3
    value = priced.value.copy()
    value[7, 0] = np.nextafter(value[7, 0], np.inf)  # one customer, one bit
    after = find_classes(type(priced)(**{**priced.__dict__, "value": value}))
    assert after is not None and after.size == before.size + 1
    assert after.counts[after.members[7]] == 1, "the changed customer is a class of its own"


def test_a_key_collision_is_not_taken_for_a_class(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = segment_problem(1_000, 4, 3, seed=5)
    monkeypatch.setattr(classes, "row_keys", lambda priced, rows: np.zeros(rows.size, dtype=np.uint64))
    assert find_classes(priced_problem(problem)) is None  # every row shares a key, the check sees they differ


def test_customers_without_ties_are_not_classes() -> None:
    rng = np.random.default_rng(6)
    problem = random_problem(rng, n=8, k=3)
    assert find_classes(priced_problem(problem)) is None


def test_plan_of_gives_each_class_its_counts_in_table_order() -> None:
    found = classes.Classes(members=np.array([0, 1, 0, 0, 1]), first=np.array([0, 1]), counts=np.array([3, 2]))
    choice = plan_of(found, np.array([0, 0, 1]), np.array([1, 0, 1]), np.array([1, 2, 1]))
    # class 0 (customers 0, 2, 3): 2 of campaign 0 then 1 of campaign 1; class 1 (1, 4): 1 of campaign 1
    assert choice.tolist() == [0, 1, 0, 1, -1]


def test_plan_of_hands_out_each_class_in_the_order_of_its_tie_keys() -> None:
    found = classes.Classes(members=np.array([0, 1, 0, 0, 1]), first=np.array([0, 1]), counts=np.array([3, 2]))
    keys = np.array([30, 5, 10, 20, 1], dtype=np.uint64)  # class 0 by key: 2, 3, 0; class 1: 4, 1
    choice = plan_of(found, np.array([0, 0, 1]), np.array([1, 0, 1]), np.array([1, 2, 1]), keys)
    assert choice.tolist() == [1, -1, 0, 0, 1]


def test_rows_of_whole_numbers_in_thousands_of_classes_are_told_apart() -> None:
    """Whole-number floats have all-zero low bits; every distinct row is still its own class (a
    key that folded whole words by FNV-1a alone kept 16 bits of them and gave up at ~300 classes)."""
    rng = np.random.default_rng(5)
    distinct = rng.choice([-1.0, 0.0, 3.0, 5.0, 8.0, -np.inf], size=(3_000, 6))
    distinct = np.unique(distinct, axis=0)
    problem = segment_problem(distinct.shape[0] * 2, 2, 6, 5)
    value = np.repeat(distinct, 2, axis=0)
    priced = priced_problem(problem)
    counts = np.full(len(priced.rows), -1)  # every row a count: the values alone tell customers apart
    priced = type(priced)(**{**priced.__dict__, "value": np.ascontiguousarray(value), "row_weight": counts,
                             "weights": np.zeros((0, 1, 6))})
    found = find_classes(priced, most=10_000)
    assert found is not None and found.size == distinct.shape[0] and np.all(found.counts == 2)
    assert find_classes(priced) is None  # half as many classes as customers: the count MIP would not pay


def test_the_elastic_class_lp_prices_a_row_no_plan_meets_at_its_penalty() -> None:
    """A minimum audience above every eligible customer: the row is broken, its dual the penalty."""
    problem = segment_problem(2_000, 6, 4, 8)
    rows = tuple(row if row.sense is not Sense.GE else CouplingRow(row.name, row.family, Sense.GE, 5_000.0,
                                                                   row.weight, row.campaigns) for row in problem.rows)
    priced = priced_problem(Problem(**{**problem.__dict__, "rows": rows}))
    found = find_classes(priced)
    penalties = np.full(len(rows), 7.0)
    priced_rows = classes.class_prices(priced, found, penalties, Clock.start(10))
    assert priced_rows is not None and 2 in priced_rows.broken
    assert priced_rows.prices[2] == pytest.approx(-7.0)
    assert np.all(np.abs(priced_rows.prices) <= penalties + 1e-9)


def test_kept_rows_are_classed_by_the_options_kept_and_their_values_alone() -> None:
    """Customers 0 and 1 differ only in an option neither keeps; 2 keeps the same options with
    another value; 3 keeps one option more: three classes."""
    value = np.array([[3.0, 5.0, 1.0], [3.0, 5.0, 8.0], [3.0, 4.0, 1.0], [3.0, 5.0, 1.0]], dtype=np.float32)
    keep = np.array([[True, True, False], [True, True, False], [True, True, False], [True, True, True]])
    found = classes.kept_classes(value, keep, most=10)
    assert found is not None and found.size == 3
    assert found.members[0] == found.members[1] and len({*found.members[[0, 2, 3]]}) == 3
    assert classes.kept_classes(value, keep, most=2) is None


def test_a_count_mip_that_ignores_its_limit_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """From IN_CHILD_FROM pairs the count MIP runs in a child process killed a grace after the time
    left: a HiGHS step that does not look at the clock (here a sleep) ends as out of time, no plan."""
    pairs = classes.IN_CHILD_FROM
    model = classes._CountModel(np.ones(pairs), np.ones(pairs), sp.csr_matrix(np.ones((1, pairs))), np.zeros(1),
                                np.full(1, 3.0))
    monkeypatch.setattr(classes, "_count_mip", lambda *args: time.sleep(30))
    started = time.perf_counter()
    counts, _, bound, termination = classes._integer_counts(model, SolverOptions(), Clock(time.perf_counter(), 0.5))
    assert time.perf_counter() - started < 2.0
    assert counts is None and bound is None and termination is Termination.TIME_LIMIT
    monkeypatch.undo()
    counts, value, _, termination = classes._integer_counts(model, SolverOptions(), Clock(time.perf_counter(), 30))
    assert termination is Termination.OPTIMAL and counts.sum() == 3 and value == 3.0

"""The array-based Problem on a 3 × 2 instance whose every figure is worked out by hand.

Customers a, b, c; campaigns x (share treated 1.0) and y (share treated 0.5):

    pair_value   x   y      value = (1 - f) v   x     y      spend   x  y     eligible  x  y
         a       4  -1                a         4  -0.5        a     1  2        a      T  T
         b       2   3                b         2   1.5        b     3  4        b      T  F
         c      -2   5                c        -2   2.5        c     5  6        c      F  T

Rows: budget (spend, both campaigns) <= 9; min_audience[y] (count, y only) >= 1;
mix (weights w below, both campaigns) == 5, w = [[1, -1], [2, 0], [0, 3]].
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer.solve.problem import COUNT, NO_CAMPAIGN, CouplingRow, Problem, Sense

BOTH, ONLY_Y = np.array([True, True]), np.array([False, True])
BUDGET = CouplingRow("budget", "budget", Sense.LE, 9.0, "spend", BOTH)
MIN_Y = CouplingRow("min_audience[y]", "min_audience", Sense.GE, 1.0, COUNT, ONLY_Y)
MIX = CouplingRow("mix", "custom", Sense.EQ, 5.0, "custom:mix", BOTH)


@pytest.fixture
def problem() -> Problem:
    spend = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    return Problem(
        customer_ids=np.array(["a", "b", "c"], dtype=object),
        campaign_ids=("x", "y"),
        channels=("email", "sms"),
        pair_value=np.array([[4.0, -1.0], [2.0, 3.0], [-2.0, 5.0]]),
        spend=spend,
        eligible=np.array([[True, True], [True, False], [False, True]]),
        treated_share=np.array([1.0, 0.5]),
        rows=(BUDGET, MIN_Y, MIX),
        weights={"spend": spend, "custom:mix": np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 3.0]])},
    )


def plan(*campaigns: str | None) -> np.ndarray:
    index = {"x": 0, "y": 1, None: NO_CAMPAIGN}
    return np.array([index[c] for c in campaigns])


def test_value_is_pair_value_times_treated_share(problem: Problem):
    assert problem.value.tolist() == [[4.0, -0.5], [2.0, 1.5], [-2.0, 2.5]]


def test_coefficients_of_a_weight_row_and_a_count_row(problem: Problem):
    assert problem.coefficients(BUDGET).tolist() == [[1, 2], [3, 4], [5, 6]]
    assert problem.coefficients(MIN_Y).tolist() == [[0, 1], [0, 1], [0, 1]]
    masked = dataclasses.replace(MIX, campaigns=np.array([True, False]))
    assert problem.coefficients(masked).tolist() == [[1, 0], [2, 0], [0, 0]]


@pytest.mark.parametrize(
    ("choice", "activity", "objective"),
    [
        (plan(None, None, None), [0, 0, 0], 0.0),
        (plan("x", None, "y"), [1 + 6, 1, 1 + 3], 4 + 2.5),
        (plan(None, "x", "y"), [3 + 6, 1, 2 + 3], 2 + 2.5),
        (plan("y", "x", None), [2 + 3, 1, -1 + 2], -0.5 + 2),
    ],
)
def test_row_activity_and_objective(problem: Problem, choice, activity, objective):
    assert problem.row_activity(choice).tolist() == activity
    assert problem.objective(choice) == pytest.approx(objective)


def test_violations_name_each_broken_row(problem: Problem):
    assert problem.violations(plan(None, "x", "y")) == []
    broken = problem.violations(plan("x", None, "y"))
    assert broken == ["mix: 4 == 5 does not hold"]
    # budget 1 + 3 + 5 = 9 <= 9 holds exactly; c is not eligible for x
    assert problem.violations(plan("x", "x", "x")) == [
        "customer c is not eligible for x",
        "min_audience[y]: 0 >= 1 does not hold",
        "mix: 3 == 5 does not hold",
    ]
    assert problem.violations(plan("y", "x", "y")) == ["budget: 11 <= 9 does not hold", "mix: 4 == 5 does not hold"]


def test_violations_of_the_empty_plan(problem: Problem):
    assert problem.violations(plan(None, None, None)) == [
        "min_audience[y]: 0 >= 1 does not hold",
        "mix: 0 == 5 does not hold",
    ]


def test_ineligible_pair_is_reported_even_when_rows_hold(problem: Problem):
    unconstrained = dataclasses.replace(problem, rows=())
    assert unconstrained.violations(plan(None, "y", None)) == ["customer b is not eligible for y"]


@pytest.mark.parametrize(
    ("sense", "lhs", "holds"),
    [
        (Sense.LE, 9.0 + 8e-6, True),  # within 1e-6 × |rhs|
        (Sense.LE, 9.0 + 1e-4, False),
        (Sense.GE, 9.0 - 8e-6, True),
        (Sense.GE, 9.0 - 1e-4, False),
        (Sense.EQ, 9.0 - 8e-6, True),
        (Sense.EQ, 9.0 + 1e-4, False),
    ],
)
def test_satisfied_uses_a_tolerance_relative_to_the_rhs(sense, lhs, holds):
    assert CouplingRow("r", "custom", sense, 9.0, COUNT, BOTH).satisfied(lhs) is holds


def pairs(problem: Problem) -> set[tuple[int, int]]:
    customers, campaigns = problem.candidate_pairs()
    return set(zip(customers.tolist(), campaigns.tolist()))


def with_rows(problem: Problem, *rows: CouplingRow, weight: np.ndarray | None = None) -> Problem:
    weights = {**problem.weights, "w": weight} if weight is not None else problem.weights
    return dataclasses.replace(problem, rows=rows, weights=weights)


# The only negative-value eligible pair is (a, y), value -0.5; (c, x) is negative but ineligible.
POSITIVE = {(0, 0), (1, 0), (2, 1)}
A_Y = (0, 1)


def test_candidate_pairs_without_rows_are_the_eligible_positive_pairs(problem: Problem):
    assert pairs(with_rows(problem)) == POSITIVE


def test_candidate_pairs_keep_a_negative_pair_that_helps_a_ge_row(problem: Problem):
    assert pairs(with_rows(problem, MIN_Y)) == POSITIVE | {A_Y}
    harmful = np.array([[0.0, -1.0], [0.0, 0.0], [0.0, 0.0]])
    floor = CouplingRow("floor", "custom", Sense.GE, 0.0, "w", BOTH)
    assert pairs(with_rows(problem, floor, weight=harmful)) == POSITIVE


def test_candidate_pairs_drop_a_negative_pair_that_only_uses_a_le_row(problem: Problem):
    assert pairs(with_rows(problem, BUDGET)) == POSITIVE


def test_candidate_pairs_keep_a_negative_pair_with_a_negative_le_coefficient(problem: Problem):
    helpful = np.array([[0.0, -2.0], [1.0, 1.0], [1.0, 1.0]])
    cap = CouplingRow("cap", "custom", Sense.LE, 0.0, "w", BOTH)
    assert pairs(with_rows(problem, cap, weight=helpful)) == POSITIVE | {A_Y}


def test_candidate_pairs_keep_a_negative_pair_in_an_eq_row_only_if_it_enters(problem: Problem):
    assert pairs(with_rows(problem, MIX)) == POSITIVE | {A_Y}
    outside = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    exact = CouplingRow("exact", "custom", Sense.EQ, 1.0, "w", BOTH)
    assert pairs(with_rows(problem, exact, weight=outside)) == POSITIVE


def test_candidate_pairs_drop_zero_value_pairs_and_never_keep_ineligible_ones(problem: Problem):
    zero = dataclasses.replace(problem, pair_value=np.array([[0.0, -1.0], [2.0, 3.0], [-2.0, 5.0]]), rows=())
    assert pairs(zero) == POSITIVE - {(0, 0)}
    everything = np.ones((3, 2))
    floor = CouplingRow("floor", "custom", Sense.GE, 1.0, "w", BOTH)
    assert pairs(with_rows(problem, floor, weight=everything)) == {(0, 0), (0, 1), (1, 0), (2, 1)}

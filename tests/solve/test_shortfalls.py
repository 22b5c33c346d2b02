"""optimizer/solve/shortfalls.py: conflicts seen without solving."""

from __future__ import annotations

from functools import reduce
from operator import add

import numpy as np
import pytest
from instances import brute_force, random_problem, two_minimums

from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import CouplingRow, Sense
from optimizer.solve.results import Termination
from optimizer.solve.shortfalls import cheapest_uses, describe_shortfall, obvious_conflicts
from optimizer.solve.solver import solve


def test_minimum_audiences_cheapest_customers_name_the_shortfall() -> None:
    """The cheapest two of each campaign cost 1 + 2 and 10 + 20: 33 is the least any plan spends."""
    [shortfall] = obvious_conflicts(two_minimums(budget=30.0))
    assert shortfall.least == pytest.approx(33.0)
    assert [row.name for row in shortfall.needs] == ["min_audience[a]", "min_audience[b]"]
    text = describe_shortfall(shortfall)
    assert "need at least 33 of budget (<= 30, budget)" in text and "raise budget by at least 3 (to 33; a plan may need more" in text
    assert obvious_conflicts(two_minimums(budget=33.0)) == []


def test_a_limit_a_negative_coefficient_can_make_room_on_is_no_obvious_conflict() -> None:
    """Campaign b's customers take 5 off the row that campaign a's minimum needs 2 of: a plan exists."""
    problem = two_minimums(budget=33.0)
    spend = problem.spend.copy()
    spend[:, 1] = -5.0
    net = CouplingRow("net", "custom", Sense.LE, 1.0, "spend", np.array([True, True]), "net")
    rows = (problem.rows[0], net)
    problem = type(problem)(**{**problem.__dict__, "spend": spend, "weights": {"spend": spend}, "rows": rows})
    assert obvious_conflicts(problem) == []
    assert brute_force(problem) is not None


def test_a_tight_but_not_obvious_conflict_is_left_to_the_solver() -> None:
    """33 would do if the two campaigns could share customers 0 and 1; they cannot (34 + ... ), which
    only the solver proves."""
    problem = two_minimums(budget=33.0)
    assert obvious_conflicts(problem) == []
    assert solve(problem, SolverOptions()).termination is Termination.INFEASIBLE


def customers_of(problem, rows: np.ndarray):
    """The problem over some of its customers (a partition of them)."""
    weights = {name: weight[rows] for name, weight in problem.weights.items()}
    return type(problem)(**{**problem.__dict__, "customer_ids": problem.customer_ids[rows],
                            "pair_value": problem.pair_value[rows], "spend": weights["spend"],
                            "eligible": problem.eligible[rows], "weights": weights})


@pytest.mark.parametrize("seed", range(40))
def test_cheapest_uses_added_up_over_partitions_find_the_whole_problems_conflicts(seed: int) -> None:
    """Split the customers anywhere: the partitions' uses, added up, name the same shortfalls with
    the same least use as the whole problem (a --dask run checks them so)."""
    rng = np.random.default_rng(seed)
    problem = random_problem(rng, n=int(rng.integers(2, 30)), k=int(rng.integers(1, 4)))
    order = rng.permutation(problem.n_customers)
    cuts = np.sort(rng.choice(np.arange(1, problem.n_customers), size=min(2, problem.n_customers - 1), replace=False))
    pieces = [customers_of(problem, np.sort(rows)) for rows in np.split(order, cuts)]
    whole, added = obvious_conflicts(problem), reduce(add, map(cheapest_uses, pieces)).shortfalls()
    assert [(s.limit.name, [r.name for r in s.needs]) for s in added] == \
        [(s.limit.name, [r.name for r in s.needs]) for s in whole]
    assert [s.least for s in added] == pytest.approx([s.least for s in whole], rel=1e-12)


def test_the_split_check_finds_a_conflict_no_partition_shows_alone() -> None:
    """Each half of two_minimums(30) holds 3 customers; only together do the cheapest 2 + 2 cost 33."""
    halves = [customers_of(two_minimums(30.0), rows) for rows in (np.array([0, 2, 4]), np.array([1, 3, 5]))]
    [shortfall] = (cheapest_uses(halves[0]) + cheapest_uses(halves[1])).shortfalls()
    assert shortfall.least == pytest.approx(33.0)

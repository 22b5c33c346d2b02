"""optimizer/solve/shortfalls.py: conflicts seen without solving."""

from __future__ import annotations

import numpy as np
import pytest
from instances import brute_force, two_minimums

from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import CouplingRow, Sense
from optimizer.solve.results import Termination
from optimizer.solve.shortfalls import describe_shortfall, obvious_conflicts
from optimizer.solve.solver import solve


def test_minimum_audiences_cheapest_customers_name_the_shortfall() -> None:
    """The cheapest two of each campaign cost 1 + 2 and 10 + 20: 33 is the least any plan spends."""
    [shortfall] = obvious_conflicts(two_minimums(budget=30.0))
    assert shortfall.least == pytest.approx(33.0)
    assert [row.name for row in shortfall.needs] == ["min_audience[a]", "min_audience[b]"]
    text = describe_shortfall(shortfall)
    assert "need at least 33 of budget (<= 30, budget)" in text and "raise budget by at least 3 (to 33)" in text
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

"""optimizer/solve/fixed.py: customers settled before the solve (forced lists), checked against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from instances import all_plans, problems, two_minimums

from optimizer.solve.fixed import overused, with_fixed, without_fixed
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import Termination
from optimizer.solve.solver import solve


def forced_brute_force(problem: Problem, fixed: np.ndarray) -> float | None:
    """Best value over every plan meeting every row that gives each settled customer its campaign,
    a settled customer worth its whole v (never held out), the others (1 - f_j) v; None if none."""
    settled = fixed != NO_CAMPAIGN
    best = None
    for plan in all_plans(problem, problem.eligible | (fixed[:, None] == np.arange(problem.n_campaigns))):
        if np.any(plan[settled] != fixed[settled]) or problem.violations(plan):
            continue
        rest = np.where(settled, NO_CAMPAIGN, plan)
        value = problem.objective(rest) + sum(problem.pair_value[i, fixed[i]] for i in np.flatnonzero(settled))
        best = value if best is None else max(best, value)
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), data=st.data())
def test_settled_customers_and_the_rest_solve_to_the_brute_force_optimum(problem: Problem, data) -> None:
    """Random settled customers (each on an eligible campaign), any rows: the joined plan gives them
    their campaigns, breaks no row, and is worth the best such plan; infeasible exactly when none is."""
    fixed = np.full(problem.n_customers, NO_CAMPAIGN)
    for i in range(problem.n_customers):
        options = np.flatnonzero(problem.eligible[i])
        if options.size and data.draw(st.booleans()):
            fixed[i] = int(options[data.draw(st.integers(0, options.size - 1))])
    best = forced_brute_force(problem, fixed)
    result = solve(problem, SolverOptions(), fixed=fixed)
    if best is None:
        assert result.termination is Termination.INFEASIBLE and result.choice is None
        return
    assert result.choice is not None and problem.violations(result.choice) == []
    settled = fixed != NO_CAMPAIGN
    assert np.array_equal(result.choice[settled], fixed[settled])
    assert result.objective == pytest.approx(best, abs=1e-6)
    assert result.bound >= result.objective - 1e-9


def test_the_rest_has_the_limits_the_settled_customers_leave() -> None:
    """Two customers settled on campaign a (spend 1 and 2) leave 30 - 3 of the budget and 2 - 2 of a's minimum."""
    problem = two_minimums(budget=30.0)
    fixed = np.full(problem.n_customers, NO_CAMPAIGN)
    fixed[[0, 1]] = 0
    rest = without_fixed(problem, fixed)
    assert [row.rhs for row in rest.rows] == pytest.approx(
        [row.rhs - used for row, used in zip(problem.rows, problem.row_activity(fixed))])
    assert not rest.eligible[[0, 1]].any() and np.array_equal(rest.eligible[2:], problem.eligible[2:])


def test_settled_value_is_the_whole_value_never_discounted_by_the_control_share() -> None:
    problem = two_minimums(budget=100.0)
    problem = Problem(**{**problem.__dict__, "treated_share": np.array([0.5, 0.5])})
    fixed = np.full(problem.n_customers, NO_CAMPAIGN)
    fixed[0] = 1
    result = with_fixed(solve(without_fixed(problem, fixed), SolverOptions()), problem, fixed)
    rest = np.where(fixed != NO_CAMPAIGN, NO_CAMPAIGN, result.choice)
    assert result.objective == pytest.approx(problem.objective(rest) + problem.pair_value[0, 1])


def test_overuse_is_named_only_where_no_other_customer_can_make_room() -> None:
    """Settled spend 1 + 2 + 30 over a budget of 5 is refused; on a row where another customer's
    coefficient is negative it is left to the solver."""
    problem = two_minimums(budget=5.0)
    fixed = np.full(problem.n_customers, NO_CAMPAIGN)
    fixed[[0, 1, 2]] = [0, 0, 1]
    [(row, use)] = overused(problem, fixed)
    assert row.name == "budget" and use == pytest.approx(33.0)
    spend = problem.spend.copy()
    spend[3:, :] = -20.0
    net = CouplingRow("net", "custom", Sense.LE, 5.0, "spend", np.array([True, True]), "net")
    roomy = Problem(**{**problem.__dict__, "spend": spend, "weights": {"spend": spend}, "rows": (net,)})
    assert overused(roomy, fixed) == []

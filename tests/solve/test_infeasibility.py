"""optimizer/solve/infeasibility.py: the elastic diagnosis within the time limit, and messages that
claim only what was proven."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from instances import all_plans, brute_force, medium_problem, random_problem, two_minimums

from optimizer.solve.clock import Clock
from optimizer.solve.exact import solve_exact
from optimizer.solve.infeasibility import Conflict, Diagnosis, describe_conflict, diagnose
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import Termination
from optimizer.solve.shortfalls import obvious_conflicts
from optimizer.solve.solver import solve


def competing_minimums(n: int = 18_000) -> Problem:
    """Two campaigns with the same spends and eligibility, each needing n // 6 customers, and a
    budget between what their cheapest customers cost counted twice (the check without solving
    sees no conflict) and what two different groups of customers cost (no plan exists)."""
    base = medium_problem(9, n=n, k=5)
    spend, eligible = base.spend.copy(), base.eligible.copy()
    spend[:, 3], eligible[:, 3] = spend[:, 0], eligible[:, 0]
    need = n // 6
    cheapest = np.sort(spend[eligible[:, 0], 0])
    budget = 0.5 * (2 * cheapest[:need].sum() + cheapest[:2 * need].sum())
    rows = (
        CouplingRow("budget", "budget", Sense.LE, round(budget, 2), "spend", np.ones(5, bool), "budget"),
        CouplingRow("min_audience[k0]", "min_audience", Sense.GE, need, COUNT, np.arange(5) == 0, "k0"),
        CouplingRow("min_audience[k3]", "min_audience", Sense.GE, need, COUNT, np.arange(5) == 3, "k3"),
    )
    return type(base)(**{**base.__dict__, "spend": spend, "eligible": eligible, "rows": rows,
                         "weights": {"spend": spend}})


def test_an_infeasible_scenario_is_diagnosed_within_a_ten_second_limit() -> None:
    """18,000 customers (the exact path): the diagnosis names the limits and the amounts, and the solve and the
    diagnosis together keep the limit."""
    problem = competing_minimums()
    assert obvious_conflicts(problem) == []
    clock = Clock.start(10.0)
    assert solve(problem, SolverOptions(time_limit_s=10.0)).termination is Termination.INFEASIBLE
    customers, campaigns = problem.candidate_pairs()
    diagnosis = diagnose(problem, customers, campaigns, clock)
    seconds = clock.elapsed()
    text = describe_conflict(diagnosis)
    assert seconds < 10.0 + 2.0, f"{seconds:.1f} s against a 10 s limit"
    assert "budget" in text and "min_audience[k0]" in text and "min_audience[k3]" in text
    assert any(change.row.name == "budget" and change.change > 0 for change in diagnosis.alone)
    assert "raise budget by" in text


def test_one_joint_change_is_never_called_impossible_alone() -> None:
    """The message that once read 'No single limit can fix it; ... raise budget by 453.66'."""
    budget = CouplingRow("budget", "budget", Sense.LE, 100.0, "spend", np.ones(2, bool), "budget")
    unsettled = Diagnosis([Conflict(budget, 453.66)], [], [])
    assert "No single limit can fix it" not in describe_conflict(unsettled)
    assert "No single limit was shown to fix it within the time limit" in describe_conflict(unsettled)
    assert "e.g. raise budget by 453.66, at least lets fractional plans meet every limit" in \
        describe_conflict(unsettled)
    proven = Diagnosis([Conflict(budget, 453.66)], [], [Conflict(budget, 453.7, sufficient=True)])
    assert "Any one of these changes makes a plan possible: raise budget by 453.7 (to 553.7)" in \
        describe_conflict(proven)
    impossible = Diagnosis([Conflict(budget, 453.66)], [], [], not_alone=[budget])
    assert "No single limit can fix it" in describe_conflict(impossible)


def test_diagnosis_keeps_a_tiny_limit() -> None:
    problem = two_minimums(budget=33.0)
    customers, campaigns = problem.candidate_pairs()
    started = time.perf_counter()
    diagnose(problem, customers, campaigns, Clock.start(0.01))
    assert time.perf_counter() - started < 2.0


def with_changes(problem: Problem, conflicts) -> Problem:
    """The problem with every conflicting row's rhs moved by the change the diagnosis asks for."""
    change = {conflict.row.name: conflict.change for conflict in conflicts}
    rows = tuple(dataclasses.replace(row, rhs=row.rhs + change.get(row.name, 0.0)) for row in problem.rows)
    return dataclasses.replace(problem, rows=rows)


def test_diagnose_a_floor_the_budget_cannot_pay_for():
    """30 customers at spend 1; min_audience 20 but a budget of 10.

    Either the floor drops by 10 (weighted cost 10/20) or the budget rises by 10 (cost 10/10);
    the least relaxation lowers the floor, and the budget is the limit it runs into.
    """
    n = 30
    spend = np.ones((n, 1))
    budget = CouplingRow("budget", "budget", Sense.LE, 10.0, "spend", np.array([True]))
    floor = CouplingRow("min_audience[x]", "min_audience", Sense.GE, 20.0, COUNT, np.array([True]))
    problem = Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object), campaign_ids=("x",), channels=("email",),
        pair_value=np.linspace(0.5, 3.0, n).reshape(n, 1), spend=spend, eligible=np.ones((n, 1), bool),
        treated_share=np.array([0.9]), rows=(budget, floor), weights={"spend": spend},
    )
    assert solve_exact(problem).termination is Termination.INFEASIBLE
    diagnosis = diagnose(problem, *problem.candidate_pairs(), Clock.start(60.0))
    assert [(c.row.name, pytest.approx(c.change, abs=1e-6)) for c in diagnosis.conflicts] == [("min_audience[x]", -10)]
    assert [row.name for row in diagnosis.binding] == ["budget"]
    repaired = solve_exact(with_changes(problem, diagnosis.conflicts))
    assert repaired.termination is Termination.OPTIMAL
    assert int((repaired.choice != NO_CAMPAIGN).sum()) == 10
    alone = {c.row.name: (c.change, c.sufficient) for c in diagnosis.alone}
    # a floor of customers is checked at the least change in whole customers (10, not 11: it suffices), a
    # budget 1 % beyond the least
    assert alone == {"min_audience[x]": (-10, True), "budget": (pytest.approx(10.1), True)}


def least_relaxation(problem: Problem) -> float:
    """Brute force: min over all plans of sum_r (violation of row r) / max(1, |b_r|)."""
    plans = all_plans(problem)
    customers = np.arange(problem.n_customers)
    total = np.zeros(len(plans))
    for row in problem.rows:
        lhs = np.c_[problem.coefficients(row), np.zeros(problem.n_customers)][customers, plans].sum(axis=1)
        excess = {Sense.LE: lhs - row.rhs, Sense.GE: row.rhs - lhs, Sense.EQ: np.abs(lhs - row.rhs)}[row.sense]
        total += np.maximum(excess, 0.0) / max(1.0, abs(row.rhs))
    return float(total.min())


def test_diagnosis_of_random_infeasible_instances_claims_only_what_holds():
    """The joint change is at most the least one over integer plans (brute force; it is the LP's);
    a single-row change called sufficient makes a plan possible, and one called 'at least' is
    indeed needed: a little less leaves no plan."""
    rng = np.random.default_rng(99)
    diagnosed = 0
    while diagnosed < 25:
        problem = random_problem(rng)
        if brute_force(problem) is not None:
            continue
        diagnosed += 1
        diagnosis = diagnose(problem, *problem.candidate_pairs(), Clock.start(60.0))
        assert diagnosis.conflicts, "an infeasible instance needs at least one change"
        cost = sum(abs(c.change) / max(1.0, abs(c.row.rhs)) for c in diagnosis.conflicts)
        assert cost <= least_relaxation(problem) + 1e-6
        for conflict in diagnosis.alone:
            if conflict.sufficient:
                assert brute_force(with_changes(problem, [conflict])) is not None, conflict.row.name
            else:
                short = Conflict(conflict.row, conflict.change * (1 - 1e-6))
                assert brute_force(with_changes(problem, [short])) is None, conflict.row.name
        for row in diagnosis.not_alone:  # no change of this row alone gives a plan, however large
            assert brute_force(with_changes(problem, [Conflict(row, 1e6 if row.sense is Sense.LE else -1e6)])) is None

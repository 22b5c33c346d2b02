"""Every solver on every kind of instance users bring, against brute force: a plan never breaks a row,
its bound is never below its objective nor below the optimum, and "no plan" is said only when none
exists or when >= limits kept the plans tried from being feasible within a tiny time limit.

Kinds: random rows of every family; segment-level ties (customers repeated); sparse integer values
(few distinct values and costs); near-infeasible (every limit just at what a plan can meet)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from instances import assert_plan_and_bound, brute_force, integer_valued, random_problem, tied

from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.options import Method, Precision, SolverOptions
from optimizer.solve.problem import Problem, Sense
from optimizer.solve.results import SolutionStatus, Termination
from optimizer.solve.solver import solve

KINDS = ("random", "ties", "integer", "tight")
SOLVERS = ("auto", "exact", "decompose", "tiny_limit")


def instance(kind: str, seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    if kind == "ties":
        distinct = random_problem(rng, n=int(rng.integers(2, 4)), k=int(rng.integers(1, 4)))
        return tied(distinct, rng.integers(1, 3, size=distinct.n_customers) + 1)
    problem = random_problem(rng, n=int(rng.integers(2, 8)), k=int(rng.integers(1, 4)))
    if kind == "integer":
        return integer_valued(problem, rng)
    if kind == "tight":
        return tightened(problem, rng)
    return problem


def tightened(problem: Problem, rng: np.random.Generator) -> Problem:
    """Each row's limit moved to what a random plan uses: some plans meet every row exactly."""
    choice = np.array([rng.choice([-1, *np.flatnonzero(allowed)]) for allowed in problem.eligible])
    activity = problem.row_activity(choice)
    rows = tuple(type(row)(**{**row.__dict__, "rhs": float(used)}) for row, used in zip(problem.rows, activity))
    return type(problem)(**{**problem.__dict__, "rows": rows})


def run(solver: str, problem: Problem):
    if solver == "exact":
        return solve_exact(problem, SolverOptions())
    if solver == "decompose":
        return solve_decompose(problem, SolverOptions())
    if solver == "tiny_limit":
        return solve(problem, SolverOptions(time_limit_s=0.001, method=Method.DECOMPOSE))
    return solve(problem, SolverOptions())


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), solver=st.sampled_from(SOLVERS), seed=st.integers(0, 2**32 - 1))
def test_every_solver_on_every_kind_keeps_the_rows_and_a_true_bound(kind: str, solver: str, seed: int) -> None:
    problem = instance(kind, seed)
    best = brute_force(problem)
    result = run(solver, problem)
    if result.status is SolutionStatus.NONE:
        if result.termination is Termination.INFEASIBLE:
            assert best is None, "infeasible is said only when no plan exists"
        else:  # out of time: only a scenario with >= or == limits may end without a plan
            assert solver == "tiny_limit" and any(row.sense is not Sense.LE for row in problem.rows)
        if result.bound is not None and best is not None:
            assert result.bound >= best - 1e-6 * max(1.0, abs(best))
        return
    assert best is not None
    assert_plan_and_bound(problem, result, best)
    if result.termination is Termination.OPTIMAL:
        assert result.objective >= best - 1e-6 * max(1.0, abs(best))


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32 - 1))
def test_float32_kept_arrays_give_a_plan_that_keeps_the_rows_within_rounding(kind: str, seed: int) -> None:
    """solver.precision float32: the plan is optimal for values and weights rounded to float32, so it
    keeps every row (to the 1e-6 relative tolerance plans are checked with) and is within the
    rounding (2^-24 relative per value, summed) of the optimum; the bound holds as much."""
    problem = instance(kind, seed)
    if kind in ("random", "tight"):  # weights float32 cannot hold, limits a plan meets exactly
        rng = np.random.default_rng(seed)
        weights = {name: w * 1.1 for name, w in problem.weights.items()}
        problem = type(problem)(**{**problem.__dict__, "weights": weights})
        if kind == "tight":
            problem = tightened(problem, rng)
    best = brute_force(problem)
    result = solve_decompose(problem, SolverOptions(precision=Precision.FLOAT32))
    if best is None:
        assert result.status is SolutionStatus.NONE
        return
    assert result.choice is not None and problem.violations(result.choice) == []
    rounding = 1e-6 * max(1.0, float(np.abs(problem.value[problem.eligible]).sum()))
    assert problem.objective(result.choice) >= best - rounding
    assert result.bound is not None and result.bound >= best - rounding

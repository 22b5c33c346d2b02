"""One HiGHS run of a Pyomo model: kept to its time limit in a child process, the same answer as in
this process, and started from a plan (never with presolve, which misreads a start in HiGHS 1.16)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from instances import brute_force, medium_problem, random_problem

from optimizer.solve import child, exact, highs_run
from optimizer.solve.exact import solve_exact, solve_full_model
from optimizer.solve.model import build_model, set_start
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import NO_CAMPAIGN
from optimizer.solve.results import Termination


def test_a_highs_run_that_ignores_its_limit_is_stopped_and_the_solve_keeps_its_plan(monkeypatch):
    """HiGHS does not check its limit everywhere (a root heuristic ran 13 s past 9 s): a run still
    going a grace after its limit is stopped, counts as out of time without a plan, and the
    exact solver returns the plan it had, within the limit."""
    problem = medium_problem(11, n=300)
    done = solve_exact(problem, SolverOptions())
    assert done.termination is Termination.OPTIMAL

    def stuck(*args: object) -> highs_run.HighsRun:
        time.sleep(60)  # in the child: HiGHS that never returns
        raise AssertionError("not stopped")

    monkeypatch.setattr(highs_run, "highs_here", stuck)
    started = time.perf_counter()
    run = highs_run.run_highs(build_model(problem, *problem.candidate_pairs()), SolverOptions(), 0.5, 0.0)
    assert time.perf_counter() - started < 0.5 + child.grace(0.5) + 0.5
    assert run == highs_run.HighsRun(Termination.TIME_LIMIT, None, None)

    started = time.perf_counter()
    result = solve_exact(problem, SolverOptions(time_limit_s=2.0))
    assert time.perf_counter() - started < 2.0 + 1.0  # a grace of 0.25 + 0.1 × the run's limit, and a margin
    assert result.choice is not None and not problem.violations(result.choice)
    assert result.bound >= done.objective - 1e-6 >= result.objective - 1e-6


def test_a_highs_run_in_its_child_process_returns_what_it_would_here():
    problem = medium_problem(12, n=200)
    model = build_model(problem, *problem.candidate_pairs())
    there = highs_run.run_highs(model, SolverOptions(), 30.0, 0.0)
    here = highs_run.highs_here(model, SolverOptions(), 30.0, 0.0)
    assert there.termination is here.termination is Termination.OPTIMAL
    assert there.bound == pytest.approx(here.bound) and np.array_equal(there.chosen, here.chosen)


def test_a_highs_process_that_dies_gives_no_plan_and_the_solve_still_returns_one(monkeypatch):
    import os
    import signal

    problem = medium_problem(13, n=200)

    def killed(*args: object) -> highs_run.HighsRun:
        os.kill(os.getpid(), signal.SIGKILL)  # in the child: as the out-of-memory killer would
        raise AssertionError("not killed")

    monkeypatch.setattr(highs_run, "highs_here", killed)
    run = highs_run.run_highs(build_model(problem, *problem.candidate_pairs()), SolverOptions(), 5.0, 0.0)
    assert run == highs_run.HighsRun(Termination.ERROR, None, None)
    result = solve_exact(problem, SolverOptions(time_limit_s=5.0))
    assert result.choice is not None and not problem.violations(result.choice)


def test_a_start_comes_back_when_the_run_has_no_time_to_find_better():
    """The optimum as the start of a run stopped at once: the run returns it (a plan it did not
    have to find), and with time it proves it."""
    problem = medium_problem(15, n=300)
    best = solve_exact(problem, SolverOptions())
    assert best.termination is Termination.OPTIMAL
    customers, campaigns = problem.candidate_pairs()
    model = build_model(problem, customers, campaigns)
    set_start(model, best.choice[customers] == campaigns, campaigns)
    run = highs_run.highs_here(model, SolverOptions(), 1e-3, 0.0)
    assert run.chosen is not None
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    choice[customers[run.chosen]] = campaigns[run.chosen]
    assert problem.violations(choice) == [] and problem.objective(choice) == pytest.approx(best.objective)
    proven = solve_full_model(problem, SolverOptions(), 30.0, 0.0, best.choice)
    assert proven.termination is Termination.OPTIMAL and proven.objective == pytest.approx(best.objective)


def presolve_misread_start():
    """Seven pairs where HiGHS 1.16 with presolve reads the start (a plan of 8.559) as 11.835 "in the
    reduced space" and returns it as optimal; the optimum is 10.161."""
    rng = np.random.default_rng(1001)
    for _ in range(93):
        problem = random_problem(rng)
    return problem, np.array([0, -1, -1, -1, -1, -1, 1, 0])


def test_a_start_is_not_handed_to_highs_with_presolve():
    problem, start = presolve_misread_start()
    assert problem.violations(start) == [] and problem.objective(start) == pytest.approx(8.559)
    assert brute_force(problem) == pytest.approx(10.161)
    for presolve in (True, False):
        options = SolverOptions().model_copy(update={"presolve": presolve})
        result = solve_full_model(problem, options, 30.0, 0.0, start)
        assert result.termination is Termination.OPTIMAL and result.objective == pytest.approx(10.161)


def test_the_exact_solver_on_the_misread_start_instance_is_optimal(monkeypatch):
    """A core of one pair (so the plan is improved from a start, then widened) still finds 10.161."""
    monkeypatch.setattr(exact, "CORE_PAIRS", 1)
    problem, _ = presolve_misread_start()
    result = solve_exact(problem, SolverOptions())
    assert result.termination is Termination.OPTIMAL and result.objective == pytest.approx(10.161)

"""The neighbourhood search: what each round frees, when the rounds stop, and that its plan is
feasible and never worse than the one it started from."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from instances import medium_problem

from optimizer.solve import exact, neighbourhoods
from optimizer.solve.clock import Clock, cpu_seconds
from optimizer.solve.exact import solve_exact
from optimizer.solve.neighbourhoods import improve
from optimizer.solve.options import SolverOptions
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.results import SolutionStatus, SolveResult, Termination

PAIRS = 2_000


def plan(objective: float) -> SolveResult:
    return SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, np.zeros(3, dtype=np.intp), objective,
                       100.0, 0.0, 0.0, "exact", PAIRS)


def search(solve_core, start: SolveResult | None = None, target: float = 100.0, limit: float = 60.0,
           clock: Clock | None = None):
    """improve() over PAIRS pairs of four campaigns, a plan proven once its objective reaches ``target``
    (on ``clock``, default one started now with ``limit``)."""
    rng = np.random.default_rng(0)
    distance, campaigns = rng.random(PAIRS), np.arange(PAIRS) % 4
    fractional = np.zeros(PAIRS, dtype=bool)
    fractional[[5, 17]] = True
    differs = lambda found: (np.arange(PAIRS) == 1_000) & (found is not None)  # noqa: E731
    proven = lambda found: found is not None and found.objective is not None and found.objective >= target  # noqa: E731
    return improve(distance, campaigns, fractional, start, differs, proven, solve_core,
                   clock or Clock.start(limit))


def test_each_round_frees_the_fractional_pairs_those_the_plan_changed_and_a_sample_of_every_campaign():
    cores = []

    def solve_core(core, floor, clock):
        cores.append(core.copy())
        return dataclasses.replace(floor, objective=floor.objective + 1.0)

    search(solve_core, plan(90.0))
    assert len(cores) == neighbourhoods.ROUNDS
    for core in cores:
        assert core[[5, 17, 1_000]].all()
        chosen = np.flatnonzero(core)
        assert np.bincount(chosen % 4).min() >= neighbourhoods.PER_CAMPAIGN
        assert core.sum() <= 4 * neighbourhoods.PER_CAMPAIGN + 3
    assert not all(np.array_equal(cores[0], core) for core in cores[1:]), "each round draws its own sample"


def test_the_rounds_stop_at_the_target_and_after_rounds_that_find_nothing_better():
    calls = []

    def reaching(core, floor, clock):
        calls.append(1)
        return plan(99.5)

    assert search(reaching, plan(90.0), target=99.0).objective == 99.5 and len(calls) == 1
    calls.clear()

    def stuck(core, floor, clock):
        calls.append(1)
        return floor

    assert search(stuck, plan(90.0)).objective == 90.0 and len(calls) == neighbourhoods.STALLED
    calls.clear()

    def nothing(core, floor, clock):
        calls.append(1)
        return SolveResult(Termination.INFEASIBLE, SolutionStatus.NONE, None, None, None, 0.0, 0.0, "exact", PAIRS)

    assert search(nothing) is None and len(calls) == neighbourhoods.STALLED


def test_the_rounds_leave_half_their_time_for_the_proof():
    calls = []

    def slow(core, floor, clock):
        calls.append(clock.limit)
        time.sleep(0.5)
        return dataclasses.replace(floor, objective=floor.objective + 1.0)

    search(slow, plan(90.0), limit=2.0)  # rounds at 0 s and 0.5 s; at 1.0 s half is left
    assert len(calls) == 2 and all(limit <= neighbourhoods.ROUND_SECONDS for limit in calls)


@pytest.mark.parametrize("seed", range(4))
def test_the_search_improves_a_plan_on_expected_spend_rows_and_keeps_every_row(seed: int):
    """medium_problem's rows weigh pairs by their spend: the search runs on the real cores, from the
    LP optimum rounded down, and ends with a feasible plan at least as good, below the LP bound."""
    problem = medium_problem(seed, n=600)
    customers, campaigns = problem.candidate_pairs()
    lp = solve_relaxation(problem, customers, campaigns)
    start = exact._rounded_plan(problem, customers, campaigns, lp, Clock.start(60.0))

    def solve_core(core, floor, clock):
        return exact._solve_core(problem, customers, campaigns, lp, core, SolverOptions(), clock, 0.0, floor)

    differs = lambda found: exact._differs(found, customers, campaigns, lp.x)  # noqa: E731
    found = improve(np.abs(lp.reduced_costs), campaigns, (lp.x > 1e-9) & (lp.x < 1 - 1e-9), start, differs,
                    lambda found: False, solve_core, Clock.start(60.0))
    assert found is not None and found.choice is not None and problem.violations(found.choice) == []
    assert found.objective == pytest.approx(problem.objective(found.choice))
    if start is not None:
        assert found.objective >= start.objective - 1e-9
    optimum = solve_exact(problem, SolverOptions())
    assert found.objective <= optimum.objective + 1e-6 <= lp.bound + 1e-6


def test_each_attempt_draws_its_own_pairs_and_a_repeated_attempt_the_same():
    """A caller's second search on the same customers (decompose's next master) does not redo the
    first one's rounds; the same attempt reproduces them (a run is repeatable)."""
    def first_core(attempt: int) -> np.ndarray:
        cores = []

        def solve_core(core, floor, clock):
            cores.append(core.copy())
            return floor

        rng = np.random.default_rng(0)
        distance, campaigns = rng.random(PAIRS), np.arange(PAIRS) % 4
        improve(distance, campaigns, np.zeros(PAIRS, dtype=bool), plan(90.0), lambda found: np.zeros(PAIRS, bool),
                lambda found: False, solve_core, Clock.start(60.0), attempt)
        return cores[0]

    assert np.array_equal(first_core(0), first_core(0))
    assert not np.array_equal(first_core(0), first_core(1))


def test_a_round_given_half_a_cpu_gives_the_next_twice_the_wall_time():
    """A round's HiGHS run that got half a CPU (here: busy half its time, asleep the other half) did
    half a round's work: the next round is given ROUND_SECONDS / 0.5 of wall time, so that it does
    a whole round's work on a loaded machine (up to ROUND_SECONDS / LEAST_SHARE)."""
    limits = []

    def half_busy(core, floor, clock):
        limits.append(clock.limit)
        until = time.perf_counter() + 0.15
        while time.perf_counter() < until:
            pass
        time.sleep(0.15)
        return dataclasses.replace(floor, objective=floor.objective + 1.0)

    search(half_busy, plan(90.0))
    assert limits[0] == pytest.approx(neighbourhoods.ROUND_SECONDS)
    assert all(1.5 * neighbourhoods.ROUND_SECONDS < limit <= neighbourhoods.ROUND_SECONDS / neighbourhoods.LEAST_SHARE
               for limit in limits[1:])


@pytest.mark.parametrize(("solve_cpu", "first"), [(None, 1.0), (1.0, 1.0), (0.7, 1 / 0.7), (0.4, 2.0), (0.2, 2.0)])
def test_the_first_round_is_given_the_share_of_a_cpu_the_solve_got_so_far(solve_cpu, first):
    """A solve 1 s old that used ``solve_cpu`` s of CPU (None: not measured) gives its first round
    ROUND_SECONDS over that share, the share at least FIRST_SHARE (0.4 s, 0.2 s: a client that
    waited on its cluster need not be on a loaded machine)."""
    limits = []

    def one_round(core, floor, clock):
        limits.append(clock.limit)
        return dataclasses.replace(floor, objective=100.0)

    cpu = None if solve_cpu is None else cpu_seconds() - solve_cpu
    search(one_round, plan(90.0), clock=Clock(time.perf_counter() - 1.0, 60.0, cpu))
    assert limits == [pytest.approx(neighbourhoods.ROUND_SECONDS * first, rel=0.05)]


@pytest.mark.parametrize(("wall", "cpu", "share"), [(1.0, 0.7, 0.7), (1.0, 1.3, 1.0), (1.0, 0.2, 0.25),
                                                     (0.1, 0.01, 0.9), (1.0, 0.05, 0.9)])
def test_the_share_of_a_cpu_a_round_got(wall, cpu, share):
    """CPU over wall, at most 1 and at least LEAST_SHARE; the last share after a round too short to
    tell (0.1 s) or one that hardly ran (0.05 s of CPU in 1 s)."""
    assert neighbourhoods._cpu_share(wall, cpu, 0.9) == pytest.approx(share)

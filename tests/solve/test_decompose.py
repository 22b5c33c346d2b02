"""Decomposition against brute force and against the exact solver.

On tiny instances every customer fits in the master, so these check the master LP, the core
and the bound. The medium instances shrink SAMPLE, COARSE, MASTER, MAX_JOINING and MAX_MOVERS so
that the hashed sample, the balancing passes, fixed customers joining the master, reduced-cost
fixing from Lagrangian margins and widening all run on problems the exact solver proves in a second.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from instances import (
    GAP,
    Standings,
    assert_agrees_with_exact,
    brute_force,
    budget_only,
    medium_problem,
    problems,
    random_problem,
)

from optimizer.solve import balancing, decompose, exact, master_core, neighbourhoods, pricing
from optimizer.solve.balancing import price_pass
from optimizer.solve.customers import Customers
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.keys import position_keys
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.master import MasterLP
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import Termination


def test_decompose_matches_brute_force_on_random_instances():
    rng = np.random.default_rng(11)
    for _ in range(80):
        problem = random_problem(rng)
        best = brute_force(problem)
        result = solve_decompose(problem, SolverOptions(mip_gap=GAP))
        if best is None:
            assert result.termination is Termination.INFEASIBLE
            continue
        assert result.termination is Termination.OPTIMAL
        assert problem.violations(result.choice) == []
        assert result.objective == pytest.approx(best, abs=GAP * max(1.0, abs(best)) + 1e-9)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_decompose_and_exact_agree_on_any_tiny_instance(problem: Problem):
    assert_agrees_with_exact(problem)


@pytest.fixture
def small_parts(monkeypatch):
    """Sample, master and joining limits small enough that every step of the loop runs."""
    monkeypatch.setattr(balancing, "SAMPLE", 60)
    monkeypatch.setattr(decompose, "MASTER", 25)
    monkeypatch.setattr(pricing, "MAX_JOINING", 15)
    monkeypatch.setattr(pricing, "MAX_MOVERS", 15)
    monkeypatch.setattr(exact, "CORE_PAIRS", 20)
    monkeypatch.setattr(neighbourhoods, "PER_CAMPAIGN", 20)
    monkeypatch.setattr(balancing, "COARSE", (40, 100))


@pytest.mark.parametrize("seed", range(4))  # 1.5-2 s each; the slow run's Hypothesis test below draws more
def test_fixed_customers_joining_the_master_reach_the_exact_optimum(small_parts, seed: int):
    assert_agrees_with_exact(medium_problem(seed))


@pytest.mark.slow  # 12-18 s in CI; screening and test_kinds compare decompose with exact in the default run
@settings(max_examples=15, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(30, 150))
def test_with_most_customers_fixed_decompose_and_exact_agree(seed: int, n: int):
    """Random weekly-plan instances where the master holds a fraction of the customers."""
    with pytest.MonkeyPatch.context() as patch:
        for module, name, value in ((decompose, "MASTER", 10), (pricing, "MAX_JOINING", 5), (pricing, "MAX_MOVERS", 5),
                                    (exact, "CORE_PAIRS", 8), (neighbourhoods, "PER_CAMPAIGN", 8)):
            patch.setattr(module, name, value)
        patch.setattr(balancing, "SAMPLE", 20)
        patch.setattr(balancing, "COARSE", (10, 40))
        assert_agrees_with_exact(medium_problem(seed, n=n))


def test_the_price_loop_brings_fixed_customers_into_the_master(small_parts, monkeypatch):
    joined = []
    original = pricing._price_round

    def spy(*args):
        latest, movers, least = original(*args)
        joined.append(movers.size)
        return latest, movers, least

    monkeypatch.setattr(pricing, "_price_round", spy)
    monkeypatch.setattr(balancing, "MAX_BALANCING", 1)  # leave the prices rough: the master must move them
    assert_agrees_with_exact(medium_problem(3))
    assert sum(joined) > 0


def test_a_price_loop_stopped_early_keeps_the_lowest_bound_seen(small_parts, monkeypatch):
    """Stopped after one master LP whose prices are worse than the balanced ones, with a core that
    proves nothing, the plan is bounded by the balanced prices' L(λ), not the last master's."""
    original = master_core.solve_with_relaxation

    def unbounded_core(*args, **kwargs):
        return replace(original(*args, **kwargs), bound=None)

    monkeypatch.setattr(master_core, "solve_with_relaxation", unbounded_core)
    monkeypatch.setattr(decompose, "MAX_WIDENINGS", 0)
    monkeypatch.setattr(pricing, "MAX_ROUNDS", 1)
    watcher = Standings()
    problem = medium_problem(3)
    result = solve_decompose(problem, SolverOptions(mip_gap=GAP), watcher)
    told = dict((phase, bound) for phase, _, bound in watcher.told)
    assert told["master LP 1"] > told["balanced prices"] + 1.0  # the case in point: the master's prices are worse
    best = solve_exact(problem, SolverOptions(mip_gap=GAP)).objective
    assert result.bound == pytest.approx(told["balanced prices"])
    assert best <= result.bound + 1e-9 and problem.violations(result.choice) == []


def test_an_infeasible_minimum_is_reported_as_infeasible(small_parts):
    problem = medium_problem(1)
    rows = (*problem.rows[:2], CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 10_000.0, COUNT,
                                           np.arange(4) == 0))
    problem = Problem(**{**problem.__dict__, "rows": rows})
    result = solve_decompose(problem)
    assert result.termination is Termination.INFEASIBLE and result.choice is None


def test_float32_scores_give_a_plan_feasible_in_float64():
    problem = medium_problem(5, n=300)
    priced = priced_problem(problem, np.float32)
    result = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    assert result.termination is Termination.OPTIMAL
    exact = solve_exact(problem, SolverOptions(mip_gap=GAP))
    assert result.objective == pytest.approx(exact.objective, rel=1e-5)


def test_the_position_keys_pick_a_uniform_share_of_customers():
    keys = position_keys(np.arange(100_000, dtype=np.uint64))
    chosen = keys < np.uint64(2**64 // 20)
    assert abs(chosen.sum() - 5_000) < 4 * np.sqrt(5_000)
    assert abs(chosen[:50_000].sum() - chosen[50_000:].sum()) < 4 * np.sqrt(5_000)


def test_a_time_limit_still_returns_a_plan_with_its_bound():
    problem = medium_problem(2, n=3_000, k=6)
    result = solve_decompose(problem, SolverOptions(time_limit_s=1.0, mip_gap=1e-12))
    assert result.choice is not None and problem.violations(result.choice) == []
    assert result.bound >= result.objective
    assert result.termination in (Termination.OPTIMAL, Termination.TIME_LIMIT)


def test_a_plan_the_screen_found_but_could_not_prove_is_kept_when_the_rest_finds_worse():
    """The screened decomposition's unproven plan (value 90) beats a repaired plan (60) or no plan;
    the bound stays the one proven over everyone, and a better plan found over everyone wins."""
    from optimizer.solve.clock import Clock
    from optimizer.solve.results import SolutionStatus, SolveResult

    empty = np.zeros(0, dtype=np.intp)
    screen_plan = master_core.PlanSpec(np.ones(2), empty, empty)
    repaired_plan = master_core.PlanSpec(np.zeros(2), empty, empty)
    repaired = SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, None, 60.0, 100.0, 0.0, 1.0,
                           "decompose", 0)
    clock, options = Clock.start(10.0), SolverOptions()
    result, plan = decompose._kept((repaired, repaired_plan), (90.0, screen_plan), options, clock)
    assert plan is screen_plan and result.objective == 90.0 and result.bound == 100.0
    assert result.status is SolutionStatus.FEASIBLE and result.termination is Termination.TIME_LIMIT
    assert result.gap == pytest.approx(10.0 / 90.0)

    none = SolveResult(Termination.TIME_LIMIT, SolutionStatus.NONE, None, None, None, 0.0, 1.0, "decompose", 0)
    result, plan = decompose._kept((none, None), (90.0, screen_plan), options, clock)
    assert plan is screen_plan and result.objective == 90.0 and result.bound is None

    better = SolveResult(Termination.OPTIMAL, SolutionStatus.OPTIMAL, None, 99.99999, 100.0, 0.0, 1.0, "decompose", 0)
    assert decompose._kept((better, repaired_plan), (90.0, screen_plan), options, clock) == (better, repaired_plan)


def test_a_master_lp_out_of_time_leaves_the_repair_the_lowest_l_the_rounds_found(small_parts, monkeypatch):
    """The master LP solves twice, then stops at the limit: the repair starts from the prices of
    the lowest L(λ) among the balanced prices and those two rounds, and that L is the bound."""
    seen, solves, repaired_from = [], [], []
    original_round, original_solve, original_repaired = pricing._price_round, MasterLP.solve, decompose._repaired

    def spy_round(*args):
        latest, movers, least = original_round(*args)
        seen.append(latest.bound)
        return latest, movers, least

    def two_solves(master, limit):
        solves.append(limit)
        return original_solve(master, limit) if len(solves) <= 2 else None

    def spy_repaired(customers, known, *rest):
        repaired_from.append(known)
        return original_repaired(customers, known, *rest)

    monkeypatch.setattr(pricing, "_price_round", spy_round)
    monkeypatch.setattr(MasterLP, "solve", two_solves)
    monkeypatch.setattr(decompose, "_repaired", spy_repaired)
    monkeypatch.setattr(balancing, "MAX_BALANCING", 1)  # rough prices: the rounds lower L
    problem = medium_problem(3)
    result = solve_decompose(problem, SolverOptions(mip_gap=1e-12))
    assert len(seen) == 2 and len(repaired_from) == 1
    assert repaired_from[0].bound <= min(seen) + 1e-9
    assert result.choice is not None and problem.violations(result.choice) == []
    assert result.objective <= result.bound <= repaired_from[0].bound + 1e-9
    monkeypatch.setattr(MasterLP, "solve", original_solve)
    assert result.bound >= solve_exact(problem).objective - 1e-6  # a bound, at the optimum or above


def test_a_screen_that_leaves_a_plan_out_of_time_keeps_it_with_one_pass_for_a_bound(monkeypatch):
    """The screen returns its unproven plan after the limit: no repair over everyone runs (at 10^7 ×
    20 under 5 s it took 5-6 s more for a plan 0.01 % better); one pass at the screen's prices
    bounds the plan."""
    problem = budget_only(300)  # a budget alone: the empty plan meets it
    priced = priced_problem(problem)
    prices = np.full(len(problem.rows), 0.5)
    nobody = np.arange(priced.n_customers)
    empty_plan = (0.0, master_core.PlanSpec(prices, nobody, np.full(nobody.size, NO_CAMPAIGN)))

    def late_screen(customers, sampled, options, clock):
        while not replace(clock, limit=options.time_limit_s).expired():  # the solve's own limit, not the screen's
            time.sleep(0.01)
        return decompose.Screened(prices, fallback=empty_plan)

    def no_repair(*args):
        raise AssertionError("a repair over everyone ran out of time")

    monkeypatch.setattr(decompose.screening, "applies", lambda customers, margins: True)
    monkeypatch.setattr(decompose, "_decompose_screened", late_screen)
    monkeypatch.setattr(decompose, "_repaired", no_repair)
    result = solve_decompose(priced, SolverOptions(time_limit_s=0.2))
    assert result.termination is Termination.TIME_LIMIT and result.objective == 0.0
    assert result.choice is not None and (result.choice == NO_CAMPAIGN).all()
    assert problem.violations(result.choice) == []
    assert result.bound == pytest.approx(price_pass(Customers(priced), prices).bound)


def test_a_plan_in_master_slots_keeps_its_choices_and_holds_the_joined_at_their_best():
    """decompose hands its best plan to the next master's core: the master customers it decided keep
    their campaign, those who joined since get their best at the plan's start prices (-1 when no
    campaign pays there), as the plan held them while they were fixed."""
    class Master:
        customers = np.array([40, 7, 12, 3])  # slots in joining order, global ids unsorted

        def best_at(self, prices):
            return np.array([1, 0, NO_CAMPAIGN, 1])

    plan = master_core.PlanSpec(np.zeros(2), np.array([3, 7]), np.array([0, NO_CAMPAIGN]))
    assert master_core.in_slots(Master(), plan).tolist() == [1, NO_CAMPAIGN, NO_CAMPAIGN, 0]
    assert master_core.in_slots(Master(), None) is None
    empty = master_core.PlanSpec(np.zeros(2), np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp))
    assert master_core.in_slots(Master(), empty).tolist() == [1, 0, NO_CAMPAIGN, 1]


@pytest.mark.parametrize("seed", range(3))
def test_each_master_starts_from_the_best_plan_and_a_stall_ends_with_a_last_core(small_parts, monkeypatch, seed):
    """Every master after the first gets the best plan so far as its floor: feasible in the new
    master's core and worth, with the customers still fixed, exactly the best plan's objective.
    Each core draws its own neighbourhoods (attempt); when two widenings find nothing new, a last
    core, with no bound to reach (least_bound -inf), uses the time left and the run stops."""
    cores, results = [], []
    original_core, original_relaxation = decompose.solve_core, master_core.solve_with_relaxation

    def core_spy(customers, master, state, start, options, clock, plan=None, attempt=0, last=False):
        found = original_core(customers, master, state, start, options, clock, plan, attempt, last)
        results.append((state.fixed_value, found[0].objective))
        return found

    def relaxation_spy(problem, customers, campaigns, lp, options, clock, allowed_gap, least_bound, floor, attempt):
        cores.append((problem, floor, attempt, least_bound))
        return original_relaxation(problem, customers, campaigns, lp, options, clock, allowed_gap, least_bound, floor,
                                   attempt)

    monkeypatch.setattr(decompose, "solve_core", core_spy)
    monkeypatch.setattr(master_core, "solve_with_relaxation", relaxation_spy)
    monkeypatch.setattr(decompose, "_moved", lambda result, reached: False)  # nothing ever moves: a stall
    monkeypatch.setattr(decompose.SolveResult, "proven", lambda self, gap: False)  # never proven: keep widening
    problem = medium_problem(seed)
    result = solve_decompose(problem)
    assert result.choice is not None and problem.violations(result.choice) == []
    assert result.termination is Termination.STALLED, "stopped unproven before its limit: not 'time_limit'"
    assert len(cores) == 3 and cores[0][1] is None
    for i in (1, 2):
        core, floor, _, _ = cores[i]
        best = max(objective for _, objective in results[:i])
        assert core.violations(floor) == []
        assert core.objective(floor) + results[i][0] == pytest.approx(best, abs=1e-6)
    assert [attempt for _, _, attempt, _ in cores] == [0, 1, 2], "each core draws its own neighbourhoods"
    assert cores[2][3] == -np.inf and cores[1][3] > -np.inf, "only the last core has no bound to reach"


def test_a_last_core_cut_by_its_limit_ends_time_limit_not_stalled(small_parts, monkeypatch):
    """The same stall, but the last core's run was cut by the clock (as it is when it takes the
    time left): the solve ran out of time, and says so."""
    original, least_bounds = master_core.solve_with_relaxation, []

    def cut(*args, **kwargs):
        least_bounds.append(args[7])
        return replace(original(*args, **kwargs), termination=Termination.TIME_LIMIT)

    monkeypatch.setattr(master_core, "solve_with_relaxation", cut)
    monkeypatch.setattr(decompose, "_moved", lambda result, reached: False)
    monkeypatch.setattr(decompose.SolveResult, "proven", lambda self, gap: False)
    problem = medium_problem(0)
    result = solve_decompose(problem)
    assert least_bounds[-1] == -np.inf, "the last core ran"
    assert result.choice is not None and problem.violations(result.choice) == []
    assert result.termination is Termination.TIME_LIMIT

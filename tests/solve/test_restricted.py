"""optimizer/solve/restricted.py: degenerate scores over the customers near a tie, restricted to
their near options, as classes: brute force on tiny instances, the exact solver on medium ones,
the bench's sparse integer kind, column generation, the plan's order within a class."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from instances import (
    Standings,
    assert_plan_and_bound,
    brute_force,
    medium_problem,
    per_campaign_costs,
    random_problem,
    tied,
)

import optimizer.solve.solver as solver_module
from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.repair import LATE_SECONDS
from optimizer.solve.restricted import solve_restricted, threshold
from optimizer.solve.results import SolutionStatus, SolveResult, Termination
from optimizer.solve.solver import solve

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.instances import generate  # noqa: E402

LEVELS = np.array([-1.0, 0.0, 3.0, 5.0, 8.0])


def sparse_integers(problem: Problem, rng: np.random.Generator) -> Problem:
    """``problem`` with one cost per contact per campaign and values from LEVELS: many exact ties,
    and every row one coefficient per campaign."""
    costs = per_campaign_costs(problem, rng)
    value = rng.choice(LEVELS, size=costs.pair_value.shape)
    return dataclasses.replace(costs, pair_value=value, treated_share=np.ones(costs.n_campaigns))


def test_the_threshold_is_in_the_first_wide_gap_of_the_margins() -> None:
    margins = np.array([0.0, 0.0, 1e-14, 0.99, 1.0, 1.0, 2.0, 2.0, 3.0])
    assert threshold(margins, 1.0) == pytest.approx(0.495, abs=1e-12)
    assert threshold(np.array([0.0, 0.0, 0.5, 3.0, np.inf]), 1.0) == pytest.approx(1.75)  # 0.5 is not wide
    assert threshold(np.array([0.0, 0.0, 5.0, 9.0]), 0.5) == pytest.approx(2.5)  # half below it
    assert threshold(np.array([0.0, 0.0, 0.0, 5.0, 9.0]), 0.5) is None  # no gap within the share
    assert threshold(np.ones(10), 1.0) is None
    tied = np.r_[np.zeros(60), np.ones(30), np.full(10, 2.0)]  # more than half tied at the sample prices
    assert threshold(tied, 0.9) == pytest.approx(0.5)


def with_custom_rows(problem: Problem, rng: np.random.Generator) -> Problem:
    """``problem`` with an == row on counts and a row of per-campaign coefficients in -3..3 (the
    same for every customer) of any sense, each limit at what a random plan uses."""
    n, k = problem.n_customers, problem.n_campaigns
    coefficients = np.broadcast_to(rng.integers(-3, 4, size=k).astype(float), (n, k)).copy()
    choice = np.array([rng.choice([-1, *np.flatnonzero(allowed)]) for allowed in problem.eligible])
    mask = rng.random(k) < 0.6
    mask[rng.integers(k)] = True
    rows = (*problem.rows, CouplingRow("exactly", "custom", Sense.EQ, 0.0, COUNT, mask),
            CouplingRow("mix", "custom", (Sense.LE, Sense.GE, Sense.EQ)[int(rng.integers(3))], 0.0, "mix",
                        np.ones(k, bool)))
    widened = dataclasses.replace(problem, rows=rows, weights={**problem.weights, "mix": coefficients})
    used = widened.row_activity(choice)
    return dataclasses.replace(widened, rows=tuple(dataclasses.replace(row, rhs=float(u))
                                                   for row, u in zip(widened.rows, used)))


def test_tiny_sparse_integer_instances_match_brute_force() -> None:
    """Every plan keeps the rows with a true bound; a proven one is the optimum; a plan is found
    on most feasible instances (the rest go on to the perturbed decomposition)."""
    feasible, proven = 0, 0
    for seed in range(150):
        rng = np.random.default_rng(seed)
        problem = sparse_integers(random_problem(rng, n=int(rng.integers(3, 8)), k=int(rng.integers(1, 4))), rng)
        if seed % 2:
            problem = with_custom_rows(problem, rng)
        best = brute_force(problem)
        result = solve_restricted(priced_problem(problem), SolverOptions())
        if best is None:
            assert result is None
            continue
        feasible += 1
        if result is None:
            continue
        assert_plan_and_bound(problem, result, best)
        if result.termination is Termination.OPTIMAL:
            proven += 1
            assert result.objective == pytest.approx(best, abs=1e-6 * max(1.0, abs(best)))
    assert proven >= 0.6 * feasible > 0


@pytest.mark.parametrize("seed", [21, 22, 33])
def test_medium_sparse_integer_instances_match_the_exact_solver(seed: int) -> None:
    """Seed 33's first plan is proven only once the restriction is widened (its bound less the least
    margin of a move out of the restriction was above the plan by more than the gap)."""
    rng = np.random.default_rng(seed)
    problem = sparse_integers(medium_problem(seed, n=3_000, k=5), rng)
    watcher = Standings()
    result = solve_restricted(priced_problem(problem), SolverOptions(), watcher)
    exact = solve_exact(problem, SolverOptions())
    assert result is not None and result.termination is Termination.OPTIMAL
    assert exact.termination is Termination.OPTIMAL
    assert_plan_and_bound(problem, result, exact.objective)
    assert result.objective == pytest.approx(exact.objective, rel=1e-6)
    assert seed != 33 or [phase for phase, _, _ in watcher.told].count("restricted classes") == 2


def test_the_bench_sparse_integer_kind_is_proven_by_column_generation() -> None:
    """100,000 × 10 of bench/instances.py's integer kind: the sample prices leave a restriction
    whose rows the held customers break, so the loop prices them and moves customers in (two
    restricted LPs); the optimum the perturbed decomposition proves too (548,076)."""
    watcher = Standings()
    result = solve(generate(100_000, 10, 2026, "integer"), SolverOptions(), watcher)
    assert result.method == "restricted classes" and result.termination is Termination.OPTIMAL
    assert result.objective == pytest.approx(548_076.0) and result.gap == 0.0
    assert [phase for phase, _, _ in watcher.told].count("restricted LP") >= 2


def test_interchangeable_customers_get_their_campaigns_in_the_order_of_their_tie_keys() -> None:
    priced = generate(20_000, 10, 7, "integer")
    forward = np.arange(priced.n_customers, dtype=np.uint64)
    one = solve_restricted(priced, SolverOptions(), tie_keys=lambda: forward)
    again = solve_restricted(priced, SolverOptions(), tie_keys=lambda: forward)
    backward = solve_restricted(priced, SolverOptions(), tie_keys=lambda: forward[::-1].copy())
    assert one is not None and again is not None and backward is not None
    np.testing.assert_array_equal(one.choice, again.choice)
    assert backward.objective == one.objective and not np.array_equal(backward.choice, one.choice)


def test_scores_with_per_customer_weights_are_left_to_the_perturbed_decomposition() -> None:
    rng = np.random.default_rng(4)
    problem = sparse_integers(medium_problem(4, n=500), rng)
    spend = rng.choice([1.0, 2.0], size=problem.spend.shape)
    assert solve_restricted(priced_problem(dataclasses.replace(
        problem, spend=spend, weights={**problem.weights, "spend": spend})), SolverOptions()) is None


def test_a_short_time_limit_still_ends_with_a_plan_and_its_bound() -> None:
    """Under a limit too short for the price loop, the perturbed decomposition has the time left;
    the run ends within the limit plus what a repair may take past it (repair.LATE_SECONDS)."""
    priced = generate(300_000, 10, 2026, "integer")
    started = time.perf_counter()
    result = solve(priced, SolverOptions(time_limit_s=0.3))
    assert time.perf_counter() - started < 0.3 + LATE_SECONDS + 1.0
    assert result.objective is not None and result.bound is not None and result.bound >= result.objective


def test_a_count_mip_without_a_plan_hands_the_rest_of_the_time_to_the_per_customer_solvers(monkeypatch) -> None:
    """HiGHS's count MIP over many classes can end without a plan (11,717 classes of 50,000
    customers did in 9 s); the per-customer solvers then get the time left."""
    problem = dataclasses.replace(medium_problem(9, n=60), treated_share=np.ones(4))
    problem = tied(problem, np.full(problem.n_customers, 30))
    asked = []

    def no_plan(priced, classes, options, keys=None):
        asked.append(classes.size)
        return SolveResult(Termination.TIME_LIMIT, SolutionStatus.NONE, None, None, None, 0.0, 0.0, "classes", 0)

    monkeypatch.setattr(solver_module, "solve_classes", no_plan)
    result = solve(problem, SolverOptions(time_limit_s=30))
    exact = solve_exact(problem, SolverOptions())
    assert asked == [60] and result.method != "classes" and result.termination is Termination.OPTIMAL
    assert result.objective == pytest.approx(exact.objective, rel=1e-6)

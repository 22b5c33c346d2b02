"""The exact solver against brute force on tiny instances, and its time limit on a large one.

Brute force enumerates every plan (each customer: no campaign or one eligible campaign), so
on instances of up to 8 customers and 3 campaigns it is the ground truth for the optimum and
for infeasibility. Coefficients are integers or halves so no plan sits within a solver
tolerance of a limit: "feasible" means the same thing to brute force and to HiGHS.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from optimizer.solve import exact
from optimizer.solve.exact import solve_exact
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.results import SolutionStatus, Termination

TOLERANCE = 1e-6
FAMILIES = ("budget", "campaign_budget", "min_audience", "max_audience", "channel_capacity", "custom")


def _row_coefficients(problem: Problem, row: CouplingRow) -> np.ndarray:
    """a_r = W_r * m_r, computed here rather than with Problem.coefficients."""
    weight = np.ones((problem.n_customers, problem.n_campaigns)) if row.weight == COUNT else problem.weights[row.weight]
    return weight * row.campaigns.astype(float)


def _holds(sense: Sense, lhs: np.ndarray, rhs: float) -> np.ndarray:
    slack = TOLERANCE * max(1.0, abs(rhs))
    if sense is Sense.LE:
        return lhs <= rhs + slack
    if sense is Sense.GE:
        return lhs >= rhs - slack
    return np.abs(lhs - rhs) <= slack


def all_plans(problem: Problem, allowed: np.ndarray | None = None) -> np.ndarray:
    """Every choice vector: one row per plan, each customer none or one allowed campaign."""
    allowed = problem.eligible if allowed is None else allowed
    options = [[NO_CAMPAIGN, *np.flatnonzero(allowed[i])] for i in range(problem.n_customers)]
    return np.array(list(itertools.product(*options)), dtype=int).reshape(-1, problem.n_customers)


def brute_force(problem: Problem, allowed: np.ndarray | None = None) -> float | None:
    """Best objective over all plans that meet every row, or None when no plan does."""
    plans = all_plans(problem, allowed)
    customers = np.arange(problem.n_customers)
    # a zero column at index -1 (= NO_CAMPAIGN) makes "no campaign" contribute nothing
    pad = lambda array: np.c_[array, np.zeros(problem.n_customers)]  # noqa: E731
    value = pad(problem.pair_value * problem.treated_share)[customers, plans].sum(axis=1)
    feasible = np.ones(len(plans), dtype=bool)
    for row in problem.rows:
        lhs = pad(_row_coefficients(problem, row))[customers, plans].sum(axis=1)
        feasible &= _holds(row.sense, lhs, row.rhs)
    return float(value[feasible].max()) if feasible.any() else None


def random_problem(rng: np.random.Generator, n: int | None = None, k: int | None = None) -> Problem:
    """A tiny instance with rows drawn from every family; some instances are infeasible."""
    n = int(rng.integers(1, 9)) if n is None else n
    k = int(rng.integers(1, 4)) if k is None else k
    spend = rng.integers(1, 11, size=(n, k)) / 2
    weights = {"spend": spend}
    rows = []
    for r in range(int(rng.integers(0, 5))):
        family = FAMILIES[int(rng.integers(len(FAMILIES)))]
        rows.append(_random_row(rng, family, f"{family}[{r}]", n, k, spend, weights))
    return Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        campaign_ids=tuple(f"k{j}" for j in range(k)),
        channels=tuple(rng.choice(["email", "sms"], size=k)),
        pair_value=np.round(rng.normal(0.5, 3.0, size=(n, k)), 2),
        spend=spend,
        eligible=rng.random((n, k)) < 0.7,
        treated_share=rng.choice([1.0, 0.9, 0.75, 0.5], size=k),
        rows=tuple(rows),
        weights=weights,
    )


def _random_row(rng, family: str, name: str, n: int, k: int, spend: np.ndarray, weights: dict) -> CouplingRow:
    one = np.arange(k) == rng.integers(k)
    if family == "budget":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, 2 * n + 1)), "spend", np.ones(k, bool))
    if family == "campaign_budget":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, n + 1)), "spend", one)
    if family == "min_audience":
        return CouplingRow(name, family, Sense.GE, float(rng.integers(0, n + 1)), COUNT, one)
    if family == "max_audience":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, n + 1)), COUNT, one)
    subset = rng.random(k) < 0.6
    subset[rng.integers(k)] = True
    if family == "channel_capacity":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, n + 1)), COUNT, subset)
    weights[f"custom:{name}"] = rng.integers(-3, 4, size=(n, k)).astype(float)
    sense = (Sense.LE, Sense.GE, Sense.EQ)[int(rng.integers(3))]
    return CouplingRow(name, "custom", sense, float(rng.integers(-n, n + 1)), f"custom:{name}", subset)


def assert_matches_brute_force(problem: Problem) -> bool:
    """The exact solver's answer agrees with brute force; returns whether a plan exists."""
    best = brute_force(problem)
    result = solve_exact(problem, SolverOptions())
    if best is None:
        assert result.termination is Termination.INFEASIBLE
        assert result.status is SolutionStatus.NONE and result.choice is None
        return False
    assert result.termination is Termination.OPTIMAL
    assert result.status is SolutionStatus.OPTIMAL
    assert problem.violations(result.choice) == []
    assert np.all(problem.eligible[result.choice >= 0, result.choice[result.choice >= 0]])
    assert result.objective == pytest.approx(problem.objective(result.choice), abs=1e-9)
    assert abs(result.objective - best) <= 1e-6 + 1e-6 * abs(best)
    assert result.bound >= result.objective - 1e-9
    assert result.bound >= best - 1e-6 - 1e-6 * abs(best), "the bound must hold for every plan"
    assert result.gap <= 1e-6
    return True


def test_brute_force_helper_on_a_hand_checked_instance():
    """Two customers, one campaign, budget 1 with spends 1 and 1: only one of the values 3, 2 fits."""
    problem = Problem(
        customer_ids=np.array(["a", "b"], dtype=object), campaign_ids=("x",), channels=("email",),
        pair_value=np.array([[3.0], [2.0]]), spend=np.ones((2, 1)), eligible=np.ones((2, 1), bool),
        treated_share=np.array([1.0]),
        rows=(CouplingRow("budget", "budget", Sense.LE, 1.0, "spend", np.array([True])),),
        weights={"spend": np.ones((2, 1))},
    )
    assert len(all_plans(problem)) == 4
    assert brute_force(problem) == 3.0
    floor = CouplingRow("min", "min_audience", Sense.GE, 2.0, COUNT, np.array([True]))
    assert brute_force(dataclasses.replace(problem, rows=(*problem.rows, floor))) is None


def test_exact_matches_brute_force_on_random_instances():
    rng = np.random.default_rng(20260501)
    outcomes = [assert_matches_brute_force(random_problem(rng)) for _ in range(160)]
    # both sides of the feasibility question must actually be exercised
    assert 20 <= sum(outcomes) <= 150


@pytest.mark.parametrize("core_pairs", [1, 3])
def test_reduced_cost_fixing_keeps_the_optimum(monkeypatch, core_pairs: int):
    """A core of one or three pairs makes the solver fix almost every pair at its LP value, bound
    what that may cost with the reduced costs, and widen the core when the bound is too loose."""
    monkeypatch.setattr(exact, "CORE_PAIRS", core_pairs)
    rng = np.random.default_rng(1000 + core_pairs)
    outcomes = [assert_matches_brute_force(random_problem(rng)) for _ in range(120)]
    assert 20 <= sum(outcomes) <= 110


def lp_fixes_a_pair_no_plan_can_keep() -> Problem:
    """Customers a (value 1.34) and b (value -0.71), one campaign, and the row -x_a + 2 x_b == 0.

    The LP takes x_a = 1, x_b = 0.5 (value 0.985); x_a = 1 with x_b in {0, 1} breaks the row, so
    the only plan is the empty one, of value 0. A core of one pair keeps x_b free and fixes x_a
    at 1: that core has no plan, and only a wider core finds the optimum.
    """
    return Problem(
        customer_ids=np.array(["a", "b"], dtype=object), campaign_ids=("x",), channels=("email",),
        pair_value=np.array([[1.34], [-0.71]]), spend=np.ones((2, 1)), eligible=np.ones((2, 1), bool),
        treated_share=np.array([1.0]), rows=(CouplingRow("mix", "custom", Sense.EQ, 0.0, "w", np.array([True])),),
        weights={"w": np.array([[-1.0], [2.0]])},
    )


def test_a_core_without_a_plan_is_widened_to_the_optimum(monkeypatch):
    monkeypatch.setattr(exact, "CORE_PAIRS", 1)
    result = solve_exact(lp_fixes_a_pair_no_plan_can_keep())
    assert result.termination is Termination.OPTIMAL
    assert result.choice.tolist() == [NO_CAMPAIGN, NO_CAMPAIGN] and result.objective == 0.0


def test_a_core_without_a_plan_never_makes_the_problem_infeasible(monkeypatch):
    """Out of time before the core can be widened: only the core was shown to have no plan."""
    monkeypatch.setattr(exact, "CORE_PAIRS", 1)
    problem = lp_fixes_a_pair_no_plan_can_keep()
    result = solve_exact(problem, SolverOptions(time_limit_s=0.001))
    assert result.termination in (Termination.TIME_LIMIT, Termination.OPTIMAL)
    assert result.choice is None or problem.violations(result.choice) == []


@st.composite
def problems(draw) -> Problem:
    """Tiny instances from Hypothesis: integer coefficients, any signs, any senses."""
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 3))

    def matrix(elements) -> np.ndarray:
        return np.array(draw(st.lists(elements, min_size=n * k, max_size=n * k))).reshape(n, k)

    spend = matrix(st.integers(1, 6)).astype(float)
    weights = {"spend": spend}
    rows = []
    for r in range(draw(st.integers(0, 3))):
        mask = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))
        kind = draw(st.sampled_from(["spend", COUNT, "custom"]))
        if kind == "custom":
            weights[f"w{r}"] = matrix(st.integers(-3, 3)).astype(float)
            kind = f"w{r}"
        sense = draw(st.sampled_from(list(Sense)))
        rows.append(CouplingRow(f"row{r}", "custom", sense, float(draw(st.integers(-6, 12))), kind, mask))
    return Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        campaign_ids=tuple(f"k{j}" for j in range(k)), channels=("email",) * k,
        pair_value=matrix(st.integers(-20, 20)) / 4, spend=spend,
        eligible=matrix(st.booleans()).astype(bool),
        treated_share=np.array(draw(st.lists(st.sampled_from([1.0, 0.8, 0.5]), min_size=k, max_size=k))),
        rows=tuple(rows), weights=weights,
    )


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_exact_invariants_hold_for_any_tiny_instance(problem: Problem):
    assert_matches_brute_force(problem)


def test_candidate_pairs_keep_every_pair_an_optimal_plan_needs():
    rng = np.random.default_rng(7)
    dropped_somewhere = False
    for _ in range(150):
        problem = random_problem(rng)
        customers, campaigns = problem.candidate_pairs()
        allowed = np.zeros_like(problem.eligible)
        allowed[customers, campaigns] = True
        assert not np.any(allowed & ~problem.eligible)
        dropped_somewhere |= bool(np.any(problem.eligible & ~allowed))
        full, restricted = brute_force(problem), brute_force(problem, allowed)
        assert (full is None) == (restricted is None)
        if full is not None:
            assert restricted == pytest.approx(full, abs=1e-9)
    assert dropped_somewhere, "no instance had a pair to drop, so the test proved nothing"


def test_time_limit_returns_a_feasible_plan_with_its_bound():
    rng = np.random.default_rng(3)
    n, k = 3000, 5
    spend = rng.uniform(0.5, 5.0, size=(n, k))
    problem = Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        campaign_ids=tuple(f"k{j}" for j in range(k)), channels=("email",) * k,
        pair_value=rng.normal(1.0, 2.0, size=(n, k)), spend=spend,
        eligible=rng.random((n, k)) < 0.8, treated_share=np.full(k, 0.9),
        rows=(CouplingRow("budget", "budget", Sense.LE, 0.1 * spend.sum() / k, "spend", np.ones(k, bool)),),
        weights={"spend": spend},
    )
    started = time.perf_counter()
    result = solve_exact(problem, SolverOptions(time_limit_s=1, mip_gap=0))
    elapsed = time.perf_counter() - started
    assert elapsed < 8.0
    assert result.termination in (Termination.TIME_LIMIT, Termination.OPTIMAL)
    assert result.status in (SolutionStatus.OPTIMAL, SolutionStatus.FEASIBLE)
    assert result.choice is not None and problem.violations(result.choice) == []
    assert result.objective == pytest.approx(problem.objective(result.choice))
    assert result.objective > 0
    assert result.bound is not None and result.bound >= result.objective - 1e-9
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    assert result.bound <= lp.bound + 1e-6 * abs(lp.bound), "branch and bound cannot prove less than the LP"

"""optimizer/solve/screening.py: one pass over everyone, the decomposition on the candidates, a bound for all.

``planned_problem`` has one cost per campaign (the case screening serves). With the thresholds
shrunk, screening runs on instances the exact solver proves; the region and the identity
L(λ) = L_C(λ) + V are checked against passes over everyone at the final prices.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from instances import GAP, Standings, assert_agrees_with_exact

from optimizer.solve import balancing, decompose, screening
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.lagrangian import price_out, priced_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.results import Termination

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.instances import as_problem, generate  # noqa: E402


def planned_problem(seed: int, n: int, k: int = 5) -> Problem:
    """Campaigns of one cost per contact: a budget, a campaign budget, a minimum and a maximum
    audience and a capacity over two campaigns; values skewed like incremental revenue."""
    rng = np.random.default_rng(seed)
    cost = np.round(rng.uniform(0.2, 2.0, size=k), 2)
    worth = rng.lognormal(np.log(8.0), 0.8, size=(n, 1))
    value = np.round(worth * rng.beta(1.2, 6.0, size=(n, k)) - cost + rng.normal(0.0, 0.3, size=(n, k)), 4)
    eligible = rng.random((n, k)) < 0.7
    positive = np.where(eligible & (value > 0), cost, 0.0).sum(axis=0)
    only = lambda j: np.arange(k) == j  # noqa: E731
    rows = (
        CouplingRow("budget", "budget", Sense.LE, round(0.3 * positive.sum(), 2), "spend", np.ones(k, bool)),
        CouplingRow("budget[k1]", "campaign_budget", Sense.LE, round(0.2 * positive[1], 2), "spend", only(1)),
        CouplingRow("min_audience[k0]", "min_audience", Sense.GE, float(n // 8), COUNT, only(0)),
        CouplingRow("max_audience[k2]", "max_audience", Sense.LE, float(n // 20), COUNT, only(2)),
        CouplingRow("capacity[k3,k4]", "channel_capacity", Sense.LE, float(n // 15), COUNT, np.arange(k) >= 3),
    )
    spend = np.tile(cost, (n, 1))
    return Problem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)), channels=("email",) * k,
        pair_value=value, spend=spend, eligible=eligible, treated_share=np.ones(k), rows=rows,
        weights={"spend": spend},
    )


@pytest.fixture
def screened(monkeypatch):
    """Screening from 1,000 customers, sample levels of 1,000 and 8,000, and a record of what ran:
    the screens, and the customers each decomposition over a whole customer set solved."""
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 1_000)
    monkeypatch.setattr(balancing, "COARSE", (1_000, 8_000))
    record = {"screens": [], "solved": []}
    screen, solve_all = screening.screen, decompose._decompose_all
    monkeypatch.setattr(screening, "screen", lambda *a: record["screens"].append(screen(*a)) or record["screens"][-1])
    monkeypatch.setattr(decompose, "_decompose_all", lambda *a: record["solved"].append(a[0].n) or solve_all(*a))
    return record


def test_the_screened_plan_is_proven_for_everyone(screened, monkeypatch):
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.15)
    problem = planned_problem(1, 30_000)
    priced = priced_problem(problem, np.float32)
    result = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    screen, = screened["screens"]
    assert screened["solved"] == [screen.reduced.n_customers] and screen.meetable()
    assert screen.reduced.n_customers < 0.3 * problem.n_customers
    assert result.termination is Termination.OPTIMAL and result.gap <= GAP
    assert problem.violations(result.choice) == []
    assert result.objective == pytest.approx(problem.objective(result.choice), rel=1e-9)
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 10**9)
    unscreened = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    assert abs(result.objective - unscreened.objective) <= 2 * GAP * abs(unscreened.objective)
    assert result.bound >= unscreened.objective - 1e-9 and unscreened.bound >= result.objective - 1e-9


def test_in_the_region_the_fixed_customers_keep_their_choice_and_l_splits(screened, monkeypatch):
    """At the final prices, every customer outside the candidates still takes its choice at the
    screening prices, and L(λ) over everyone is V + L_C(λ)."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.15)
    priced = priced_problem(planned_problem(2, 30_000), np.float32)
    result = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    screen, = screened["screens"]
    final = result.shadow_prices
    assert screen.covers(final)
    fixed = np.setdiff1d(np.arange(priced.n_customers), screen.candidates)
    at_screen, at_final = price_out(priced, screen.prices), price_out(priced, final)
    assert np.array_equal(at_screen.choice[fixed], at_final.choice[fixed])
    assert at_screen.margin[fixed].min() == pytest.approx(screen.radius)
    assert np.all(at_final.margin[fixed] >= screen.radius - screen.shift(final) - 1e-9)
    assert at_final.bound == pytest.approx(screen.fixed_value + price_out(screen.reduced, final).bound, rel=1e-12)
    assert screen.lagrangian == pytest.approx(at_screen.bound, rel=1e-12)


def test_the_shift_is_the_largest_change_of_a_priced_out_difference():
    coefficients = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])
    screen = screening.Screen(np.zeros(2), np.zeros(0, dtype=int), None, 1.0, 0.0, np.zeros(2), 0.0, coefficients,
                              (), np.zeros(3), 0)
    # Δμ = (0.5, 0.5 * 2 - 0.25, -0.25) = (0.5, 0.75, -0.25); with nothing at 0: 0.75 - (-0.25)
    assert screen.shift(np.array([0.5, -0.25])) == pytest.approx(1.0)
    assert screen.covers(np.array([0.4, -0.2])) and not screen.covers(np.array([0.5, -0.25]))
    rng = np.random.default_rng(0)
    for _ in range(200):
        move, a, b = rng.normal(size=2), rng.integers(0, 4), rng.integers(0, 4)
        options = np.c_[coefficients, np.zeros(2)]  # the three campaigns and nothing
        assert abs(move @ (options[:, a] - options[:, b])) <= screen.shift(move) + 1e-12


def test_prices_leaving_the_region_fall_back_to_everyone(screened, monkeypatch):
    """A screen so narrow that the reduced problem's prices leave it: the passes over everyone
    take over and the answer is still proven."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.0005)
    problem = planned_problem(3, 20_000)
    result = solve_decompose(priced_problem(problem, np.float32), SolverOptions(mip_gap=GAP))
    assert screened["solved"][-1] == problem.n_customers and len(screened["solved"]) == 2
    assert result.termination is Termination.OPTIMAL and problem.violations(result.choice) == []


def test_a_screen_whose_candidates_cannot_meet_the_limits_left_is_given_up_at_once(screened):
    """The bench's tight kind (a total budget just above what two minimum audiences cost): at the
    sample prices the fixed customers leave the candidates too little budget for the e-mails the
    minimum audiences still need. The reduced problem is not solved; the passes over everyone prove
    the plan."""
    priced = generate(20_000, 10, 0, "tight")
    result = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    screen, = screened["screens"]
    assert not screen.meetable() and screened["solved"] == [20_000]
    assert result.termination is Termination.OPTIMAL and as_problem(priced).violations(result.choice) == []


def test_expected_spend_budgets_are_not_screened(screened):
    problem = planned_problem(4, 3_000)
    spend = problem.spend * np.random.default_rng(4).uniform(0.8, 1.2, size=problem.spend.shape)
    problem = Problem(**{**problem.__dict__, "spend": spend, "weights": {"spend": spend}})
    solve_decompose(problem, SolverOptions(mip_gap=GAP))
    assert screened["screens"] == [] and screened["solved"] == [problem.n_customers]


@settings(max_examples=25, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(200, 600), st.sampled_from([0.05, 0.2, 0.5]))
def test_screened_or_not_decompose_and_exact_agree(seed: int, n: int, share: float):
    """Random planned instances screened from their first customer, whichever way the screen ends."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(screening, "SCREEN_ABOVE", 1)
        patch.setattr(screening, "SCREEN_SHARE", share)
        patch.setattr(balancing, "SAMPLE", 30)
        patch.setattr(balancing, "COARSE", (40, 90))
        patch.setattr(decompose, "MASTER", 30)
        assert_agrees_with_exact(planned_problem(seed, n, k=4))


def test_the_threshold_keeps_about_the_share_and_at_most_the_cap(monkeypatch):
    margins = np.r_[np.zeros(10), np.linspace(0.001, 1.0, 990)]
    below = screening.threshold(margins, 10**6)
    assert (margins < below).mean() == pytest.approx(screening.SCREEN_SHARE, abs=2e-3)
    monkeypatch.setattr(screening, "SCREEN_MAX", 5_000)  # 0.5 % of 10^6: the quantile is one of the ties at 0
    assert screening.threshold(margins, 10**6) == 0.001  # the smallest positive margin, so ties are candidates


def test_a_failing_screen_leaves_half_the_time_to_the_passes_over_everyone(screened, monkeypatch):
    """The screened attempt's clock ends SCREEN_KEEPS of the time left (after the repair's reserve)
    before the solve's own limit; when it fails, the decomposition over everyone runs on."""
    limits = []

    def failing(customers, sampled, options, clock):
        limits.append(clock.limit)
        return decompose.Screened(sampled.prices)

    monkeypatch.setattr(decompose, "_decompose_screened", failing)
    problem = planned_problem(2, 12_000)
    result = solve_decompose(priced_problem(problem, np.float32), SolverOptions(time_limit_s=100.0, mip_gap=GAP))
    limit, = limits
    assert 45.0 <= limit <= 51.0  # 100 s less the reserve, half of what is left then kept back
    assert screened["solved"] == [12_000] and result.termination is Termination.OPTIMAL
    assert problem.violations(result.choice) == []


@pytest.mark.parametrize("share", [0.03, 0.15])
def test_every_bound_the_progress_is_told_bounds_the_final_plan(screened, monkeypatch, share):
    """A screen's candidates' own bounds (their limits less the fixed customers' use) are not bounds
    of the whole plan: while they are solved, the progress is told their plans, not their bounds."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", share)
    watcher = Standings()
    result = solve_decompose(planned_problem(1, 30_000), SolverOptions(mip_gap=GAP), progress=watcher)
    assert screened["screens"] and any(bound is not None for _, _, bound in watcher.told)
    assert [(phase, bound) for phase, _, bound in watcher.told
            if bound is not None and bound < result.objective - 1e-6] == []

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

from optimizer.solve import balancing, decompose, pricing, screening
from optimizer.solve.customers import Customers
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.lagrangian import plan_sums, price_out, priced_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.results import SolutionStatus, SolveResult, Termination

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
    the screens, the customers each decomposition over a whole customer set solved and the
    balancing passes it was allowed (None: balancing.MAX_BALANCING)."""
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 1_000)
    monkeypatch.setattr(balancing, "COARSE", (1_000, 8_000))
    record = {"screens": [], "solved": [], "passes": []}
    screen, solve_all = screening.screen, decompose._decompose_all
    monkeypatch.setattr(screening, "screen", lambda *a: record["screens"].append(screen(*a)) or record["screens"][-1])

    def spy_all(*args, **keywords):
        record["solved"].append(args[0].n)
        record["passes"].append(keywords.get("passes"))
        return solve_all(*args, **keywords)

    monkeypatch.setattr(decompose, "_decompose_all", spy_all)
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
    take over from the reduced problem's duals, balanced once (SOLVED_PASSES), and the answer is
    still proven."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.0005)
    problem = planned_problem(3, 20_000)
    result = solve_decompose(priced_problem(problem, np.float32), SolverOptions(mip_gap=GAP))
    assert screened["solved"][-1] == problem.n_customers and len(screened["solved"]) == 2
    assert screened["passes"] == [None, decompose.SOLVED_PASSES]
    assert result.termination is Termination.OPTIMAL and problem.violations(result.choice) == []


def test_only_a_proven_reduced_plan_has_solved_prices():
    """SOLVED_PASSES balances once over everyone from prices whose L proved the reduced plan; a
    plan a repair found when the price loop ran out of time, or a stalled one, leaves the passes
    over everyone to balance in full (its prices may be a balancing pass's, far from an LP's duals)."""
    prices = np.ones(3)

    def result(termination: Termination, shadow_prices=prices) -> SolveResult:
        status = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
        return SolveResult(termination, status, None, 10.0, 10.0, 0.0, 1.0, "decompose", 0, shadow_prices=shadow_prices)

    assert decompose._solved(result(Termination.OPTIMAL))
    assert not decompose._solved(result(Termination.TIME_LIMIT))
    assert not decompose._solved(result(Termination.STALLED))
    assert not decompose._solved(result(Termination.OPTIMAL, shadow_prices=None))


def test_a_reduced_problem_whose_price_loop_ran_out_of_time_is_repaired_and_the_run_proven(screened, monkeypatch):
    """The reduced problem's price loop stops at its limit: its plan is repaired from the balanced
    prices of its 11 candidates, which prove it there; those prices leave the region, and the
    passes over everyone, balanced once from them (``_solved``), prove the whole."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.0005)
    loops = []
    original = decompose.solve_prices

    def first_out_of_time(*args):
        loops.append(args[0].n)
        if len(loops) == 1:
            raise pricing.OutOfTime(None)
        return original(*args)

    monkeypatch.setattr(decompose, "solve_prices", first_out_of_time)
    problem = planned_problem(3, 20_000)
    result = solve_decompose(priced_problem(problem, np.float32), SolverOptions(mip_gap=GAP))
    assert loops[0] < problem.n_customers and screened["solved"] == [loops[0], problem.n_customers]
    assert screened["passes"] == [None, decompose.SOLVED_PASSES]
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
    assert screened["passes"] == [None], "from the samples' prices: balanced in full"
    assert result.termination is Termination.OPTIMAL and as_problem(priced).violations(result.choice) == []


def expected_spend(problem: Problem, seed: int) -> Problem:
    """The same instance with budgets of expected spend: a cost that differs per customer (no region)."""
    spend = problem.spend * np.random.default_rng(seed).uniform(0.8, 1.2, size=problem.spend.shape)
    return Problem(**{**problem.__dict__, "spend": spend, "weights": {"spend": spend}})


def test_expected_spend_budgets_are_screened_and_proven_by_a_pass_at_the_final_prices(screened, monkeypatch):
    """Without one coefficient per campaign there is no region; the pass at the reduced problem's
    last prices proves the plan for everyone, and it agrees with the unscreened decomposition. (The
    sample levels' L(λ̂) is 0.8e-4 above the optimum here: a shortfall the bench's 10^7 does not have.)"""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.15)
    monkeypatch.setattr(decompose, "SCREEN_SHORTFALL", 1e-3)
    problem = expected_spend(planned_problem(4, 30_000), 4)
    priced = priced_problem(problem, np.float32)
    result = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    screen, = screened["screens"]
    assert screen.coefficients is None and screened["solved"] == [screen.reduced.n_customers]
    assert result.termination is Termination.OPTIMAL and result.gap <= GAP
    assert problem.violations(result.choice) == []
    assert result.objective == pytest.approx(problem.objective(result.choice), rel=1e-9)
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 10**9)
    unscreened = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    assert result.bound >= unscreened.objective - 1e-9 and unscreened.bound >= result.objective - 1e-9


def test_the_pass_at_the_final_prices_bounds_by_the_least_margin_of_the_fixed_customers(screened, monkeypatch):
    """``verified``: L(λ) over everyone at the final prices, and V + the reduced bound or L(λ) - t,
    t the least margin at λ of a fixed customer whose choice at λ̂ is still its best (0 if one's is not)."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.15)
    monkeypatch.setattr(decompose, "SCREEN_SHORTFALL", 1e-3)
    priced = priced_problem(expected_spend(planned_problem(5, 20_000), 5), np.float32)
    result = solve_decompose(priced, SolverOptions(mip_gap=GAP))
    screen, = screened["screens"]
    final = result.shadow_prices
    fixed = np.setdiff1d(np.arange(priced.n_customers), screen.candidates)
    at_screen, at_final = price_out(priced, screen.prices), price_out(priced, final)
    kept = at_screen.choice[fixed] == at_final.choice[fixed]
    least = at_final.margin[fixed].min() if kept.all() else 0.0
    for reduced_bound in (result.objective - screen.fixed_value, -np.inf):
        expected = min(at_final.bound, max(screen.fixed_value + reduced_bound, at_final.bound - least))
        bound, lagrangian = screen.verified(Customers(priced), reduced_bound, final)
        assert bound == pytest.approx(expected, rel=1e-12) and lagrangian == pytest.approx(at_final.bound, rel=1e-12)


def test_fixed_customers_overfilling_a_cap_free_it_from_among_them(screened):
    """At prices of zero everyone takes its best and the caps overfill; the customers who free them
    most cheaply join the candidates (``decompose._freed``), the fixed customers' value and use are
    what is left of everyone's, and the caps left to the candidates are met by giving them nothing."""
    priced = priced_problem(expected_spend(planned_problem(6, 5_000), 6), np.float32)
    customers = Customers(priced)
    zero = np.zeros(len(priced.rows))
    screen = screening.screen(customers, zero, 0.05)
    limits = np.array([row.rhs for row in screen.reduced.rows])
    caps = np.array([row.sense is Sense.LE for row in priced.rows])
    assert (limits[caps] < 0).any()
    freed = decompose._freed(customers, screen)
    assert np.all(np.diff(freed.candidates) > 0) and np.isin(screen.candidates, freed.candidates).all()
    assert freed.candidates.size > screen.candidates.size
    freed_limits = np.array([row.rhs for row in freed.reduced.rows])
    assert np.all(freed_limits[caps] >= -1e-9 * np.maximum(1.0, priced.rhs[caps]))
    np.testing.assert_array_equal(freed.reduced.value, priced.value[freed.candidates])
    everyone = price_out(priced, zero)
    value, weight_sums, counts = plan_sums(freed.reduced, price_out(freed.reduced, zero).choice)
    assert freed.fixed_value + value == pytest.approx(everyone.bound, rel=1e-9)
    usage = freed.fixed_usage + freed.reduced.row_usage(weight_sums, counts)
    np.testing.assert_allclose(usage, everyone.usage, rtol=1e-9)
    np.testing.assert_allclose(freed_limits, screening.settled(priced.rhs - freed.fixed_usage), rtol=1e-12)


def test_a_screen_whose_candidates_fall_short_is_given_up_after_balancing_them(screened, monkeypatch):
    """Candidates whose balanced L stays further below L(λ̂) than SCREEN_SHORTFALL or SCREEN_GAPS allow
    (here: a shortfall every screen has) are not solved further; the passes over everyone prove the plan."""
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.15)
    monkeypatch.setattr(decompose, "SCREEN_SHORTFALL", -1.0)
    monkeypatch.setattr(decompose, "SCREEN_GAPS", -1e12)
    problem = expected_spend(planned_problem(7, 20_000), 7)
    result = solve_decompose(priced_problem(problem, np.float32), SolverOptions(mip_gap=GAP))
    screen, = screened["screens"]
    assert screened["solved"] == [screen.reduced.n_customers, problem.n_customers]
    assert result.termination is Termination.OPTIMAL and problem.violations(result.choice) == []


@settings(max_examples=25, deadline=None, database=None)
@given(st.integers(0, 10_000), st.integers(200, 600), st.sampled_from([0.05, 0.2, 0.5]), st.booleans())
def test_screened_or_not_decompose_and_exact_agree(seed: int, n: int, share: float, per_customer: bool):
    """Random planned instances (or their expected-spend copies) screened from their first customer,
    whichever way the screen ends."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(screening, "SCREEN_ABOVE", 1)
        patch.setattr(screening, "SCREEN_SHARE", share)
        patch.setattr(balancing, "SAMPLE", 30)
        patch.setattr(balancing, "COARSE", (40, 90))
        patch.setattr(decompose, "MASTER", 30)
        problem = planned_problem(seed, n, k=4)
        assert_agrees_with_exact(expected_spend(problem, seed) if per_customer else problem)


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

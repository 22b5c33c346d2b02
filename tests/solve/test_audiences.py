"""optimizer/solve/audiences.py: the Lagrangian bound with integer audience sizes.

It must hold for every plan whatever the campaign prices (brute force), stay below the LP bound
at the LP's prices, close a budget's integrality gap that the LP bound leaves, and let the exact
and decomposition solvers prove such plans without widening their core.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from instances import assert_matches_brute_force, brute_force, medium_problem, per_campaign_costs, random_problem

from optimizer.solve import decompose, exact, master_core, neighbourhoods, pricing
from optimizer.solve.audiences import audience_bound, audiences_exist
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_full_model
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.results import Termination


def bound_at(problem: Problem, campaign_prices: np.ndarray) -> float:
    """Φ(μ) over every eligible pair + h(μ)."""
    customers, campaigns = np.nonzero(problem.eligible)
    coefficients = problem.campaign_coefficients(customers, campaigns)
    best = np.zeros(problem.n_customers)
    np.maximum.at(best, customers, problem.value[customers, campaigns] - campaign_prices[campaigns])
    eligible = np.bincount(campaigns, minlength=problem.n_campaigns)
    return audience_bound(problem.rows, coefficients, campaign_prices, float(best.sum()), eligible,
                          problem.n_customers)


def one_campaign(values: list[float], cost: float, budget: float, min_audience: float = 0.0) -> Problem:
    n = len(values)
    rows = [CouplingRow("budget", "budget", Sense.LE, budget, "spend", np.ones(1, bool))]
    if min_audience:
        rows.append(CouplingRow("min_audience[k0]", "min_audience", Sense.GE, min_audience, COUNT, np.ones(1, bool)))
    return Problem(customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object), campaign_ids=("k0",),
                   channels=("email",), pair_value=np.array(values, float).reshape(n, 1),
                   spend=np.full((n, 1), cost), eligible=np.ones((n, 1), bool), treated_share=np.ones(1),
                   rows=tuple(rows), weights={"spend": np.full((n, 1), cost)})


@pytest.mark.parametrize("seed", range(60))
def test_the_bound_holds_for_every_plan_at_any_campaign_prices(seed: int):
    rng = np.random.default_rng(seed)
    problem = per_campaign_costs(random_problem(rng), rng)
    best = brute_force(problem)
    if best is None or not problem.rows or not problem.eligible.any():
        return
    for _ in range(5):
        prices = rng.normal(0.0, 3.0, size=problem.n_campaigns)
        assert bound_at(problem, prices) >= best - 1e-9


@pytest.mark.parametrize("core_pairs", [1, pytest.param(3, marks=pytest.mark.slow)])  # 3: 4.6 s, the same path wider
def test_with_a_tiny_core_the_exact_solver_still_matches_brute_force(monkeypatch, core_pairs: int):
    """Per-campaign costs, a core of one or three pairs: the audience bound and the widening both run."""
    monkeypatch.setattr(exact, "CORE_PAIRS", core_pairs)
    monkeypatch.setattr(neighbourhoods, "PER_CAMPAIGN", core_pairs)
    rng = np.random.default_rng(2000 + core_pairs)
    outcomes = [assert_matches_brute_force(per_campaign_costs(random_problem(rng), rng)) for _ in range(80)]
    assert 10 <= sum(outcomes) <= 75


def test_a_budget_for_one_and_a_half_contacts_is_bounded_by_one():
    """Values 5, 4, 3 at 2 per contact, budget 3: the LP takes 1.5 customers (7), the plan one (5).

    At the LP's price λ = 2 per unit of budget, μ = 4 per contact: Φ(μ) = 1 + 0 + 0 and
    h(μ) = max 4n over integers 2n <= 3 = 4, so the bound is 5 = the optimum; L(λ) = 1 + 6 = 7."""
    problem = one_campaign([5.0, 4.0, 3.0], cost=2.0, budget=3.0)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    assert lp.bound == pytest.approx(7.0) and lp.shadow_prices[0] == pytest.approx(2.0)
    assert bound_at(problem, lp.shadow_prices * 2.0) == pytest.approx(5.0)
    assert brute_force(problem) == pytest.approx(5.0)


def test_no_integer_audience_size_meeting_the_rows_means_no_plan():
    problem = one_campaign([5.0, 4.0, 3.0], cost=2.0, budget=3.0, min_audience=2.0)
    assert brute_force(problem) is None
    assert bound_at(problem, np.zeros(1)) == -np.inf


def test_at_the_lp_prices_it_is_never_above_the_lp_bound():
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        problem = per_campaign_costs(random_problem(rng, n=8, k=3), rng)
        customers, campaigns = problem.candidate_pairs()
        if not problem.rows or not customers.size:
            continue
        lp = solve_relaxation(problem, customers, campaigns)
        if not lp.feasible:
            continue
        coefficients = problem.campaign_coefficients(customers, campaigns)
        assert bound_at(problem, lp.shadow_prices @ coefficients) <= lp.bound + 1e-7


def nearly_identical_customers(n: int = 2_000) -> Problem:
    """n customers nearly alike: campaign A worth 5 + 1e-4 i/n at 2 per contact, B worth 3 at 1.5,
    a budget of 1000.3.

    The LP spends it all on A (500.15 contacts, about 2,500.80); a plan reaches about 2,500.05 (the
    500 best on A). Reduced costs differ by at most 1e-4, far below that gap of 0.75, so a core
    short of everyone cannot prove the plan by LP arguments; at the LP's prices the audience bound
    is within 1e-4 of it (h keeps the contacts on A at 500)."""
    rows = (CouplingRow("budget", "budget", Sense.LE, 1000.3, "spend", np.ones(2, bool)),)
    spend = np.tile([2.0, 1.5], (n, 1))
    value = np.c_[5.0 + 1e-4 * np.arange(n) / n, np.full(n, 3.0)]
    return Problem(customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object), campaign_ids=("A", "B"),
                   channels=("email", "email"), pair_value=value, spend=spend, eligible=np.ones((n, 2), bool),
                   treated_share=np.ones(2), rows=rows, weights={"spend": spend})


def test_the_exact_solver_proves_with_the_first_core(monkeypatch):
    """A core of 5 pairs cannot prove the plan by reduced costs; the audience bound does."""
    problem = nearly_identical_customers()
    monkeypatch.setattr(exact, "CORE_PAIRS", 5)
    cores = []
    solve_core = exact._solve_core
    monkeypatch.setattr(exact, "_solve_core", lambda *a, **k: cores.append(a[4].sum()) or solve_core(*a, **k))
    customers, campaigns = problem.candidate_pairs()
    lp = solve_relaxation(problem, customers, campaigns)
    clock = exact.Clock(time.perf_counter(), 60.0)
    result = exact.solve_with_relaxation(problem, customers, campaigns, lp, SolverOptions(), clock)
    assert result.termination is Termination.OPTIMAL and result.bound - result.objective <= 1e-6 * result.objective
    best = float(np.sort(problem.value[:, 0])[-500:].sum())
    assert result.objective == pytest.approx(best, abs=1e-9)
    assert lp.bound - best > 0.7
    assert len(cores) == 1 and cores[0] < 100, "proven without widening the core"


def test_the_decomposition_proves_without_widening_the_master(monkeypatch):
    problem = nearly_identical_customers()
    for module, name, value in ((decompose, "MASTER", 100), (pricing, "MAX_MOVERS", 200), (exact, "CORE_PAIRS", 10)):
        monkeypatch.setattr(module, name, value)

    def no_widening(*args):
        raise AssertionError("the master was widened")

    monkeypatch.setattr(decompose, "widen", no_widening)
    result = solve_decompose(problem, SolverOptions())
    assert result.termination is Termination.OPTIMAL and result.gap <= 1e-6
    best = float(np.sort(problem.value[:, 0])[-500:].sum())  # within the gap of it: neighbours differ by 5e-8
    assert best - 1e-6 * best <= result.objective <= best + 1e-9
    assert problem.violations(result.choice) == []


def test_a_bound_short_of_the_proof_still_tightens_the_decomposition(monkeypatch):
    """On 2,000 varied customers the audience bound leaves 0.022 of the LP's 0.234 above the
    optimum; the widened master then proves it, and the answer is the full model's."""
    problem = gap_problem(2_000)
    for module, name, value in ((decompose, "MASTER", 100), (pricing, "MAX_MOVERS", 200), (exact, "CORE_PAIRS", 10)):
        monkeypatch.setattr(module, name, value)
    bounds = []
    audience = master_core.audience_bound_at
    monkeypatch.setattr(master_core, "audience_bound_at", lambda *a: bounds.append((a[2], audience(*a))) or
                        bounds[-1][1])
    result = solve_decompose(problem, SolverOptions())
    whole = solve_full_model(problem, SolverOptions())
    assert result.termination is Termination.OPTIMAL
    assert result.objective == pytest.approx(whole.objective, rel=1e-9)
    lagrangian, tightened = bounds[0]
    assert whole.objective - 1e-9 <= tightened < lagrangian - 0.1


def gap_problem(n: int = 400) -> Problem:
    """medium_problem with one cost per contact and an odd budget: the LP optimum splits a customer."""
    rng = np.random.default_rng(7)
    problem = per_campaign_costs(medium_problem(3, n=n), rng)
    rows = tuple(dataclasses.replace(row, rhs=row.rhs + 0.37) if row.family == "budget" else row
                 for row in problem.rows)
    return dataclasses.replace(problem, rows=rows)


def test_audience_sizes_exist_only_where_every_row_can_be_met_by_whole_counts():
    """Two campaigns of one contact cost 1 each, N = (4, 6) eligible, 8 customers."""
    def row(sense: Sense, rhs: float, campaigns: list[bool]) -> CouplingRow:
        return CouplingRow("row", "custom", sense, rhs, COUNT, np.array(campaigns))

    def exist(*rows: CouplingRow, slack: float = 0.0) -> bool:
        return audiences_exist(rows, np.array([r.campaigns.astype(float) for r in rows]), np.array([4, 6]), 8,
                               np.full(len(rows), slack))

    assert exist(row(Sense.GE, 4, [True, False]), row(Sense.GE, 4, [False, True]))
    assert not exist(row(Sense.GE, 5, [True, False]))  # more than the 4 eligible
    assert not exist(row(Sense.GE, 4, [True, False]), row(Sense.GE, 5, [False, True]))  # 9 of 8 customers
    assert not exist(row(Sense.EQ, 2.5, [True, True]))  # no whole count is 2.5
    assert exist(row(Sense.EQ, 2.5, [True, True]), slack=0.5)  # within the rows' slack
    assert not exist(row(Sense.LE, 3, [True, True]), row(Sense.GE, 4, [True, False]))

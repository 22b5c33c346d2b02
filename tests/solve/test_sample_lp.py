"""optimizer/solve/sample_lp.py: start prices at scale from the largest sample's LP optimum."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from instances import GAP, medium_problem

from optimizer.solve import balancing, decompose, pricing, sample_lp, screening
from optimizer.solve.balancing import price_pass, scaled_customers
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import priced_problem, to_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.results import Termination, gap_allowed
from optimizer.solve.sample_lp import sample_lp_prices

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.instances import as_problem, generate  # noqa: E402

SAMPLE = 1_000
OPTIONS = SolverOptions(mip_gap=1e-9)


def nearest(n: int) -> int:  # the sample master's customers (decompose._master_size in a run)
    return 100


def clock() -> Clock:
    return Clock(time.perf_counter(), 60.0)


@pytest.fixture
def small_sample(monkeypatch):
    """The sample's loop from 1,000 customers on, over a sample of about 1,000."""
    monkeypatch.setattr(sample_lp, "SAMPLE_LP_ABOVE", 1_000)
    monkeypatch.setattr(sample_lp, "COARSE", (SAMPLE,))


def samples_lp(customers: Customers) -> tuple[Customers, float, np.ndarray]:
    """The hashed sample as its own customers (limits scaled), its LP optimum and the LP's duals."""
    sample = customers.sample(SAMPLE / customers.n)
    scaled = scaled_customers(sample, customers.n, sample.price_scale)
    problem = to_problem(scaled.priced, np.isfinite(scaled.priced.value), scaled.rhs)
    lp = solve_relaxation(problem, *problem.candidate_pairs())
    return scaled, lp.bound, lp.shadow_prices


def test_below_its_threshold_the_prices_are_kept():
    customers = Customers(priced_problem(medium_problem(1, n=3_000)))
    prices = np.zeros(len(customers.rows))
    assert sample_lp_prices(customers, prices, OPTIONS, lambda n: 50, clock()) is prices


def test_the_prices_are_the_samples_lp_optimum(small_sample):
    """From zero prices, the loop reaches the duals of the scaled sample's LP: L(λ) over the sample
    at them is its LP optimum (no lower: weak duality), and above the threshold they are kept."""
    customers = Customers(priced_problem(medium_problem(2, n=6_000)))
    scaled, optimum, _ = samples_lp(customers)
    start = np.zeros(len(customers.rows))
    prices = sample_lp_prices(customers, start, OPTIONS, nearest, clock())
    assert not np.array_equal(prices, start)
    assert price_pass(scaled, prices).bound == pytest.approx(optimum, rel=1e-7)


def test_prices_that_are_already_the_samples_optimum_are_kept(small_sample):
    """The LP's own duals: the loop cannot lower L(λ) by SAMPLE_LP_GAPS gaps, so the run goes on
    from exactly the prices it was given."""
    customers = Customers(priced_problem(medium_problem(3, n=6_000)))
    _, _, duals = samples_lp(customers)
    assert sample_lp_prices(customers, duals, OPTIONS, nearest, clock()) is duals


def test_the_prices_are_kept_unless_the_lp_lowers_l_by_more_than_the_gaps_allowed(small_sample, monkeypatch):
    """From zero prices the sample's LP lowers L(λ) by far more than SAMPLE_LP_GAPS gaps (the test
    above); allowed that much more, the run goes on from the prices it was given."""
    customers = Customers(priced_problem(medium_problem(2, n=6_000)))
    start = np.zeros(len(customers.rows))
    scaled, optimum, _ = samples_lp(customers)
    at_start = price_pass(scaled, start).bound
    gaps = (at_start - optimum) / gap_allowed(OPTIONS.mip_gap, at_start)  # the allowed gap at the start's L
    monkeypatch.setattr(sample_lp, "SAMPLE_LP_GAPS", 1.01 * gaps)
    assert sample_lp_prices(customers, start, OPTIONS, nearest, clock()) is start
    monkeypatch.setattr(sample_lp, "SAMPLE_LP_GAPS", 0.9 * gaps)
    assert sample_lp_prices(customers, start, OPTIONS, nearest, clock()) is not start


def test_out_of_time_or_without_a_plan_the_prices_are_kept(small_sample, monkeypatch):
    customers = Customers(priced_problem(medium_problem(4, n=6_000)))
    start = np.zeros(len(customers.rows))
    with monkeypatch.context() as patched:
        patched.setattr(pricing.MasterLP, "solve", lambda master, limit: None)  # stopped at its limit
        assert sample_lp_prices(customers, start, OPTIONS, nearest, clock()) is start
    monkeypatch.setattr(sample_lp, "solve_prices", lambda *args: None)  # the sample's rows cannot be met
    assert sample_lp_prices(customers, start, OPTIONS, nearest, clock()) is start


def test_with_less_than_its_least_time_the_sample_is_not_even_drawn(small_sample, monkeypatch):
    """The loop gets SAMPLE_LP_SHARE of the time left: with 3 s left, 0.75 s, below SAMPLE_LP_LEAST_S."""
    customers = Customers(priced_problem(medium_problem(4, n=6_000)))
    start = np.zeros(len(customers.rows))
    monkeypatch.setattr(Customers, "sample", lambda *args, **keywords: pytest.fail("drew a sample"))
    assert sample_lp_prices(customers, start, OPTIONS, nearest, Clock(time.perf_counter(), 3.0)) is start


@pytest.mark.parametrize("seed", [2, 3])
def test_a_screen_given_up_goes_on_from_the_samples_lp_to_the_exact_optimum(small_sample, monkeypatch, seed):
    """The bench's tight kind (a total budget just above what two minimum audiences cost), whose
    10^7 the sample's LP is for, at 3,000 × 10: screened from 1,000 customers, its candidates cannot
    meet the limits the fixed customers leave, and the passes over everyone (a master of 100) start
    from the sample's LP duals (a master of 60 of its 1,000); the plan and bound are the exact solver's."""
    problem = as_problem(generate(3_000, 10, seed, "tight"))
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 1_000)
    monkeypatch.setattr(balancing, "COARSE", (300, SAMPLE))
    monkeypatch.setattr(decompose, "MASTER", 300)
    kept = []
    original = decompose.sample_lp_prices

    def spy(customers, prices, *rest):
        found = original(customers, prices, *rest)
        kept.append(found is not prices)
        return found

    monkeypatch.setattr(decompose, "sample_lp_prices", spy)
    result = solve_decompose(problem, SolverOptions(mip_gap=GAP))
    exact = solve_exact(problem, SolverOptions(mip_gap=GAP))
    assert kept == [True], "the passes over everyone start from the sample's LP"
    assert result.termination is Termination.OPTIMAL and problem.violations(result.choice) == []
    assert result.objective == pytest.approx(exact.objective, rel=2 * GAP)
    assert result.bound >= exact.objective - 1e-6

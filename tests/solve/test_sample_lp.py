"""optimizer/solve/sample_lp.py: start prices at scale from the largest sample's LP optimum."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from instances import GAP, medium_problem

from optimizer.solve import balancing, decompose, pricing, sample_lp
from optimizer.solve.balancing import price_pass, scaled_customers
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import priced_problem, to_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.results import Termination
from optimizer.solve.sample_lp import sample_lp_prices

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.instances import as_problem, generate  # noqa: E402

SAMPLE = 1_000
OPTIONS = SolverOptions(mip_gap=1e-9)


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
    assert sample_lp_prices(customers, prices, OPTIONS, 50, clock()) is prices


def test_the_prices_are_the_samples_lp_optimum(small_sample):
    """From zero prices, the loop reaches the duals of the scaled sample's LP: L(λ) over the sample
    at them is its LP optimum (no lower: weak duality), and above the threshold they are kept."""
    customers = Customers(priced_problem(medium_problem(2, n=6_000)))
    scaled, optimum, _ = samples_lp(customers)
    start = np.zeros(len(customers.rows))
    prices = sample_lp_prices(customers, start, OPTIONS, 100, clock())
    assert not np.array_equal(prices, start)
    assert price_pass(scaled, prices).bound == pytest.approx(optimum, rel=1e-7)
    assert price_pass(scaled, prices).bound >= optimum - 1e-7 * abs(optimum)


def test_prices_that_are_already_the_samples_optimum_are_kept(small_sample):
    """The LP's own duals: the loop cannot lower L(λ) by SAMPLE_LP_GAPS gaps, so the run goes on
    from exactly the prices it was given."""
    customers = Customers(priced_problem(medium_problem(3, n=6_000)))
    _, _, duals = samples_lp(customers)
    assert sample_lp_prices(customers, duals, OPTIONS, 100, clock()) is duals


def test_out_of_time_the_prices_are_kept(small_sample, monkeypatch):
    customers = Customers(priced_problem(medium_problem(4, n=6_000)))
    start = np.zeros(len(customers.rows))
    monkeypatch.setattr(pricing.MasterLP, "solve", lambda master, limit: None)  # stopped at its limit
    assert sample_lp_prices(customers, start, OPTIONS, 100, clock()) is start


@pytest.mark.parametrize("seed", [2, 3])
def test_the_decomposition_from_the_samples_lp_reaches_the_exact_optimum(small_sample, monkeypatch, seed):
    """The bench's tight kind (a total budget just above what two minimum audiences cost), whose
    10^7 the sample's LP is for, at 3,000 × 10 with a master of 300: the passes over everyone
    start from the sample's LP duals, and the plan and bound are the exact solver's."""
    problem = as_problem(generate(3_000, 10, seed, "tight"))
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

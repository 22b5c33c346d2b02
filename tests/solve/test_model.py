"""The Pyomo model: rows written on the campaigns' audiences when every row allows it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from instances import assert_matches_brute_force, per_campaign_costs, random_problem

from optimizer.solve.model import build_model, counts_only
from optimizer.solve.problem import COUNT, CouplingRow, Sense


@pytest.mark.parametrize("seed", range(60))
def test_audience_rows_match_brute_force(seed: int):
    rng = np.random.default_rng(seed)
    problem = per_campaign_costs(random_problem(rng), rng)
    customers, campaigns = problem.candidate_pairs()
    if problem.rows and customers.size:
        assert counts_only(problem, customers, campaigns)
    assert_matches_brute_force(problem)


def test_the_audience_variables_count_the_chosen_pairs():
    rng = np.random.default_rng(3)
    problem = per_campaign_costs(random_problem(rng, n=6, k=3), rng)
    cap = CouplingRow("max_audience[k0]", "max_audience", Sense.LE, 2.0, COUNT, np.arange(3) == 0)
    problem = dataclasses.replace(problem, rows=(*problem.rows, cap))
    customers, campaigns = problem.candidate_pairs()
    model = build_model(problem, customers, campaigns)
    assert hasattr(model, "audience_size") and len(model.audience_size_of) == problem.n_campaigns


def test_a_budget_of_expected_spend_keeps_every_row_on_the_pairs():
    rng = np.random.default_rng(4)
    problem = random_problem(rng, n=6, k=3)
    spend = problem.spend.copy()
    spend[0, 0] += 0.25  # one pair costs differently
    budget = CouplingRow("budget", "budget", Sense.LE, 5.0, "spend", np.ones(3, bool))
    problem = dataclasses.replace(problem, spend=spend, weights={"spend": spend}, rows=(budget,))
    customers, campaigns = problem.candidate_pairs()
    assert not counts_only(problem, customers, campaigns)
    assert not hasattr(build_model(problem, customers, campaigns), "audience_size")

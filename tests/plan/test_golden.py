"""Golden figures of one seeded scenario (scenarios/tight_budget.yaml on the bundled data).

Update these numbers only when the example data, the scenario or the model's formulation change
on purpose (say which in the commit). A solver change alone must not move them beyond the
tolerance: the objective is proven within mip_gap = 1e-6, so any optimal plan matches it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.plan.workflow import optimize

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVE = 17_246.13
TOLERANCE = 2e-6


@pytest.fixture(scope="module")
def summary():
    return optimize(ROOT / "scenarios" / "tight_budget.yaml").summary


def test_objective_is_the_proven_optimum(summary):
    assert summary["status"] == "optimal"
    assert summary["gap"] <= 1e-6
    assert summary["objective"] == pytest.approx(OBJECTIVE, rel=TOLERANCE, abs=0.01)


def test_every_campaign_sits_at_its_minimum_audience(summary):
    """The budget (3,000) only just pays for the minimum audiences, so each campaign gets exactly its minimum."""
    audiences = {c["id"]: c["audience"] for c in summary["campaigns"]}
    assert audiences == {"winback_coupon": 1500, "cross_sell_email": 3000, "vip_call": 200, "sms_reminder": 1000}


def test_the_budget_binds_with_a_positive_shadow_price(summary):
    budget = next(c for c in summary["constraints"] if c["name"] == "budget")
    assert budget["binding"] and budget["shadow_price"] > 0

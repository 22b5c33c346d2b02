"""optimizer/scenario/rows.py: one coupling row per limit the scenario sets, named and located."""

from __future__ import annotations

import numpy as np

from optimizer.scenario.rows import TREATED_SPEND, audience_rows, budget_rows, capacity_rows
from optimizer.scenario.schema import Scenario
from optimizer.solve.problem import COUNT, Sense


def scenario(**keys) -> Scenario:
    return Scenario.model_validate({"name": "rows", "customers": "c.csv", "budget": 100, "campaigns": [
        {"id": "mail", "channel": "email", "p_treat": 0.2, "p_control": 0.1, "min_audience": 5, "budget": 40},
        {"id": "call", "channel": "phone", "p_treat": 0.2, "p_control": 0.1, "max_audience": 9}],
        "channels": {"email": {"capacity": 50}, "phone": {}}, **keys})


def test_each_limit_is_one_row_with_its_campaigns_and_its_key():
    rows = [*budget_rows(scenario()), *audience_rows(scenario()), *capacity_rows(scenario())]
    described = [(r.name, r.family, r.sense, r.rhs, r.weight, r.campaigns.tolist(), r.source) for r in rows]
    assert described == [
        ("budget", "budget", Sense.LE, 100, "spend", [True, True], "budget"),
        ("budget[mail]", "campaign_budget", Sense.LE, 40, "spend", [True, False], "campaigns[0].budget"),
        ("min_audience[mail]", "min_audience", Sense.GE, 5, COUNT, [True, False], "campaigns[0].min_audience"),
        ("max_audience[call]", "max_audience", Sense.LE, 9, COUNT, [False, True], "campaigns[1].max_audience"),
        ("capacity[email]", "channel_capacity", Sense.LE, 50, COUNT, [True, False], "channels.email.capacity"),
    ]


def test_budgets_that_count_treated_spend_only_use_its_weight():
    rows = budget_rows(scenario(budget_counts_controls=False))
    assert {row.weight for row in rows} == {TREATED_SPEND} and np.all([row.sense is Sense.LE for row in rows])

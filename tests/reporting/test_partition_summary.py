"""optimizer/reporting/partition_summary.py: a plan's summary from its partitions' sums equals the
summary of the whole, however the customers are split (no cluster needed to check the merge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from partitioned import assert_same_summary

from optimizer.plan.workflow import optimize
from optimizer.reporting.partition_summary import merged_figures, partition_figures
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate, planned_rates, response_values
from optimizer.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CHANGES = {  # every kind of figure: breakdowns of many levels, a ratio row, offer variants, KPIs (the scenario's)
    "breakdown": ["segment", "region", "days_since_last_purchase - days_since_last_purchase % 5"],
    "constraints": [{"name": "sms_roi", "campaigns": ["sms_reminder"], "expression": "value",
                     "per": "spend", "sense": ">=", "rhs": 1.5}],
    "campaigns.winback_coupon.variants": [{"id": "off12"}, {"id": "off20", "cost_per_response": 20.0,
                                                            "p_treat": "min(1, 1.25 * p_treat)"}],
}


@pytest.fixture(scope="module")
def planned():
    scenario = load_scenario(ROOT / "scenarios" / "weekly.yaml").with_changes(CHANGES)
    return scenario, optimize(scenario)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_partitions_figures_added_up_are_the_whole_plans(planned, seed):
    scenario, plan = planned
    data, choice, control = plan.formulation.data, plan.result.choice, plan.control
    scores = pd.read_parquet(ROOT / "examples" / "data" / "scores.parquet")
    rng = np.random.default_rng(seed)
    pieces = np.array_split(rng.permutation(len(choice)), int(rng.integers(2, 6)))
    figures = []
    for rows in map(np.sort, pieces):
        customers = data.customers.iloc[rows].reset_index(drop=True)
        part = load_data(scenario, data.run_date, tables=(
            customers, scores[scores["customer_id"].isin(customers[scenario.customer_id])]))
        mine = choice[rows]
        figures.append(partition_figures(formulate(part, whole=False), mine, control[rows],
                                         (*planned_rates(part, mine), response_values(part, mine))))
    merged = merged_figures(figures, plan.formulation.problem.rows, plan.result.shadow_prices,
                            scenario.objective_name, scenario.budget_counts_controls)
    assert_same_summary(merged, {key: plan.summary[key] for key in merged})
    assert any(row.get("ratio") is not None for row in merged["constraints"])
    assert len(merged["breakdown"][2]["levels"]) == 31  # 30 levels and the rest added up

"""optimizer/scoring/evaluate_run.py: a run's plan evaluated from files, charged its scenario's costs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evaluation_history import targeting

from optimizer.errors import DataError, ScenarioError
from optimizer.scoring.evaluate import EvaluateOptions, evaluate_plan
from optimizer.scoring.evaluate_run import _contact_cost, evaluate_files, format_evaluation
from optimizer.store.files import write_run


def test_paired_difference_and_files(simulated, tmp_path):
    history, _ = simulated
    plan = targeting(history)
    plan.to_parquet(tmp_path / "plan.parquet", index=False)
    history.to_csv(tmp_path / "history.csv", index=False)
    result = evaluate_files(tmp_path / "plan.parquet", tmp_path / "history.csv")
    assert result.plan.value == pytest.approx(evaluate_plan(plan, history).plan.value)
    gain, se = result.plan.minus(result.baselines[0])
    assert gain == pytest.approx(result.plan.value - result.baselines[0].value)
    assert se > 0
    assert result.to_dict()["plan"]["name"] == "plan"


def test_a_plan_in_its_run_folder_is_charged_its_scenarios_costs(simulated, tmp_path):
    history, _ = simulated
    plan = targeting(history)
    summary = {"run_id": "r1", "campaigns": [{"id": "a", "cost_per_contact": 0.3}, {"id": "b", "cost_per_contact": 0.1}]}
    write_run(tmp_path / "run", "r1", {"plan.parquet": lambda temp: plan.to_parquet(temp, index=False),
                                       "summary.json": lambda temp: temp.write_text(json.dumps(summary))})
    history.to_parquet(tmp_path / "history.parquet", index=False)
    charged = evaluate_files(tmp_path / "run" / "plan.parquet", tmp_path / "history.parquet")
    given = evaluate_plan(plan, history, options=EvaluateOptions(costs={"a": 0.3, "b": 0.1}))
    assert charged.plan.value == pytest.approx(given.plan.value)
    assert charged.costs == {"a": 0.3, "b": 0.1} and "the scenario's cost per contact" in charged.costs_source
    folder = evaluate_files(tmp_path / "run", tmp_path / "history.parquet")  # the folder itself: the same charge
    assert folder.costs == charged.costs and folder.plan.value == pytest.approx(charged.plan.value)
    plan.to_parquet(tmp_path / "loose.parquet", index=False)
    loose = evaluate_files(tmp_path / "loose.parquet", tmp_path / "history.parquet")
    assert loose.costs == {} and loose.costs_source.startswith("none given")
    assert loose.plan.value > charged.plan.value


def test_a_campaign_with_variants_costs_its_variants_mean_per_contact_sent() -> None:
    campaign = {"id": "coupon", "cost_per_contact": 0.05, "variants": [
        {"id": "letter", "cost_per_contact": 1.5, "treatment": 30}, {"id": "mail", "cost_per_contact": 0.05,
                                                                       "treatment": 70},
        {"id": "unsent", "cost_per_contact": 9.0, "treatment": 0}]}
    assert _contact_cost(campaign) == pytest.approx((30 * 1.5 + 70 * 0.05) / 100)
    assert _contact_cost({"id": "call", "cost_per_contact": 4.0}) == 4.0


def test_the_scenarios_cost_of_a_campaign_the_history_never_tested_is_not_charged(simulated, tmp_path):
    history, _ = simulated
    plan = targeting(history)
    campaigns = [{"id": "a", "cost_per_contact": 0.3}, {"id": "b", "cost_per_contact": 0.1},
                 {"id": "new_push", "cost_per_contact": 0.2}]  # in the scenario, sent to nobody, never tested
    write_run(tmp_path / "run", "r1", {"plan.parquet": lambda temp: plan.to_parquet(temp, index=False),
                                       "summary.json": lambda temp: temp.write_text(json.dumps(
                                           {"run_id": "r1", "campaigns": campaigns}))})
    history.to_parquet(tmp_path / "history.parquet", index=False)
    result = evaluate_files(tmp_path / "run", tmp_path / "history.parquet")
    assert result.costs == {"a": 0.3, "b": 0.1}


def test_a_history_without_its_columns_is_named_by_its_file(simulated, tmp_path):
    history, _ = simulated
    targeting(history).to_parquet(tmp_path / "plan.parquet", index=False)
    history.drop(columns="campaign_id").to_parquet(tmp_path / "customers.parquet", index=False)
    with pytest.raises(DataError, match=rf"no column 'campaign_id' \({tmp_path / 'customers.parquet'}\)"):
        evaluate_files(tmp_path / "plan.parquet", tmp_path / "customers.parquet")


def test_a_0_1_outcome_is_not_charged_money(simulated, tmp_path):
    """--outcome converted took euro contact costs off a conversion rate: the plan 'worse than nobody'."""
    history, _ = simulated
    history = history.assign(converted=(history["revenue"] > 0).astype(int))
    plan = targeting(history)
    summary = {"run_id": "r1", "campaigns": [{"id": "a", "cost_per_contact": 0.3}, {"id": "b", "cost_per_contact": 0.1}]}
    write_run(tmp_path / "run", "r1", {"plan.parquet": lambda temp: plan.to_parquet(temp, index=False),
                                       "summary.json": lambda temp: temp.write_text(json.dumps(summary))})
    history.to_parquet(tmp_path / "history.parquet", index=False)
    options = EvaluateOptions(outcome="converted")
    rates = evaluate_files(tmp_path / "run", tmp_path / "history.parquet", options=options)
    assert rates.costs == {} and rates.costs_source == "none: 'converted' is 0/1, not money"
    assert rates.plan.value == pytest.approx(evaluate_plan(plan, history, options=options).plan.value)
    assert rates.plan.value > rates.baselines[0].value  # the plan converts more than nobody
    with pytest.raises(ScenarioError, match="the outcome 'converted' is 0/1, not money"):
        evaluate_files(tmp_path / "run", tmp_path / "history.parquet",
                       options=EvaluateOptions(outcome="converted", costs={"a": 0.3}))


def test_a_history_campaign_without_a_cost_is_not_the_best_campaign_for_free(simulated):
    """Half of campaign b written 'b ' (a trailing space) was charged nothing and won 'everybody: b '."""
    history, _ = simulated
    relabelled = history.assign(campaign_id=history["campaign_id"].mask(
        history["campaign_id"].eq("b") & (history.index % 2 == 0), "b "))
    costs = {"a": 0.3, "b": 5.0}
    result = evaluate_plan(targeting(history), relabelled, options=EvaluateOptions(costs=costs, some_costs=True))
    assert result.uncharged == ("b ",) and result.baselines[1].name == "everybody: a"
    assert "left out of the best-campaign baseline: 'b '" in format_evaluation(result)
    with pytest.raises(ScenarioError, match="Costs were given for 'a', 'b' but not for 'b '") as caught:
        evaluate_plan(targeting(history), relabelled, options=EvaluateOptions(costs=costs))  # --cost: all or none
    assert "'b ' has blanks around it" in caught.value.fix


def test_costs_given_for_some_campaigns_are_refused(simulated):
    """--cost vip_call=4 alone charged the plan's campaigns nothing and made 'everybody: vip_call' the
    best baseline: plan - best came out +3.41 where, every campaign charged, it is -0.92."""
    history, _ = simulated
    with pytest.raises(ScenarioError, match="Costs were given for 'b' but not for 'a'"):
        evaluate_plan(targeting(history), history, options=EvaluateOptions(costs={"b": 5.0}))


def test_a_yes_no_outcome_is_read_as_flags_and_not_charged(simulated, tmp_path):
    """converted written yes/no was refused as 'not a number', with a fix about currency signs."""
    history, _ = simulated
    history = history.assign(converted=np.where(history["revenue"] > 0, "yes", "no"))
    history.to_csv(tmp_path / "history.csv", index=False)
    targeting(history).to_parquet(tmp_path / "plan.parquet", index=False)
    result = evaluate_files(tmp_path / "plan.parquet", tmp_path / "history.csv",
                            options=EvaluateOptions(outcome="converted"))
    numbers = evaluate_plan(targeting(history), history.assign(converted=(history["revenue"] > 0).astype(int)),
                            options=EvaluateOptions(outcome="converted"))
    assert result.plan.value == pytest.approx(numbers.plan.value) and result.costs == {}
    assert "no contact cost charged" in result.value_basis

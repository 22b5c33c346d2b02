"""optimizer/plan/rules.py: a plan exported as rules over customer columns, with their agreement
and value loss computed from the rules' own texts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import CvoError, DataError, ScenarioError
from optimizer.plan.outputs import write_plan
from optimizer.plan.rules import plan_rules, write_rules
from optimizer.plan.workflow import optimize
from optimizer.scenario.expressions import parse


def run_folder(folder: Path, budget: float | None = None, constraints: list[dict[str, object]] | None = None) -> Path:
    """600 customers: segment A is worth most by mail, segment B by a call it alone may get, and
    customers with score below 0.2 are worth nothing anywhere; without a budget the plan follows that."""
    rng = np.random.default_rng(3)
    customers = pd.DataFrame({"customer_id": [f"c{k}" for k in range(600)],
                              "segment": rng.choice(["A", "B"], 600), "score": rng.uniform(0, 1, 600),
                              "noise": rng.normal(size=600)})
    customers.to_csv(folder / "customers.csv", index=False)
    worth = "0 if score < 0.2 else 10"
    scenario = {"name": "rules", "customers": "customers.csv", **({"budget": budget} if budget else {}), "campaigns": [
        {"id": "mail", "channel": "email", "p_treat": "0.5 if segment == 'A' and score >= 0.2 else 0.1",
         "p_control": 0.1, "value_per_response": worth, "cost_per_contact": 0.5},
        {"id": "call", "channel": "phone", "p_treat": "0.9 if score >= 0.2 else 0.1", "p_control": 0.1,
         "value_per_response": worth, "cost_per_contact": 1.0, "eligible": "segment == 'B'"}],
        **({"constraints": constraints} if constraints else {})}
    (folder / "rules.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    write_plan(optimize(folder / "rules.yaml"), folder / "out")
    return folder / "out"


def test_a_plan_two_conditions_describe_is_reproduced_exactly(tmp_path: Path) -> None:
    out = run_folder(tmp_path)
    rules = plan_rules(out, depth=2)
    assert rules.agreement == 1.0 and rules.value_loss == pytest.approx(0.0, abs=1e-9)
    by_campaign = {rule.campaign: rule.condition for rule in rules.rules}
    assert set(by_campaign) == {"mail", "call", "none"}
    assert {"segment == 'A'", "segment != 'B'"} & set(by_campaign["mail"].split(" and "))
    assert "score > 0.2" in by_campaign["mail"] and "score > 0.2" in by_campaign["call"]
    assert "noise" not in " ".join(by_campaign.values())
    assert all(rule.as_planned == 1.0 for rule in rules.rules) and sum(r.customers for r in rules.rules) == 600


def test_the_figures_are_those_of_the_rules_texts(tmp_path: Path) -> None:
    """A budget the rules are not held to: agreement below 1, recomputed here from the texts alone."""
    out = run_folder(tmp_path, budget=60)
    rules = plan_rules(out, depth=2)
    customers = pd.read_csv(tmp_path / "customers.csv")
    columns = {name: customers[name].to_numpy(dtype=object if name == "segment" else None) for name in customers}
    given = np.full(600, "none", dtype=object)
    for rule in rules.rules:
        given[parse(rule.condition, where="test").evaluate(columns, 600).astype(bool)] = rule.campaign
    plan = pd.read_parquet(out / "plan.parquet").set_index("customer_id").reindex(customers["customer_id"])
    planned = plan["campaign_id"].astype(object).fillna("none").to_numpy()
    assert rules.agreement == pytest.approx(float(np.mean(given == planned)))
    assert rules.agreement < 1.0 and rules.value_loss < 0  # the rules spend past the budget the plan keeps
    [budget] = [limit for limit in rules.limits if limit["name"] == "budget"]
    assert not budget["holds"] and budget["lhs"] > 60
    assert "budget" in rules.text().splitlines()[-2]


def test_a_ratio_limit_the_rules_break_is_stated_as_its_ratio(tmp_path: Path) -> None:
    """An ROI hurdle of 6.5 that the depth-1 rules miss (they call and mail the customers worth
    nothing too) was printed as its linear row, 'roi (-598.50, limit >= 0.00)'. Calls of the 236
    customers worth 7 each and of 66 worth -1, mails of 224 worth 3.5 and 74 worth -0.5:
    2,333 of value on 302 + 149 = 451 of spend, a ratio of 5.17."""
    hurdle = {"name": "roi", "sense": ">=", "expression": "uplift * value_per_response - spend", "per": "spend",
              "rhs": 6.5}
    rules = plan_rules(run_folder(tmp_path, constraints=[hurdle]), depth=1)
    [roi] = [limit for limit in rules.limits if limit["name"] == "roi"]
    assert not roi["holds"] and roi["ratio"] == pytest.approx(2333 / 451) and roi["ratio_rhs"] == 6.5
    assert "roi (ratio 5.17, limit >= 6.50)" in rules.text().splitlines()[-2]


def test_rules_are_written_and_printed(tmp_path: Path) -> None:
    out = run_folder(tmp_path)
    written = write_rules(out, plan_rules(out, depth=2))
    assert json.loads(written[0].read_text())["agreement"] == 1.0
    assert written[1].read_text().startswith("IF ")
    result = CliRunner().invoke(app, ["rules", str(out), "--depth", "2", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["depth"] == 2


def test_a_depth_out_of_range_and_a_folder_without_its_scenario_are_refused(tmp_path: Path) -> None:
    out = run_folder(tmp_path)
    with pytest.raises(ScenarioError):
        plan_rules(out, depth=0)
    (out / "scenario.yaml").unlink()
    with pytest.raises(CvoError) as caught:
        plan_rules(out)
    assert "scenario.yaml" in caught.value.message


def test_a_summary_without_its_run_date_is_refused_by_name(tmp_path: Path) -> None:
    """A summary.json of a cvo before run dates were recorded ended in KeyError: 'run_date'."""
    from optimizer.store.files import file_digest

    out = run_folder(tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    del summary["run_date"]
    (out / "summary.json").write_text(json.dumps(summary))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["summary.json"] = file_digest(out / "summary.json")
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"The run's summary.json has no run_date \(runs of cvo before it kept "
                                        r"none\)"):
        plan_rules(out)


def test_columns_a_rule_cannot_name_are_left_out(tmp_path: Path) -> None:
    out = run_folder(tmp_path)
    customers = pd.read_csv(tmp_path / "customers.csv").assign(**{"total spend": 1.0, "class": 2})
    customers.to_csv(tmp_path / "customers.csv", index=False)
    rules = plan_rules(out, depth=2)
    assert {"total spend", "class"} <= set(rules.left_out) and rules.agreement == 1.0


def test_a_column_of_dates_is_left_out_not_tested_level_by_level(tmp_path: Path) -> None:
    """A time-stamp text column of few levels gave rules such as last_sent == '2026-09-01 10:00:00',
    which the expressions (reading it as days) refuse: cvo rules ended in an ExpressionError."""
    out = run_folder(tmp_path)
    customers = pd.read_csv(tmp_path / "customers.csv")
    customers["last_sent"] = np.where(customers["segment"] == "A", "2026-09-01 10:00:00", "2026-09-02 08:00:00")
    customers.to_csv(tmp_path / "customers.csv", index=False)
    rules = plan_rules(out, depth=2)
    assert "last_sent" in rules.left_out and rules.agreement == 1.0


def test_forced_customers_count_at_their_whole_value(tmp_path: Path) -> None:
    """A plan with forced customers and a control share: the plan's value in the rules' figures is the
    solver's objective (forced customers are never held out, so worth v, not (1 - f) v)."""
    pd.DataFrame({"customer_id": [f"c{k}" for k in range(0, 600, 7)]}).to_csv(tmp_path / "promised.csv", index=False)
    run_folder(tmp_path)
    scenario = yaml.safe_load((tmp_path / "rules.yaml").read_text(encoding="utf-8"))
    scenario["campaigns"][0]["control_fraction"] = 0.5
    scenario["forced"] = [{"file": "promised.csv", "campaign": "mail"}]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    plan = optimize(tmp_path / "rules.yaml")
    write_plan(plan, tmp_path / "out")
    assert plan_rules(tmp_path / "out", depth=2).plan_value == pytest.approx(plan.result.objective)


def test_the_rules_of_a_committed_run_read_the_history_as_it_was_planned(tmp_path: Path) -> None:
    """After cvo commit, the run's own contacts would block its forced customers (refused) and the
    rules' other choices under a cool-down: the figures are those of the run before its commit."""
    from optimizer.loop.commits import commit

    pd.DataFrame({"customer_id": [f"c{k}" for k in range(0, 600, 7)]}).to_csv(tmp_path / "promised.csv", index=False)
    run_folder(tmp_path)
    scenario = yaml.safe_load((tmp_path / "rules.yaml").read_text(encoding="utf-8"))
    scenario["forced"] = [{"file": "promised.csv", "campaign": "mail"}]
    scenario["contact_policy"] = {"history": "history.duckdb", "cooldowns": [{"channel": "email", "days": 30}],
                                  "separate_windows": True}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    write_plan(optimize(tmp_path / "rules.yaml"), tmp_path / "out")
    before = plan_rules(tmp_path / "out", depth=2)
    commit(tmp_path / "out")
    later = {**scenario, "name": "later", "forced": []}  # a run committed after this one's, on its customers
    (tmp_path / "later.yaml").write_text(yaml.safe_dump(later, sort_keys=False), encoding="utf-8")
    write_plan(optimize(tmp_path / "later.yaml", run_date=dt.date.today() + dt.timedelta(days=1)), tmp_path / "next")
    commit(tmp_path / "next")
    after = plan_rules(tmp_path / "out", depth=2)
    assert (after.agreement, after.plan_value, after.rules_value) == pytest.approx(
        (before.agreement, before.plan_value, before.rules_value))


def test_the_rules_say_whom_they_would_contact_against_the_lists(tmp_path: Path) -> None:
    """The rules know columns, not the run's lists: the do-not-contact customers they would give a
    campaign, and the promised customers they would give another one, are named and counted."""
    pd.DataFrame({"customer_id": [f"c{k}" for k in range(0, 600, 5)]}).to_csv(tmp_path / "dnc.csv", index=False)
    run_folder(tmp_path)
    customers = pd.read_csv(tmp_path / "customers.csv")
    callable_ids = customers["customer_id"][(customers["segment"] == "B") & (customers.index % 5 != 0)][:3]
    pd.DataFrame({"customer_id": callable_ids}).to_csv(tmp_path / "promised.csv", index=False)
    scenario = yaml.safe_load((tmp_path / "rules.yaml").read_text(encoding="utf-8"))
    scenario["excluded"] = ["dnc.csv"]
    scenario["forced"] = [{"file": "promised.csv", "campaign": "call"}]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    plan = optimize(tmp_path / "rules.yaml")
    write_plan(plan, tmp_path / "out")
    exported = plan_rules(tmp_path / "out", depth=2)
    columns = {name: customers[name].to_numpy() for name in customers.columns}
    taken, given = np.zeros(600, dtype=bool), np.full(600, "none", dtype=object)
    for rule in exported.rules:  # the leaves of a tree never overlap: the order does not matter
        holds = np.asarray(parse(rule.condition, where="test").evaluate(columns, 600), dtype=bool) & ~taken
        given[holds], taken = rule.campaign, taken | holds
    excluded = customers["customer_id"].isin([f"c{k}" for k in range(0, 600, 5)]).to_numpy()
    assert set(exported.excluded_given) == set(customers["customer_id"][excluded & (given != "none")])
    assert len(exported.excluded_given) > 0 and exported.not_allowed >= len(exported.excluded_given)
    promised = customers["customer_id"].isin(callable_ids).to_numpy()
    assert set(exported.forced_missed) == set(customers["customer_id"][promised & (given != "call")])
    assert exported.forced == 3
    text = exported.text()
    assert f"{len(exported.excluded_given):,} of them on the do-not-contact list" in text
    assert f"{len(exported.forced_missed):,} of the 3 promised customers" in text
    assert json.loads(json.dumps(exported.to_dict()))["excluded_given"] == list(exported.excluded_given)

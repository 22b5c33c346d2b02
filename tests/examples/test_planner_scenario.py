"""scenarios/planner.yaml on the bundled example data: the coupon's offer variants, promised
contacts, a do-not-contact list, an expression objective and an ROI hurdle, planned and written with
its channel contact lists, and the plan checked by the independent checker against the effective
scenario the run folder keeps."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from checker import check_plan

from optimizer.errors import InfeasibleError
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize
from optimizer.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("planner") / "out"
    return out, write_plan(optimize(ROOT / "scenarios" / "planner.yaml"), out)


def test_the_planner_scenario_keeps_every_promise_and_rule(run):
    out, summary = run
    assert summary["status"] == "optimal" and summary["gap"] <= 1e-6
    assert check_plan(out / "scenario.yaml", out) == []
    plan = pd.read_parquet(out / "plan.parquet").set_index("customer_id")
    promised = pd.read_csv(DATA / "promised_contacts.csv", dtype=str).set_index("customer_id")
    assert (plan.loc[promised.index, "group"] == "forced").all()
    assert (plan.loc[promised.index, "campaign_id"] == promised["campaign_id"]).all()
    blocked = pd.read_csv(DATA / "do_not_contact.csv", dtype=str)["customer_id"]
    known = blocked[blocked.isin(plan.index)]
    assert (plan.loc[known, "reason"] == "excluded").all() and summary["customer_lists"][0]["not_in_customers"] == 5
    [hurdle] = [row for row in summary["constraints"] if row["name"] == "roi_hurdle"]
    assert hurdle["ratio"] >= 4.5 - 1e-9 and hurdle["binding"]


def test_its_contact_lists_hold_the_promised_customers(run):
    out, summary = run
    sent = pd.concat([pd.read_csv(out / name, dtype=str) for name in summary["contact_lists"].values()])
    promised = pd.read_csv(DATA / "promised_contacts.csv", dtype=str)
    assert set(promised["customer_id"]) <= set(sent["customer_id"])
    plan = pd.read_parquet(out / "plan.parquet")
    assert len(sent) == int(plan["group"].isin(["treatment", "forced"]).sum())


def test_its_summary_breaks_the_plan_down_by_segment_and_region(run):
    """Each breakdown's levels add up to the plan: customers, treated, control, spend and value."""
    _, summary = run
    assert [part["by"] for part in summary["breakdown"]] == ["segment", "region"]
    for part in summary["breakdown"]:
        levels = part["levels"]
        assert sum(level["customers"] for level in levels) == summary["customers"]
        assert sum(level["treatment"] for level in levels) == summary["treatment"]
        assert sum(level["control"] for level in levels) == summary["control"]
        assert sum(level["expected_value"] for level in levels) == pytest.approx(summary["expected_value"])
        assert sum(level["expected_spend"] for level in levels) == pytest.approx(summary["expected_spend"])
        assert {c["id"]: sum(level["campaigns"][c["id"]] for level in levels)
                for c in summary["campaigns"]} == {c["id"]: c["treatment"] for c in summary["campaigns"]}


def test_an_own_objective_has_no_gross_value_or_roi_and_its_ratio_row_is_not_swept(run):
    """Gross value and ROI are money net of spend only under incremental_value; a sweep of a ratio
    row would sweep its linear form's 0, so it is refused."""
    _, summary = run
    assert summary["gross_value"] is None and summary["roi"] is None
    from optimizer.errors import ScenarioError
    from optimizer.whatif.frontier import sweep

    with pytest.raises(ScenarioError) as caught:
        sweep(ROOT / "scenarios" / "planner.yaml", "roi_hurdle", [3.0, 4.0])
    assert "ratio limit" in caught.value.message


def test_the_coupon_levels_share_its_audience_and_each_is_named(run):
    """Each of the coupon's variants is given to someone; the campaign's figures are its variants' sums;
    the capped 20-off coupon stays within its 1,500."""
    out, summary = run
    [coupon] = [c for c in summary["campaigns"] if c["id"] == "winback_coupon"]
    variants = {v["id"]: v for v in coupon["variants"]}
    assert list(variants) == ["off8", "off12", "off20"] and all(v["audience"] > 0 for v in variants.values())
    for key in ("audience", "treatment", "control"):
        assert sum(v[key] for v in variants.values()) == coupon[key]
    assert variants["off20"]["audience"] <= 1500
    sent = pd.read_csv(out / summary["contact_lists"]["email"], dtype=str)
    assert set(sent.loc[sent["campaign_id"] == "winback_coupon", "variant"]) == set(variants)


@pytest.mark.slow  # two solves of the example (20 s); tests/plan/test_optimize.py has a small one by default
def test_an_roi_hurdle_out_of_reach_is_told_as_the_ratio_that_is(tmp_path):
    """At 9 the hurdle and the minimum audiences conflict: the message names the ratio a plan was
    found at, and the scenario with that ratio has a plan."""
    scenario = load_scenario(ROOT / "scenarios" / "planner.yaml")
    hurdle = scenario.constraints[0].model_dump(exclude_none=True)
    with pytest.raises(InfeasibleError) as caught:
        optimize(scenario.with_changes({"constraints": [{**hurdle, "rhs": 9.0}]}))
    found = re.search(r"lower the ratio of roi_hurdle \(>= 9\) to ([\d.]+) \(a plan was found at that ratio\)",
                      caught.value.message)
    assert found, caught.value.message
    plan = optimize(scenario.with_changes({"constraints": [{**hurdle, "rhs": float(found.group(1))}]}))
    assert plan.result.choice is not None and plan.formulation.problem.violations(plan.result.choice) == []

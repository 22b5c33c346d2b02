"""optimizer/scenario/inheritance.py: scenarios that extend others, and --set overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from optimizer.errors import ScenarioError, ScenarioInvalid
from optimizer.scenario.inheritance import apply_overrides, merge
from optimizer.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, content: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def test_a_scenario_extends_weekly_with_only_the_keys_it_changes(tmp_path):
    """In another folder: the base's data paths still name the bundled data; the budget, one
    campaign's audience and a channel's capacity change; a campaign is added; the rest is weekly's."""
    weekly = load_scenario(ROOT / "scenarios" / "weekly.yaml")
    child = write(tmp_path / "plans" / "tight.yaml", {
        "extends": os.path.relpath(ROOT / "scenarios" / "weekly.yaml", tmp_path / "plans"),
        "name": "tight", "budget": 3000,
        "campaigns": [{"id": "vip_call", "max_audience": 500},
                      {"id": "summer_mail", "channel": "email", "cost_per_contact": 0.05}],
        "channels": {"email": {"capacity": 5000}},
    })
    tight = load_scenario(child)
    assert tight.name == "tight" and tight.budget == 3000
    assert tight.resolve(tight.customers) == weekly.resolve(weekly.customers)
    assert tight.resolve(tight.contact_policy.history) == weekly.resolve(weekly.contact_policy.history)
    assert [c.id for c in tight.campaigns] == [*weekly.campaign_ids(), "summer_mail"]
    vip = {c.id: c for c in tight.campaigns}["vip_call"]
    base_vip = {c.id: c for c in weekly.campaigns}["vip_call"]
    assert vip.max_audience == 500 and vip.min_audience == base_vip.min_audience
    assert vip.cost_per_contact == base_vip.cost_per_contact
    assert tight.channels["email"].capacity == 5000 and tight.channels["sms"] == weekly.channels["sms"]
    assert tight.contact_policy == weekly.contact_policy.model_copy(update={"history": tight.contact_policy.history})


def test_a_relative_extends_is_relative_to_the_file_that_names_it(tmp_path):
    write(tmp_path / "base" / "base.yaml", {"name": "base", "customers": "data/c.parquet", "scores": "s.parquet",
                                            "budget": 10,
                                            "campaigns": [{"id": "a", "channel": "email"}]})
    child = write(tmp_path / "child" / "child.yaml", {"extends": "../base/base.yaml", "name": "child"})
    grandchild = write(tmp_path / "g.yaml", {"extends": "child/child.yaml", "name": "g", "budget": 20})
    loaded = load_scenario(grandchild)
    assert loaded.budget == 20 and loaded.resolve(loaded.customers) == tmp_path / "base" / "data" / "c.parquet"
    assert loaded.resolve(loaded.scores) == tmp_path / "base" / "s.parquet"
    assert loaded.layers["extends"] == [str(tmp_path / "child" / "child.yaml"), str(tmp_path / "base" / "base.yaml")]
    assert load_scenario(child).budget == 10


def test_urls_in_a_base_stay_urls_in_the_scenarios_that_extend_it(tmp_path):
    """customers, scores and the contact history on an object store are not paths to move."""
    write(tmp_path / "base" / "base.yaml", {
        "name": "base", "customers": "s3://shop/customers", "scores": "gs://shop/scores", "budget": 10,
        "campaigns": [{"id": "a", "channel": "email"}],
        "contact_policy": {"history": "s3://shop/cvo/contact_history.duckdb"}})
    loaded = load_scenario(write(tmp_path / "child" / "child.yaml", {"extends": "../base/base.yaml", "name": "c"}))
    assert (loaded.customers, loaded.scores) == ("s3://shop/customers", "gs://shop/scores")
    assert loaded.history_location() == "s3://shop/cvo/contact_history.duckdb"
    assert loaded.effective()["contact_policy"]["history"] == "s3://shop/cvo/contact_history.duckdb"


def test_scenarios_that_extend_each_other_are_refused(tmp_path):
    write(tmp_path / "a.yaml", {"extends": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml", "name": "b"})
    with pytest.raises(ScenarioError, match="extend each other in a circle"):
        load_scenario(tmp_path / "a.yaml")


def test_a_missing_base_names_the_file(tmp_path):
    """It named only the missing file, not the one extending it nor its key."""
    write(tmp_path / "a.yaml", {"extends": "nope.yaml", "name": "a"})
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "a.yaml")
    assert caught.value.problem == f"The scenario it extends, nope.yaml, does not exist ({tmp_path / 'nope.yaml'})"
    assert caught.value.where == f"{tmp_path / 'a.yaml'}, extends"


def test_overrides_set_values_by_dotted_path_and_campaign_id():
    raw = {"budget": 9000, "campaigns": [{"id": "vip_call", "max_audience": 800}], "channels": {}}
    apply_overrides(raw, ("budget=12000", "campaigns.vip_call.max_audience=500", "channels.email.capacity=5000",
                          "solver.time_limit_s=10", "description=a tighter week"), "weekly.yaml")
    assert raw["budget"] == 12000 and raw["campaigns"][0]["max_audience"] == 500
    assert raw["channels"]["email"]["capacity"] == 5000 and raw["solver"] == {"time_limit_s": 10}
    assert raw["description"] == "a tighter week"


@pytest.mark.parametrize(("override", "message"), [
    ("campaigns.vip_cal.max_audience=500", "the scenario has no campaign 'vip_cal'"),
    ("campaigns.vip_call=500", "names a campaign, not one of its keys"),
    ("budget", "is not KEY=VALUE"),
    ("budget.total=5", "'budget' holds the single value 9000, not keys to set"),
    ("contact_policy.cooldowns.2.days=5", "'contact_policy.cooldowns' has 1 entry, numbered from 0; there is no entry 2"),
    ("contact_policy.cooldowns.days=5", "'contact_policy.cooldowns' holds a list, not keys to set"),
    ("budget=", "gives no value"),
    ("contact_policy.caps.0.max=2", "the scenario has no 'contact_policy.caps', so there is no entry 0 of it"),
])
def test_an_override_that_cannot_be_set_says_why(override, message):
    raw = {"budget": 9000, "campaigns": [{"id": "vip_call", "max_audience": 800}],
           "contact_policy": {"cooldowns": [{"campaign": "vip_call", "days": 28}]}}
    with pytest.raises(ScenarioError, match=message):
        apply_overrides(raw, (override,), "weekly.yaml")


def test_an_override_sets_an_entry_of_a_list_by_its_number():
    """--set contact_policy.cooldowns.0.days=5: the first cool-down's days, the others as they were."""
    raw = {"contact_policy": {"cooldowns": [{"campaign": "a", "days": 28}, {"channel": "sms", "days": 7}]}}
    apply_overrides(raw, ("contact_policy.cooldowns.0.days=5", "contact_policy.cooldowns.1={channel: call, days: 3}"),
                    "weekly.yaml")
    assert raw["contact_policy"]["cooldowns"] == [{"campaign": "a", "days": 5}, {"channel": "call", "days": 3}]


def test_an_override_reaches_a_campaign_whose_id_holds_dots():
    raw = {"campaigns": [{"id": "phone", "max_audience": 1}, {"id": "phone.vip", "max_audience": 800}]}
    apply_overrides(raw, ("campaigns.phone.vip.max_audience=500", "campaigns.phone.max_audience=2"), "weekly.yaml")
    assert [c["max_audience"] for c in raw["campaigns"]] == [2, 500]
    with pytest.raises(ScenarioError, match="names a campaign, not one of its keys"):
        apply_overrides(raw, ("campaigns.phone.vip=3",), "weekly.yaml")


def test_a_base_of_the_wrong_shape_gets_the_schemas_message_not_a_traceback(tmp_path):
    """forced: 5 in a base, a campaign id that is a list in the extending file: each is named."""
    write(tmp_path / "base.yaml", {"name": "base", "forced": 5})
    child = write(tmp_path / "child.yaml", {"extends": "base.yaml", "campaigns": [{"id": ["vip_call"]}]})
    with pytest.raises(ScenarioInvalid) as raised:
        load_scenario(child)
    assert "forced" in str(raised.value) and "campaigns[0].id" in str(raised.value)


def test_an_override_of_an_unknown_key_gets_the_schemas_did_you_mean():
    """... and names the --set that gave it (each problem its own): the file has no such key to look for."""
    with pytest.raises(ScenarioInvalid, match="Did you mean 'budget'") as error:
        load_scenario(ROOT / "scenarios" / "weekly.yaml", overrides=("budjet=100",))
    assert "weekly.yaml with --set budjet=100)" in error.value.message
    with pytest.raises(ScenarioInvalid) as error:  # a cross-check and an expression, as schema errors are
        load_scenario(ROOT / "scenarios" / "weekly.yaml",
                      overrides=("campaigns.vip_call.channel=fax", "campaigns.winback_coupon.eligible=x >"))
    assert [str(problem.where).split("weekly.yaml ")[-1] for problem in error.value.errors] == [
        "with --set campaigns.vip_call.channel=fax", "with --set campaigns.winback_coupon.eligible=x >"]


def test_merge_replaces_other_lists_whole():
    base = {"contact_policy": {"cooldowns": [{"campaign": "a", "days": 28}], "history": "h.duckdb"}}
    merged = merge(base, {"contact_policy": {"cooldowns": [{"channel": "phone", "days": 60}]}})
    assert merged["contact_policy"] == {"cooldowns": [{"channel": "phone", "days": 60}], "history": "h.duckdb"}
    assert base["contact_policy"]["cooldowns"] == [{"campaign": "a", "days": 28}]  # the base is not changed


def test_the_readme_example_extends_weekly_as_it_says(tmp_path):
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# holiday\.yaml.*?)```", readme, re.S)
    assert block, "README.md has no holiday.yaml example"
    text = block.group(1).replace("extends: weekly.yaml", f"extends: {ROOT / 'scenarios' / 'weekly.yaml'}")
    holiday = load_scenario(write(tmp_path / "holiday.yaml", yaml.safe_load(text)))
    weekly = load_scenario(ROOT / "scenarios" / "weekly.yaml")
    assert (holiday.name, holiday.budget, holiday.channels["phone"].capacity) == ("holiday", 15000, 1500)
    assert {c.id: c.max_audience for c in holiday.campaigns}["vip_call"] == 1200
    assert holiday.resolve(holiday.scores) == weekly.resolve(weekly.scores)


BASE = {"name": "base", "customers": "c.csv", "scores": "s.csv",
        "campaigns": [{"id": "mail", "channel": "email"}, {"id": "call", "channel": "phone", "max_audience": 50}]}


@pytest.mark.parametrize(("child", "first", "second"), [
    ([{"id": "call", "max_audience": 40}, {"id": "call", "max_audience": 60}], 0, 1),  # was merged, the last won
    ([{"id": "mail", "cost_per_contact": 1}, {"id": "summer", "channel": "sms"}, {"id": "summer", "channel": "email"}],
     1, 2),
])
def test_an_extending_file_that_gives_a_campaign_id_twice_is_refused_naming_both_entries(tmp_path, child, first,
                                                                                        second):
    write(tmp_path / "base.yaml", BASE)
    path = write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child", "campaigns": child})
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    campaign_id = child[second]["id"]
    assert raised.value.message == (
        f"The campaign id '{campaign_id}' is given twice in one file, at campaigns[{first}] and campaigns[{second}] "
        f"({path}, campaigns[{second}].id). Merge the two entries into one: in a chain of scenarios an entry changes "
        "the campaign with its id, so the second would silently override the first.")


def test_a_base_that_gives_a_campaign_id_twice_is_named_itself(tmp_path):
    """The extending file merged into the base's last 'call' and the message named the extending file."""
    base = write(tmp_path / "base.yaml", {**BASE, "campaigns": [*BASE["campaigns"], {"id": "call", "channel": "sms"}]})
    path = write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child",
                                           "campaigns": [{"id": "call", "max_audience": 5}]})
    with pytest.raises(ScenarioError, match=r"given twice in one file, at campaigns\[1\] and campaigns\[2\]") as raised:
        load_scenario(path)
    assert raised.value.where == f"{base}, campaigns[2].id"


def test_an_entry_whose_misspelt_id_would_add_a_campaign_without_a_channel_gets_a_did_you_mean(tmp_path):
    base = write(tmp_path / "base.yaml", BASE)
    path = write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child",
                                           "campaigns": [{"id": "mail", "max_audience": 5}, {"id": "cal", "budget": 9}]})
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert raised.value.message == (
        f"The campaign 'cal' is not in {base}, which this file extends, so its entry adds a new campaign, and it has "
        f"no channel ({path}, campaigns[1].id). Did you mean 'call'? To add a campaign, give it a channel. Campaigns "
        "there: mail, call.")
    added = write(tmp_path / "added.yaml", {"extends": "base.yaml", "name": "added",
                                            "campaigns": [{"id": "cal", "channel": "sms"}]})
    assert load_scenario(added).campaign_ids() == ["mail", "call", "cal"]  # with a channel it is a new campaign


@pytest.mark.parametrize(("override", "message"), [
    ("path=/elsewhere/weekly.yaml", "sets 'path', which is the file's place, not a scenario key"),  # was ignored
    ("extends=other.yaml", "sets 'extends', which is read before any --set is laid over the files"),
])
def test_an_override_of_what_is_not_a_value_is_refused(override, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario(ROOT / "scenarios" / "weekly.yaml", overrides=(override,))

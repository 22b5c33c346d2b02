"""Tests of optimizer/scenario/schema.py: strict validation, did-you-mean, defaults, paths, cross checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from optimizer.errors import ScenarioError, ScenarioInvalid
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.objective import Objective
from optimizer.scenario.schema import Scenario, load_scenario


def minimal() -> dict:
    """The fewest keys a scenario needs: a name, customers, scores and one campaign with a channel."""
    return {
        "name": "mini",
        "customers": "customers.csv",
        "scores": "scores.csv",
        "campaigns": [{"id": "email_offer", "channel": "email"}],
    }


def full() -> dict:
    """Every section filled in, two campaigns."""
    return {
        **minimal(),
        "budget": 50,
        "campaigns": [
            {"id": "email_offer", "channel": "email", "cost_per_contact": 0.5, "min_audience": 1, "max_audience": 5},
            {"id": "sms_offer", "channel": "sms", "cost_per_contact": 1.0},
        ],
        "channels": {"email": {"capacity": 10}, "sms": {"capacity": 5}},
        "constraints": [{"name": "cap", "sense": "<=", "rhs": 3, "campaigns": ["sms_offer"]}],
        "kpis": [{"name": "contacts", "expression": 1, "campaigns": ["email_offer"]}],
        "solver": {"time_limit_s": 5},
    }


def write(folder: Path, content: dict | str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def problems(folder: Path, content: dict | str) -> list[str]:
    """The messages of every problem load_scenario reports for ``content``."""
    path = write(folder, content)
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    assert caught.value.exit_code == 2
    return [error.message for error in caught.value.errors]


def only_problem(folder: Path, content: dict | str) -> str:
    found = problems(folder, content)
    assert len(found) == 1, found
    return found[0]


# --- a valid file and its defaults ---------------------------------------------------------------


def test_minimal_scenario_gets_the_documented_defaults(tmp_path):
    scenario = load_scenario(write(tmp_path, minimal()))
    assert scenario.name == "mini"
    assert scenario.objective is Objective.INCREMENTAL_VALUE
    assert (scenario.seed, scenario.budget, scenario.customer_id) == (0, None, "customer_id")
    assert (scenario.channels, scenario.constraints, scenario.kpis) == ({}, [], [])
    assert (scenario.solver.time_limit_s, scenario.solver.mip_gap, scenario.solver.presolve) == (60.0, 1e-6, False)
    campaign = scenario.campaigns[0]
    assert (campaign.cost_per_contact, campaign.cost_per_response, campaign.value_per_response) == (0.0, 0.0, 0.0)
    assert (campaign.eligible, campaign.p_treat, campaign.p_control) == (True, None, None)
    assert (campaign.min_audience, campaign.max_audience, campaign.budget) == (0, None, None)
    assert (campaign.control_fraction, campaign.measurement_window_days) == (0.0, 14)


def test_constraint_and_kpi_defaults(tmp_path):
    scenario = load_scenario(write(tmp_path, full()))
    constraint, kpi = scenario.constraints[0], scenario.kpis[0]
    assert (constraint.expression, constraint.where, constraint.campaigns) == (1, True, ["sms_offer"])
    assert (kpi.where, kpi.campaigns) == (True, ["email_offer"])
    assert scenario.campaign_ids() == ["email_offer", "sms_offer"]


def test_the_scenario_is_frozen(tmp_path):
    scenario = load_scenario(write(tmp_path, minimal()))
    with pytest.raises(ValidationError):
        scenario.name = "other"


@pytest.mark.parametrize("objective", ["incremental_value", "expected_revenue", "responses"])
def test_each_objective_is_accepted(tmp_path, objective):
    assert load_scenario(write(tmp_path, {**minimal(), "objective": objective})).objective == objective


# --- paths ---------------------------------------------------------------------------------------


def test_paths_resolve_from_the_scenario_folder_not_the_working_directory(tmp_path, monkeypatch):
    path = write(tmp_path, {**minimal(), "customers": "../data/customers.csv"}, name="scenarios/weekly.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(path)
    assert scenario.resolve(scenario.customers) == (tmp_path / "data" / "customers.csv").resolve()
    assert scenario.resolve("scores.csv") == (tmp_path / "scenarios" / "scores.csv").resolve()


def test_urls_stay_urls_and_the_run_folder_keeps_no_secret_storage_option(tmp_path):
    options = {"anon": False, "key": "AKIA", "secret": "s3cr3t",
               "client_kwargs": {"endpoint_url": "https://minio:9000", "aws_session_token": "t0k"}}
    scenario = load_scenario(write(tmp_path, {**minimal(), "customers": "s3://shop/customers",
                                              "storage_options": options}))
    assert scenario.location(scenario.customers) == "s3://shop/customers"
    assert scenario.location("scores.csv") == str((tmp_path / "scores.csv").resolve())
    effective = scenario.effective()
    assert effective["customers"] == "s3://shop/customers" and scenario.storage_options == options
    assert effective["storage_options"] == {"anon": False, "key": "<not kept>", "secret": "<not kept>", "client_kwargs": {
        "endpoint_url": "https://minio:9000", "aws_session_token": "<not kept>"}}


def test_a_relative_scenario_path_still_resolves_its_data(tmp_path, monkeypatch):
    write(tmp_path, minimal(), name="scenarios/weekly.yaml")
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario("scenarios/weekly.yaml")
    assert scenario.resolve("customers.csv") == tmp_path / "scenarios" / "customers.csv"
    assert scenario.source == "scenarios/weekly.yaml"


def test_absolute_paths_are_kept(tmp_path):
    absolute = tmp_path / "data" / "c.csv"
    scenario = load_scenario(write(tmp_path, {**minimal(), "customers": str(absolute)}, name="s/x.yaml"))
    assert scenario.resolve(scenario.customers) == absolute


def test_a_scenario_built_in_python_resolves_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = Scenario.model_validate(minimal())
    assert scenario.resolve("customers.csv") == tmp_path / "customers.csv"
    assert scenario.source == "scenario 'mini'"


def test_formulate_reads_the_tables_next_to_the_scenario(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "x": [1, 2]}).to_csv(data / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["a", "b"], "campaign_id": ["email_offer"] * 2,
                  "p_treat": [0.2, 0.3], "p_control": [0.1, 0.1]}).to_csv(data / "scores.csv", index=False)
    path = write(tmp_path, {**minimal(), "customers": "../data/customers.csv", "scores": "../data/scores.csv"},
                 name="scenarios/s.yaml")
    monkeypatch.chdir(data)  # not the scenario's folder
    formulation = formulate(load_data(load_scenario(path)))
    assert list(formulation.problem.customer_ids) == ["a", "b"]


# --- reading the file ----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "nope.yaml")
    assert "does not exist" in caught.value.message
    assert caught.value.exit_code == 2


def test_yaml_error_names_line_and_column(tmp_path):
    path = write(tmp_path, "name: mini\ncampaigns:\n  - id: a\n    channel: [email\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "not valid YAML" in caught.value.message
    assert f"{path}, line 5" in caught.value.message


@pytest.mark.parametrize(("text", "kind"), [("", "nothing (the file is empty, or holds only comments)"),
                                            ("# only a comment\n", "nothing"), ("- a\n- b\n", "a list"),
                                            ("just text\n", "a single text"), ("7\n", "a single number")])
def test_the_file_must_hold_a_mapping(tmp_path, text, kind):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    assert f"must hold a mapping of keys (name, customers, campaigns, ...), not {kind}" in caught.value.message


def test_path_is_not_a_scenario_key(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, {**minimal(), "path": "x"}))
    assert "'path' is not a scenario key" in caught.value.message


def test_a_key_given_twice_is_an_error(tmp_path):
    """YAML silently keeps the last of two equal keys; a strict scenario must refuse the file."""
    text = yaml.safe_dump(minimal(), sort_keys=False) + "budget: 100\nbudget: 1\n"
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "budget" in caught.value.message
    assert "line" in caught.value.message


@pytest.mark.parametrize(("line", "written", "kind"), [
    ("1: x", "1", "a number"), ("null: x", "null", "empty (null)"), ("yes: x", "yes", "true/false"),
    ("? [a, b]\n: 1", "[a, b]", "a list"), ("? {a: 1}\n: 1", "{a: 1}", "a mapping"),
])
def test_keys_must_be_names(tmp_path, line, written, kind):
    path = write(tmp_path, yaml.safe_dump(minimal(), sort_keys=False) + line + "\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"the key '{written}' is {kind}, not a name; keys must be plain names ({path}, line 7" in caught.value.message


def test_yaml_merge_keys_are_names_too(tmp_path):
    """'<<: *defaults' shares keys between campaigns; the campaign's own keys win."""
    head = yaml.safe_dump({k: v for k, v in minimal().items() if k != "campaigns"}, sort_keys=False)
    text = head + "campaigns:\n  - &first {id: a, channel: email, cost_per_contact: 0.5}\n  - {<<: *first, id: b}\n"
    scenario = load_scenario(write(tmp_path, text))
    assert [(c.id, c.channel, c.cost_per_contact) for c in scenario.campaigns] == [("a", "email", 0.5),
                                                                                  ("b", "email", 0.5)]


def test_a_file_that_is_not_utf8_names_the_line_and_byte(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_bytes(yaml.safe_dump(minimal(), sort_keys=False).encode().replace(b"mini", b"mini # caf\xe9"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.message == (
        f"The scenario file is not UTF-8 text (it was probably saved as Latin-1 or Windows-1252) ({path}, line 1, "
        "byte 17 (0xe9)). Save the file as UTF-8 (your editor's 'Save with encoding' or 'iconv -f latin1 -t utf-8')."
    )



@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_file_saved_as_utf16_is_named_as_such_not_as_latin1(tmp_path, encoding: str):
    """With a byte-order mark or without one (NUL bytes between the letters): never the Latin-1 guess,
    whose iconv command would turn the file into garbage."""
    path = tmp_path / "scenario.yaml"
    path.write_bytes(yaml.safe_dump(minimal(), sort_keys=False).encode(encoding))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.message.startswith("The scenario file is UTF-16 text")
    assert "iconv -f utf-16 -t utf-8" in caught.value.message and "latin1" not in caught.value.message

# --- strict validation: every error, with its location, did-you-mean ------------------------------


@pytest.mark.parametrize(
    ("edit", "location", "suggestion"),
    [
        (lambda s: s.update(budgett=s.pop("budget")), "budgett", "budget"),
        (lambda s: s.update(campaign=s.pop("campaigns")), "campaign", "campaigns"),
        (lambda s: s["campaigns"][0].update(cost_per_contac=s["campaigns"][0].pop("cost_per_contact")),
         "campaigns[0].cost_per_contac", "cost_per_contact"),
        (lambda s: s["campaigns"][1].update(control_fracton=0.1), "campaigns[1].control_fracton", "control_fraction"),
        (lambda s: s["channels"]["sms"].update(capacity_=4), "channels.sms.capacity_", "capacity"),
        (lambda s: s["solver"].update(time_limit=4), "solver.time_limit", "time_limit_s"),
        (lambda s: s["constraints"][0].update(campaings=["sms_offer"]), "constraints[0].campaings", "campaigns"),
        (lambda s: s["kpis"][0].update(wher="true"), "kpis[0].wher", "where"),
    ],
    ids=["top", "top-campaigns", "campaign", "campaign-2", "channel", "solver", "constraint", "kpi"],
)
def test_misspelt_keys_get_a_did_you_mean_and_their_location(tmp_path, edit, location, suggestion):
    scenario = full()
    edit(scenario)
    found = problems(tmp_path, scenario)
    unknown = [message for message in found if "Unknown key" in message]
    assert len(unknown) == 1, found
    key = location.rsplit(".", 1)[-1]
    assert f"Unknown key '{key}' ({tmp_path / 'scenario.yaml'}, {location})" in unknown[0]
    assert f"Did you mean '{suggestion}'?" in unknown[0]
    assert "Allowed keys here:" in unknown[0]


def test_the_allowed_keys_are_those_of_the_section(tmp_path):
    scenario = full()
    scenario["channels"]["email"]["zzz"] = 1
    scenario["solver"]["zzz"] = 1
    channel, solver = problems(tmp_path, scenario)
    assert "Allowed keys here: capacity." in channel
    assert "Allowed keys here: method, time_limit_s, mip_gap, presolve, precision." in solver
    assert "Did you mean" not in channel + solver  # nothing close to 'zzz'
    assert "path" not in channel.split("Allowed keys here:")[1]


def test_every_problem_is_listed_with_its_location(tmp_path):
    scenario = full()
    scenario["budget"] = -1
    scenario["campaigns"][0]["control_fraction"] = 1.0
    scenario["campaigns"][1]["id"] = "has space"
    scenario["constraints"][0]["sense"] = "<"
    scenario["solver"]["time_limit_s"] = 0
    path = write(tmp_path, scenario)
    found = problems(tmp_path, scenario)
    assert len(found) == 5, found
    for location in ("budget", "campaigns[0].control_fraction", "campaigns[1].id", "constraints[0].sense",
                     "solver.time_limit_s"):
        assert any(f"({path}, {location})" in message for message in found), location
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"The scenario {path} has 5 problems:\n  - ")


def test_missing_required_keys(tmp_path):
    scenario = minimal()
    del scenario["name"]
    del scenario["campaigns"][0]["channel"]
    found = problems(tmp_path, scenario)
    assert any("The required key 'name' is missing" in m and m.endswith("Add it.") for m in found)
    assert any(f"({tmp_path / 'scenario.yaml'}, campaigns[0].channel)" in m for m in found)


@pytest.mark.parametrize(
    ("edit", "given", "fix"),
    [
        (lambda s: s.update(budget=-5), "(given: -5)", "Use a value in the allowed range"),
        (lambda s: s.update(objective="profit"), "(given: 'profit')", "or write your own as objective: {expression: uplift * value_per_response - spend}"),
        (lambda s: s["campaigns"][0].update(cost_per_contact="cheap"), "(given: 'cheap')",
         "Use a value of the expected type"),
        (lambda s: s["campaigns"][0].update(control_fraction=1), "(given: 1)", "Use a value in the allowed range"),
    ],
)
def test_invalid_values_show_what_was_given_and_how_to_fix(tmp_path, edit, given, fix):
    scenario = minimal()
    edit(scenario)
    message = only_problem(tmp_path, scenario)
    assert given in message
    assert message.endswith(fix + ".")


def test_a_fractional_audience_is_refused(tmp_path):
    scenario = minimal()
    scenario["campaigns"][0]["min_audience"] = 2.5
    message = only_problem(tmp_path, scenario)
    assert "(given: 2.5)" in message
    assert "valid integer" in message
    assert f"({tmp_path / 'scenario.yaml'}, campaigns[0].min_audience)" in message


def test_min_audience_above_max_audience(tmp_path):
    scenario = minimal()
    scenario["campaigns"][0].update(min_audience=10, max_audience=3)
    message = only_problem(tmp_path, scenario)
    assert "min_audience (10) is above max_audience (3)" in message
    assert f"({tmp_path / 'scenario.yaml'}, campaigns[0])" in message


def test_p_treat_needs_p_control(tmp_path):
    scenario = minimal()
    scenario["campaigns"][0]["p_treat"] = 0.2
    assert "give both p_treat and p_control, or neither" in only_problem(tmp_path, scenario)


def test_at_least_one_campaign(tmp_path):
    message = only_problem(tmp_path, {**minimal(), "campaigns": []})
    assert f"({tmp_path / 'scenario.yaml'}, campaigns)" in message


# --- cross checks --------------------------------------------------------------------------------


def test_duplicate_campaign_id(tmp_path):
    scenario = full()
    scenario["campaigns"][1]["id"] = "email_offer"
    scenario["constraints"][0]["campaigns"] = ["email_offer"]
    message = only_problem(tmp_path, scenario)
    assert message == (f"The campaign id 'email_offer' is given twice, at campaigns[0] and campaigns[1] "
                       f"({tmp_path / 'scenario.yaml'}, campaigns[1].id). Give every campaign its own id.")


def test_unknown_channel_gets_a_did_you_mean(tmp_path):
    scenario = full()
    scenario["campaigns"][1]["channel"] = "smss"
    message = only_problem(tmp_path, scenario)
    assert "Campaign 'sms_offer' uses channel 'smss', which is not under 'channels'" in message
    assert f"({tmp_path / 'scenario.yaml'}, campaigns[1].channel)" in message
    assert "Did you mean 'sms'? Known channels: email, sms." in message


def test_a_misspelt_channel_under_channels_is_named_and_one_kept_for_later_is_not(tmp_path):
    """'emial' would cap nobody: refused with the channel it resembles; 'post', like none in use, stays."""
    scenario = full()
    scenario["channels"] = {**scenario["channels"], "emial": {"capacity": 3}}
    message = only_problem(tmp_path, scenario)
    assert message == (f"No campaign uses the channel 'emial' under 'channels', so its limits would apply to nobody "
                       f"({tmp_path / 'scenario.yaml'}, channels.emial). Did you mean 'email'? The campaigns use "
                       "email, sms.")
    scenario["channels"] = {**full()["channels"], "post": {"capacity": 3}}
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    assert "post" in load_scenario(tmp_path / "scenario.yaml").channels


def test_channels_need_not_be_declared_when_there_are_none(tmp_path):
    scenario = full()
    del scenario["channels"]
    assert load_scenario(write(tmp_path, scenario)).campaigns[1].channel == "sms"


@pytest.mark.parametrize("family", ["constraints", "kpis"])
def test_unknown_campaign_in_constraints_and_kpis(tmp_path, family):
    scenario = full()
    scenario[family][0]["campaigns"] = ["sms_ofer"]
    message = only_problem(tmp_path, scenario)
    assert "'sms_ofer' is not a campaign of this scenario" in message
    assert f"({tmp_path / 'scenario.yaml'}, {family}[0].campaigns)" in message
    assert "Did you mean 'sms_offer'? Campaigns: email_offer, sms_offer." in message


@pytest.mark.parametrize("family", ["constraints", "kpis"])
def test_duplicate_names_in_constraints_and_kpis(tmp_path, family):
    scenario = full()
    scenario[family].append(dict(scenario[family][0]))
    message = only_problem(tmp_path, scenario)
    assert f"The name '{scenario[family][0]['name']}' is used twice in {family}" in message
    assert f"{family}[1].name" in message


@pytest.mark.parametrize("name", ["budget", "budget[email_offer]", "capacity[email]", "max_audience[sms_offer]"])
def test_a_constraint_may_not_take_the_name_of_a_limit_cvo_writes(tmp_path, name):
    """A custom 'budget' showed as a second budget row, and a sweep of the budget named the wrong one."""
    scenario = full()
    scenario["constraints"][0]["name"] = name
    message = only_problem(tmp_path, scenario)
    assert f"The name '{name}' is the name of a limit cvo writes itself" in message
    assert "constraints[0].name" in message
    scenario["constraints"][0]["name"] = "budget_email"
    scenario["kpis"][0]["name"] = "budget"  # a KPI is reported apart from the limits
    assert load_scenario(write(tmp_path, scenario)).constraints[0].name == "budget_email"


def test_a_campaign_id_out_of_its_characters_is_told_which_it_may_hold(tmp_path):
    """'Été promo' got pydantic's "String should match pattern '^[A-Za-z0-9_.\\-]+$'"."""
    scenario = full()
    scenario["campaigns"][0]["id"] = "Été promo"
    for item in scenario.get("constraints", []) + scenario.get("kpis", []):
        item.pop("campaigns", None)
    message = only_problem(tmp_path, scenario)
    assert "Invalid id (given: 'Été promo'): an id may hold only the letters A-Z and a-z, digits" in message
    assert "pattern" not in message


@pytest.mark.parametrize("per", [0, 0.0, False])
def test_a_ratio_per_zero_is_refused(tmp_path, per):
    """per: 0 was accepted and shown as 'ratio —': the row became sum of expression >= 0."""
    scenario = full()
    scenario["constraints"][0]["per"] = per
    assert "per is 0, so the ratio's limit multiplies nothing" in only_problem(tmp_path, scenario)


def test_without_scores_every_campaign_needs_probabilities(tmp_path):
    scenario = full()
    del scenario["scores"]
    scenario["campaigns"][1].update(p_treat="0.2", p_control=0.1)
    message = only_problem(tmp_path, scenario)
    assert "Campaign 'email_offer' has no response probabilities" in message
    assert f"({tmp_path / 'scenario.yaml'}, campaigns[0])" in message
    assert "Add a 'scores' table" in message


def test_without_scores_probabilities_from_expressions_are_enough(tmp_path):
    scenario = minimal()
    del scenario["scores"]
    scenario["campaigns"][0].update(p_treat="0.2", p_control=0.1)
    assert load_scenario(write(tmp_path, scenario)).scores is None


def test_every_cross_check_problem_is_listed_at_once(tmp_path):
    scenario = full()
    scenario["campaigns"][1]["id"] = "email_offer"
    scenario["campaigns"][0]["channel"] = "post"
    scenario["constraints"][0]["campaigns"] = ["nope"]
    scenario["kpis"].append(dict(scenario["kpis"][0], campaigns=None))
    found = problems(tmp_path, scenario)
    assert len(found) == 4, found
    locations = ["campaigns[1].id", "campaigns[0].channel", "constraints[0].campaigns", "kpis[1].name"]
    for location in locations:
        assert any(f"{location})" in message for message in found), location


@pytest.mark.parametrize("name", ["weekly", "weekly 2026-01", "tight_budget.v2", "Kampagne März"])
def test_a_name_is_a_plain_folder_name(tmp_path, name):
    assert load_scenario(write(tmp_path, {**minimal(), "name": name})).name == name


@pytest.mark.parametrize("name", ["../x", "/tmp/x", "a/b", "a\\b", "..", ".", " padded ", "C:x"])
def test_a_name_that_is_a_path_is_refused(tmp_path, name):
    message = only_problem(tmp_path, {**minimal(), "name": name})
    assert f"Invalid value (given: {name!r}): a name must be a plain folder name" in message
    assert message.endswith("Give the scenario a plain name such as 'weekly' (use --out to write elsewhere).")


# --- changes in Python, checked as a file is -----------------------------------------------------


def test_with_changes_sets_dotted_keys_and_records_them(tmp_path):
    scenario = load_scenario(write(tmp_path, full()))
    changed = scenario.with_changes({"budget": 12000, "campaigns.email_offer.max_audience": 8,
                                     "channels.sms.capacity": 2, "name": "bigger"})
    assert (changed.budget, changed.campaigns[0].max_audience, changed.channels["sms"].capacity) == (12000, 8, 2)
    assert changed.resolve(changed.customers) == scenario.resolve(scenario.customers)
    assert changed.layers["overrides"] == ["budget=12000", "campaigns.email_offer.max_audience=8",
                                           "channels.sms.capacity=2", "name='bigger'"]
    assert changed.source == (f"scenario 'bigger' ({tmp_path / 'scenario.yaml'} with budget, "
                              "campaigns.email_offer.max_audience, channels.sms.capacity, name changed)")
    assert scenario.budget == 50 and scenario.source == str(tmp_path / "scenario.yaml")


@pytest.mark.parametrize(("changes", "message"), [
    ({"budget": -5}, "Invalid value (given: -5): Input should be greater than or equal to 0"),
    ({"campaigns.email_offer.min_audience": 9}, "min_audience (9) is above max_audience (5)"),
    ({"campaigns.email_ofer.budget": 5}, "the scenario has no campaign 'email_ofer'"),
    ({"channels.sms.capcity": 5}, "Unknown key 'capcity'"),
])
def test_with_changes_refuses_what_a_file_would_not_allow(tmp_path, changes, message):
    scenario = load_scenario(write(tmp_path, full()))
    with pytest.raises(ScenarioError) as caught:
        scenario.with_changes(changes)
    assert message in str(caught.value) and caught.value.exit_code == 2


def test_a_scenario_changed_with_model_copy_is_checked_before_it_runs(tmp_path):
    """model_copy(update=...) checks nothing; optimize and validate check the scenario they are given."""
    from optimizer.plan.workflow import with_method

    scenario = load_scenario(write(tmp_path, full()))
    broken = scenario.model_copy(update={"budget": -5})
    with pytest.raises(ScenarioInvalid) as caught:
        with_method(broken, None)
    assert "budget" in str(caught.value) and "greater than or equal to 0" in str(caught.value)
    assert with_method(scenario, None) is scenario


def test_an_objective_is_a_name_or_an_expression(tmp_path):
    scenario = load_scenario(write(tmp_path, {**minimal(), "objective": {"expression": "uplift * 2 - spend"}}))
    assert scenario.objective_name == "expression: uplift * 2 - spend"
    assert load_scenario(write(tmp_path, minimal())).objective_name == "incremental_value"
    named = only_problem(tmp_path, {**minimal(), "objective": "profit"})
    assert "(given: 'profit')" in named and ", objective)" in named
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(write(tmp_path, {**minimal(), "objective": "profit"}))
    assert "objective: {expression: uplift * value_per_response - spend}" in caught.value.errors[0].fix
    assert "Did you mean 'expression'?" in str(problems(tmp_path, {**minimal(), "objective": {"expresion": "uplift"}}))


def test_a_folder_given_as_the_scenario_names_some_of_its_files_and_counts_the_rest(tmp_path):
    for number in range(7):
        (tmp_path / f"s{number}.yaml").write_text("name: s\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path)
    assert "it holds s0.yaml, s1.yaml, s2.yaml, s3.yaml, s4.yaml and 2 more" in caught.value.message

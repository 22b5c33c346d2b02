"""optimizer/scenario/origins.py: a problem of a scenario built from layers is located in the file
(and at the entry) or the --set that wrote it, not at the merged mapping's index in the file run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from optimizer.errors import ScenarioError, ScenarioInvalid
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.schema import load_scenario

BASE = {"name": "base", "customers": "customers.csv", "budget": 10, "contact_policy": {"history": "h.duckdb"},
        "channels": {"email": {"capacity": 5}, "phone": {}, "sms": {}},
        "campaigns": [{"id": "mail", "channel": "email", "p_treat": 0.2, "p_control": 0.1},
                      {"id": "call", "channel": "phone", "p_treat": 0.3, "p_control": 0.1, "eligible": "ltv > 1"}]}


def write(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path, overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ScenarioInvalid) as raised:
        load_scenario(path, overrides)
    return [str(problem.where) for problem in raised.value.errors]


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Path]:
    """base.yaml with two campaigns, and child.yaml over it, changing 'call' and adding 'text'."""
    base = write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child", "campaigns": [
        {"id": "call", "max_audience": 5}, {"id": "text", "channel": "sms", "p_treat": 0.2, "p_control": 0.1}]})
    return base, child


def test_a_problem_of_a_campaign_is_located_at_its_entry_in_the_file_that_writes_it(chain, tmp_path):
    """The merged campaigns are mail, call, text: 'text' is campaigns[2] there, campaigns[1] in child.yaml."""
    base, child = chain
    write(child, {**yaml.safe_load(child.read_text()), "campaigns": [
        {"id": "call", "max_audience": -1}, {"id": "text", "p_treat": 0.2, "p_control": 0.1, "channel": None}]})
    assert problems_of(child) == [f"{child}, campaigns[0].max_audience", f"{child}, campaigns[1].channel"]
    write(base, {**BASE, "budjet": 3, "campaigns": [BASE["campaigns"][0], {**BASE["campaigns"][1], "eligible": "ltv >"}]})
    write(child, {"extends": "base.yaml", "name": "child", "campaigns": [{"id": "call", "max_audience": 5}]})
    assert problems_of(child) == [f"{base}, budjet"]  # was: child.yaml, budjet
    write(base, {**BASE, "campaigns": [BASE["campaigns"][0], {**BASE["campaigns"][1], "eligible": "ltv >"}]})
    assert problems_of(child) == [f"{base}, campaigns[1].eligible"]


def test_a_set_value_is_located_at_its_own_set_and_a_campaign_it_changes_names_it(chain):
    base, child = chain
    assert problems_of(child, ("campaigns.text.channel=fax", "budget=-1")) == [
        f"{child} with --set budget=-1"]  # schema errors first, as for a file
    assert problems_of(child, ("campaigns.text.channel=fax",)) == [f"{child} with --set campaigns.text.channel=fax"]
    assert problems_of(child, ("campaigns.mail.min_audience=9", "campaigns.mail.max_audience=2")) == [
        f"{base}, campaigns[0], under --set campaigns.mail.min_audience=9 --set campaigns.mail.max_audience=2"]
    located = load_scenario(child, ("campaigns.text.eligible=ltv > 2",))
    assert located.where("campaigns[2].eligible") == f"{child} with --set campaigns.text.eligible=ltv > 2"
    assert located.where("campaigns[2].p_treat") == f"{child}, campaigns[1].p_treat"


def test_an_expression_a_base_wrote_is_named_in_the_base_when_the_data_refuse_it(chain, tmp_path):
    base, child = chain
    pd.DataFrame({"customer_id": ["a", "b"], "ltv": [1.0, 2.0]}).to_csv(tmp_path / "customers.csv", index=False)
    write(base, {**BASE, "campaigns": [BASE["campaigns"][0], {**BASE["campaigns"][1], "eligible": "ltvv > 1"}]})
    with pytest.raises(ScenarioError) as raised:
        formulate(load_data(load_scenario(child), dt.date(2026, 10, 5)))
    assert raised.value.where == f"{base}, campaigns[1].eligible"  # was: child.yaml, campaigns[1].eligible
    assert "names an unknown column 'ltvv'" in raised.value.message and "Did you mean 'ltv'?" in raised.value.message

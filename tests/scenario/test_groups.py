"""optimizer/scenario/groups.py: control strata and breakdowns, a label per customer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.errors import ScenarioError
from optimizer.scenario import groups
from optimizer.scenario.data import load_data
from optimizer.scenario.groups import breakdown_levels, check_strata, stratum_codes, stratum_labels
from optimizer.scenario.pairs import customer_columns
from optimizer.scenario.schema import load_scenario

CALL = {"id": "call", "channel": "phone", "p_treat": 0.3, "p_control": 0.1, "value_per_response": "20 * tier",
        "cost_per_contact": 3}


def scenario_file(folder: Path, **keys) -> Path:
    """Five customers with a segment and a tier, one campaign, and ``keys``."""
    pd.DataFrame({"customer_id": [f"c{k}" for k in range(1, 6)], "segment": ["a", "b", "a", "b", "a"],
                  "tier": [0, 1, 2, 1, 0]}).to_csv(folder / "customers.csv", index=False)
    raw = {"name": "groups", "customers": "customers.csv", "campaigns": [CALL], **keys}
    path = folder / "groups.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_a_stratum_is_the_combination_of_the_control_strata_values(tmp_path: Path) -> None:
    data = load_data(load_scenario(scenario_file(tmp_path, control_strata=["segment", "'high' if tier > 0 else 'low'",
                                                                            "tier / 2"])))
    labels = stratum_labels(data)
    assert labels.tolist() == ["a\x1flow\x1f0", "b\x1fhigh\x1f0.5", "a\x1fhigh\x1f1", "b\x1fhigh\x1f0.5",
                               "a\x1flow\x1f0"]
    codes = stratum_codes(data, customer_columns(data))
    assert codes.tolist() == [0, 1, 2, 1, 0], "one number per combination, in order of first appearance"


def test_without_control_strata_there_are_none(tmp_path: Path) -> None:
    data = load_data(load_scenario(scenario_file(tmp_path)))
    assert stratum_labels(data) is None and stratum_codes(data, customer_columns(data)) is None


def test_breakdowns_are_each_expression_with_its_text_per_customer(tmp_path: Path) -> None:
    data = load_data(load_scenario(scenario_file(tmp_path, breakdown=["segment", "tier", "tier * 10"])))
    (first, segments), (second, tiers), (third, tens) = breakdown_levels(data)
    assert (first, second, third) == ("segment", "tier", "tier * 10")
    assert segments.tolist() == ["a", "b", "a", "b", "a"] and tiers.tolist() == ["0", "1", "2", "1", "0"]
    assert tens.tolist() == ["0", "10", "20", "10", "0"], "whole numbers without '.0'"
    assert segments.dtype == np.object_


def test_more_strata_than_allowed_is_a_scenario_error_naming_the_key(tmp_path: Path, monkeypatch) -> None:
    scenario = load_scenario(scenario_file(tmp_path, control_strata=["customer_id"]))
    check_strata(scenario, groups.MAX_STRATA)
    with pytest.raises(ScenarioError, match=r"control_strata make 201 strata") as raised:
        check_strata(scenario, groups.MAX_STRATA + 1)
    assert "control_strata" in str(raised.value.where) and "Stratify by groups" in str(raised.value)
    monkeypatch.setattr(groups, "MAX_STRATA", 4)
    data = load_data(scenario)
    with pytest.raises(ScenarioError, match="make 5 strata"):
        stratum_codes(data, customer_columns(data))

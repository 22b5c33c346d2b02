"""optimizer/scenario/expression_keys.py: every expression of a scenario parsed when the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from optimizer.errors import ScenarioInvalid
from optimizer.scenario.expression_keys import expressions
from optimizer.scenario.fields import EXPRESSIONS
from optimizer.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_every_syntax_error_is_listed_at_once_before_any_data_is_read(tmp_path: Path) -> None:
    spec = {"name": "bad", "customers": "nowhere.parquet", "budget": 100, "breakdown": ["segment =="], "campaigns": [
        {"id": "a", "channel": "email", "eligible": "days_since_last_purchase > 90 and", "p_treat": 0.1,
         "p_control": 0.0},
        {"id": "b", "channel": "email", "value_per_response": "(1 +", "p_treat": 0.1, "p_control": 0.0},
    ]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ScenarioInvalid) as error:
        load_scenario(tmp_path / "bad.yaml")
    assert [str(problem.where).split(", ")[-1] for problem in error.value.errors] == [
        "campaigns[0].eligible", "campaigns[1].value_per_response", "breakdown[0]"]


def test_the_expressions_of_nested_variants_constraints_kpis_and_the_objective_are_found() -> None:
    keys = [key for key, _ in expressions(load_scenario(ROOT / "scenarios" / "planner.yaml"), EXPRESSIONS)]
    assert {"objective.expression", "campaigns[0].variants[0].p_treat", "constraints[0].where",
            "kpis[0].expression"} <= set(keys)
    assert "campaigns[0].channel" not in keys and "budget" not in keys

"""`cvo score` → `cvo optimize` → `cvo evaluate` as a chain on generated data, through the CLI.

The scores are fitted on one randomized wave and the plan is evaluated on another, independent
wave of the same customers (examples/generate_data.py simulates both from the true scores).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def waves(tmp_path_factory, generate_data):
    """8,000 generated customers, their true scores, a fitting wave and an evaluation wave."""
    folder = tmp_path_factory.mktemp("chain")
    generator = generate_data
    customers, scores = generator.generate(8_000, 11)
    customers.to_parquet(folder / "customers.parquet", index=False)
    generator.simulate_history(customers, scores, 1).to_parquet(folder / "fit_wave.parquet", index=False)
    generator.simulate_history(customers, scores, 2).to_parquet(folder / "test_wave.parquet", index=False)
    return folder


def invoke(*args: str):
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def scenario(folder: Path) -> Path:
    spec = {
        "name": "chain", "customers": "scored/customers.parquet", "scores": "scored/scores.parquet", "seed": 3,
        "budget": 400,
        "campaigns": [
            {"id": "winback_coupon", "channel": "email", "cost_per_contact": 0.05, "cost_per_response": 5,
             "value_per_response": "monetary", "eligible": "email_opt_in"},
            {"id": "sms_reminder", "channel": "sms", "cost_per_contact": 0.08, "value_per_response": "monetary",
             "eligible": "sms_opt_in"},
        ],
    }
    path = folder / "chain.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_score_optimize_evaluate(waves):
    scored = invoke("score", "--history", str(waves / "fit_wave.parquet"),
                    "--customers", str(waves / "customers.parquet"), "--out", str(waves / "scored"))
    assert "Uplift models" in scored.output
    report = json.loads((waves / "scored" / "score_report.json").read_text())
    assert set(report["value_per_response"]) == {"winback_coupon", "cross_sell_email", "vip_call", "sms_reminder"}

    summary = json.loads(invoke("optimize", str(scenario(waves)), "--out", str(waves / "plan"), "--json").output)
    assert summary["status"] == "optimal" and summary["gap"] <= 1e-6
    assert summary["treatment"] > 0

    evaluation = json.loads(invoke("evaluate", str(waves / "plan" / "plan.parquet"),
                                   "--history", str(waves / "test_wave.parquet"), "--json").output)
    assert {b["name"] for b in evaluation["baselines"]} >= {"nobody"}
    plan = evaluation["plan"]
    assert plan["ci_low"] <= plan["value"] <= plan["ci_high"]

"""The ``cvo`` command line, in-process with Typer's CliRunner: help, the Rich summary, --json, validate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = [command.name or command.callback.__name__ for command in app.registered_commands]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """12 customers × 2 campaigns with a budget, a capacity, a custom constraint and a KPI."""
    i = np.arange(12)
    ids = [f"c{k:02d}" for k in i + 1]
    pd.DataFrame({"customer_id": ids, "ltv": 100.0 + 50.0 * i, "vip": i % 3 == 0}).to_parquet(
        tmp_path / "customers.parquet", index=False)
    scores = pd.DataFrame({
        "customer_id": ids * 2,
        "campaign_id": ["email_offer"] * 12 + ["call_offer"] * 12,
        "p_treat": np.r_[0.10 + 0.01 * i, 0.30 + 0.01 * i],
        "p_control": np.r_[np.full(12, 0.05), np.full(12, 0.10)],
    })
    scores.to_parquet(tmp_path / "scores.parquet", index=False)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "name": "cli_demo",
        "customers": "customers.parquet",
        "scores": "scores.parquet",
        "budget": 20.0,
        "campaigns": [
            {"id": "email_offer", "channel": "email", "cost_per_contact": 0.5, "value_per_response": "ltv * 0.4",
             "min_audience": 2},
            {"id": "call_offer", "channel": "phone", "cost_per_contact": 4.0, "value_per_response": "ltv * 0.4",
             "eligible": "vip", "control_fraction": 0.25},
        ],
        "channels": {"email": {"capacity": 10}, "phone": {"capacity": 3}},
        "constraints": [{"name": "vip_contacts", "sense": "<=", "where": "vip", "rhs": 3}],
        "kpis": [{"name": "responses", "expression": "p_treat"}],
    }, sort_keys=False))
    return path


def invoke(*args: str):
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))


def test_cvo_help_has_an_example():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example: cvo " + command in " ".join(result.output.split())


def test_optimize_help_shows_the_default_out_folder():
    """The default out folder is shown in the option help."""
    result = invoke("optimize", "--help")
    assert "default: out/<scenario name>" in " ".join(result.output.split())


def test_optimize_prints_the_summary_and_writes_the_plan(scenario, tmp_path):
    out = tmp_path / "out"
    result = invoke("optimize", str(scenario), "--out", str(out))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "cvo plan cli_demo" in text
    assert "status optimal" in text
    for name in ("email_offer", "call_offer", "email", "phone", "budget", "vip_contacts", "responses"):
        assert name in text
    assert f"Wrote {out / 'plan.parquet'} and {out / 'summary.json'}" in text

    plan = pd.read_parquet(out / "plan.parquet")
    assert list(plan.columns) == ["customer_id", "campaign_id", "group", "expected_value", "expected_spend"]
    assert len(plan) == 12
    assert set(plan["campaign_id"].dropna()) <= {"email_offer", "call_offer"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["scenario"] == "cli_demo"
    assert pq.read_schema(out / "plan.parquet").metadata[b"cvo_run_id"].decode() == summary["run_id"]


def test_optimize_json_prints_the_summary_as_json(scenario, tmp_path):
    out = tmp_path / "out"
    result = invoke("optimize", str(scenario), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in ("status", "objective", "bound", "gap", "solve_seconds", "campaigns", "channels", "constraints",
                "kpis"):
        assert key in summary
    assert summary["status"] == "optimal"
    assert summary["bound"] >= summary["objective"] - 1e-6
    assert [c["id"] for c in summary["campaigns"]] == ["email_offer", "call_offer"]
    assert {c["channel"] for c in summary["channels"]} == {"email", "phone"}
    assert {c["name"] for c in summary["constraints"]} >= {"budget", "capacity[email]", "vip_contacts"}
    for constraint in summary["constraints"]:
        assert {"name", "lhs", "rhs", "slack", "shadow_price"} <= constraint.keys()
    assert [k["name"] for k in summary["kpis"]] == ["responses"]
    assert summary == json.loads((out / "summary.json").read_text())


def test_validate_a_valid_scenario(scenario):
    result = invoke("validate", str(scenario))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{scenario} is valid: 12 customers, 2 campaigns" in text
    assert "16 eligible pairs" in text


def test_validate_writes_nothing(scenario, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert invoke("validate", str(scenario)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_no_arguments_shows_the_help():
    result = invoke()
    assert "Usage" in result.output
    assert "optimize" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    """README.md documents every command (it is written separately; this test waits for it)."""
    assert README.is_file(), f"{README} does not exist yet"
    assert f"cvo {command}" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["--propensity", "foo"], "--propensity 'foo' is not one of given, shares, model"),
    (["--cost", "winback_coupon=cheap"], "The cost of 'winback_coupon' is 'cheap', not a number"),
    (["--cost", "winback_coupon"], "'winback_coupon' is not KEY=VALUE"),
])
def test_evaluate_rejects_bad_options(tmp_path, args, message):
    plan = tmp_path / "plan.parquet"
    pd.DataFrame({"customer_id": ["C000001"], "campaign_id": [None]}).to_parquet(plan)
    history = Path(__file__).resolve().parents[1] / "examples" / "data" / "history.parquet"
    result = invoke("evaluate", str(plan), "--history", str(history), *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize("method", ["exact", "decompose"])
def test_the_method_flag_picks_the_solver_and_the_summary_says_so(scenario, tmp_path, method):
    result = invoke("optimize", str(scenario), "--out", str(tmp_path / method), "--json", "--method", method)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["method"] == method and summary["method_requested"] == method
    assert summary["status"] == "optimal"


def test_auto_solves_the_small_example_with_the_exact_solver(scenario, tmp_path):
    summary = json.loads(invoke("optimize", str(scenario), "--out", str(tmp_path / "auto"), "--json").output)
    assert summary["method_requested"] == "auto" and summary["method"] == "exact"


def test_an_unknown_method_is_refused_with_the_choices(scenario, tmp_path):
    result = invoke("optimize", str(scenario), "--out", str(tmp_path / "x"), "--method", "fastest")
    assert result.exit_code == 2
    assert "auto" in result.output and "decompose" in result.output
    assert not (tmp_path / "x").exists()

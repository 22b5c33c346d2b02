"""optimizer/scenario/sample.py and ScenarioData.sampled: a test run on a share of the customers,
with every limit over customers scaled by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.errors import DataError, InfeasibleError, ScenarioError
from optimizer.loop.commits import commit
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.sample import Sample, check_share, drawn
from optimizer.scenario.schema import load_scenario

IDS = np.array([f"C{k:06d}" for k in range(100_000)], dtype=object)


def test_the_draw_takes_the_share_the_same_customers_in_any_order_and_nests() -> None:
    small, large = drawn(IDS, 0.05, 7), drawn(IDS, 0.2, 7)
    assert abs(small.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / IDS.size)
    assert not np.any(small & ~large)
    order = np.random.default_rng(1).permutation(IDS.size)
    assert np.array_equal(drawn(IDS[order], 0.05, 7), small[order])
    assert not np.array_equal(drawn(IDS, 0.05, 8), small)
    assert drawn(IDS, 1.0, 7).all()


@pytest.mark.parametrize(("limit", "rounding", "expected"), [
    (9000, "none", 450.0), (205, "floor", 10.0), (205, "ceil", 11.0), (210, "floor", 10.5 // 1),
    (210, "ceil", 11.0), (200, "ceil", 10.0), (30, "round", 2.0)])
def test_limits_scale_by_the_share_rounded_to_whole_customers(limit, rounding, expected) -> None:
    assert Sample(0.05, 7).scaled(limit, rounding) == expected


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_outside_0_to_1_is_refused(share) -> None:
    with pytest.raises(ScenarioError) as caught:
        check_share(share)
    assert caught.value.exit_code == 2 and "--sample" in caught.value.where


def scenario_file(folder: Path, **keys) -> Path:
    """2,000 customers, one campaign worth 1 per contact costing 1, a budget, audiences, a capacity,
    a custom == count row and an ROI ratio row."""
    ids = [f"c{k}" for k in range(2000)]
    pd.DataFrame({"customer_id": ids, "vip": [k % 10 == 0 for k in range(2000)]}).to_csv(
        folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ids[:5]}).to_csv(folder / "vips.csv", index=False)
    raw = {"name": "sampled", "customers": "customers.csv", "budget": 900, "campaigns": [
        {"id": "mail", "channel": "email", "p_treat": 0.5, "p_control": 0.1, "value_per_response": 10,
         "cost_per_contact": 1, "min_audience": 205, "max_audience": 1500}],
        "channels": {"email": {"capacity": 1200}},
        "constraints": [{"name": "vips", "sense": "==", "where": "vip", "rhs": 60},
                        {"name": "roi", "sense": ">=", "expression": "uplift * value_per_response - spend",
                         "per": "spend", "rhs": 2}], **keys}
    path = folder / "sampled.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_a_sample_keeps_its_rows_and_scales_each_limit(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, forced=[{"file": "vips.csv", "campaign": "mail"}]))
    whole = load_data(scenario)
    part = whole.sampled(0.05, 3)
    keep = drawn(whole.customer_ids, 0.05, 3)  # forced customers are drawn like everyone
    assert list(part.customer_ids) == list(whole.customer_ids[keep])
    assert part.lists.forced is not None and (part.lists.forced == 0).sum() == int(keep[:5].sum())
    assert part.sample == Sample(0.05, 3, int(keep.sum()), 2000)
    rows = {row.name: row.rhs for row in formulate(part).problem.rows}
    assert rows == {"budget": 45.0, "min_audience[mail]": 10.0, "max_audience[mail]": 75.0, "capacity[email]": 60.0,
                    "vips": 3.0, "roi": 0.0}


def test_a_sample_plan_is_recorded_and_refused_by_commit(tmp_path: Path) -> None:
    plan = optimize(scenario_file(tmp_path), sample=0.1, sample_seed=5)
    summary = write_plan(plan, tmp_path / "out")
    assert summary["sample"] == {"share": 0.1, "seed": 5, "customers": plan.formulation.problem.n_customers,
                                 "of": 2000}
    assert summary["treatment"] + summary["control"] <= 150
    with pytest.raises(DataError) as caught:
        commit(tmp_path / "out", tmp_path / "history.duckdb")
    assert "sample" in caught.value.message and not (tmp_path / "history.duckdb").exists()


def test_a_minimum_audience_the_sample_cannot_meet_names_its_scaled_value(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, campaigns=[{"id": "mail", "channel": "email", "p_treat": 0.5, "p_control": 0.1,
                                               "eligible": "vip", "min_audience": 210}], constraints=[])
    with pytest.raises(InfeasibleError) as caught:
        optimize(path, sample=0.5)
    assert "(105, scaled to the 0.5 sample) exceeds its 103 eligible" in caught.value.message


def test_a_share_that_draws_nobody_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_data(load_scenario(scenario_file(tmp_path))).sampled(1e-9, 3)
    assert "draws none of them" in caught.value.message


def test_a_sample_is_written_beside_the_real_plan_not_over_it(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from optimizer.cli import app

    path = scenario_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["optimize", str(path), "--sample", "0.2", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "sampled_sample" / "summary.json").is_file() and not (tmp_path / "out" / "sampled").exists()
    assert not list((tmp_path / "out" / "sampled_sample").glob("contacts_*.csv"))  # not a plan to send


def test_a_seed_without_a_sample_is_refused_not_ignored(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from optimizer.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["optimize", str(scenario_file(tmp_path)), "--seed", "7", "-q"])
    assert result.exit_code == 2 and "no --sample was given" in result.output
    assert not (tmp_path / "out").exists()

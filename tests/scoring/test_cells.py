"""optimizer/scoring/cells.py: the cells model recovers a cell-level revenue uplift, shrinks small cells
toward the arm mean, and writes scores cvo reads whose algebra gives revenue uplift.

The simulation: a shared control and two campaigns, a third each; two binary features make four
cells; revenue = converted * spend with spend 100 in every arm, and conversion rates

    control: 0.02 + 0.02 [a]         email: control + 0.04 [a and b]         sms: control + 0.03 [not b]
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.scenario.data import load_scores
from optimizer.scoring.cells import CellOptions, fit_cell_uplift
from optimizer.scoring.uplift import HistoryColumns, read_history, score_customers

CAMPAIGNS = ("email", "sms")
OPTIONS = CellOptions(cells=("a", "b"), shrinkage=10.0, holdout=0.3)
CELLS = pd.DataFrame({"customer_id": ["c00", "c01", "c10", "c11"], "a": [0, 0, 1, 1], "b": [0, 1, 0, 1]})


def true_revenue_uplift(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    return {"email": 100 * 0.04 * (a & b), "sms": 100 * 0.03 * (1 - b)}


def simulate_history(n: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b, arm = rng.integers(0, 2, n), rng.integers(0, 2, n), rng.integers(0, 3, n)
    uplift = true_revenue_uplift(a, b)
    p = 0.02 + 0.02 * a + np.where(arm == 1, uplift["email"], 0) / 100 + np.where(arm == 2, uplift["sms"], 0) / 100
    converted = (rng.random(n) < p).astype(int)
    return pd.DataFrame({
        "customer_id": [f"c{i:06d}" for i in range(n)],
        "campaign_id": np.array([None, "email", "sms"], dtype=object)[arm],
        "treated": (arm > 0).astype(int), "converted": converted, "revenue": 100.0 * converted, "a": a, "b": b,
    })


@pytest.fixture(scope="module")
def model():
    return fit_cell_uplift(simulate_history(300_000), options=OPTIONS)


def revenue_uplift(model, customers: pd.DataFrame) -> pd.DataFrame:
    scores = score_customers(model, customers)
    w = scores.campaign_id.map(model.value_per_response)
    return scores.assign(uplift=(scores.p_treat - scores.p_control) * w).pivot(
        index="customer_id", columns="campaign_id", values="uplift")


def test_recovers_the_cell_revenue_uplift(model):
    got = revenue_uplift(model, CELLS)
    truth = true_revenue_uplift(CELLS.a.to_numpy(), CELLS.b.to_numpy())
    for j in CAMPAIGNS:
        assert got[j].to_numpy() == pytest.approx(truth[j], abs=0.7)  # 25,000 per arm and cell: about 3 standard errors
    assert got.loc["c11", "email"] > 3 and got.loc["c00", "sms"] > 2


def test_scores_are_revenue_equivalent_rates_that_cvo_reads(model, tmp_path):
    scores = score_customers(model, CELLS)
    assert model.value_per_response == {"email": 100.0, "sms": 100.0}
    assert scores.p_treat.between(0, 1).all() and scores.p_control.between(0, 1).all()
    scores.to_parquet(tmp_path / "scores.parquet", index=False)
    loaded = load_scores(tmp_path / "scores.parquet", pd.Index(CELLS.customer_id), list(CAMPAIGNS))
    assert loaded.p_treat == pytest.approx(scores.p_treat.to_numpy().reshape(4, 2))
    assert loaded.p_control == pytest.approx(scores.p_control.to_numpy().reshape(4, 2))


def test_shrinkage_pulls_a_small_cell_toward_the_arm_mean():
    """The only customer of the email arm in cell (a=1, b=1) spent 50; k = 0 believes it, large k does not."""
    history = simulate_history(6_000, seed=9)
    history = history[~((history.a == 1) & (history.b == 1))].reset_index(drop=True)
    lone = {"customer_id": "lone", "campaign_id": "email", "treated": 1, "converted": 1, "revenue": 50.0,
            "a": 1, "b": 1}
    history = pd.concat([history, pd.DataFrame([lone])], ignore_index=True)
    arm = history[history.campaign_id == "email"]
    arm_mean = arm.revenue.mean()
    w = arm.revenue[arm.converted == 1].mean()
    treat = {}
    for k in (0.0, 10.0, 1e9):
        fitted = fit_cell_uplift(history, options=CellOptions(cells=("a", "b"), shrinkage=k, min_responders=5))
        scores = score_customers(fitted, CELLS.iloc[[3]])
        treat[k] = float(scores.p_treat[scores.campaign_id == "email"].iloc[0]) * w
    assert treat[0.0] == pytest.approx(50.0)
    assert treat[10.0] == pytest.approx((50.0 + 10 * arm_mean) / 11)
    assert treat[0.0] > treat[10.0] > treat[1e9]
    assert treat[1e9] == pytest.approx(arm_mean, rel=1e-6)


def test_an_unseen_cell_gets_the_arm_mean(model):
    history = simulate_history(300_000)
    unseen = pd.DataFrame({"customer_id": ["x"], "a": [2], "b": [0]})
    scores = score_customers(model, unseen).set_index("campaign_id")
    for j in CAMPAIGNS:
        arm = history[history.campaign_id == j].revenue.mean()
        assert scores.loc[j, "p_treat"] * model.value_per_response[j] == pytest.approx(arm)


def test_report_ranks_by_revenue_uplift_on_conversion(model):
    report = {c.campaign: c for c in model.report.campaigns}
    assert set(report) == set(CAMPAIGNS)
    assert report["email"].qini > 0 and report["sms"].qini > 0
    assert "cells a x b" in model.report.calibration_method


def test_needs_a_revenue_column():
    with pytest.raises(DataError, match=r"needs the revenue of each response, but the history has no revenue column "
                                        r"\(the history table\)\. Add a 'revenue' column .*or fit on conversions "
                                        r"alone with --model t-learner"):
        fit_cell_uplift(simulate_history(30_000), HistoryColumns(revenue=None), OPTIONS)


def test_a_campaign_without_revenue_names_the_history_file_and_column(tmp_path):
    """Its converters bought nothing: the message names the file of the history it was read from."""
    history = simulate_history(3_000).rename(columns={"revenue": "spend"})
    history.loc[history.campaign_id == "sms", "spend"] = 0.0
    history.to_csv(tmp_path / "spring.csv", index=False)
    columns = HistoryColumns(revenue="spend")
    with pytest.raises(DataError) as error:
        fit_cell_uplift(read_history(tmp_path / "spring.csv", columns), columns, replace(OPTIONS, min_responders=3))
    assert (f"The converted customers of campaign 'sms' have a mean 'spend' of 0; the cells model divides by this "
            f"revenue per converter ({tmp_path / 'spring.csv'}, column 'spend')") in str(error.value)

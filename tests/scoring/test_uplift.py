"""optimizer/scoring/uplift.py: the T-learner recovers a known uplift, shares one control group, is
calibrated, writes the scores cvo reads, and rejects every bad history with a clear message.

The simulation: three equal arms (shared control, 'email', 'sms'), a base rate that depends on
x1 and the segment, and an uplift per campaign that depends on other features:

    p_control(x) = sigmoid(-1.2 + 0.8 x1 + 0.4 [segment == 'a'])
    tau_email(x) = 0.25 sigmoid(2.5 x2) - 0.05
    tau_sms(x)   = 0.20 [x3 > 0] - 0.04 + 0.06 [segment == 'b']
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.scenario.data import load_scores
from optimizer.scoring.uplift import (
    SHARED_CONTROL,
    ArmRate,
    Calibration,
    HistoryColumns,
    UpliftOptions,
    binary_column,
    fit_uplift,
    read_history,
    score_customers,
)
from optimizer.store.tables import read_table

CAMPAIGNS = ("email", "sms")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_customers(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [f"c{i:06d}" for i in range(n)],
        "x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n),
        "segment": rng.choice(["a", "b", "c"], n), "vip": rng.random(n) < 0.2,
    })


def true_rates(customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """p_control and the uplift of each campaign, per customer."""
    x1, x2, x3, seg = (customers[c].to_numpy() for c in ("x1", "x2", "x3", "segment"))
    return {
        "control": sigmoid(-1.2 + 0.8 * x1 + 0.4 * (seg == "a")),
        "email": 0.25 * sigmoid(2.5 * x2) - 0.05,
        "sms": 0.20 * (x3 > 0) - 0.04 + 0.06 * (seg == "b"),
    }


def simulate_history(n: int, seed: int = 3) -> pd.DataFrame:
    """A randomized history: arm 0 (shared control, campaign empty), 1 email, 2 sms, each 1/3."""
    rng = np.random.default_rng(seed)
    customers = simulate_customers(n, rng)
    truth = true_rates(customers)
    arm = rng.integers(0, 3, n)
    p = truth["control"] + np.where(arm == 1, truth["email"], 0) + np.where(arm == 2, truth["sms"], 0)
    converted = (rng.random(n) < np.clip(p, 0, 1)).astype(int)
    return customers.assign(
        campaign_id=np.array([None, "email", "sms"], dtype=object)[arm],
        treated=(arm > 0).astype(int),
        converted=converted,
        revenue=np.where(converted == 1, np.where(arm == 1, 80.0, 50.0) + rng.normal(0, 5, n), 0.0),
    )


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return simulate_history(30_000)


@pytest.fixture(scope="module")
def model(history):
    return fit_uplift(history)


@pytest.fixture(scope="module")
def fresh() -> pd.DataFrame:
    return simulate_customers(5_000, np.random.default_rng(99))


def test_t_learner_recovers_the_simulated_uplift(model, fresh):
    scores = score_customers(model, fresh)
    truth = true_rates(fresh)
    for campaign in CAMPAIGNS:
        rows = scores[scores.campaign_id == campaign]
        predicted = (rows.p_treat - rows.p_control).to_numpy()
        assert np.corrcoef(predicted, truth[campaign])[0, 1] > 0.8
        assert np.corrcoef(rows.p_control, truth["control"])[0, 1] > 0.95


def test_scores_are_exactly_the_table_cvo_optimize_reads(model, fresh, tmp_path):
    scores = score_customers(model, fresh)
    assert list(scores.columns) == ["customer_id", "campaign_id", "p_treat", "p_control"]
    assert len(scores) == 2 * len(fresh)
    assert list(scores.customer_id[:4]) == ["c000000", "c000000", "c000001", "c000001"]
    assert list(scores.campaign_id[:2]) == list(CAMPAIGNS)
    scores.to_parquet(tmp_path / "scores.parquet", index=False)
    loaded = load_scores(tmp_path / "scores.parquet", pd.Index(fresh.customer_id), list(CAMPAIGNS))
    assert loaded.scored.all()
    np.testing.assert_allclose(loaded.p_treat[:, 1], scores.p_treat[1::2])


def test_campaigns_share_one_control_model_fit_once(model, fresh):
    assert model.control["email"] is model.control["sms"]
    scores = score_customers(model, fresh)
    email, sms = scores[scores.campaign_id == "email"], scores[scores.campaign_id == "sms"]
    np.testing.assert_array_equal(email.p_control.to_numpy(), sms.p_control.to_numpy())
    assert [arm.arm for arm in model.report.calibration] == ["email", SHARED_CONTROL, "sms"]


def test_a_control_row_naming_a_campaign_belongs_to_that_campaign_only(history):
    own = history.copy()
    controls = np.flatnonzero(own.treated.to_numpy() == 0)
    own.loc[controls[: len(controls) // 2], "campaign_id"] = "sms"
    fitted = fit_uplift(own, options=UpliftOptions(refit=False, max_iter=20))
    assert fitted.control["email"] is not fitted.control["sms"]
    report = {c.campaign: c for c in fitted.report.campaigns}
    assert report["sms"].n_control == len(controls)
    assert report["email"].n_control == len(controls) - len(controls) // 2


def test_probabilities_are_calibrated(model, fresh):
    """By decile of prediction on fresh customers, the mean prediction is within 3.5 points of the mean
    true probability (the top decile is pulled towards the mean most) and 1 point on average; the
    held-out deciles of the report (about 300 customers each, so +-2.6 points of noise) within 5 points
    of the observed rates."""
    scores = score_customers(model, fresh)
    truth = true_rates(fresh)
    for campaign in CAMPAIGNS:
        rows = scores[scores.campaign_id == campaign]
        for predicted, true in ((rows.p_treat, truth["control"] + truth[campaign]), (rows.p_control, truth["control"])):
            parts = np.array_split(np.argsort(predicted.to_numpy()), 10)
            errors = np.array([abs(predicted.to_numpy()[part].mean() - true[part].mean()) for part in parts])
            assert errors.max() < 0.035 and errors.mean() < 0.01
    for arm in model.report.calibration:
        assert arm.error < 0.05, arm
        assert len(arm.bins) == 10


def test_report_has_sample_sizes_value_per_response_and_ranking_quality(model, history):
    report = {c.campaign: c for c in model.report.campaigns}
    email = history[(history.campaign_id == "email") & (history.treated == 1)]
    assert report["email"].n_treated == len(email)
    assert report["email"].responders_treated == email.converted.sum()
    assert report["email"].n_control == (history.treated == 0).sum()
    assert model.value_per_response["email"] == pytest.approx(email.revenue[email.converted == 1].mean())
    assert model.value_per_response["sms"] == pytest.approx(50.0, abs=1.0)
    for campaign in report.values():
        assert campaign.qini > 0.005 and campaign.auuc > campaign.observed_uplift / 2
        assert [u.share for u in campaign.uplift_at] == [0.1, 0.2, 0.3]
        assert campaign.uplift_at[0].observed > campaign.observed_uplift
    assert model.report.n_fit + model.report.n_holdout == len(history)
    assert set(model.report.to_dict()["calibration"][0]) == {"arm", "bins", "error"}


def small_history(n: int = 600, seed: int = 1) -> pd.DataFrame:
    return simulate_history(n, seed)


def test_missing_column_names_it_with_a_did_you_mean():
    history = small_history().rename(columns={"converted": "convertd"})
    with pytest.raises(DataError) as error:
        fit_uplift(history, options=UpliftOptions(features=("x1",)))
    message = str(error.value)
    assert "The history table has no column 'converted'" in message
    assert "Did you mean 'convertd'?" in message


def test_missing_feature_when_scoring(model, fresh, tmp_path):
    with pytest.raises(DataError, match=r"The customers table has no column 'x2'.*Did you mean 'x_2'\?"):
        score_customers(model, fresh.rename(columns={"x2": "x_2"}))
    fresh.drop(columns="x2").to_csv(tmp_path / "june.csv", index=False)
    with pytest.raises(DataError, match=rf"The customers table has no column 'x2' \({tmp_path / 'june.csv'}\)"):
        score_customers(model, read_table(tmp_path / "june.csv", what="customers"))


def test_campaign_without_control_customers():
    history = small_history()
    history = history[history.treated == 1]
    with pytest.raises(DataError, match=r"Campaign 'email' has no control customers \('treated' 0\).*\(the history "
                                        r"table, column 'treated'\)\. Add control rows"):
        fit_uplift(history)


def history_file(history: pd.DataFrame, folder: Path, columns: HistoryColumns) -> pd.DataFrame:
    """``history`` written to spring.csv in ``folder`` and read back as cvo score reads it."""
    history.to_csv(folder / "spring.csv", index=False)
    return read_history(folder / "spring.csv", columns)


@pytest.mark.parametrize(("edit", "said"), [
    (lambda h: h[h.Mailed == 1], "Campaign 'email' has no control customers ('Mailed' 0) to compare against "
     "(spring.csv, column 'Mailed'). Add control rows ('Mailed' 0) with 'campaign_id' empty"),
    (lambda h: h[h.Mailed == 0], "The history has no treated rows ('Mailed' 1), so there is no campaign to model "
     "(spring.csv, column 'Mailed')"),
    (lambda h: h.assign(converted=h.converted.where(h.campaign_id.ne("sms") | h.converted.where(
        h.campaign_id.eq("sms"), 0).cumsum().le(29), 0)),
     "The arm campaign 'sms' (treated) has 29 responders among 214 customers; fitting a response model needs at "
     "least 30 (min_responders) (spring.csv, column 'converted'). Use a longer history, pool this campaign"),
    (lambda h: h.assign(converted=np.where(h.Mailed == 0, 0, h.converted)),
     "The arm '(shared control)' has 0 responders among 211 customers; fitting a response model needs at least 30 "
     "(min_responders) (spring.csv, column 'converted'). Use a longer history or hold out more customers as "
     "controls ('Mailed' 0); a model needs at least 3 of each"),
])
def test_arms_that_cannot_be_fitted_name_the_history_file_and_column(tmp_path, edit, said):
    """The file of several a user passes, and the column as the history names it (--history-column)."""
    columns = HistoryColumns(treated="Mailed")
    history = history_file(edit(small_history().rename(columns={"treated": "Mailed"})), tmp_path, columns)
    with pytest.raises(DataError) as error:
        fit_uplift(history, columns, UpliftOptions(max_iter=5))
    assert said.replace("spring.csv", str(tmp_path / "spring.csv")) in str(error.value)


def test_too_few_responders_says_how_many_are_needed_and_how_many_there_are():
    history = small_history(3_000)
    sms = (history.campaign_id == "sms").to_numpy()
    keep = np.flatnonzero(sms & (history.converted == 1).to_numpy())[:7]
    history.loc[sms & ~np.isin(np.arange(len(history)), keep), "converted"] = 0
    with pytest.raises(DataError) as error:
        fit_uplift(history)
    message = str(error.value)
    assert f"campaign 'sms' (treated) has 7 responders among {sms.sum():,} customers" in message
    assert "needs at least 30 (min_responders)" in message
    assert "lower min_responders" in message


@pytest.mark.parametrize(("column", "value", "shown"), [
    ("treated", 2, "2"), ("converted", "maybe", "'maybe'"), ("converted", np.nan, "a missing value (NaN)"),
])
def test_non_binary_treated_or_outcome(column, value, shown):
    history = small_history().astype({column: object})
    history.loc[5, column] = value
    with pytest.raises(DataError) as error:
        fit_uplift(history)
    assert f"The '{column}' column must be 0 or 1 but is {shown} (1 such row(s)) (the history table, row 6)" \
        in str(error.value)


def test_treated_row_without_a_campaign():
    history = small_history()
    row = int(np.flatnonzero(history.treated == 1)[0])
    history.loc[row, "campaign_id"] = None
    with pytest.raises(DataError, match=rf"A row is treated but names no campaign in 'campaign_id' \(1 such row\(s\)\) "
                                        rf"\(the history table, row {row + 1}\)"):
        fit_uplift(history)


def test_text_feature_with_too_many_values_and_bad_revenue():
    history = small_history()
    with pytest.raises(DataError, match="The feature 'customer_id' has 600 distinct text values"):
        fit_uplift(history, HistoryColumns(customer_id="segment"))
    history = history.astype({"revenue": object})
    history.loc[3, "revenue"] = "n/a"
    with pytest.raises(DataError, match=r"'revenue' must be a number but is 'n/a' \(1 such row\(s\)\) \(the history "
                                        r"table, row 4\)\. Write plain numbers"):
        fit_uplift(history)


def test_uncalibrated_and_isotonic_models_fit(history):
    part = history.iloc[:12_000]
    for method in (Calibration.NONE, Calibration.ISOTONIC):
        fitted = fit_uplift(part, options=UpliftOptions(calibration=method, refit=False, max_iter=30))
        assert fitted.report.calibration_method == str(method)


@pytest.mark.parametrize(("yes", "no"), [("Yes", "No"), ("TRUE", "false"), (" y ", "n"), ("1", "0"), (True, False)])
def test_flags_spelled_as_users_export_them_read_as_one_and_zero(yes, no):
    history = small_history()
    spelled = history.astype({"treated": object, "converted": object})
    for column in ("treated", "converted"):
        spelled[column] = np.where(history[column] == 1, yes, no).astype(object)
    assert binary_column(spelled, "treated", "").tolist() == history["treated"].tolist()
    assert binary_column(spelled, "converted", "").tolist() == history["converted"].tolist()


def few_responders(responders: int, n: int = 900) -> tuple[pd.DataFrame, int]:
    """A small history whose campaign 'sms' has exactly ``responders`` responders, all but one of
    them in the rows the holdout draw of seed 0 holds out (30 %), and how many of its rows are not
    held out: the report's model of 'sms' is fit on one responder among them."""
    history = small_history(n)
    held_out = np.random.default_rng(0).random(n) < 0.3
    sms = ((history.campaign_id == "sms") & (history.treated == 1)).to_numpy()
    keep = [*np.flatnonzero(sms & held_out)[: responders - 1], np.flatnonzero(sms & ~held_out)[0]]
    history.loc[sms, "converted"] = 0
    history.loc[keep, "converted"] = 1
    return history, int((sms & ~held_out).sum())


@pytest.mark.parametrize("responders", [3, 2])
def test_an_arm_with_as_few_responders_as_min_responders_allows_is_fitted(responders):
    """The random holdout leaves 'sms' one responder to fit the report's model on: that model is the
    arm's rate, with a note, where CalibratedClassifierCV raised 'Requesting 3-fold cross-validation'.
    The refit on all rows is calibrated when it has 3, the arm's rate when it has 2; the fix the
    error of min_responders 30 gives works."""
    history, rows = few_responders(responders)
    fast = UpliftOptions(max_iter=5, min_responders=responders)
    with pytest.raises(DataError) as error:
        fit_uplift(history, options=replace(fast, min_responders=30))
    fix = f"lower min_responders to {responders}" if responders >= 3 else "a model needs at least 3"
    assert fix in str(error.value)
    model = fit_uplift(history, options=fast)
    assert model.notes[0] == (
        f"the held-out report's model (fit without the 30% held out) of the arm campaign 'sms' (treated) is its "
        f"response rate, {1 / rows:.2%}, for every customer: its {rows:,} rows hold 1 responder, fewer than the 3 a "
        "classifier is fitted and calibrated on")
    assert isinstance(model.treated["sms"], ArmRate) == (responders < 3) and len(model.notes) == 1 + (responders < 3)
    scores = score_customers(model, history)
    assert scores[["p_treat", "p_control"]].notna().all().all()


def test_a_feature_without_values_is_refused_by_name():
    """(cvo score leaves it out with a note: tests/scoring/test_uplift_inputs.py.) HistGradientBoosting
    raised 'window shape cannot be larger than input array shape'."""
    with pytest.raises(DataError, match=r"The feature 'fax' has no value in any of its 600 rows \(the history "
                                        r"table\)\. Leave it out of the features \(cvo score --features"):
        fit_uplift(small_history().assign(fax=np.nan), options=UpliftOptions(max_iter=5))

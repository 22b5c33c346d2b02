"""optimizer/scoring/value_check.py: the time-split check of customer values against naive
forecasts, and the test that says when the data do not identify the dropout behind P(alive)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.scoring.clv import fit_bgnbd, score_customers
from optimizer.scoring.transactions import CDNOW_COLUMNS, read_transactions
from optimizer.scoring.value_check import (
    Forecast,
    check_values,
    dropout_test,
    format_check,
    p_alive_informative,
)

CDNOW = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdnow"


def log_without_dropout(customers: int = 1500, weeks: int = 78, seed: int = 11) -> pd.DataFrame:
    """Every customer buys forever at a rate drawn from Gamma(0.8, 1/6) per week (an NBD, no dropout),
    first purchase within the first 12 weeks, spends Gamma(4, 10) each purchase."""
    rng = np.random.default_rng(seed)
    start, rows = pd.Timestamp("2020-01-06"), []
    for customer in range(customers):
        rate, week = rng.gamma(0.8, 1 / 6), rng.uniform(0, 12)
        while week < weeks:
            rows.append((f"k{customer:05d}", start + pd.Timedelta(days=int(week * 7)), float(rng.gamma(4, 10))))
            week += rng.exponential(1 / rate)
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def test_a_log_without_dropout_is_flagged_and_its_p_alive_left_out():
    log = log_without_dropout()
    cutoff = log["date"].max()
    value = score_customers(log, cutoff)
    dropout = dropout_test(value.bgnbd, value.table)
    assert not dropout.identified and dropout.p_value > 0.05
    assert not p_alive_informative(value.table["p_alive"].to_numpy(), dropout)
    assert value.table["p_alive"].min() >= 0.99 and dropout.statistic < 1  # docs/clv.md says so
    check = check_values(log, cutoff, 13)
    assert check is not None
    assert any("does not identify the dropout" in warning for warning in check.warnings)
    assert "Warning: the calibration log does not identify the dropout" in format_check(check)


def test_the_cdnow_dropout_is_identified_and_the_fhl_split_is_reported():
    """Fader, Hardie & Lee's split: fitted to 1997-09-30, 39 weeks forecast. The model's purchase
    forecast beats the past rate; its spend ranking does not beat past repeat spend (stated)."""
    log = read_transactions(CDNOW / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)
    check = check_values(log, "1998-06-30", 39)
    assert check is not None and check.dropout.identified and check.customers == 2357
    purchases, spend = check.purchases.scores(), check.spend.scores()
    assert purchases["model"]["mae"] < purchases["naive"]["mae"]
    assert abs(purchases["model"]["total_ratio"] - 1) < abs(purchases["naive"]["total_ratio"] - 1)
    assert spend["model"]["rank_correlation"] < spend["naive"]["rank_correlation"]
    assert any(warning.startswith("the LTV ranks next-period spend no better") for warning in check.warnings)
    assert check.deciles["customers"].sum() == 2357
    later = log[(log["date"] > "1997-09-30") & (log["date"] <= "1998-06-30")]
    assert check.purchases.actual.sum() == len(later.drop_duplicates(["customer_id", "date"]))


def test_the_forecasts_are_the_formulas_of_the_docstring():
    """Naive: repeat purchase days x / T and repeat spend x·m / T per week, times H; the model's purchases
    E[Y(H)] of the BG/NBD fitted to the calibration."""
    log = read_transactions(CDNOW / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)
    check = check_values(log, "1998-06-30", 39)
    from optimizer.scoring.clv import calibration_and_holdout, expected_purchases

    calibration = calibration_and_holdout(log, "1997-09-30", "1998-06-30")
    x, t_x, T = (calibration[c].to_numpy(dtype=float) for c in ("frequency", "t_x", "T"))
    assert check.purchases.naive == pytest.approx(x / T * 39)
    m = np.nan_to_num(calibration["repeat_monetary"].to_numpy(dtype=float))
    assert check.spend.naive == pytest.approx(x * m / T * 39)
    assert check.purchases.model == pytest.approx(expected_purchases(fit_bgnbd(calibration), 39, x, t_x, T))


def test_scores_are_mae_total_ratio_and_spearman():
    forecast = Forecast(np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 3.0, 2.0, 1.0]), np.array([1.0, 3.0, 3.0, 5.0]))
    scores = forecast.scores()
    assert scores["model"]["mae"] == pytest.approx(0.5) and scores["naive"]["mae"] == pytest.approx(2.0)
    assert scores["model"]["total_ratio"] == pytest.approx(10 / 12)
    assert scores["model"]["rank_correlation"] == pytest.approx(0.9486833)
    assert scores["naive"]["rank_correlation"] == pytest.approx(-0.9486833)


def test_no_check_when_nobody_bought_before_the_split():
    log = log_without_dropout(customers=50)
    assert check_values(log, log["date"].min() + pd.Timedelta(days=7), 13) is None


def test_totals_the_model_misses_by_more_than_the_naive_forecast_are_warned_of():
    """CDNOW split at 1997-01-14 (13 weeks to 1997-04-15): the model forecast 1.70 × the purchases
    and 1.61 × the spend, against 1.53 × and 1.27 × naive, without a word; the FHL split's totals,
    closer than naive, raise none."""
    log = read_transactions(CDNOW / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)
    early = check_values(log, "1997-04-15", 13)
    assert early is not None
    totals = [warning for warning in early.warnings if warning.startswith("the model's forecast of total")]
    assert [warning.split(" over")[0] for warning in totals] == [
        "the model's forecast of total purchases", "the model's forecast of total spend"]
    assert "is 1.70 × the actual, further off than the past rate's 1.53 ×" in totals[0]
    fhl = check_values(log, "1998-06-30", 39)
    assert fhl is not None and not any("forecast of total" in warning for warning in fhl.warnings)

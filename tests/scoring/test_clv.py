"""Tests of optimizer/scoring/clv.py: BG/NBD and Gamma-Gamma fits, P(alive), expected purchases, LTV, holdout.

Golden figures: the CDNOW sample (2,357 customers who first bought in Q1 1997), calibration up to
1997-09-30 (39 weeks), time in weeks, reproduces Fader, Hardie & Lee (2005) "Counting your customers
the easy way" (r, α, a, b, log-likelihood) and Fader, Hardie & Lee (2005) "RFM and CLV: Using Iso-value
Curves" (p, q, γ). Update these only if the data or the published reference changes; a change in
the code that moves them is a bug.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import beta, gamma

from optimizer.errors import DataError, ScenarioError
from optimizer.scoring.clv import (
    BgNbdFit,
    bgnbd_log_likelihood,
    calibration_and_holdout,
    expected_purchases,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    holdout_table,
    lifetime_value,
    p_alive,
    score_customers,
)
from optimizer.scoring.rfm import customer_features
from optimizer.scoring.transactions import CDNOW_COLUMNS, read_transactions

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CALIBRATION_END, HOLDOUT_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return read_transactions(DATA / "cdnow" / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)


@pytest.fixture(scope="module")
def calibration(cdnow) -> pd.DataFrame:
    return calibration_and_holdout(cdnow, CALIBRATION_END, HOLDOUT_END, time_unit="weeks")


@pytest.fixture(scope="module")
def bgnbd(calibration) -> BgNbdFit:
    return fit_bgnbd(calibration)


def test_bgnbd_reproduces_fader_hardie_lee_2005(bgnbd):
    assert bgnbd.converged and bgnbd.n_customers == 2357 and bgnbd.time_unit == "weeks"
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    measured = {name: round(getattr(bgnbd, name), 3) for name in published}
    assert measured == published  # measured 0.24259, 4.41360, 0.79292, 2.42592
    assert bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.1)  # measured -9582.429


def test_gamma_gamma_reproduces_published_spend_model(calibration):
    fit = fit_gamma_gamma(calibration)
    assert fit.converged and fit.n_customers == 946  # customers with a repeat purchase by week 39
    assert (f"{fit.p:.3g}", f"{fit.q:.3g}", f"{fit.gamma:.3g}") == ("6.25", "3.74", "15.4")
    assert round(fit.gamma, 2) == 15.44  # measured p 6.2495, q 3.7442, γ 15.4436


def test_gamma_gamma_needs_the_repeat_day_spend(cdnow, calibration):
    """The mean of repeat *orders* (same-day orders not summed) misses the published p = 6.25."""
    calibrated = cdnow[cdnow["date"] <= CALIBRATION_END]
    first_day = calibrated.groupby("customer_id")["date"].transform("min")
    per_order = calibrated[calibrated["date"] > first_day].groupby("customer_id")["amount"].mean()
    features = calibration.assign(repeat_monetary=per_order.reindex(calibration.index))
    assert fit_gamma_gamma(features).p == pytest.approx(6.05, abs=0.01)


def test_time_unit_only_rescales_alpha(calibration, bgnbd, cdnow):
    in_days = fit_bgnbd(calibration_and_holdout(cdnow, CALIBRATION_END, HOLDOUT_END, time_unit="days"))
    assert in_days.alpha == pytest.approx(7 * bgnbd.alpha, rel=1e-4)
    assert (in_days.r, in_days.a, in_days.b) == pytest.approx((bgnbd.r, bgnbd.a, bgnbd.b), rel=1e-4)


def test_log_likelihood_matches_the_textbook_product():
    r, alpha, a, b = 0.5, 3.0, 0.8, 2.0
    x, t_x, T = np.array([0.0, 1.0, 4.0]), np.array([0.0, 5.0, 20.0]), np.array([30.0, 30.0, 30.0])
    a1 = gamma(r + x) * alpha**r / gamma(r)
    a2 = beta(a, b + x) / beta(a, b)
    a3 = (alpha + T) ** -(r + x)
    a4 = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * (alpha + t_x) ** -(r + x), 0.0)
    assert bgnbd_log_likelihood(r, alpha, a, b, x, t_x, T) == pytest.approx(np.log(a1 * a2 * (a3 + a4)))
    heavy = bgnbd_log_likelihood(r, alpha, a, b, np.array([2000.0]), np.array([500.0]), np.array([520.0]))
    assert np.isfinite(heavy).all()  # the product itself under- and overflows here


def test_holdout_weeks_40_to_78(calibration, bgnbd):
    table = holdout_table(bgnbd, calibration)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert list(table.columns) == ["customers", "actual_total", "predicted_total", "actual_mean", "predicted_mean"]
    assert calibration["holdout_duration"].iat[0] == 39.0
    total = table.loc["all"]
    assert total["customers"] == 2357 and total["customers"] == table["customers"].iloc[:-1].sum()
    # Measured: 1,882 actual repeat purchase days in weeks 40-78 against 1,653.4 predicted (-12.1 %);
    # the model under-predicts mostly for customers with 1-2 calibration repeats (0.70 vs 0.52, 1.39 vs 1.04).
    assert total["actual_total"] == 1882
    assert total["predicted_total"] == pytest.approx(1653.4, abs=0.5)
    assert 0.85 <= total["predicted_total"] / total["actual_total"] <= 1.0
    assert table.loc["7+", "predicted_mean"] == pytest.approx(table.loc["7+", "actual_mean"], rel=0.05)
    assert table["predicted_mean"].iloc[:-1].is_monotonic_increasing


def test_p_alive_is_one_without_repeat_purchases(bgnbd):
    T = np.array([1.0, 20.0, 38.0, 500.0])
    assert np.array_equal(p_alive(bgnbd, np.zeros(4), np.zeros(4), T), np.ones(4))
    repeaters = p_alive(bgnbd, np.full(4, 3.0), np.full(4, 1.0), T)
    assert np.all((repeaters > 0) & (repeaters < 1)) and np.all(np.diff(repeaters) < 0)
    assert p_alive(bgnbd, [2], [30.43], [38.86])[0] == pytest.approx(0.727, abs=1e-3)


def test_expected_purchases_grow_with_t(bgnbd):
    t = np.linspace(0.0, 200.0, 41)
    for x, t_x in ((0.0, 0.0), (2.0, 30.43), (10.0, 35.0)):
        expected = expected_purchases(bgnbd, t, x, t_x, 38.86)
        assert expected[0] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(expected) > 0)


def test_expected_purchases_when_a_is_one():
    """a = 1 makes the closed form 0/0 (fitted so on the CDNOW sample cut off at 1997-01-08). With
    r = b = 1 and no repeat purchase, E[(1 − (1+pτ)^−1) / p] over p ~ U(0, 1) is ∫₀^τ dv/(1+v) = log(1+τ),
    τ = t/(α+T)."""
    fit = BgNbdFit(r=1.0, alpha=4.0, a=1.0, b=1.0, log_likelihood=0.0, n_customers=1, converged=True,
                   time_unit="weeks")
    t, T = np.array([1.0, 13.0, 52.0]), np.array([0.0, 10.0, 39.0])
    assert expected_purchases(fit, t, 0.0, 0.0, T) == pytest.approx(np.log1p(t / (fit.alpha + T)), rel=1e-12)


def test_expected_purchases_when_every_customer_buys_at_one_rate():
    """r and α huge, a rate prior of vanishing variance (fitted so on two days of CDNOW), where scipy's ₂F₁
    gives NaN. With a = 2, b = 1 and no repeat purchase p has density 2p, so the expectation is
    2 ∫₀¹ (1 − (1+pτ)^−r) dp = 2 [1 − (1 − (1+τ)^(1−r)) / ((r−1)τ)]; with one repeat purchase at T,
    p ~ Beta(2, 2) (density 6p(1−p)) and P(alive) = 1 / (1 + a/b) = 1/3."""
    r = 3e5
    fit = BgNbdFit(r=r, alpha=r / 0.1, a=2.0, b=1.0, log_likelihood=0.0, n_customers=1, converged=True,
                   time_unit="weeks")
    t, T = np.array([4.0, 52.0, 520.0]), 10.0
    tau = t / (fit.alpha + T)
    once = 2 * (1 - -np.expm1((1 - r) * np.log1p(tau)) / ((r - 1) * tau))
    assert expected_purchases(fit, t, 0.0, 0.0, T) == pytest.approx(once, rel=1e-12)
    twice = [quad(lambda p, k=k: 6 * (1 - p) * -np.expm1(-(r + 1) * np.log1p(p * k)), 0, 1, epsabs=0,
                  epsrel=1e-13)[0] / 3 for k in tau]
    assert expected_purchases(fit, t, 1.0, T, T) == pytest.approx(twice, rel=1e-12)


def test_expected_spend_shrinks_towards_the_customer_mean(calibration):
    fit = fit_gamma_gamma(calibration)
    assert expected_spend(fit, [0], [np.nan])[0] == pytest.approx(fit.mean_spend)
    spend = expected_spend(fit, [1, 5, 50, 5000], [100.0] * 4)
    assert np.all(np.diff(spend) > 0) and fit.mean_spend < spend[0] and spend[-1] == pytest.approx(100, rel=1e-2)


def test_ltv_falls_with_the_discount_rate(calibration, bgnbd):
    spend_fit = fit_gamma_gamma(calibration)
    values = [lifetime_value(bgnbd, spend_fit, calibration, months=24, monthly_discount=d).sum()
              for d in (0.0, 0.01, 0.05, 0.2)]
    assert np.all(np.diff(values) < 0)
    undiscounted = lifetime_value(bgnbd, spend_fit, calibration, months=12, monthly_discount=0.0)
    x, t_x, T = (calibration[c].to_numpy() for c in ("frequency", "t_x", "T"))
    year = expected_purchases(bgnbd, 365.25 / 7, x, t_x, T) * expected_spend(
        spend_fit, x, calibration["repeat_monetary"].to_numpy())
    assert undiscounted.to_numpy() == pytest.approx(year)  # the monthly increments telescope


def test_score_customers_table(cdnow):
    scored = score_customers(cdnow, CALIBRATION_END, months=12)
    table = scored.table
    assert len(table) == 2357 and scored.bgnbd.converged and scored.gamma_gamma.converged
    for column in ("segment", "rfm_cell", "p_alive", "expected_purchases", "expected_spend", "ltv"):
        assert column in table.columns
    assert table["p_alive"].between(0, 1).all() and (table["ltv"] >= 0).all()
    assert table.loc[table["frequency"] == 0, "p_alive"].eq(1.0).all()


def test_bad_model_inputs():
    features = pd.DataFrame({"frequency": [1, 0], "t_x": [5.0, 0.0], "T": [4.0, 3.0], "repeat_monetary": [1.0, np.nan]},
                            index=["late", "ok"])
    with pytest.raises(ScenarioError) as unit:
        fit_bgnbd(features)
    assert unit.value.exit_code == 2 and "time_unit='weeks'" in unit.value.message
    with pytest.raises(DataError) as order:
        fit_bgnbd(features, time_unit="weeks")
    assert order.value.exit_code == 3 and "Customer 'late'" in order.value.message and "t_x 5.0, T 4.0" in order.value.message
    with pytest.raises(DataError, match="Only 1 customer"):
        fit_gamma_gamma(features)
    fit = BgNbdFit(0.24, 4.4, 0.79, 2.4, 0.0, 2, True, "weeks")
    with pytest.raises(ScenarioError, match="whole number of months"):
        lifetime_value(fit, None, features, months=0)
    with pytest.raises(ScenarioError, match="discount rate -0.1"):
        lifetime_value(fit, None, features, monthly_discount=-0.1)


def test_holdout_end_before_calibration_end(cdnow):
    with pytest.raises(ScenarioError, match="not after the calibration end"):
        calibration_and_holdout(cdnow, "1998-07-31")


def test_too_few_repeat_buyers_names_the_log_and_its_cut_off():
    log = pd.DataFrame({"customer_id": ["a", "b", "c", "c"], "date": pd.to_datetime(
        ["2020-01-01", "2020-01-02", "2020-01-03", "2020-02-03"]), "amount": [10.0, 20.0, 30.0, 0.0]})
    with pytest.raises(DataError) as error:
        score_customers(log, "2020-03-01", source="orders.csv")
    assert "Only 0 customer(s) have a repeat purchase" in error.value.message
    assert "orders.csv, cut-off 2020-03-01" in error.value.message
    free = log.assign(amount=0.0, customer_id=["a", "a", "b", "b"])  # amounts read from the wrong column
    with pytest.raises(DataError) as zero:
        score_customers(free, "2020-03-01", source="orders.csv")
    assert zero.value.message.startswith("2 customers have a repeat purchase, and every one of them spent 0 on it")
    assert "--column amount=" in zero.value.fix and "cut-off" not in zero.value.fix


def test_expected_purchases_when_a_is_one_and_b_plus_x_is_large():
    """The quadrature's weights overflow for b + x beyond ~1000; at a = 1 the closed form is 0/0: the
    mean of the closed form at a ± 1e-5 is used, as close as the closed form a little off a = 1."""
    fit = BgNbdFit(r=0.5, alpha=10.0, a=1.0, b=0.5, log_likelihood=0.0, n_customers=1, converged=True,
                   time_unit="weeks")
    t, x, t_x, T = np.array([1.0]), np.array([1500.0]), np.array([38.0]), np.array([40.0])
    found = expected_purchases(fit, t, x, t_x, T)
    near = expected_purchases(BgNbdFit(**{**fit.__dict__, "a": 1.0 + 2e-6}), t, x, t_x, T)
    assert np.isfinite(found).all() and found == pytest.approx(near, rel=1e-4)


def test_a_fit_that_stops_on_the_ridge_just_short_of_the_bound_is_not_converged(cdnow):
    """CDNOW's sample cut to each customer's first order, two of them buying again: BG/NBD ran up
    the ridge where only r/α is pinned and stopped at log α = 14.9989, reported as converged."""
    orders = cdnow.drop_duplicates("customer_id")
    again = orders.iloc[:2].assign(date=pd.Timestamp("1997-03-01"))
    fit = fit_bgnbd(customer_features(pd.concat([orders, again]), "1997-03-01"))
    assert fit.alpha > np.exp(14.9) and not fit.converged

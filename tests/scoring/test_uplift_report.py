"""optimizer/scoring/uplift_report.py: the ranking metrics by hand and against a known uplift, equal-count
calibration bins, and the report built from stand-in classifiers on a twelve-row history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.scoring.uplift_report import (
    auuc,
    build_report,
    calibration_bins,
    format_report,
    qini_coefficient,
    qini_curve,
    uplift_at,
)


def test_qini_of_a_perfect_ranking_beats_a_random_one():
    rng = np.random.default_rng(0)
    tau = rng.uniform(-0.1, 0.3, 20_000)
    treated = rng.integers(0, 2, 20_000)
    y = (rng.random(20_000) < 0.2 + tau * treated).astype(int)
    assert qini_coefficient(tau, y, treated) > 0.02
    assert abs(qini_coefficient(rng.random(20_000), y, treated)) < 0.01
    assert qini_coefficient(tau, y, treated) < auuc(tau, y, treated)
    top = uplift_at(tau, y, treated, 0.1)
    assert top.predicted == pytest.approx(0.28, abs=0.01) and top.observed == pytest.approx(0.28, abs=0.04)


def test_qini_curve_by_hand():
    """Ranked: treated responder, control, control, treated non-responder -> q = 0, 1, 1, 1, 1 - 1/2 ... / N_T."""
    shares, gain = qini_curve(np.array([4.0, 3, 2, 1]), np.array([1, 1, 0, 0]), np.array([1, 0, 0, 1]))
    np.testing.assert_allclose(shares, [0, 0.25, 0.5, 0.75, 1])
    # k=1: Y_T 1, no controls -> 1; k=2: 1 - 1*1/1 = 0; k=3: 1 - 1*1/2 = 0.5; k=4: 1 - 1*2/2 = 0
    np.testing.assert_allclose(gain, np.array([0, 1, 0, 0.5, 0]) / 2)


def test_calibration_bins_are_equal_count_deciles():
    bins = calibration_bins(np.linspace(0, 0.99, 100), np.r_[np.zeros(50), np.ones(50)].astype(int))
    assert [b.n for b in bins] == [10] * 10
    assert bins[0].observed == 0 and bins[-1].observed == 1
    assert bins[0].predicted == pytest.approx(0.045)


class Column:
    """A stand-in classifier whose probability of response is one column of x."""

    def __init__(self, name: str) -> None:
        self.name = name

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        p = x[self.name].to_numpy(float)
        return np.column_stack([1 - p, p])


def twelve_rows(holdout: np.ndarray, source: str = "the history table"):
    """Rows 0-3 got campaign 'a', 4-7 campaign 'b', 8-11 are the control both share."""
    arm = np.repeat(["a", "b", "control"], 4)
    x = pd.DataFrame({"treat": np.r_[0.4, 0.3, 0.2, 0.1, 0.6, 0.5, 0.4, 0.3, np.full(4, 0.2)],
                      "control": np.full(12, 0.1)})
    y = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0])
    models = ({j: Column("treat") for j in "ab"}, {j: Column("control") for j in "ab"})
    return build_report(x, y, holdout, {j: arm == j for j in "ab"}, {j: arm == "control" for j in "ab"},
                        {"a": "shared", "b": "shared"}, models, {"a": 10.0, "b": 20.0}, "sigmoid", 0.3, source=source)


def test_report_counts_the_history_and_measures_on_held_out_rows():
    """Row 11 (a control non-responder) is fitted on: held-out control rate 1/3, so uplift a = 1/2 - 1/3."""
    report = twelve_rows(np.arange(12) != 11)
    assert (report.n_fit, report.n_holdout, report.calibration_method) == (1, 11, "sigmoid")
    a, b = report.campaigns
    assert (a.n_treated, a.n_control, a.responders_treated, a.responders_control) == (4, 4, 2, 1)
    assert a.observed_uplift == pytest.approx(1 / 6) and b.observed_uplift == pytest.approx(5 / 12)
    assert (a.value_per_response, b.value_per_response) == (10.0, 20.0)
    assert [u.share for u in b.uplift_at] == [0.1, 0.2, 0.3]
    assert [arm.arm for arm in report.calibration] == ["a", "shared", "b"]
    assert report.calibration[1].error == pytest.approx((0.1 + 0.9 + 0.1) / 3)
    text = format_report(report).splitlines()
    assert text[0] == "Uplift models: fit on 1 rows, report on 11 held-out rows, calibration sigmoid"
    assert text[1].startswith("  a: treated 4 (2 resp.), control 4 (1 resp.), value/response 10.00; "
                              "held-out uplift +16.67%")
    assert text[4] == "  calibration shared: mean predicted 10.00%, observed 33.33%, decile error 36.67%"


def test_report_without_held_out_controls_says_to_raise_holdout():
    with pytest.raises(DataError, match=r"Campaign 'a' has no control customers among the 8 held-out rows \(holdout "
                                        r"0.3\) to measure its model on \(the history table\)\. Raise holdout"):
        twelve_rows(np.arange(12) < 8)
    with pytest.raises(DataError, match=r"Campaign 'a' has no treated customers .* \(spring.csv\)"):
        twelve_rows(np.arange(12) >= 8, source="spring.csv")

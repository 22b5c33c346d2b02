"""The held-out report of the uplift models: how well each campaign's predicted uplift ranks customers,
and how well each arm's probabilities are calibrated.

Measured on the held-out share of the history (optimizer/scoring/uplift.py fits on the rest): per campaign
the Qini coefficient, AUUC and uplift at the top 10/20/30%, and per arm the calibration by decile of
predicted probability. The metrics take plain arrays (predicted uplift, outcome 0/1, treated 0/1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError

TOP_SHARES = (0.1, 0.2, 0.3)


@dataclass(frozen=True)
class UpliftAtK:
    """Among the top ``share`` of held-out customers by predicted uplift: predicted and observed uplift."""

    share: float
    predicted: float
    observed: float


@dataclass(frozen=True)
class CampaignReport:
    """Held-out ranking quality of one campaign's uplift, with the sample sizes behind it."""

    campaign: str
    n_treated: int
    n_control: int
    responders_treated: int
    responders_control: int
    value_per_response: float
    observed_uplift: float
    qini: float
    auuc: float
    uplift_at: tuple[UpliftAtK, ...]


@dataclass(frozen=True)
class CalibrationBin:
    n: int
    predicted: float
    observed: float


@dataclass(frozen=True)
class ArmCalibration:
    """Predicted vs observed response rate by decile of prediction, on held-out rows of one arm."""

    arm: str
    bins: tuple[CalibrationBin, ...]

    @property
    def error(self) -> float:
        """Expected calibration error: sum_b (n_b / n) |predicted_b - observed_b|."""
        n = sum(b.n for b in self.bins)
        return sum(b.n * abs(b.predicted - b.observed) for b in self.bins) / max(n, 1)


@dataclass(frozen=True)
class UpliftReport:
    calibration_method: str
    n_fit: int
    n_holdout: int
    campaigns: tuple[CampaignReport, ...]
    calibration: tuple[ArmCalibration, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for arm, item in zip(self.calibration, data["calibration"]):
            item["error"] = arm.error
        return data


def qini_curve(
    uplift: NDArray[np.float64], y: NDArray[np.integer[Any]], treated: NDArray[np.integer[Any]]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Qini curve: for the top k customers by predicted uplift (k = 0..n), as a share phi = k / n,

        q(phi) = (Y_T(k) - Y_C(k) N_T(k) / N_C(k)) / N_T

    the incremental responses among the treated in the top k per treated customer (Y: responders,
    N: customers; the control term is 0 while N_C(k) = 0), so q(1) is the observed uplift of the
    whole group.

    >>> qini_curve(np.array([0.9, 0.1, 0.5, 0.2]), np.array([1, 0, 0, 0]), np.array([1, 1, 0, 0]))[1]
    array([0. , 0.5, 0.5, 0.5, 0.5])
    """
    order = np.argsort(-uplift, kind="stable")
    y, t = y[order].astype(float), treated[order].astype(bool)
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    gain = y_t - np.divide(y_c * n_t, n_c, out=np.zeros(len(y)), where=n_c > 0)
    shares = np.arange(len(y) + 1) / max(len(y), 1)
    return shares, np.concatenate([[0.0], gain / max(int(t.sum()), 1)])


def qini_coefficient(
    uplift: NDArray[np.float64], y: NDArray[np.integer[Any]], treated: NDArray[np.integer[Any]]
) -> float:
    """Area between the Qini curve and the random-targeting line: integral of q(phi) - phi q(1)."""
    shares, gain = qini_curve(uplift, y, treated)
    return float(np.trapezoid(gain - shares * gain[-1], shares))


def auuc(uplift: NDArray[np.float64], y: NDArray[np.integer[Any]], treated: NDArray[np.integer[Any]]) -> float:
    """Area under the uplift curve u(phi) = (ybar_T(phi) - ybar_C(phi)) phi over the top share phi."""
    order = np.argsort(-uplift, kind="stable")
    y, t = y[order].astype(float), treated[order].astype(bool)
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    rate_t = np.divide(np.cumsum(y * t), n_t, out=np.zeros(len(y)), where=n_t > 0)
    rate_c = np.divide(np.cumsum(y * ~t), n_c, out=np.zeros(len(y)), where=n_c > 0)
    shares = np.arange(1, len(y) + 1) / len(y)
    return float(np.trapezoid(np.concatenate([[0.0], (rate_t - rate_c) * shares]), np.concatenate([[0.0], shares])))


def uplift_at(
    uplift: NDArray[np.float64], y: NDArray[np.integer[Any]], treated: NDArray[np.integer[Any]], share: float
) -> UpliftAtK:
    """Mean predicted and observed uplift (ybar_T - ybar_C) in the top ``share`` by predicted uplift."""
    top = np.argsort(-uplift, kind="stable")[: max(1, int(round(share * len(y))))]
    t = treated[top].astype(bool)
    observed = y[top][t].mean() - y[top][~t].mean() if t.any() and (~t).any() else float("nan")
    return UpliftAtK(share, float(uplift[top].mean()), float(observed))


def calibration_bins(p: NDArray[np.float64], y: NDArray[np.integer[Any]], bins: int = 10) -> tuple[CalibrationBin, ...]:
    """Equal-count bins of predicted probability: mean prediction and observed rate in each."""
    order = np.argsort(p, kind="stable")
    return tuple(CalibrationBin(len(part), float(p[part].mean()), float(y[part].mean()))
                 for part in np.array_split(order, bins) if len(part))


def build_report(x: pd.DataFrame, y: NDArray[np.int64], holdout: NDArray[np.bool_],
                 treated: Mapping[str, NDArray[np.bool_]], control: Mapping[str, NDArray[np.bool_]],
                 control_names: Mapping[str, str],
                 models: tuple[Mapping[str, Any], Mapping[str, Any]], values: Mapping[str, float],
                 calibration_method: str, holdout_share: float, *, source: str) -> UpliftReport:
    """Per campaign Qini, AUUC, uplift at the top shares; per arm calibration; all on held-out rows.

    Campaign j's rows are ``treated[j]`` and ``control[j]`` (boolean masks over the history), its
    control arm is called ``control_names[j]`` (campaigns sharing one control report it once), and
    ``models`` are the (treated, control) classifiers per campaign, fit on the rows not in ``holdout``.
    ``source`` names the history in messages: its file, or what stands for a DataFrame (``history_source``).
    """
    campaigns, calibration = [], {}
    for j in treated:
        rows = (treated[j] | control[j]) & holdout
        t = treated[j][rows].astype(int)
        if t.all() or not t.any():
            missing = "control" if t.all() else "treated"
            raise DataError(
                f"Campaign '{j}' has no {missing} customers among the {int(holdout.sum()):,} held-out rows (holdout "
                f"{holdout_share:g}) to measure its model on", where=source,
                fix="Raise holdout (--holdout), or use a longer history")
        p_t, p_c = (arm[j].predict_proba(x[rows])[:, 1] for arm in models)
        tau, yy = p_t - p_c, y[rows]
        campaigns.append(CampaignReport(
            j, int(treated[j].sum()), int(control[j].sum()), int(y[treated[j]].sum()),
            int(y[control[j]].sum()), values[j], float(yy[t == 1].mean() - yy[t == 0].mean()),
            qini_coefficient(tau, yy, t), auuc(tau, yy, t), tuple(uplift_at(tau, yy, t, s) for s in TOP_SHARES)))
        calibration[j] = ArmCalibration(j, calibration_bins(p_t[t == 1], yy[t == 1]))
        name = control_names[j]
        calibration.setdefault(name, ArmCalibration(name, calibration_bins(p_c[t == 0], yy[t == 0])))
    return UpliftReport(calibration_method, int((~holdout).sum()), int(holdout.sum()),
                        tuple(campaigns), tuple(calibration.values()))


def format_report(report: UpliftReport) -> str:
    """The report as plain-text lines (rates in percent)."""
    lines = [f"Uplift models: fit on {report.n_fit:,} rows, report on {report.n_holdout:,} held-out rows, "
             f"calibration {report.calibration_method}"]
    for c in report.campaigns:
        tops = ", ".join(f"top {u.share:.0%} {u.observed:+.2%} (pred {u.predicted:+.2%})" for u in c.uplift_at)
        lines.append(f"  {c.campaign}: treated {c.n_treated:,} ({c.responders_treated} resp.), control "
                     f"{c.n_control:,} ({c.responders_control} resp.), value/response {c.value_per_response:,.2f}; "
                     f"held-out uplift {c.observed_uplift:+.2%}, qini {c.qini:+.5f}, auuc {c.auuc:+.5f}; {tops}")
    for arm in report.calibration:
        pred = sum(b.n * b.predicted for b in arm.bins) / sum(b.n for b in arm.bins)
        obs = sum(b.n * b.observed for b in arm.bins) / sum(b.n for b in arm.bins)
        lines.append(f"  calibration {arm.arm}: mean predicted {pred:.2%}, observed {obs:.2%}, "
                     f"decile error {arm.error:.2%}")
    return "\n".join(lines)

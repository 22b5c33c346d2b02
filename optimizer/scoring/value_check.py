"""How well the customer values forecast: a time split against the naive forecasts, and whether
the data identify the dropout behind P(alive).

The log up to the cut-off C is split at S = C − H (H = ``holdout_weeks``). BG/NBD and Gamma-Gamma
are fitted on the orders up to S and forecast each customer's (S, C]: purchase days E[Y(H)] and
spend E[Y(H)] · E[spend per purchase]. The naive forecasts extend each customer's past at S:
repeat purchase days x / T and repeat spend x·m / T per week, times H (T: weeks from the first purchase
to S, m the mean spend of a repeat purchase day; a customer whose first purchase is on S gets 0).
Over the customers who bought by S:

- MAE, the mean |forecast − actual| of purchase days and of spend;
- total ratio, Σ forecast / Σ actual (a season in the holdout shows here, not in the MAE), warned
  of when the model's is more than TOTAL_OFF off and further off than the naive's;
- Spearman's rank correlation of forecast and actual spend: does it rank who is worth more;
- by decile of the model's spend forecast: customers, mean forecast, mean actual, mean naive.

Identification. BG/NBD is fitted again without dropout (the NBD: a → 0, where its likelihood is
Γ(r+x) α^r / Γ(r) (α+T)^−(r+x)) and the two compared by the likelihood ratio 2(ℓ_BG/NBD − ℓ_NBD)
against χ²(2) at 5 % (conservative: a → 0 is a boundary). When the dropout does not improve the fit,
a and b are not identified (a flat likelihood), and P(alive), which they alone drive, carries no
information; so does a P(alive) whose 5th and 95th percentiles differ by less than 0.01.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import gammaln
from scipy.stats import chi2, spearmanr

from optimizer.scoring.clv import (
    BgNbdFit,
    calibration_and_holdout,
    expected_purchases,
    expected_spend,
    fit_bgnbd,
    fit_gamma_gamma,
    maximise_likelihood,
)
from optimizer.scoring.rfm import to_timestamp

LEVEL = 0.05  # of the likelihood-ratio test of the dropout
FLAT_P_ALIVE = 0.01  # 95th − 5th percentile of P(alive) below this: no information
DECILES = 10
TOTAL_OFF = 0.25  # a model total further than this share from the actual, and further than the naive's, is warned of


@dataclass(frozen=True)
class Dropout:
    """The likelihood-ratio test of BG/NBD against the NBD (no dropout): statistic, p-value, verdict."""

    statistic: float
    p_value: float
    nbd_log_likelihood: float

    @property
    def identified(self) -> bool:
        return self.p_value < LEVEL


def dropout_test(fit: BgNbdFit, features: pd.DataFrame) -> Dropout:
    """Fit the NBD to the same (x, T) and test whether the dropout improves on it (module docstring)."""
    x, T = features["frequency"].to_numpy(dtype=float), features["T"].to_numpy(dtype=float)

    def negative(log_params: NDArray[np.float64]) -> float:
        r, alpha = np.exp(log_params)
        return -float((gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)).sum())

    _, nbd, _ = maximise_likelihood(negative, 2)
    statistic = max(0.0, 2.0 * (fit.log_likelihood - nbd))
    return Dropout(statistic, float(chi2.sf(statistic, df=2)), nbd)


def p_alive_informative(p_alive: NDArray[np.float64], dropout: Dropout) -> bool:
    """Whether P(alive) is worth a column: the dropout identified and P(alive) spread over ≥ FLAT_P_ALIVE."""
    low, high = np.percentile(p_alive, [5, 95]) if p_alive.size else (1.0, 1.0)
    return dropout.identified and high - low >= FLAT_P_ALIVE


@dataclass(frozen=True)
class Forecast:
    """One quantity forecast two ways over the holdout: the model's and the naive one, and the actual."""

    model: NDArray[np.float64]
    naive: NDArray[np.float64]
    actual: NDArray[np.float64]

    def scores(self) -> dict[str, dict[str, float]]:
        """MAE, total ratio and Spearman rank correlation of each forecast against the actual."""
        total = float(self.actual.sum())
        return {name: {"mae": float(np.abs(forecast - self.actual).mean()),
                       "total_ratio": float(forecast.sum() / total) if total > 0 else float("nan"),
                       "rank_correlation": _spearman(forecast, self.actual)}
                for name, forecast in (("model", self.model), ("naive", self.naive))}


@dataclass(frozen=True)
class ValueCheck:
    """The time split's forecasts (module docstring), the decile table and the warnings it raises."""

    calibration_end: pd.Timestamp
    cutoff: pd.Timestamp
    holdout_weeks: float
    customers: int
    purchases: Forecast
    spend: Forecast
    deciles: pd.DataFrame
    dropout: Dropout

    @property
    def warnings(self) -> list[str]:
        """What the user must know: forecasts no better than naive, a dropout the data do not identify."""
        found = []
        purchases, spend = self.purchases.scores(), self.spend.scores()
        if purchases["model"]["mae"] >= purchases["naive"]["mae"]:
            found.append(f"the model forecasts purchases no better than the customers' past rate (MAE "
                         f"{purchases['model']['mae']:.3g} vs {purchases['naive']['mae']:.3g})")
        if not spend["model"]["rank_correlation"] > spend["naive"]["rank_correlation"]:
            found.append(f"the LTV ranks next-period spend no better than past spend (Spearman "
                         f"{spend['model']['rank_correlation']:.3f} vs {spend['naive']['rank_correlation']:.3f})")
        for what, scores in (("purchases", purchases), ("spend", spend)):
            model, naive = scores["model"]["total_ratio"], scores["naive"]["total_ratio"]
            if _off(model) > max(_off(naive), np.log(1.0 + TOTAL_OFF)):
                past = "rate" if what == "purchases" else "spend"
                found.append(f"the model's forecast of total {what} over the holdout is {model:.2f} × the actual, "
                             f"further off than the past {past}'s {naive:.2f} × (a season in the holdout shows "
                             "here; plan with the totals scaled by what you expect)")
        if not self.dropout.identified:
            found.append(f"the calibration log does not identify the dropout (likelihood ratio "
                         f"{self.dropout.statistic:.2f} against no dropout, p = {self.dropout.p_value:.2f})")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"calibration_end": str(self.calibration_end.date()), "cutoff": str(self.cutoff.date()),
                "holdout_weeks": self.holdout_weeks, "customers": self.customers,
                "purchases": self.purchases.scores(), "spend": self.spend.scores(),
                "deciles": self.deciles.reset_index().to_dict(orient="records"),
                "dropout": {"statistic": self.dropout.statistic, "p_value": self.dropout.p_value,
                            "identified": self.dropout.identified},
                "warnings": self.warnings}


def _off(ratio: float) -> float:
    """How far a total ratio is from 1, as |log ratio| (a missing ratio: not off)."""
    return float(abs(np.log(ratio))) if np.isfinite(ratio) and ratio > 0 else 0.0


def check_values(orders: pd.DataFrame, cutoff: object, holdout_weeks: float) -> ValueCheck | None:
    """The time split at cutoff − holdout_weeks (module docstring); None when no customer bought
    before the split or too few repeated to fit the spend model."""
    end = to_timestamp(cutoff, "cut-off")
    start = end - pd.Timedelta(weeks=holdout_weeks)
    if not (orders["date"] <= start).any():
        return None
    calibration = calibration_and_holdout(orders, start, end, time_unit="weeks")
    if int(((calibration["frequency"] > 0) & (calibration["repeat_monetary"] > 0)).sum()) < 2:
        return None
    fit, spend_fit = fit_bgnbd(calibration), fit_gamma_gamma(calibration)
    x, t_x, T = (calibration[c].to_numpy(dtype=float) for c in ("frequency", "t_x", "T"))
    purchases = expected_purchases(fit, holdout_weeks, x, t_x, T)
    per_purchase = expected_spend(spend_fit, x, calibration["repeat_monetary"].to_numpy(dtype=float))
    rate = x / np.where(T > 0, T, np.inf)  # repeat purchase days per week
    repeat_spend = np.nan_to_num(calibration["repeat_monetary"].to_numpy(dtype=float))
    bought = Forecast(purchases, rate * holdout_weeks, calibration["holdout_purchases"].to_numpy(dtype=float))
    spent = Forecast(purchases * per_purchase, rate * repeat_spend * holdout_weeks,
                     calibration["holdout_spend"].to_numpy(dtype=float))
    return ValueCheck(start, end, holdout_weeks, len(calibration), bought, spent, _deciles(spent),
                      dropout_test(fit, calibration))


def _deciles(spend: Forecast) -> pd.DataFrame:
    """Customers, mean model forecast, mean actual and mean naive spend by decile of the model's forecast
    (decile 10 the highest; ties share a decile)."""
    ranks = pd.Series(spend.model).rank(method="min", pct=True).to_numpy()
    decile = np.minimum(DECILES, np.ceil(ranks * DECILES)).astype(int)
    table = pd.DataFrame({"decile": decile, "forecast": spend.model, "actual": spend.actual, "naive": spend.naive})
    grouped = table.groupby("decile").agg(customers=("actual", "size"), forecast=("forecast", "mean"),
                                          actual=("actual", "mean"), naive=("naive", "mean"))
    return grouped


def _spearman(forecast: NDArray[np.float64], actual: NDArray[np.float64]) -> float:
    if np.ptp(forecast) == 0 or np.ptp(actual) == 0:
        return float("nan")
    return float(spearmanr(forecast, actual).statistic)


def format_check(check: ValueCheck) -> str:
    """The check as text: the two forecasts side by side, then the warnings."""
    lines = [f"Holdout check: fitted to {check.calibration_end.date()}, forecasting the {check.holdout_weeks:g} "
             f"weeks to {check.cutoff.date()} of {check.customers:,} customers",
             f"{'':10}{'':8}{'MAE':>10}{'total/actual':>14}{'rank corr.':>12}"]
    for what, forecast in (("purchases", check.purchases), ("spend", check.spend)):
        for name, scores in forecast.scores().items():
            label = "cvo" if name == "model" else "naive"
            lines.append(f"{what if name == 'model' else '':10}{label:8}{scores['mae']:>10.3f}"
                         f"{scores['total_ratio']:>14.3f}{scores['rank_correlation']:>12.3f}")
    lines += [f"Warning: {warning}." for warning in check.warnings]
    return "\n".join(lines)

"""Customer lifetime value: BG/NBD purchase counts, Gamma-Gamma spend, discounted LTV, holdout checks.

Both models are fitted by maximum likelihood (scipy.optimize on log-parameters), not by MAP with
priors; docs/clv.md says why and shows the fit on CDNOW reproducing the published figures.
Inputs are customer features from optimizer.rfm.customer_features: ``frequency`` (x, repeat purchase
days), ``t_x``, ``T`` (in the features' time unit) and ``repeat_monetary`` (mean spend per repeat day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1, roots_jacobi

from optimizer.errors import DataError, ScenarioError
from optimizer.scoring.rfm import customer_features, rfm_scores, to_timestamp, unit_days
from optimizer.scoring.transactions import clean_transactions
from optimizer.store.tables import require_columns

DAYS_PER_MONTH = 365.25 / 12
FREQUENCY_BUCKETS = 7
"""holdout_table groups calibration frequencies 0, 1, …, 6 and 7+ (Fader, Hardie & Lee 2005, Figure 5)."""
AT_BOUND = 0.01
"""A log-parameter this close to ±15 has run to the bound: on a flat ridge the optimiser stops short of it
(BG/NBD with 2 repeat buyers in 1,664: log α = 14.9989, the rate r/α pinned, its spread not)."""
QUADRATURE_NODES = 64
"""Gauss–Jacobi nodes of expected_purchases where its closed form fails; twice as many must agree to 1e-9."""


@dataclass(frozen=True)
class BgNbdFit:
    """BG/NBD parameters: purchase rates λ ~ Gamma(r, α); dropout probability p ~ Beta(a, b).

    ``time_unit`` is the unit of t_x and T the model was fitted in ('weeks' or 'days'); rates are per unit.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool
    time_unit: str


@dataclass(frozen=True)
class GammaGammaFit:
    """Gamma-Gamma parameters: spend per purchase ~ Gamma(p, ν), ν ~ Gamma(q, γ) across customers.

    Fitted on the ``n_customers`` customers with at least one repeat purchase and positive mean spend.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    converged: bool

    @property
    def mean_spend(self) -> float:
        """Population mean spend per purchase, E[ζ] = pγ / (q − 1) (infinite for q ≤ 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")


def maximise_likelihood(negative_log_likelihood: Callable[[NDArray[np.float64]], float],
              n_parameters: int) -> tuple[list[float], float, bool]:
    """Minimise over log-parameters from all-ones with L-BFGS-B; Nelder-Mead polishes if that stops early.

    Returns the parameters, the maximised log-likelihood and whether the optimiser converged inside
    the bounds |log θ| < 15 − AT_BOUND (an optimum on a bound means the data do not pin that parameter down).
    """
    start = np.zeros(n_parameters)
    bounds = [(-15.0, 15.0)] * n_parameters
    result = minimize(negative_log_likelihood, start, method="L-BFGS-B", bounds=bounds,
                      options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 2000})
    if not result.success:
        result = minimize(negative_log_likelihood, result.x, method="Nelder-Mead", bounds=bounds,
                          options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 20000})
    at_bound = bool(np.any(np.abs(result.x) >= 15.0 - AT_BOUND))
    return [float(v) for v in np.exp(result.x)], -float(result.fun), bool(result.success) and not at_bound


def bgnbd_log_likelihood(r: float, alpha: float, a: float, b: float, x: NDArray[np.float64], t_x: NDArray[np.float64],
                         T: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-customer log-likelihood of BG/NBD (Fader, Hardie & Lee 2005, eq. 6).

    L = Γ(r+x) α^r / Γ(r) · B(a, b+x) / B(a, b) · [ (α+T)^-(r+x) + δ(x>0) a/(b+x−1) (α+t_x)^-(r+x) ],
    the bracket summed in log space (logaddexp) so neither term underflows.
    """
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    still_alive = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(still_alive, -np.inf)
    dropped[repeat] = (np.log(a) - np.log(b + x[repeat] - 1)
                       - (r + x[repeat]) * np.log(alpha + t_x[repeat]))
    log_likelihood: NDArray[np.float64] = head + np.logaddexp(still_alive, dropped)
    return log_likelihood


def _bgnbd_arrays(features: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    require_columns(features, ["frequency", "t_x", "T"], Path("the customer features"), "customer features",
                    "Compute them with optimizer.rfm.customer_features")
    x, t_x, T = (features[column].to_numpy(dtype=float) for column in ("frequency", "t_x", "T"))
    bad = np.flatnonzero(~((x >= 0) & (t_x >= 0) & (T >= t_x)))
    if bad.size:
        raise DataError(f"Customer '{features.index[bad[0]]}' has frequency {x[bad[0]]}, t_x {t_x[bad[0]]}, "
                        f"T {T[bad[0]]} ({bad.size} such customer(s))", where="the customer features",
                        fix="Need frequency ≥ 0 and 0 ≤ t_x ≤ T; compute them with customer_features")
    return x, t_x, T


def fit_bgnbd(features: pd.DataFrame, *, time_unit: str | None = None) -> BgNbdFit:
    """Maximum-likelihood BG/NBD on columns frequency (x), t_x and T of ``features``.

    ``time_unit`` defaults to ``features.attrs['time_unit']`` (set by customer_features).
    """
    unit = time_unit or features.attrs.get("time_unit")
    if unit is None:
        raise ScenarioError("The time unit of t_x and T is not known", where="fit_bgnbd",
                            fix="Pass time_unit='weeks' or 'days', or build the features with customer_features")
    unit_days(unit)
    x, t_x, T = _bgnbd_arrays(features)

    def negative(log_params: NDArray[np.float64]) -> float:
        r, alpha, a, b = np.exp(log_params)
        return -float(bgnbd_log_likelihood(r, alpha, a, b, x, t_x, T).sum())

    (r, alpha, a, b), log_likelihood, converged = maximise_likelihood(negative, 4)
    return BgNbdFit(r, alpha, a, b, log_likelihood, len(x), converged, unit)


def p_alive(fit: BgNbdFit, frequency: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x)).

    A customer with no repeat purchase is alive for certain: BG/NBD lets customers drop out only
    right after a purchase (FHL 2005, eq. 11).

    >>> fit = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4, n_customers=2357,
    ...                converged=True, time_unit="weeks")
    >>> p_alive(fit, [0, 2], [0.0, 30.43], [38.86, 38.86]).round(3)
    array([1.   , 0.727])
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, t_x, T))
    log_odds = np.full(np.broadcast(x, t_x, T).shape, -np.inf)
    repeat = np.broadcast_to(x > 0, log_odds.shape)
    x_r, t_r, T_r = (np.broadcast_to(v, log_odds.shape)[repeat] for v in (x, t_x, T))
    log_odds[repeat] = (np.log(fit.a) - np.log(fit.b + x_r - 1)
                        + (fit.r + x_r) * np.log1p((T_r - t_r) / (fit.alpha + t_r)))
    return expit(-log_odds)


def expected_purchases(fit: BgNbdFit, t: ArrayLike, frequency: ArrayLike, t_x: ArrayLike,
                       T: ArrayLike) -> NDArray[np.float64]:
    """E[purchases in (T, T+t] | x, t_x, T] (FHL 2005, eq. 10), t in the fit's time unit.

    = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive),
    the closed form (continued analytically to a < 1) of E[(1 − (1+pτ)^−(r+x)) / p] · P(alive) with
    p ~ Beta(a, b+x), τ = t/(α+T): alive at T, a customer buys at rate λ ~ Gamma(r+x, α+T) and drops out
    with probability p after each purchase. Where the closed form fails, at a = 1 (0/0) and for r+x ≳ 1e5
    (scipy's ₂F₁ gives NaN; such fits have α huge too, a rate prior of vanishing variance, every customer
    buying at r/α), the integral is taken by quadrature (_purchases_if_alive_by_quadrature); near a = 1
    where that overflows too (b + x beyond ~1000), the closed form's mean at a ± A_STEP; NaN is left
    where all fail, and score_customers refuses such fits.
    """
    t, x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, frequency, t_x, T)))
    if_alive = _purchases_if_alive(fit, fit.a, t, x, T)
    near_one = abs(fit.a - 1) < 1e-6  # the bracket cancels to ~1e-16/|a−1| there
    fails = ~np.isfinite(if_alive) | near_one
    if fails.any():
        if_alive[fails] = _purchases_if_alive_by_quadrature(fit, t[fails], x[fails], T[fails])
    if near_one and not np.isfinite(if_alive).all():  # the quadrature's weights overflow for b + x beyond ~1000
        still = ~np.isfinite(if_alive)
        if_alive[still] = sum(0.5 * _purchases_if_alive(fit, fit.a + step, t[still], x[still], T[still])
                              for step in (-A_STEP, A_STEP))  # smooth in a: off by ~A_STEP² relatively
    purchases: NDArray[np.float64] = if_alive * p_alive(fit, x, t_x, T)
    return purchases


A_STEP = 1e-5
"""expected_purchases' step either side of a = 1 where the closed form is 0/0 and the quadrature overflows."""


def _purchases_if_alive(fit: BgNbdFit, a: float, t: NDArray[np.float64], x: NDArray[np.float64],
                        T: NDArray[np.float64]) -> NDArray[np.float64]:
    """(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(…)] at ``a``: NaN or inf where it fails."""
    r, alpha, b = fit.r, fit.alpha, fit.b
    with np.errstate(all="ignore"):  # the failures are the caller's to catch
        ratio = (alpha + T) / (alpha + T + t)
        bracket = 1.0 - ratio ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        return np.asarray((a + b + x - 1) / (a - 1) * bracket, dtype=float)


def _purchases_if_alive_by_quadrature(fit: BgNbdFit, t: NDArray[np.float64], x: NDArray[np.float64],
                                      T: NDArray[np.float64]) -> NDArray[np.float64]:
    """E[(1 − (1+pτ)^−(r+x)) / p], p ~ Beta(a, b+x), τ = t/(α+T), by Gauss–Jacobi quadrature in p.

    The integrand, −expm1(−(r+x) log1p(pτ)) / p, is bounded by (r+x)τ and smooth on [0, 1] for any a > 0
    and r, however large; the rule converges fast unless τ or (r+x)τ is large (a kink near p = 0). A value
    is kept where QUADRATURE_NODES and twice as many nodes agree to 1e-9, NaN elsewhere.
    """
    value = np.full(x.shape, np.nan)
    for frequency in np.unique(x):
        rows = x == frequency
        tau = t[rows] / (fit.alpha + T[rows])
        coarse, fine = (_gauss_jacobi_purchases(fit.r + frequency, tau, fit.a, fit.b + frequency, nodes)
                        for nodes in (QUADRATURE_NODES, 2 * QUADRATURE_NODES))
        value[rows] = np.where(np.abs(fine - coarse) <= 1e-9 * np.abs(fine), fine, np.nan)
    return value


def _gauss_jacobi_purchases(s: float, tau: NDArray[np.float64], a: float, b: float,
                            nodes: int) -> NDArray[np.float64]:
    """Σ_k w_k (1 − (1 + p_k τ)^−s) / p_k over the Gauss–Jacobi rule (p_k, w_k) of Beta(a, b)."""
    with np.errstate(all="ignore"):  # the weights overflow for a + b beyond ~1000: NaN, refused later
        roots, weights = roots_jacobi(nodes, b - 1, a - 1)
        p = (1 + roots) / 2
        expectation: NDArray[np.float64] = (-np.expm1(-s * np.log1p(np.outer(tau, p))) / p) @ (weights / weights.sum())
    return expectation


def gamma_gamma_log_likelihood(p: float, q: float, gamma: float, x: NDArray[np.float64],
                               mean_spend: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-customer log-density of the mean spend m over x purchases (Fader, Hardie & Lee 2005b, eq. 3).

    f(m | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m^(px−1) · x^(px) / (γ + m x)^(px+q).
    """
    px = p * x
    log_density: NDArray[np.float64] = (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma) + (px - 1) * np.log(mean_spend)
        + px * np.log(x) - (px + q) * np.log(gamma + mean_spend * x))
    return log_density


def fit_gamma_gamma(features: pd.DataFrame, where: str = "the customer features") -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma on customers with frequency > 0 and repeat_monetary > 0
    (``where``: what the features are of, for an error).

    The spend is the mean over repeat purchase days (orders on one day summed), the first purchase
    excluded; on CDNOW this is what reproduces the published p, q, γ (docs/clv.md).
    """
    require_columns(features, ["frequency", "repeat_monetary"], Path("the customer features"),
                    "customer features", "Compute them with optimizer.rfm.customer_features")
    x = features["frequency"].to_numpy(dtype=float)
    spend = features["repeat_monetary"].to_numpy(dtype=float)
    keep = (x > 0) & (spend > 0)
    if keep.sum() < 2:
        repeat = int((x > 0).sum())
        if repeat >= 2 and not (spend[x > 0] > 0).any():
            raise DataError(f"{repeat:,} customers have a repeat purchase, and every one of them spent 0 on it",
                            where=where, fix="Check the amount the log is read with: --column amount=<the order's "
                            "value>, or an expression such as 'amount=Quantity * UnitPrice'")
        raise DataError(f"Only {int(keep.sum())} customer(s) have a repeat purchase with positive spend",
                        where=where, fix="Choose a later cut-off, or give a log with more history or more customers")
    x, spend = x[keep], spend[keep]

    def negative(log_params: NDArray[np.float64]) -> float:
        p, q, gamma = np.exp(log_params)
        return -float(gamma_gamma_log_likelihood(p, q, gamma, x, spend).sum())

    (p, q, gamma), log_likelihood, converged = maximise_likelihood(negative, 3)
    return GammaGammaFit(p, q, gamma, log_likelihood, int(keep.sum()), converged)


def expected_spend(fit: GammaGammaFit, frequency: ArrayLike, mean_spend: ArrayLike) -> NDArray[np.float64]:
    """E[spend per purchase | x, m] = (pγ + p x m) / (p x + q − 1): a weighted mean of the population
    mean pγ/(q−1) and the customer's own mean m (m unused, may be NaN, where x = 0)."""
    if fit.q <= 1:
        raise DataError(f"The Gamma-Gamma fit has q = {fit.q:.3g} ≤ 1, so the mean spend is infinite",
                        where=f"{fit.n_customers} repeat customers", fix="Check the spend data for extreme values")
    x = np.asarray(frequency, dtype=float)
    own = np.where(x > 0, np.nan_to_num(np.asarray(mean_spend, dtype=float)), 0.0)
    return (fit.p * fit.gamma + fit.p * x * own) / (fit.p * x + fit.q - 1)


def lifetime_value(bgnbd: BgNbdFit, gamma_gamma: GammaGammaFit, features: pd.DataFrame, *, months: int = 12,
                   monthly_discount: float = 0.01) -> pd.Series:
    """Discounted expected spend over the next ``months`` months, per customer (index of ``features``).

    LTV = Σ_{k=1..H} (E[Y(k·m)] − E[Y((k−1)·m)]) · E[spend] / (1 + d)^k, with m one month
    (365.25/12 days) in the fit's time unit, E[Y] from expected_purchases, E[spend] from expected_spend.
    """
    _check_horizon(months, monthly_discount)
    x, t_x, T = _bgnbd_arrays(features)
    month = DAYS_PER_MONTH / unit_days(bgnbd.time_unit)
    ends = month * np.arange(months + 1)
    cumulative = np.stack([expected_purchases(bgnbd, t, x, t_x, T) for t in ends], axis=1)
    discount = (1 + monthly_discount) ** -np.arange(1, months + 1)
    spend = expected_spend(gamma_gamma, x, features["repeat_monetary"].to_numpy(dtype=float))
    return pd.Series(np.diff(cumulative, axis=1) @ discount * spend, index=features.index, name="ltv")


def _check_horizon(months: int, monthly_discount: float) -> None:
    if not (isinstance(months, int | np.integer) and months >= 1):
        raise ScenarioError(f"The LTV horizon {months!r} is not a whole number of months ≥ 1", fix="Use e.g. 12")
    if not (np.isfinite(monthly_discount) and monthly_discount >= 0):
        raise ScenarioError(f"The monthly discount rate {monthly_discount!r} is not ≥ 0",
                            fix="Use a rate such as 0.01 (1 % a month)")


def calibration_and_holdout(log: pd.DataFrame, calibration_end: object, holdout_end: object | None = None, *,
                            columns: Mapping[str, str] | None = None, time_unit: str = "weeks",
                            date_format: str | None = None) -> pd.DataFrame:
    """Calibration features at ``calibration_end`` plus what each customer did after it.

    Customers are those who bought on or before ``calibration_end``. Added columns:
    holdout_purchases (distinct purchase days in (calibration_end, holdout_end]), holdout_spend and
    holdout_duration (holdout length in ``time_unit``). ``holdout_end`` defaults to the last order date.
    """
    transactions = clean_transactions(log, columns=columns, date_format=date_format)
    start = to_timestamp(calibration_end, "calibration end")
    end = transactions["date"].max() if holdout_end is None else to_timestamp(holdout_end, "holdout end")
    if end <= start:
        raise ScenarioError(f"The holdout end {end.date()} is not after the calibration end {start.date()}",
                            fix="Choose a calibration end before the last order in the log")
    features = customer_features(transactions, start, time_unit=time_unit)
    later = transactions[(transactions["date"] > start) & (transactions["date"] <= end)]
    by_customer = later.groupby("customer_id")
    features["holdout_purchases"] = by_customer["date"].nunique().reindex(features.index, fill_value=0)
    features["holdout_spend"] = by_customer["amount"].sum().reindex(features.index, fill_value=0.0)
    features["holdout_duration"] = (end - start).days / unit_days(time_unit)
    return features


def holdout_table(fit: BgNbdFit, calibration: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs actual holdout repeat purchases by calibration frequency 0, 1, …, 6, 7+, and 'all'.

    Columns: customers, actual and predicted totals, actual and predicted means per customer.
    ``calibration`` comes from calibration_and_holdout.
    """
    x, t_x, T = _bgnbd_arrays(calibration)
    duration = calibration["holdout_duration"].to_numpy(dtype=float)
    predicted = expected_purchases(fit, duration, x, t_x, T)
    bucket = np.minimum(x, FREQUENCY_BUCKETS).astype(int)
    labels = [str(k) for k in range(FREQUENCY_BUCKETS)] + [f"{FREQUENCY_BUCKETS}+"]
    rows = pd.DataFrame({"bucket": pd.Categorical.from_codes(bucket, pd.Index(labels)),
                         "actual": calibration["holdout_purchases"].to_numpy(dtype=float), "predicted": predicted})
    table = rows.groupby("bucket", observed=False).agg(
        customers=("actual", "size"), actual_total=("actual", "sum"), predicted_total=("predicted", "sum"))
    table.loc["all"] = table.sum()
    table["actual_mean"] = table["actual_total"] / table["customers"]
    table["predicted_mean"] = table["predicted_total"] / table["customers"]
    table.index.name = "calibration frequency"
    return table.astype({"customers": int})


@dataclass(frozen=True)
class CustomerValue:
    """The per-customer table of score_customers and the two fits behind it."""

    table: pd.DataFrame
    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit


def score_customers(log: pd.DataFrame, cutoff: object, *, columns: Mapping[str, str] | None = None,
                    time_unit: str = "weeks", months: int = 12, monthly_discount: float = 0.01,
                    date_format: str | None = None, source: str = "the transaction log") -> CustomerValue:
    """Features, RFM scores and segments, and value per customer at ``cutoff``, both models fitted on it.

    Adds p_alive, expected_purchases (over the next ``months`` months), expected_spend and ltv to the
    columns of rfm_scores. A DataError naming ``source`` (the log's file) and the cut-off when a value
    is not finite: the fit is degenerate.
    """
    _check_horizon(months, monthly_discount)
    features = customer_features(log, cutoff, columns=columns, time_unit=time_unit, date_format=date_format)
    where = f"{source}, cut-off {to_timestamp(cutoff, 'cut-off').date()}"
    bgnbd, gamma_gamma = fit_bgnbd(features), fit_gamma_gamma(features, where)
    table = rfm_scores(features)
    x, t_x, T = _bgnbd_arrays(features)
    horizon = months * DAYS_PER_MONTH / unit_days(time_unit)
    table["p_alive"] = p_alive(bgnbd, x, t_x, T)
    table["expected_purchases"] = expected_purchases(bgnbd, horizon, x, t_x, T)
    table["expected_spend"] = expected_spend(gamma_gamma, x, features["repeat_monetary"].to_numpy(dtype=float))
    table["ltv"] = lifetime_value(bgnbd, gamma_gamma, features, months=months, monthly_discount=monthly_discount)
    _check_finite(table, bgnbd, features, where)
    return CustomerValue(table, bgnbd, gamma_gamma)


def _check_finite(table: pd.DataFrame, fit: BgNbdFit, features: pd.DataFrame, where: str) -> None:
    """A DataError when a customer's value is not finite: the BG/NBD fit is degenerate."""
    values = table[["p_alive", "expected_purchases", "expected_spend", "ltv"]].to_numpy(dtype=float)
    bad = int((~np.isfinite(values).all(axis=1)).sum())
    if bad:
        repeat = int((features["frequency"] > 0).sum())
        raise DataError(
            f"The BG/NBD fit is degenerate (r={fit.r:.4g}, alpha={fit.alpha:.4g}, a={fit.a:.4g}, b={fit.b:.4g}"
            f"{'' if fit.converged else ', not converged'}): the expected purchases and LTV of {bad:,} of "
            f"{len(table):,} customers are not finite; the log has {features['T'].max():.3g} {fit.time_unit} of "
            f"history before the cut-off, in which {repeat:,} of the {len(table):,} customers bought again, too "
            "little to fit the model",
            where=where, fix="Choose a later cut-off, or give a log with more history or more customers")

"""The published-style peers the cvo plan is measured against on Hillstrom, each fit on the fitting half only.

Each peer predicts, for every evaluation customer and e-mail j, the gain of sending j instead of
nothing, picks each customer's e-mail of highest predicted gain, and e-mails the share of customers
with the highest predicted gain (ties broken by a seeded random key, so a split reproduces exactly):

- **T-learner on spend**: one gradient-boosting regressor of revenue per arm (each e-mail and the
  shared control); gain_j(x) = mu_j(x) - mu_0(x) - cost.
- **T-learner on visits**: one gradient-boosting classifier of the visit per arm; gain_j(x) =
  P(visit | j, x) - P(visit | no e-mail, x) (the ranking a team optimising traffic would use).
- **transformed outcome** (Athey & Imbens 2015): for e-mail j, on the customers of arm j or the
  control, Z = Y (T / p - (1 - T) / (1 - p)) with p the share of arm j among them has
  E[Z | x] = tau_j(x); one gradient-boosting regressor of Z per e-mail; gain_j(x) = tau_j(x) - cost.
- **hand rule**: the customers who spent most in the past twelve months (`history`), the men's
  e-mail to those who bought men's merchandise, else the women's e-mail: what a team without a model
  sends.

The boosters are deliberately plain (scikit-learn defaults but for a fixed seed and a minimum leaf
of 100 customers): peers as a practitioner would fit them, not tuned on the evaluation half.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

MIN_LEAF = 100
TREATED = ("mens_email", "womens_email")
Peer = Callable[[pd.DataFrame, NDArray[np.float64], pd.DataFrame, float, int], NDArray[np.float64]]


def features(table: pd.DataFrame, like: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model matrix: numbers as they are, text columns one-hot (with the columns of ``like``, the
    fitting half's matrix, when given: a level one half lacks is all zeros there)."""
    x = table[["recency", "history", "mens", "womens", "newbie", "zip_code", "purchase_channel"]]
    dummies = pd.get_dummies(x, columns=["zip_code", "purchase_channel"], dtype=float)
    return dummies if like is None else dummies.reindex(columns=like.columns, fill_value=0.0)


def _regressor(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(min_samples_leaf=MIN_LEAF, random_state=seed)


def t_learner_spend(fit: pd.DataFrame, visits: NDArray[np.float64], customers: pd.DataFrame, cost: float,
                    seed: int) -> NDArray[np.float64]:
    """(customers, e-mails) predicted revenue gain: mu_j(x) - mu_0(x) - cost."""
    x = features(fit)
    x_new = features(customers, like=x)
    mu = {arm: _regressor(seed).fit(x[arm_rows(fit, arm)], fit.revenue[arm_rows(fit, arm)]).predict(x_new)
          for arm in (None, *TREATED)}
    return np.column_stack([mu[j] - mu[None] - cost for j in TREATED])


def t_learner_visits(fit: pd.DataFrame, visits: NDArray[np.float64], customers: pd.DataFrame, cost: float,
                     seed: int) -> NDArray[np.float64]:
    """(customers, e-mails) predicted visit uplift: P(visit | j, x) - P(visit | control, x)."""
    x = features(fit)
    x_new = features(customers, like=x)
    p = {}
    for arm in (None, *TREATED):
        rows = arm_rows(fit, arm)
        model = HistGradientBoostingClassifier(min_samples_leaf=MIN_LEAF, random_state=seed)
        p[arm] = model.fit(x[rows], visits[rows]).predict_proba(x_new)[:, 1]
    return np.column_stack([p[j] - p[None] for j in TREATED])


def transformed_outcome(fit: pd.DataFrame, visits: NDArray[np.float64], customers: pd.DataFrame, cost: float,
                        seed: int) -> NDArray[np.float64]:
    """(customers, e-mails) tau_j(x) - cost, tau_j regressed on Z = Y (T / p - (1 - T) / (1 - p))."""
    x = features(fit)
    x_new = features(customers, like=x)
    gains = []
    for j in TREATED:
        rows = arm_rows(fit, j) | arm_rows(fit, None)
        treated = arm_rows(fit, j)[rows].astype(float)
        share = float(treated.mean())
        z = fit.revenue[rows].to_numpy() * (treated / share - (1.0 - treated) / (1.0 - share))
        gains.append(_regressor(seed).fit(x[rows], z).predict(x_new) - cost)
    return np.column_stack(gains)


def hand_rule(fit: pd.DataFrame, visits: NDArray[np.float64], customers: pd.DataFrame, cost: float,
              seed: int) -> NDArray[np.float64]:
    """(customers, e-mails): past spend in the column of the e-mail the rule sends, -inf in the other."""
    spend = customers.history.to_numpy(float)
    mens = customers.mens.to_numpy() == 1
    return np.column_stack([np.where(mens, spend, -np.inf), np.where(mens, -np.inf, spend)])


PEERS: dict[str, Peer] = {
    "T-learner on spend": t_learner_spend,
    "T-learner on visits": t_learner_visits,
    "transformed outcome": transformed_outcome,
    "hand rule": hand_rule,
}


def targeted(gains: NDArray[np.float64], share: float, seed: int) -> NDArray[np.object_]:
    """Each customer's e-mail (None: none) when the ``share`` of customers of highest predicted gain
    are e-mailed their best e-mail; only a positive gain is e-mailed (the hand rule's are all
    positive); ties in the gain are broken by a random key of ``seed``."""
    best = gains.argmax(axis=1)
    gain = gains[np.arange(len(gains)), best]
    tie_break = np.random.default_rng(seed).random(len(gains))
    order = np.lexsort((tie_break, -gain))[: int(share * len(gains))]
    order = order[gain[order] > 0]
    arms = np.full(len(gains), None, dtype=object)
    arms[order] = np.array(TREATED, dtype=object)[best[order]]
    return arms


def arm_rows(table: pd.DataFrame, campaign: str | None) -> NDArray[np.bool_]:
    """The rows of one arm: an e-mail, or the shared control (None)."""
    if campaign is None:
        return (table.treated == 0).to_numpy()
    return (table.campaign_id == campaign).to_numpy()

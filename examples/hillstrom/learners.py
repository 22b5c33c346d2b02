"""A trial of the learners issue 18 asked for, beside the cells model, on the same ten splits.

    python examples/hillstrom/learners.py        # about 5 minutes, prints a table

For each split seed (SPLIT_SEEDS) and each learner, fit on the fitting half, e-mail the 30% of the
evaluation half of highest predicted gain (examples/hillstrom/peers.py's ``targeted``) and value
that by IPW with the example's own estimate (run.py's ``value_policies``). The learners:

- **cells**: the library's cells model (optimizer/scoring/cells.py: mean revenue per arm in each
  mens x womens x newbie cell, shrunk to the arm mean with k = 100), gain_j = m_j(c) - m_0(c) - cost;
- **DR-learner** (Kennedy 2020), on revenue: outcome models mu_a(x) per arm (the library's booster
  settings: 8 leaves of at least 100, rate 0.05, 200 rounds), cross-fitted in FOLDS folds; the
  propensity e_j is the share of arm j among arm j and the control (the assignment was random);
  the pseudo-outcome

      phi_j = mu_j(x) - mu_0(x) + T (Y - mu_j(x)) / e_j - (1 - T) (Y - mu_0(x)) / (1 - e_j)

  is regressed on x by a **shallow tree** (8 leaves of at least 1,000 customers: cells learned
  from the data, each leaf's mean a doubly robust uplift) or by the **booster**;
- **cross-fitted choice**: among the three above, the one whose out-of-fold rankings on the
  fitting half (FOLDS folds) give the largest mean IPW gain over e-mailing nobody, averaged over
  targeting 5%, 10%, ..., 100% (a multi-treatment uplift curve, Zhao, Fang & Simchi-Levi 2017);
  the evaluation half is never seen by the choice;
- the **hand rule** (the strongest peer), for reference.

The learners were fixed before this ran once on the ten splits; nothing here was tuned on them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.tree import DecisionTreeRegressor

from optimizer.scoring.cells import CellOptions, fit_cell_uplift
from optimizer.scoring.evaluate import (
    EvaluateOptions,
    deterministic_policy,
    policy_value,
    random_policy,
    randomized_history,
)
from optimizer.scoring.uplift import score_customers

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the example's own modules
from peers import TREATED, arm_rows, features, hand_rule, targeted  # noqa: E402
from run import COST_PER_EMAIL, load_hillstrom, split, to_history, value_policies  # noqa: E402
from tables import EMAIL_SHARE, EVERYBODY, RANDOM  # noqa: E402

SPLIT_SEEDS = range(2008, 2018)
FOLDS = 5
SHARES = np.arange(1, 21) / 20
ARMS = (None, *TREATED)
Learner = Callable[[pd.DataFrame, pd.DataFrame, int], NDArray[np.float64]]  # (fit, new, seed) -> gains


def booster(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=100,
                                         random_state=seed)


def cells(fit: pd.DataFrame, new: pd.DataFrame, seed: int) -> NDArray[np.float64]:
    """(customers, e-mails) gain (p_treat - p_control) w_j - cost of the library's cells model
    (optimizer/scoring/cells.py, its defaults: mens x womens x newbie, k = 100), as cvo score fits it."""
    model = fit_cell_uplift(fit, options=CellOptions(seed=seed))
    scores = score_customers(model, new)
    k = len(model.campaigns)
    uplift = (scores.p_treat - scores.p_control).to_numpy().reshape(-1, k)
    value = np.array([model.value_per_response[j] for j in model.campaigns])
    return uplift * value - COST_PER_EMAIL


def dr_learner(final: str) -> Learner:
    """The DR-learner of the module docstring with a 'tree' or 'booster' final stage."""
    def gains(fit: pd.DataFrame, new: pd.DataFrame, seed: int) -> NDArray[np.float64]:
        x, revenue = features(fit), fit.revenue.to_numpy(float)
        x_new = features(new, like=x)
        fold = np.random.default_rng(seed).integers(0, FOLDS, len(fit))
        mu = {campaign: np.zeros(len(fit)) for campaign in ARMS}
        for k in range(FOLDS):
            for campaign in ARMS:
                rows = arm_rows(fit, campaign) & (fold != k)
                mu[campaign][fold == k] = booster(seed).fit(x[rows], revenue[rows]).predict(x[fold == k])
        columns = []
        for j in TREATED:
            rows = arm_rows(fit, j) | arm_rows(fit, None)
            treated = arm_rows(fit, j)[rows].astype(float)
            e, y, m1, m0 = treated.mean(), revenue[rows], mu[j][rows], mu[None][rows]
            phi = m1 - m0 + treated * (y - m1) / e - (1.0 - treated) * (y - m0) / (1.0 - e)
            model = (DecisionTreeRegressor(max_leaf_nodes=8, min_samples_leaf=1_000, random_state=seed)
                     if final == "tree" else booster(seed))
            columns.append(model.fit(x[rows], phi).predict(x_new) - COST_PER_EMAIL)
        return np.column_stack(columns)

    return gains


LEARNERS: dict[str, Learner] = {"cells": cells, "DR-learner, tree": dr_learner("tree"),
                                "DR-learner, booster": dr_learner("booster")}


def uplift_curve(table: pd.DataFrame, gains: NDArray[np.float64]) -> float:
    """Mean over SHARES of the IPW gain over nobody, per customer, of e-mailing that share of highest
    predicted gain their best e-mail (optimizer/scoring/evaluate.py's estimate, as the example's)."""
    options = EvaluateOptions(costs=dict.fromkeys(TREATED, COST_PER_EMAIL))
    data = randomized_history(table, options=options)
    nobody = policy_value(data, "nobody", random_policy(data, {}), options).value
    best = gains.argmax(axis=1)
    order = np.argsort(-gains[np.arange(len(gains)), best], kind="stable")
    curve = []
    for share in SHARES:
        arms = np.full(len(table), None, dtype=object)
        top = order[: int(share * len(table))]
        arms[top] = np.array(TREATED, dtype=object)[best[top]]
        curve.append(policy_value(data, "policy", deterministic_policy(data, arms), options).value - nobody)
    return float(np.mean(curve))


def cross_fitted(fit: pd.DataFrame, seed: int, learner: Learner) -> float:
    """The learner's uplift curve on the fitting half from out-of-fold gains (FOLDS folds)."""
    fold = np.random.default_rng([seed, 1]).integers(0, FOLDS, len(fit))
    gains = np.zeros((len(fit), len(TREATED)))
    for k in range(FOLDS):
        gains[fold == k] = learner(fit[fold != k].reset_index(drop=True), fit[fold == k].reset_index(drop=True), seed)
    return uplift_curve(fit, gains)


def split_row(history: pd.DataFrame, seed: int) -> dict[str, float | str]:
    """Each policy's gain over nobody on one split, and the learner the cross-fitted choice took."""
    halves = split(history, seed)
    arms = {name: targeted(learner(halves.fit, halves.evaluation, seed), EMAIL_SHARE, seed)
            for name, learner in LEARNERS.items()}
    scores = {name: cross_fitted(halves.fit, seed, learner) for name, learner in LEARNERS.items()}
    chosen = max(scores, key=scores.__getitem__)
    arms["cross-fitted choice"] = arms[chosen]
    arms["hand rule"] = targeted(hand_rule(halves.fit, np.zeros(0), halves.evaluation, COST_PER_EMAIL, seed),
                                 EMAIL_SHARE, seed)
    values = value_policies(halves, arms, "value")
    nobody = values["nobody"].value
    return {"seed": seed, **{name: values[name].value - nobody for name in (*arms, RANDOM, EVERYBODY)},
            "chosen": chosen}


def main() -> None:
    history = to_history(load_hillstrom())
    rows = []
    for seed in SPLIT_SEEDS:
        started = time.perf_counter()
        rows.append(split_row(history, seed))
        print(f"split {seed}: {time.perf_counter() - started:.0f} s, chose {rows[-1]['chosen']}", file=sys.stderr)
    table = pd.DataFrame(rows).set_index("seed")
    print(table.round(3).to_string())
    random, everybody = table[RANDOM], table[EVERYBODY]
    for name in (*LEARNERS, "cross-fitted choice", "hand rule"):
        gain = table[name]
        print(f"- {name}: {gain.mean() / random.mean():.2f} x random 30%, {gain.mean() / everybody.mean():.2f} of "
              f"everybody's gain, >= random on {int((gain >= random).sum())} of {len(table)} splits")


if __name__ == "__main__":
    main()

"""A randomized history simulated for the tests of optimizer/scoring/evaluate.py and evaluate_run.py.

The simulation knows every customer's expected outcome under each arm, so a policy's true value
is computed exactly (on the simulated customers) and the estimate's interval must cover it:

    p_none(x) = 0.05 + 0.03 sigmoid(x1)
    p_a(x)    = p_none(x) + 0.04 [x1 > 0]        (campaign 'a' works on half the customers)
    p_b(x)    = p_none(x) + 0.01                  (campaign 'b' a little on everyone)
    y         = 50 Bernoulli(p_arm(x))            (revenue), arms drawn with probabilities 0.5 / 0.3 / 0.2
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.scoring.evaluate import NO_CAMPAIGN

ARMS = (NO_CAMPAIGN, "a", "b")
DESIGN = np.array([0.5, 0.3, 0.2])


def expected_revenue(x1: np.ndarray) -> np.ndarray:
    """(n, 3) expected revenue under no campaign, 'a' and 'b'."""
    none = 0.05 + 0.03 / (1 + np.exp(-x1))
    return 50 * np.column_stack([none, none + 0.04 * (x1 > 0), none + 0.01])


def simulate(n: int, rng: np.random.Generator, design: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """A history table (one row per customer) and the true (n, 3) expected revenues.

    ``design`` (n, 3) gives each customer's assignment probabilities (default: 0.5 / 0.3 / 0.2).
    """
    x1 = rng.normal(size=n)
    probabilities = np.tile(DESIGN, (n, 1)) if design is None else design(x1)
    arm = (rng.random(n)[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1)
    mean = expected_revenue(x1)
    revenue = 50.0 * (rng.random(n) < mean[np.arange(n), arm] / 50)
    history = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "campaign_id": np.array([None, "a", "b"], dtype=object)[arm],
        "treated": (arm > 0).astype(int),
        "revenue": revenue,
        "x1": x1,
        "propensity": probabilities[np.arange(n), arm],
    })
    return history, mean


def targeting(history: pd.DataFrame) -> pd.DataFrame:
    """The plan under test: 'a' where x1 > 0, 'b' for a third of the rest, one control row."""
    x1 = history.x1.to_numpy()
    campaign = np.where(x1 > 0, "a", np.where(np.arange(len(x1)) % 3 == 0, "b", None)).astype(object)
    group = np.where(campaign != None, "treatment", None).astype(object)  # noqa: E711
    return pd.DataFrame({"customer_id": history.customer_id, "campaign_id": campaign, "group": group})


def true_value(plan: pd.DataFrame, mean: np.ndarray, costs: dict[str, float] | None = None) -> float:
    arm = pd.Index(ARMS).get_indexer(plan.campaign_id.where(plan.group == "treatment", NO_CAMPAIGN).fillna(NO_CAMPAIGN))
    cost = np.array([0.0, *(costs or {}).values()]) if costs else np.zeros(3)
    return float((mean[np.arange(len(arm)), arm] - cost[arm]).mean())

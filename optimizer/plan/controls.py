"""Control groups: a random share of each campaign's selected audience is held out.

For campaign j with selected audience A_j and control fraction f_j, the round(f_j |A_j|)
customers with the smallest key u_ij = mix(hash(customer id) xor salt(seed, campaign j))
become controls. The keys behave as independent uniform draws, unrelated to the plan, so
the controls are a simple random sample of A_j; and because a key depends only on (seed,
campaign, customer), the same plan gets the same controls whatever the row order or
partitioning of the customer table.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from optimizer.solve.keys import mix

TREATMENT, CONTROL = "treatment", "control"  # the group column of a plan


def _salt(seed: int, campaign_id: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}\x1f{campaign_id}".encode(), digest_size=8).digest()
    return np.frombuffer(digest, dtype=np.uint64)[0]


def control_keys(customer_ids: np.ndarray, campaign_id: str, seed: int) -> np.ndarray:
    """Uniform 64-bit keys, one per customer, for one campaign and seed."""
    labels = np.asarray(customer_ids, dtype=object).astype(str).astype(object)
    return mix(pd.util.hash_array(labels, categorize=False) ^ _salt(seed, campaign_id))


def draw_controls(
    choice: np.ndarray, customer_ids: np.ndarray, campaign_ids: tuple[str, ...], fractions: np.ndarray, seed: int
) -> np.ndarray:
    """Boolean mask of the customers held out as controls of the campaign they were given."""
    control = np.zeros(len(choice), dtype=bool)
    for j, campaign_id in enumerate(campaign_ids):
        audience = np.flatnonzero(choice == j)
        size = int(np.floor(fractions[j] * audience.size + 0.5))
        if size == 0:
            continue
        keys = control_keys(customer_ids[audience], campaign_id, seed)
        control[audience[np.argsort(keys, kind="stable")[:size]]] = True
    return control

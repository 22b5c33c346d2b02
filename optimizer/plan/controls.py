"""Control groups: a random share of each campaign's selected audience is held out.

For campaign j with selected audience A_j and control fraction f_j, the round(f_j |A_j|)
customers with the smallest key u_ij = mix(hash(customer id) xor salt(seed, campaign j))
become controls. The keys behave as independent uniform draws, unrelated to the plan, so
the controls are a simple random sample of A_j; and because a key depends only on (seed,
campaign, customer), the same plan gets the same controls whatever the row order or
partitioning of the customer table. Customers of a forced list are not part of A_j: they are
always treated, and not measured.

With strata (``control_strata``: segment, value tier, ...), the draw is made in each stratum s of
A_j: the round(f_j |A_js|) smallest keys of A_js, so that every stratum of some size has its own
controls and the control group has the audience's mix; its size is then sum_s round(f_j |A_js|).
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

TREATMENT, CONTROL, FORCED = "treatment", "control", "forced"  # the group column of a plan
TIES = "\x1eties"  # the label of the tie keys: a control character no campaign id holds


def _salt(seed: int, campaign_id: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}\x1f{campaign_id}".encode(), digest_size=8).digest()
    salt: np.uint64 = np.frombuffer(digest, dtype=np.uint64)[0]
    return salt


def control_keys(customer_ids: NDArray[Any], campaign_id: str, seed: int) -> NDArray[np.uint64]:
    """Uniform 64-bit keys, one per customer, for one campaign and seed."""
    from optimizer.solve.keys import mix  # compiled with numba: loaded when controls are drawn, not on import

    labels = np.asarray(customer_ids, dtype=object).astype(str).astype(object)
    return cast(NDArray[np.uint64], mix(pd.util.hash_array(labels, categorize=False) ^ _salt(seed, campaign_id)))


def tie_keys(customer_ids: NDArray[Any], seed: int) -> NDArray[np.uint64]:
    """Keys that order interchangeable customers (optimizer/solve/classes.py): the control keys of a
    label no campaign has, so that who is contacted and who is held out are drawn independently."""
    return control_keys(customer_ids, TIES, seed)


def draw_controls(
    choice: NDArray[np.integer[Any]], customer_ids: NDArray[Any], campaign_ids: tuple[str, ...],
    fractions: NDArray[np.float64], seed: int, exempt: NDArray[np.bool_] | None = None,
    strata: NDArray[np.intp] | None = None,
) -> NDArray[np.bool_]:
    """Boolean mask of the customers held out as controls of the campaign they were given; the
    ``exempt`` ones (forced customers) are never held out and not counted in |A_j|; with ``strata``
    (a stratum number per customer) the draw is made within each stratum."""
    control = np.zeros(len(choice), dtype=bool)
    drawn = choice if exempt is None else np.where(exempt, -1, choice)
    for j, campaign_id in enumerate(campaign_ids):
        audience = np.flatnonzero(drawn == j)
        if audience.size == 0 or fractions[j] == 0:
            continue
        keys = control_keys(customer_ids[audience], campaign_id, seed)
        groups = np.zeros(audience.size, dtype=np.intp) if strata is None else strata[audience]
        for group in np.unique(groups):
            members = np.flatnonzero(groups == group)
            size = int(np.floor(fractions[j] * members.size + 0.5))
            control[audience[members[np.argsort(keys[members], kind="stable")[:size]]]] = True
    return control

"""A test run on a sample: a share s of the customers, and every limit that sums over customers scaled by s.

Customer i is in the sample when u_i < s, u_i = h(id_i, seed) / 2^64 with h a seeded 64-bit hash of
the id (pandas' SipHash), so the same customers are drawn whatever the row order of the table, and a
larger share draws a superset; customers of a forced list are drawn like everyone else, so that
the scaled limits leave them the share of room they had. The limits become

    budgets, custom rows (without ``per``)      b -> s b
    max audiences, channel capacities           b -> ceil(s b)
    min audiences                               b -> floor(s b)
    == rows counting customers (expression 1)   b -> round(s b)

so the sample's plan is the whole plan at about s of its size; a ratio row's r (``per``) is a ratio
and stays. The plan is a quick look at a scenario, not one to send: ``cvo commit`` refuses it.
``ScenarioData.sampled`` (optimizer/scenario/data.py) keeps the sample's rows of every table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import ScenarioError


@dataclass(frozen=True)
class Sample:
    """The sample a run was made on: its share, the seed of its draw, and how many customers of
    how many it holds."""

    share: float
    seed: int
    customers: int = 0
    of: int = 0

    def scaled(self, limit: float, rounding: str = "none") -> float:
        """A limit over customers scaled by the share: 'none', 'floor', 'ceil' or 'round' to a count."""
        value = self.share * limit
        if rounding == "floor":
            return float(math.floor(value + 1e-9))
        if rounding == "ceil":
            return float(math.ceil(value - 1e-9))
        return float(round(value)) if rounding == "round" else value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_share(share: float, where: str = "--sample") -> None:
    """ScenarioError unless 0 < share <= 1."""
    if not 0 < share <= 1:
        raise ScenarioError(f"A sample's share must be above 0 and at most 1, not {share:g}", where=where,
                            fix="Give a share such as --sample 0.05 (5 % of the customers)")


def drawn(customer_ids: NDArray[np.object_], share: float, seed: int) -> NDArray[np.bool_]:
    """u_i < share for each customer (module docstring)."""
    key = f"cvo-sample{seed:06d}"[-16:]
    labels = np.asarray(customer_ids, dtype=object).astype(str).astype(object)
    hashes = pd.util.hash_array(labels, hash_key=key, categorize=False)
    return np.asarray(hashes.astype(np.float64) / 2.0**64 < share)

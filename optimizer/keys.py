"""Hashed keys: uniform 64-bit numbers from integers, the same on every machine.

splitmix64's finaliser is a bijection on uint64 that scrambles every input bit, so keys of
distinct inputs behave as independent uniform draws. Control groups (optimizer/controls.py)
and the decomposition's warm-start sample (optimizer/lagrangian.py) both draw with them, which
is why neither depends on row order or on how the customers are partitioned.
"""

from __future__ import annotations

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser of a uint64 array."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def position_keys(positions: np.ndarray) -> np.ndarray:
    """Keys of customer positions (splitmix64 of position + the golden-ratio increment)."""
    with np.errstate(over="ignore"):
        return mix(positions.astype(np.uint64) + GOLDEN)

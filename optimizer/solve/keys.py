"""Hashed keys: uniform 64-bit numbers from integers, the same on every machine.

splitmix64's finaliser is a bijection on uint64 that scrambles every input bit, so keys of
distinct inputs behave as independent uniform draws. Control groups (optimizer/plan/controls.py)
and the decomposition's samples (optimizer/solve/balancing.py) both draw with them, which is why
neither depends on row order or on how the customers are partitioned.
"""

from __future__ import annotations

from typing import Any, cast

import numba
import numpy as np
from numpy.typing import NDArray

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FIRST, _SECOND = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))


@numba.vectorize(  # type: ignore[no-untyped-call, untyped-decorator]  # numba.vectorize ships no type hints
    ["uint64(uint64)"], cache=True,
)
def mix(x: np.uint64) -> np.uint64:  # pragma: no cover
    """splitmix64 finaliser: a ufunc on uint64 arrays, callable from compiled loops too."""
    x = (x ^ (x >> _SHIFTS[0])) * _FIRST
    x = (x ^ (x >> _SHIFTS[1])) * _SECOND
    return x ^ (x >> _SHIFTS[2])


def position_keys(positions: NDArray[np.integer[Any]]) -> NDArray[np.uint64]:
    """Keys of customer positions (splitmix64 of position + the golden-ratio increment)."""
    with np.errstate(over="ignore"):
        return cast(NDArray[np.uint64], mix(positions.astype(np.uint64) + GOLDEN))


def share_threshold(share: float) -> np.uint64:
    """The key below which about ``share`` of all positions fall (keys are uniform on uint64)."""
    return np.uint64(min(2**64 - 1, int(share * 2**64)))


def sampled_positions(start: int, stop: int, threshold: np.uint64) -> NDArray[np.int64]:
    """The positions p in [start, stop) with position_keys(p) < ``threshold``, in order, in one
    compiled loop (10^7 positions: 0.02 s; numpy's temporaries took 0.17 s)."""
    return _sampled_positions(int(start), int(stop), np.uint64(threshold))


@numba.njit(cache=True, nogil=True)
def _sampled_positions(start: int, stop: int, threshold: np.uint64) -> NDArray[np.int64]:  # pragma: no cover
    chosen = np.empty(max(stop - start, 0), dtype=np.int64)
    count = 0
    for position in range(start, stop):
        chosen[count] = position  # written always, kept when the key is below: no branch
        count += mix(np.uint64(position) + GOLDEN) < threshold
    return chosen[:count].copy()

"""Amounts as messages state them: at 4 significant digits, or in whole units, rounded one way.

Its own module, numpy only, so that commands which never solve (``cvo validate``) can use it
without loading a solver.
"""

from __future__ import annotations

import numpy as np


def rounded(value: float, up: bool, whole: bool = False) -> float:
    """``value`` to a whole number, or at its 4th significant digit, rounded up (or down); a value
    a hair past a step (1e-9 of it, summation noise) stays on it."""
    scale = 1.0 if whole else 10.0 ** (3 - int(np.floor(np.log10(max(abs(value), 1e-12)))))
    step = np.ceil if up else np.floor
    return float(step(value * scale + (-1e-9 if up else 1e-9)) / scale)

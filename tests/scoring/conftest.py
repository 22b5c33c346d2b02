"""The simulated randomized history the evaluation tests share (tests/evaluation_history.py)."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_history import simulate


@pytest.fixture(scope="session")
def simulated():
    """40,000 customers. A 95% interval from one seed misses the truth one time in twenty; how often
    it covers is tested over 300 simulations in test_ipw_is_unbiased_and_..."""
    return simulate(40_000, np.random.default_rng(6))

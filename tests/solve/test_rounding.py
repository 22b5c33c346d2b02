"""optimizer/solve/rounding.py: amounts at 4 significant digits or whole units, rounded one way."""

from __future__ import annotations

import pytest

from optimizer.solve.rounding import rounded


def test_rounded_takes_four_significant_digits_or_whole_units_up_or_down():
    assert rounded(1234.56, up=True) == 1235.0 and rounded(1234.56, up=False) == 1234.0
    assert rounded(-1234.56, up=True) == -1234.0 and rounded(-1234.56, up=False) == -1235.0
    assert rounded(0.0123456, up=True) == pytest.approx(0.01235) and rounded(7.2, up=True, whole=True) == 8.0
    assert rounded(1.2 + 1e-14, up=True) == 1.2  # summation noise past a step stays on it

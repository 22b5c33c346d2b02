"""optimizer/solve/keys.py: the compiled sample draw is the numpy keys' draw, position for position."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.solve.keys import position_keys, sampled_positions


@pytest.mark.parametrize("start, stop", [(0, 50_000), (123_456, 200_000), (2**40, 2**40 + 30_000), (7, 7)])
@pytest.mark.parametrize("share", [0.0, 0.01, 0.3, 1.0])
def test_the_compiled_draw_is_the_keys_below_the_threshold(start: int, stop: int, share: float):
    threshold = np.uint64(min(2**64 - 1, int(share * 2**64)))
    expected = start + np.flatnonzero(position_keys(np.arange(start, stop, dtype=np.uint64)) < threshold)
    drawn = sampled_positions(start, stop, threshold)
    assert drawn.dtype == np.int64 and np.array_equal(drawn, expected)


def test_a_draw_over_a_range_is_the_draws_over_its_pieces():
    threshold = np.uint64(2**64 // 7)
    pieces = [sampled_positions(lo, hi, threshold) for lo, hi in ((0, 1_000), (1_000, 1_001), (1_001, 40_000))]
    assert np.array_equal(np.concatenate(pieces), sampled_positions(0, 40_000, threshold))

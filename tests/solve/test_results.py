"""A result's gap and its proof: every plan within gap_allowed of a bound is proven at that gap."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from optimizer.solve.results import SolutionStatus, SolveResult, Termination, gap_allowed


def result(objective: float, bound: float) -> SolveResult:
    return SolveResult(Termination.TIME_LIMIT, SolutionStatus.FEASIBLE, np.zeros(1, dtype=np.intp), objective, bound,
                       0.0, 0.0, "exact", 1)


@given(mip_gap=st.floats(1e-9, 0.5), bound=st.floats(-1e9, 1e9), share=st.floats(0.0, 0.999))
def test_a_plan_within_the_allowed_gap_of_a_bound_is_proven(mip_gap: float, bound: float, share: float) -> None:
    """Up to 0.999 of the allowance: at the allowance itself, bound - objective (a difference of two
    nearly equal floats) may round to more than it, beyond proven()'s 1e-9 tolerance (seen: g = 1e-9,
    b = 5)."""
    objective = bound - share * gap_allowed(mip_gap, bound)
    assert result(objective, bound).proven(mip_gap)


def test_the_allowed_gap_is_relative_to_the_plan_not_the_bound():
    """At gap 1e-2 and bound 1,000 a plan of 990 is 1.01e-2 from the bound relative to itself: not proven;
    the allowance, 9.90, stops short of it."""
    assert not result(990.0, 1000.0).proven(1e-2)
    assert gap_allowed(1e-2, 1000.0) < 10.0 and result(1000.0 - gap_allowed(1e-2, 1000.0), 1000.0).proven(1e-2)

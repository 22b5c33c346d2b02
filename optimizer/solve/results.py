"""Typed solver results: why the solver stopped, kept apart from what plan it has."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray


class Termination(StrEnum):
    """Why the solver stopped. STALLED: before its time limit, unproven, because widening the
    decomposition's master twice in a row moved neither the plan nor the bound, because the
    exact solver's widest core (exact.WIDER_CORES) was solved without proving the whole, or
    because HiGHS could not solve the LP relaxation (numerically) and the plan was repaired."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    STALLED = "stalled"
    INFEASIBLE = "infeasible"
    ERROR = "error"


class SolutionStatus(StrEnum):
    """What the solver hands back: a proven-optimal plan, a feasible one, or none."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    NONE = "none"


@dataclass(frozen=True)
class SolveResult:
    """A solver's answer for one Problem.

    ``choice[i]`` is the campaign index given to customer i (-1 for none). ``bound`` is a
    proven upper bound on the objective, so ``gap = (bound - objective) / max(1, |objective|)``
    bounds how far the plan can be from the best possible one.
    """

    termination: Termination
    status: SolutionStatus
    choice: NDArray[np.integer[Any]] | None
    objective: float | None
    bound: float | None
    build_seconds: float
    solve_seconds: float
    method: str
    candidate_pairs: int
    core_pairs: int | None = None
    shadow_prices: NDArray[np.float64] | None = None

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return max(0.0, self.bound - self.objective) / max(1.0, abs(self.objective))

    def proven(self, mip_gap: float) -> bool:
        """The plan's gap is proven within ``mip_gap``."""
        return self.gap is not None and self.gap <= mip_gap * (1 + 1e-9)

    def settled(self, mip_gap: float) -> SolveResult:
        """A result with a plan is optimal when its gap is proven within ``mip_gap``; short of
        that, the solver ran out of time with a feasible plan (or stalled, if it said so)."""
        if self.choice is None and self.objective is None:
            return self
        if self.proven(mip_gap):
            return replace(self, termination=Termination.OPTIMAL, status=SolutionStatus.OPTIMAL)
        stopped = Termination.STALLED if self.termination is Termination.STALLED else Termination.TIME_LIMIT
        return replace(self, termination=stopped, status=SolutionStatus.FEASIBLE)


def better(one: SolveResult, other: SolveResult) -> SolveResult:
    """The better plan of two results of the same problem, with the tighter of their bounds."""
    bounds = [b for b in (one.bound, other.bound) if b is not None]
    best = other if other.objective is not None and (one.objective is None or other.objective > one.objective) \
        else one
    floor = -np.inf if best.objective is None else best.objective
    return replace(best, bound=max(min(bounds), floor) if bounds else None)


def gap_allowed(mip_gap: float, bound: float) -> float:
    """The absolute gap below ``bound`` within which every plan is proven (``SolveResult.proven``):
    a = g max(1, |b|) / (1 + g). For z >= b - a: if b > 1 and z > 1, b - z <= g b / (1 + g) <= g z;
    otherwise g max(1, |z|) >= g max(1, |b|) / (1 + g) >= b - z (|z| >= |b| when z <= b < 0, and
    z >= b / (1 + g) forces b <= 1 + g when z <= 1)."""
    return mip_gap * max(1.0, abs(bound)) / (1.0 + mip_gap)

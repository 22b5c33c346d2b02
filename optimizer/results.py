"""Typed solver results: why the solver stopped, kept apart from what plan it has."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Termination(StrEnum):
    """Why the solver stopped."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
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
    choice: np.ndarray | None
    objective: float | None
    bound: float | None
    build_seconds: float
    solve_seconds: float
    method: str
    candidate_pairs: int
    core_pairs: int | None = None
    shadow_prices: np.ndarray | None = None

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return max(0.0, self.bound - self.objective) / max(1.0, abs(self.objective))

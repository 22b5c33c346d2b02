"""How the solver runs: which method, and the limits it must keep (a time limit returns the best
plan found with its bound and gap)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from optimizer.solve.method import Method, Precision

__all__ = ["Method", "Precision", "SolverOptions"]


class SolverOptions(BaseModel):
    """Solver choice and limits; a time limit returns the best plan found with its gap."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    method: Method = Method.AUTO
    time_limit_s: Annotated[float, Field(gt=0)] = 60.0
    mip_gap: Annotated[float, Field(ge=0, le=1)] = 1.0e-6
    presolve: bool = False
    precision: Precision = Precision.FLOAT64  # of the decomposition's kept arrays (optimizer/solve/method.py)

"""What every part of the scenario schema is built from: the strict model (unknown keys refused,
values frozen, no NaN or infinity) and the type of a key that holds an expression, a number, a
flag or the text of a formula over customer columns (optimizer/scenario/expressions.py).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

Expr = str | int | float | bool
EXPRESSIONS = (Expr, Expr | None)  # the annotations of a field that holds an expression


class StrictModel(BaseModel):
    """A part of the scenario file: an unknown key is refused (with a did-you-mean), a value once
    read is frozen, and NaN or infinity is not a number a scenario may give."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

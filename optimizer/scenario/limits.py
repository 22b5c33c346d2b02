"""The limits a plan keeps beyond each campaign's own: the capacity of a delivery channel and the
planner's own constraints (sums or ratios over the selected pairs), with the KPIs, report-only
totals written as a constraint's left-hand side is.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from optimizer.scenario.fields import Expr, StrictModel


class Channel(StrictModel):
    """A delivery channel; ``capacity`` caps the treated contacts it carries in one run."""

    capacity: Annotated[int, Field(ge=0)] | None = None


def _not_zero(per: Expr | None) -> Expr | None:
    """A ratio's ``per`` of 0 (or false) makes it no ratio: sum e >= r × 0 whatever r is."""
    if per is not None and not isinstance(per, str) and float(per) == 0:
        raise ValueError("per is 0, so the ratio's limit multiplies nothing (the row would be sum of expression "
                         ">= 0 whatever rhs is): give per an expression such as spend, or leave per out for a sum")
    return per


class CustomConstraint(StrictModel):
    """sum over selected pairs matching ``where`` (and ``campaigns``) of ``expression`` <sense> rhs.

    With ``per``, a ratio row: sum of ``expression`` <sense> rhs × sum of ``per`` over the same pairs
    (an ROI hurdle: expression ``uplift * value_per_response - spend``, per ``spend``, rhs 1.5), which
    is linear, sum of (expression - rhs × per) <sense> 0, so the solver stays exact; a plan that
    selects nobody meets it. A ratio is taken over the treated customers, each selected pair at
    1 - its campaign's control fraction (a forced customer at 1), as the objective and the ROI the
    summary reports are; a row without ``per`` counts the controls too.
    """

    name: Annotated[str, Field(min_length=1)]
    sense: Literal["<=", ">=", "=="]
    expression: Expr = 1
    per: Annotated[Expr | None, AfterValidator(_not_zero)] = None
    where: Expr = True
    campaigns: list[str] | None = None
    rhs: float


class Kpi(StrictModel):
    """A report-only total: sum over treated pairs matching ``where`` of ``expression``."""

    name: Annotated[str, Field(min_length=1)]
    expression: Expr
    where: Expr = True
    campaigns: list[str] | None = None


"""What a plan maximises: a named objective (incremental value, expected revenue, responses) or
the planner's own expression summed over the treated (customer, campaign) pairs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from optimizer.scenario.fields import Expr, StrictModel


class Objective(StrEnum):
    """What the plan maximises, summed over treated (customer, campaign) pairs.

    incremental_value: (p_treat - p_control) * value_per_response - spend
    expected_revenue:  p_treat * value_per_response
    responses:         p_treat
    """

    INCREMENTAL_VALUE = "incremental_value"
    EXPECTED_REVENUE = "expected_revenue"
    RESPONSES = "responses"


class ObjectiveExpression(StrictModel):
    """A planner's own objective: the sum over treated (customer, campaign) pairs of ``expression``,
    over customer columns and the pair columns constraints see (p_treat, p_control, uplift,
    value_per_response, cost_per_contact, cost_per_response, spend, campaign_id, channel), e.g.
    ``uplift * value_per_response - spend - 0.2 * churn_risk * spend`` (a risk penalty)."""

    expression: Expr


def objective_kind(value: Any) -> str:
    """Which form an objective is written in: a name, or a mapping {expression: ...}."""
    return "expression" if isinstance(value, dict | ObjectiveExpression) else "named"

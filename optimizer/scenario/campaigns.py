"""The campaigns of a scenario: who may get each, what it costs, what a response is worth, and its
offer variants (10 %, 15 %, 20 % off), each a column of the same one-of-k choice
(optimizer/scenario/offers.py); and whether a campaign's variants score themselves, so that its
own response probabilities are never read.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from optimizer.errors import CvoError
from optimizer.scenario.fields import Expr, StrictModel


class Variant(StrictModel):
    """One offer level of a campaign (10 %, 15 %, 20 % off), each with its own cost and response.

    A customer gets at most one variant of at most one campaign: the variants are more columns of
    the same one-of-k choice. A key left out is the campaign's; ``p_treat`` and ``p_control`` are
    read with the campaign's own response probabilities as ``p_treat`` and ``p_control`` (e.g.
    ``min(1, 1.3 * p_treat)``); ``eligible`` narrows the campaign's; ``max_audience`` caps this
    variant alone (a stock of coupons). The campaign's audiences, budget and control fraction count
    its variants together.
    """

    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | None = None
    cost_per_contact: Annotated[float, Field(ge=0)] | None = None
    cost_per_response: Annotated[float, Field(ge=0)] | None = None
    value_per_response: Expr | None = None
    eligible: Expr = True
    p_treat: Expr | None = None
    p_control: Expr | None = None
    max_audience: Annotated[int, Field(ge=0)] | None = None


class Campaign(StrictModel):
    """One campaign idea: who may get it, what it costs, what a response is worth, and its offer
    ``variants`` (none: the campaign is one offer)."""

    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | None = None
    channel: str
    cost_per_contact: Annotated[float, Field(ge=0)] = 0.0
    cost_per_response: Annotated[float, Field(ge=0)] = 0.0
    value_per_response: Expr = 0.0
    eligible: Expr = True
    p_treat: Expr | None = None
    p_control: Expr | None = None
    min_audience: Annotated[int, Field(ge=0)] = 0
    max_audience: Annotated[int, Field(ge=0)] | None = None
    budget: Annotated[float, Field(ge=0)] | None = None
    control_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.0
    measurement_window_days: Annotated[int, Field(ge=0)] = 14
    variants: list[Variant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _audience_range(self) -> Campaign:
        if self.max_audience is not None and self.min_audience > self.max_audience:
            raise ValueError(
                f"min_audience ({self.min_audience}) is above max_audience ({self.max_audience}); "
                "lower min_audience or raise max_audience"
            )
        if (self.p_treat is None) != (self.p_control is None):
            raise ValueError("give both p_treat and p_control, or neither (then they come from 'scores')")
        return self


def variants_scored(campaign: Campaign) -> bool:
    """True when ``campaign`` has variants and each scores itself (``scores_itself``): the campaign's
    own probabilities are then never read."""
    return bool(campaign.variants) and all(map(scores_itself, campaign.variants))


def scores_itself(variant: Variant) -> bool:
    """True when a variant gives both p_treat and p_control and neither reads the campaign's
    (p_treat, p_control): then every customer has its probabilities, scored or not."""
    from optimizer.scenario.expressions import parse  # numpy: not loaded to read a scenario

    for source in (variant.p_treat, variant.p_control):
        if source is None:
            return False
        try:
            if parse(source, where="variants").names & {"p_treat", "p_control"}:
                return False
        except CvoError:
            return False  # a bad expression is reported where it is evaluated
    return True

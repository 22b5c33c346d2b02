"""The contact policy as the scenario file gives it: the contact history it reads, cool-downs
between contacts, caps on contacts in a span of days, and whether measurement windows may overlap.
The (customer, offer) pairs each rule blocks are worked out in optimizer/scenario/policy.py.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from optimizer.scenario.fields import StrictModel


class Cooldown(StrictModel):
    """No two contacts less than ``days`` apart: of one ``campaign``, or on one ``channel``.

    Counts the treated contacts in the contact history; controls received nothing.
    """

    campaign: str | None = None
    channel: str | None = None
    days: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _one_target(self) -> Cooldown:
        if (self.campaign is None) == (self.channel is None):
            raise ValueError("give either 'campaign' or 'channel' (one of them) for a cool-down")
        return self


class ContactCap(StrictModel):
    """At most ``max_contacts`` treated contacts in ``days`` days, the new one included: on one
    ``channel``, of one ``campaign``, or of any kind when neither is given."""

    campaign: str | None = None
    channel: str | None = None
    max_contacts: Annotated[int, Field(ge=1)]
    days: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _at_most_one_target(self) -> ContactCap:
        if self.campaign is not None and self.channel is not None:
            raise ValueError("give 'campaign' or 'channel', not both (neither: every contact counts)")
        return self


class ContactPolicy(StrictModel):
    """Rules read from the contact history (a DuckDB file, relative to the scenario).

    ``separate_windows``: no customer (treated or control) in two campaigns whose measurement
    windows overlap, so each campaign's uplift is measured cleanly.
    """

    history: str = "contact_history.duckdb"
    cooldowns: list[Cooldown] = Field(default_factory=list)
    caps: list[ContactCap] = Field(default_factory=list)
    separate_windows: bool = True

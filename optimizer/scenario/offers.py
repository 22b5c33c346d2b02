"""Offers: the columns of the one-of-k choice, a campaign's each variant (or the campaign itself).

A campaign with variants v = 1..m_j is m_j offers; one without is one offer. Customer i gets at
most one offer o, x_io in {0, 1}, sum_o x_io <= 1, so at most one variant of at most one campaign.
The campaign's limits count its offers together: its audience is sum over its offers o and
customers i of x_io, its spend sum_io spend_io x_io; a variant's ``max_audience`` counts its own.
Campaigns without variants have offers labelled by their id, so their plans (and control draws)
are those of a scenario without variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optimizer.scenario.campaigns import Campaign, Variant
from optimizer.scenario.fields import Expr
from optimizer.scenario.schema import Scenario

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

SEPARATOR = ":"  # offer label campaign:variant; no campaign id holds it


@dataclass(frozen=True)
class Offer:
    """Offer of ``campaign`` (index ``index`` in the scenario), as ``variant`` (None: the campaign itself)."""

    index: int
    campaign: Campaign
    variant: Variant | None = None

    @property
    def label(self) -> str:
        """'winback' for a campaign without variants, 'winback:15off' for a variant."""
        return offer_label(self.campaign.id, self.variant_id)

    @property
    def variant_id(self) -> str | None:
        return None if self.variant is None else self.variant.id

    @property
    def cost_per_contact(self) -> float:
        return float(self._inherited("cost_per_contact"))

    @property
    def cost_per_response(self) -> float:
        return float(self._inherited("cost_per_response"))

    @property
    def value_per_response(self) -> Expr:
        value: Expr = self._inherited("value_per_response")
        return value

    def _inherited(self, key: str) -> Any:
        """The variant's own ``key``, or its campaign's when the variant leaves it out."""
        own = None if self.variant is None else getattr(self.variant, key)
        return getattr(self.campaign, key) if own is None else own

    @property
    def key(self) -> str:
        """Where the offer is written in the scenario: campaigns[j] or campaigns[j].variants[v]."""
        if self.variant is None:
            return f"campaigns[{self.index}]"
        return f"campaigns[{self.index}].variants[{self.campaign.variants.index(self.variant)}]"


def offer_label(campaign: str, variant: str | None) -> str:
    """'winback' (no variant) or 'winback:15off'."""
    return campaign if variant is None else f"{campaign}{SEPARATOR}{variant}"


def offers(scenario: Scenario) -> tuple[Offer, ...]:
    """Every offer of the scenario, campaign by campaign, variants in the order written."""
    return tuple(offer for j, campaign in enumerate(scenario.campaigns)
                 for offer in ([Offer(j, campaign, v) for v in campaign.variants] or [Offer(j, campaign)]))


def offer_labels(scenario: Scenario) -> tuple[str, ...]:
    return tuple(offer.label for offer in offers(scenario))


def offer_campaigns(scenario: Scenario) -> NDArray[np.intp]:
    """The campaign index of each offer."""
    import numpy as np

    return np.array([offer.index for offer in offers(scenario)], dtype=np.intp)


def offer_fractions(scenario: Scenario) -> NDArray[np.float64]:
    """Each offer's control fraction f_o, its campaign's."""
    import numpy as np

    return np.array([offer.campaign.control_fraction for offer in offers(scenario)])


def planned_offers(scenario: Scenario, plan: pd.DataFrame) -> NDArray[np.intp]:
    """The offer index of each row of a plan table (its campaign_id and, when it has one, variant
    column); -1 for a row given nothing or naming an offer the scenario no longer has."""
    import numpy as np
    import pandas as pd

    campaigns = plan["campaign_id"].astype("string")  # missing stays missing, however the column was read
    variants = plan["variant"].astype("string") if "variant" in plan else pd.Series(pd.NA, index=plan.index,
                                                                                   dtype="string")
    labels = campaigns.where(variants.isna(), campaigns + SEPARATOR + variants)
    found = pd.Index(offer_labels(scenario)).get_indexer(pd.Index(labels.where(campaigns.notna(), None)))
    return np.asarray(found, dtype=np.intp)


def has_variants(scenario: Scenario) -> bool:
    return any(campaign.variants for campaign in scenario.campaigns)

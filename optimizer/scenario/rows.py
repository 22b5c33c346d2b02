"""The scenario's limits as coupling rows, one builder per family: budgets, audiences, channel
capacities, and every limit scaled for a run on a sample (optimizer/scenario/sample.py).

Rows count the selected audience, treatment and control alike, over the offers of the problem
(optimizer/scenario/offers.py): a campaign's limit counts all of its variants, a variant's
``max_audience`` its own; custom rows are built with the scenario's expressions in
optimizer/scenario/formulation.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from optimizer.scenario.offers import offer_campaigns, offers
from optimizer.scenario.sample import Sample
from optimizer.scenario.schema import Scenario
from optimizer.solve.problem import COUNT, CouplingRow, Sense

TREATED_SPEND = "treated_spend"  # the weight (1 - f_j) · spend_ij: spend as expected after the control draw
AT_FULL_WEIGHT = ":full"  # a ratio row's weight key + this: its weights without the treated share (lhs_treated)


def budget_rows(scenario: Scenario) -> list[CouplingRow]:
    """Total and per-campaign budgets on expected spend: Σ spend_ij x_ij over the selected audience
    (control customers at the spend they would have cost), or with ``budget_counts_controls: false``
    Σ (1 − f_j) spend_ij x_ij, the treated customers' spend as expected before the control draw."""
    campaign_of = offer_campaigns(scenario)
    weight = "spend" if scenario.budget_counts_controls else TREATED_SPEND
    rows = []
    if scenario.budget is not None:
        rows.append(CouplingRow("budget", "budget", Sense.LE, scenario.budget, weight,
                                np.ones(len(campaign_of), bool), "budget"))
    for j, campaign in enumerate(scenario.campaigns):
        if campaign.budget is not None:
            rows.append(CouplingRow(
                f"budget[{campaign.id}]", "campaign_budget", Sense.LE, campaign.budget, weight,
                campaign_of == j, f"campaigns[{j}].budget",
            ))
    return rows


def audience_rows(scenario: Scenario) -> list[CouplingRow]:
    """Each campaign's minimum and maximum audience (treatment and control), its variants together,
    Σ_i Σ_(o of j) x_io >= / <= b_j; and each variant's maximum audience, Σ_i x_io <= b_o."""
    choices = offers(scenario)
    campaign_of = offer_campaigns(scenario)
    rows = []
    for j, campaign in enumerate(scenario.campaigns):
        mask = campaign_of == j
        if campaign.min_audience > 0:
            rows.append(CouplingRow(
                f"min_audience[{campaign.id}]", "min_audience", Sense.GE, campaign.min_audience, COUNT,
                mask, f"campaigns[{j}].min_audience",
            ))
        if campaign.max_audience is not None:
            rows.append(CouplingRow(
                f"max_audience[{campaign.id}]", "max_audience", Sense.LE, campaign.max_audience, COUNT,
                mask, f"campaigns[{j}].max_audience",
            ))
        rows.extend(CouplingRow(
            f"max_audience[{offer.label}]", "max_audience", Sense.LE, offer.variant.max_audience, COUNT,
            np.arange(len(choices)) == o, f"{offer.key}.max_audience",
        ) for o, offer in enumerate(choices)
            if offer.index == j and offer.variant is not None and offer.variant.max_audience is not None)
    return rows


def capacity_rows(scenario: Scenario) -> list[CouplingRow]:
    """Each channel's capacity: Σ over its campaigns' selected customers (treatment and control) <= b_h."""
    channels = np.array([offer.campaign.channel for offer in offers(scenario)])
    return [
        CouplingRow(f"capacity[{name}]", "channel_capacity", Sense.LE, channel.capacity, COUNT,
                    channels == name, f"channels.{name}.capacity")
        for name, channel in scenario.channels.items()
        if channel.capacity is not None
    ]


SAMPLE_ROUNDING = {"min_audience": "floor", "max_audience": "ceil", "channel_capacity": "ceil"}


def scaled_rows(rows: tuple[CouplingRow, ...], sample: Sample | None,
                ratios: dict[str, tuple[float, NDArray[np.float64]]],
                weights: dict[str, NDArray[np.float64]]) -> tuple[CouplingRow, ...]:
    """The rows of a run on a sample, each limit over customers scaled by its share (rounded as
    optimizer/scenario/sample.py says); a ratio row's limit, 0, stays."""
    if sample is None:
        return rows
    return tuple(row if row.family == "custom" and row.name in ratios else
                 replace(row, rhs=sample.scaled(row.rhs, _rounding(row, weights))) for row in rows)


def _rounding(row: CouplingRow, weights: dict[str, NDArray[np.float64]]) -> str:
    """How a scaled limit is rounded: counts to whole customers, an == row of whole numbers to the nearest."""
    if row.family == "custom" and row.sense is Sense.EQ and np.all(np.mod(weights[row.weight], 1) == 0):
        return "round"
    return SAMPLE_ROUNDING.get(row.family, "none")

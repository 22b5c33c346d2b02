"""compare.html: a scenario comparison a manager can read, like the plan report.

From the comparison's figures (optimizer/whatif/comparison.py ``Comparison.to_dict``) and the
scenario inputs that differ, one self-contained page: what was changed between the scenarios,
each scenario's money and audience with its difference to the baseline (the first scenario with a
plan) in the figure's unit, value and spend by campaign as bars with their numbers, the binding
limits and their shadow prices, the customers who move, and where each scenario's plan was saved
(a run folder ``cvo report`` opens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optimizer.reporting.formatting import data_uri, environment
from optimizer.reporting.plots import CampaignMoney, campaign_money_png

FIGURES = (  # key, label, unit: 'money', 'count', 'ratio' or 'gap'
    ("objective", "Objective", "money"), ("gross_value", "Gross value", "money"),
    ("expected_spend", "Expected spend", "money"), ("expected_value", "Expected value (net)", "money"),
    ("roi", "ROI", "ratio"), ("treatment", "Treated customers", "count"), ("control", "Control customers", "count"),
    ("gap", "Gap to the best possible", "gap"),
)


@dataclass(frozen=True)
class Delta:
    """A scenario's figure beside the baseline's: the value, and value - baseline (None for the baseline)."""

    value: float | None
    delta: float | None


def render_comparison(comparison: dict[str, Any], inputs: list[dict[str, Any]], plans: dict[str, str]) -> str:
    """The page for ``comparison`` (``Comparison.to_dict``), ``inputs`` (the scenario keys whose values
    differ: key and value per label) and ``plans`` (label -> run folder of its saved plan)."""
    scenarios = comparison["scenarios"]
    planned = [s for s in scenarios if s.get("objective") is not None]
    baseline = next((s for s in planned if s["label"] == comparison.get("baseline")), None)
    currencies = stated_currencies(planned)
    mixed = mixed_currencies(currencies)
    chart = None if not planned else data_uri(campaign_money_png([
        CampaignMoney(s["label"], {c["id"]: c["expected_value"] for c in s["campaigns"]},
                      {c["id"]: c["expected_spend"] for c in s["campaigns"]}) for s in planned]))
    return environment().get_template("compare.html.j2").render(
        comparison=comparison, scenarios=scenarios, baseline=baseline, inputs=inputs, plans=plans, chart=chart,
        figures=[(label, unit, [_delta(s, baseline, key, unit, mixed) for s in scenarios])
                 for key, label, unit in FIGURES],
        limits=_binding_limits(planned), currency=currency_words(currencies), mixed_currencies=mixed)


def stated_currencies(planned: list[dict[str, Any]]) -> dict[str | None, list[str]]:
    """Each currency the planned scenarios state (None: none stated), with the labels of its scenarios."""
    by_currency: dict[str | None, list[str]] = {}
    for scenario in planned:
        by_currency.setdefault(scenario.get("currency") or None, []).append(scenario["label"])
    return by_currency


def mixed_currencies(currencies: dict[str | None, list[str]]) -> bool:
    """Two or more currencies stated: the scenarios' money figures are not in one unit."""
    return len([currency for currency in currencies if currency is not None]) > 1


def currency_words(currencies: dict[str | None, list[str]]) -> str | None:
    """'EUR' when one currency is stated (or none: None); when several are, each with its scenarios:
    'EUR (weekly), USD (usd), none stated (tight_budget)'."""
    if not mixed_currencies(currencies):
        return next((currency for currency in currencies if currency is not None), None)
    return ", ".join(f"{currency or 'none stated'} ({', '.join(labels)})" for currency, labels in currencies.items())


def _delta(scenario: dict[str, Any], baseline: dict[str, Any] | None, key: str, unit: str, mixed: bool) -> Delta:
    """The figure and its difference to the baseline's; none for the gap, nor, when the scenarios
    state different currencies, for money not stated in the baseline's (EUR 100 - USD 100 is no
    difference)."""
    value = scenario.get(key)
    if baseline is None or scenario is baseline or value is None or baseline.get(key) is None or key == "gap":
        return Delta(value, None)
    if mixed and unit == "money" and (scenario.get("currency") is None or
                                      scenario.get("currency") != baseline.get("currency")):
        return Delta(value, None)
    return Delta(value, value - baseline[key])


def _binding_limits(planned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The limits binding in some plan, with each scenario's limit, use and shadow price."""
    names = list(dict.fromkeys(c["name"] for s in planned for c in s["constraints"] if c["binding"]))
    return [{"name": name, "cells": {s["label"]: next((c for c in s["constraints"] if c["name"] == name), None)
                                     for s in planned}} for name in names]

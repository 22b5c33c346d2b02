"""summary.json of a run over partitions: what each partition adds, added up.

Every figure of the summary is a sum over customers (audiences, spend, value, a row's lhs, a KPI,
the customers a rule removed, a breakdown level's customers) or follows from such sums (a row's
slack and whether it binds, a ratio, the planned uplift and the power of a campaign's controls,
the totals and ROI). A partition's worker reports its sums (``partition_figures``, a few numbers
per campaign, row and level); the client adds them up and derives the rest with the same
functions as the in-memory summary (``merged_figures``), so a --dask run's summary.json holds
what an in-memory run's does, and ``cvo report`` reads it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.reporting.planned import planned_sums, with_planned
from optimizer.reporting.summary import (
    CAMPAIGN_SUMS,
    LEVEL_SUMS,
    added_up,
    breakdown_figures,
    campaign_figures,
    channel_figures,
    constraint_figure,
    constraint_figures,
    money_basis,
    pair_sum,
    plan_totals,
    ratio_figures,
    top_levels,
    unassigned_figures,
    with_ratio,
)
from optimizer.scenario.formulation import Formulation
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow

Figures = dict[str, Any]


def partition_figures(formulation: Formulation, choice: NDArray[np.integer[Any]], control: NDArray[np.bool_],
                      planned: tuple[NDArray[np.float64], ...]) -> Figures:
    """One partition's sums: per campaign, channel, row, KPI, rule, reason and breakdown level
    (every level), and its planned sums (``planned``: each customer's p_treat, p_control and
    value of a response)."""
    problem = formulation.problem
    treated_choice = np.where(control, NO_CAMPAIGN, choice)
    return {
        "customers": problem.n_customers,
        "campaigns": campaign_figures(formulation, choice, control),
        "planned": planned_sums(formulation, choice, control, *planned),
        "channels": channel_figures(formulation, choice, control),
        "constraints": ratio_figures(formulation, choice, constraint_figures(problem, choice, treated_choice, None)),
        "kpis": [{"name": name, "value": pair_sum(weights, treated_choice)}
                 for name, weights in formulation.kpis.items()],
        "eligibility": [asdict(impact) for impact in formulation.impacts],
        "scores_ignored": formulation.data.scores.ignored,
        "unscored_customers": formulation.unscored_customers(),
        "unassigned": unassigned_figures(formulation, choice),
        "breakdown": breakdown_figures(formulation, choice, control),
        "excluded": formulation.data.lists.n_excluded,
        "customer_lists": formulation.data.lists.files,
    }


def merged_figures(parts: list[Figures], rows: tuple[CouplingRow, ...], prices: NDArray[np.float64] | None,
                   objective_name: str, budget_counts_controls: bool) -> Figures:
    """The summary's figures of the whole plan from its partitions' (in the partitions' order):
    sums added up, slack, binding, ratios, planned uplift and power, totals and ROI derived from
    them; ``rows`` the coupling rows and ``prices`` their shadow prices."""
    campaigns = [_campaign(list(figures)) for figures in zip(*(part["campaigns"] for part in parts))]
    campaigns = with_planned(campaigns, np.sum([part["planned"] for part in parts], axis=0))
    return {
        "customers": sum(part["customers"] for part in parts),
        **plan_totals(campaigns, objective_name),
        "money_basis": money_basis(budget_counts_controls),
        "campaigns": campaigns,
        "channels": _each(parts, "channels", ("contacts", "audience")),
        "constraints": _constraints(parts, rows, prices),
        "kpis": _each(parts, "kpis", ("value",)),
        "eligibility": _each(parts, "eligibility", ("removed",)),
        "scores_ignored": _counts([part["scores_ignored"] for part in parts]),
        "unscored_customers": sum(part["unscored_customers"] for part in parts),
        "unassigned": _unassigned([part["unassigned"] for part in parts]),
        "breakdown": _breakdown(parts),
        "excluded": sum(part["excluded"] for part in parts),
        "customer_lists": _customer_lists(parts),
    }


def _each(parts: list[Figures], key: str, sums: tuple[str, ...]) -> list[Figures]:
    """The partitions' lists under ``key`` (one entry per campaign, channel, ...) added up entry by entry."""
    return [added_up(list(figures), sums) for figures in zip(*(part[key] for part in parts))]


def _counts(counts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in counts:
        for name, count in part.items():
            total[name] = total.get(name, 0) + count
    return dict(sorted(total.items(), key=lambda item: -item[1]))


def _campaign(figures: list[Figures]) -> Figures:
    total = added_up(figures, CAMPAIGN_SUMS)
    if "variants" in total:
        total["variants"] = [added_up(list(variant), CAMPAIGN_SUMS)
                             for variant in zip(*(figure["variants"] for figure in figures))]
    return total


def _constraints(parts: list[Figures], rows: tuple[CouplingRow, ...],
                 prices: NDArray[np.float64] | None) -> list[Figures]:
    merged = []
    for r, row in enumerate(rows):
        figures = [part["constraints"][r] for part in parts]
        price = None if prices is None else float(prices[r])
        figure = constraint_figure(row, sum(f["lhs"] for f in figures), sum(f["lhs_treated"] for f in figures), price)
        if "ratio_rhs" in figures[0]:
            with_ratio(figure, figures[0]["ratio_rhs"], sum(f["per_sum"] for f in figures))
        merged.append(figure)
    return merged


def _customer_lists(parts: list[Figures]) -> list[Figures]:
    """Each list file's customers added up; its ids that are no customer's: those of no partition."""
    merged = []
    for entries in zip(*(part["customer_lists"] for part in parts)):
        total = added_up(list(entries), ("customers",))
        if "not_in_customers" in total:
            total["not_in_customers"] = entries[0]["customers"] + entries[0]["not_in_customers"] - total["customers"]
        merged.append(total)
    return merged


def _unassigned(parts: list[Figures]) -> Figures:
    reasons = zip(*(part["reasons"] for part in parts))
    return {"total": sum(part["total"] for part in parts),
            "reasons": [added_up(list(counted), ("customers",)) for counted in reasons]}


def _breakdown(parts: list[Figures]) -> list[Figures]:
    """Each breakdown's levels added up by name over the partitions (in the order of their names,
    as in memory), then the largest kept (``top_levels``)."""
    merged = []
    for b, (source, _) in enumerate(parts[0]["breakdown"] if parts else []):
        levels: dict[str, list[Figures]] = {}
        for part in parts:
            for level in part["breakdown"][b][1]:
                levels.setdefault(level["level"], []).append(level)
        merged.append({"by": source, "levels": top_levels([added_up(levels[name], LEVEL_SUMS)
                                                           for name in sorted(levels)])})
    return merged

"""The plan's summary: solver status, per-campaign and per-channel figures, every constraint
with its slack and shadow price, and the KPIs. Plain dicts, ready for JSON.

Coupling rows count the selected audience (treatment and control) at full weight (budgets with
``budget_counts_controls: false``, and ratio rows, at (1 - f_j) of it); the ``lhs_treated`` column
shows the same sum over treated customers only, i.e. after the control hold-out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.reporting.planned import campaign_choice, planned_sums, with_planned
from optimizer.scenario.data import contact_rules, policy_lookback
from optimizer.scenario.formulation import Formulation
from optimizer.scenario.groups import breakdown_levels
from optimizer.scenario.rows import AT_FULL_WEIGHT, TREATED_SPEND
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import SolveResult

BINDING_TOLERANCE = 1e-6
MONEY_BASIS = (
    "expected value = expected incremental value of responses (gross_value) minus expected spend, summed "
    "over treated customers; roi = expected value / expected spend; the objective is that sum as expected "
    "before the random control draw (each selected customer's value times 1 minus its campaign's control "
    "fraction), so the two differ by the draw; "
)
LIMITS_COUNT_CONTROLS = (
    "limits (budgets, capacities) count treated and control customers alike, control customers at the spend "
    "they would have cost (expected_spend + control_spend)"
)
BUDGETS_COUNT_TREATED = (
    "budgets count treated customers' spend as expected before the control draw (each selected customer's "
    "spend times 1 minus its campaign's control fraction: budget_counts_controls is false); capacities and "
    "audiences count treated and control customers alike"
)


def money_basis(budget_counts_controls: bool) -> str:
    """summary.json's ``money_basis``: what the objective, value, ROI and each limit count."""
    return MONEY_BASIS + (LIMITS_COUNT_CONTROLS if budget_counts_controls else BUDGETS_COUNT_TREATED)


def build_summary(formulation: Formulation, result: SolveResult, control: NDArray[np.bool_],
                  planned: tuple[NDArray[np.float64], ...] | None = None) -> dict[str, Any]:
    """Everything summary.json holds for a solved plan (``result.choice``) and its controls;
    ``planned``, each customer's expected response rates treated and not and value of a response,
    adds what the plan expects a measurement to find and its power (``planned_sums``, ``with_planned``)."""
    problem, scenario, choice = formulation.problem, formulation.scenario, result.choice
    if choice is None:
        raise TypeError("a summary needs a result with a plan")
    treated_choice = np.where(control, NO_CAMPAIGN, choice)
    campaigns = campaign_figures(formulation, choice, control)
    if planned is not None:
        campaigns = with_planned(campaigns, planned_sums(formulation, choice, control, *planned))
    return {
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "scenario_path": None if scenario.path is None else str(scenario.path.resolve()),
        **scenario.layers,
        "objective_name": scenario.objective_name,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_date": formulation.data.run_date.isoformat(),
        "contact_history": formulation.data.history_file,
        "contact_history_found": formulation.data.history_state[0] is not None,
        "history_id": formulation.data.history_state[0],
        "history_seq": formulation.data.history_state[1],
        "policy_lookback_days": policy_lookback(scenario.contact_policy),
        "contact_rules": contact_rules(scenario.contact_policy),
        **solver_figures(result, str(scenario.solver.method)),
        "customers": problem.n_customers,
        **plan_totals(campaigns, scenario.objective_name),
        "currency": scenario.currency,
        "money_basis": money_basis(scenario.budget_counts_controls),
        "budget_counts_controls": scenario.budget_counts_controls,
        "campaigns": campaigns,
        "channels": channel_figures(formulation, choice, control),
        "constraints": ratio_figures(formulation, choice, constraint_figures(
            problem, choice, treated_choice, result.shadow_prices)),
        "kpis": [
            {"name": name, "value": float(pair_sum(weights, treated_choice))}
            for name, weights in formulation.kpis.items()
        ],
        "eligibility": [asdict(impact) for impact in formulation.impacts],
        "scores_ignored": formulation.data.scores.ignored,
        "unscored_customers": formulation.unscored_customers(),
        "unassigned": unassigned_figures(formulation, choice),
        "forced": formulation.data.lists.n_forced,
        "excluded": formulation.data.lists.n_excluded,
        "customer_lists": formulation.data.lists.files,
        "sample": None if formulation.data.sample is None else formulation.data.sample.to_dict(),
        "control_strata": list(map(str, scenario.control_strata)),
        "breakdown": [{"by": by, "levels": top_levels(levels)}
                      for by, levels in breakdown_figures(formulation, choice, control)],
        "strata": None if formulation.strata is None else int(formulation.strata.max(initial=-1) + 1),
    }


def plan_totals(campaigns: list[dict[str, Any]], objective_name: str) -> dict[str, Any]:
    """The plan's treated and control customers, spend and value over all campaigns; gross value
    and ROI when the objective is value net of spend (else they mean nothing)."""
    money = objective_name == "incremental_value"
    return {
        "treatment": int(sum(c["treatment"] for c in campaigns)),
        "control": int(sum(c["control"] for c in campaigns)),
        "expected_spend": float(sum(c["expected_spend"] for c in campaigns)),
        "expected_value": float(sum(c["expected_value"] for c in campaigns)),
        "gross_value": float(sum(c["expected_value"] + c["expected_spend"] for c in campaigns)) if money else None,
        "roi": _roi(campaigns) if money else None,
        "control_spend": float(sum(c["control_spend"] for c in campaigns)),
        "control_value": float(sum(c["control_value"] for c in campaigns)),
    }


MAX_LEVELS = 30  # a breakdown's rows shown: the largest levels, the rest summed as 'other'
LEVEL_SUMS = ("customers", "treatment", "control", "expected_spend", "expected_value", "campaigns")
CAMPAIGN_SUMS = ("eligible", "audience", "treatment", "control", "forced", "expected_spend", "expected_value",
                 "control_spend", "control_value")  # the figures of _offer_figures, which add up over customers


def breakdown_figures(formulation: Formulation, choice: NDArray[np.integer[Any]],
                      control: NDArray[np.bool_]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The plan by each ``breakdown`` expression: per level (every one, in the order of their
    names), its customers, treated and control, the treated customers' expected spend and value,
    and the treated per campaign; ``top_levels`` keeps the largest for the summary."""
    problem, figures = formulation.problem, []
    given = choice != NO_CAMPAIGN
    sent, held = given & ~control, given & control
    safe = np.where(given, choice, 0)
    by_campaign, ids = campaign_choice(formulation, choice), formulation.scenario.campaign_ids()
    rows = np.flatnonzero(sent)
    for source, levels in breakdown_levels(formulation.data):
        names, level, customers = np.unique(levels, return_inverse=True, return_counts=True)
        counted = {
            "treatment": np.bincount(level[sent], minlength=names.size),
            "control": np.bincount(level[held], minlength=names.size),
            "expected_spend": np.bincount(level[rows], problem.spend[rows, safe[rows]], minlength=names.size),
            "expected_value": np.bincount(level[rows], problem.pair_value[rows, safe[rows]], minlength=names.size),
        }
        per_campaign = [np.bincount(level[sent & (by_campaign == j)], minlength=names.size) for j in range(len(ids))]
        figures.append((source, [
            {"level": str(name), "customers": int(customers[i]), "treatment": int(counted["treatment"][i]),
             "control": int(counted["control"][i]), "expected_spend": float(counted["expected_spend"][i]),
             "expected_value": float(counted["expected_value"][i]),
             "campaigns": {campaign: int(per_campaign[j][i]) for j, campaign in enumerate(ids)}}
            for i, name in enumerate(names)]))
    return figures


def top_levels(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The MAX_LEVELS levels of most customers (of as many, the first), the rest added up as one
    '(N other levels)' row."""
    order = sorted(range(len(levels)), key=lambda i: -levels[i]["customers"])  # stable: ties keep their order
    shown, rest = [levels[i] for i in order[:MAX_LEVELS]], [levels[i] for i in order[MAX_LEVELS:]]
    if rest:
        shown.append(added_up(rest, LEVEL_SUMS) | {"level": f"({len(rest):,} other levels)"})
    return shown


def added_up(figures: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """The first of dicts of the same keys, with the values of ``keys`` (numbers, or dicts of
    numbers) added up over all of them."""
    total = dict(figures[0])
    for key in keys:
        values = [figure[key] for figure in figures]
        if isinstance(values[0], dict):
            total[key] = {name: sum(value.get(name, 0) for value in values) for name in values[0]}
        else:
            total[key] = sum(values)
    return total


def _roi(campaigns: list[dict[str, Any]]) -> float | None:
    """Expected value (net of spend) per unit of expected spend, treated customers; None without spend."""
    spend = sum(c["expected_spend"] for c in campaigns)
    return float(sum(c["expected_value"] for c in campaigns) / spend) if spend > 0 else None


def solver_figures(result: SolveResult, requested: str | None = None) -> dict[str, Any]:
    return {
        "status": str(result.status),
        "termination": str(result.termination),
        "method": result.method,
        "method_requested": requested,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "build_seconds": round(result.build_seconds, 3),
        "solve_seconds": round(result.solve_seconds, 3),
        "candidate_pairs": result.candidate_pairs,
        "core_pairs": result.core_pairs,
    }


def campaign_figures(
    formulation: Formulation, choice: NDArray[np.integer[Any]], control: NDArray[np.bool_]
) -> list[dict[str, Any]]:
    """Each campaign's audience, spend and value, its variants together, and with offer variants the
    same of each variant (``variants``)."""
    offers, figures = formulation.offers, []
    for j, campaign in enumerate(formulation.scenario.campaigns):
        columns = [o for o, offer in enumerate(offers) if offer.index == j]
        figure = {
            "id": campaign.id,
            "description": campaign.description,
            "channel": campaign.channel,
            "cost_per_contact": campaign.cost_per_contact,
            "cost_per_response": campaign.cost_per_response,
            "measurement_window_days": campaign.measurement_window_days,
            **_offer_figures(formulation, choice, control, columns),
        }
        if campaign.variants:
            figure["variants"] = [{
                "id": variant.id, "offer": offers[o].label, "description": variant.description,
                "cost_per_contact": offers[o].cost_per_contact, "cost_per_response": offers[o].cost_per_response,
                **_offer_figures(formulation, choice, control, [o]),
            } for o, variant in zip(columns, campaign.variants)]
        figures.append(figure)
    return figures


def _offer_figures(formulation: Formulation, choice: NDArray[np.integer[Any]], control: NDArray[np.bool_],
                   columns: list[int]) -> dict[str, Any]:
    """Eligible customers, audience, treated, controls, forced, spend and value of the offers ``columns``."""
    problem, forced = formulation.problem, formulation.data.lists.forced
    chosen = np.isin(choice, columns)
    treated, held_out = chosen & ~control, chosen & control
    rows = np.arange(problem.n_customers)
    return {
        "eligible": int(problem.eligible[:, columns].any(axis=1).sum()),
        "audience": int(chosen.sum()),
        "treatment": int(treated.sum()),
        "control": int(held_out.sum()),
        "forced": 0 if forced is None else int((treated & (forced != NO_CAMPAIGN)).sum()),
        "expected_spend": float(problem.spend[rows[treated], choice[treated]].sum()),
        "expected_value": float(problem.pair_value[rows[treated], choice[treated]].sum()),
        "control_spend": float(problem.spend[rows[held_out], choice[held_out]].sum()),
        "control_value": float(problem.pair_value[rows[held_out], choice[held_out]].sum()),
    }


UNASSIGNED = {  # why a customer got nothing: the code plan.parquet's reason column holds, and its words
    "excluded": "on an excluded (do-not-contact) list of this run",
    "not_eligible": "not eligible for any campaign (eligibility rules, or no score)",
    "contact_policy": "blocked by the contact policy (cool-downs, caps, open measurement windows)",
    "not_worth_its_cost": "no eligible campaign is worth its cost (expected value <= 0)",
    "left_out_by_limits": "worth contacting, but left out by the limits (budgets, capacities, audiences)",
}


def unassigned_reasons(formulation: Formulation, choice: NDArray[np.integer[Any]]) -> NDArray[np.object_]:
    """Each customer given nothing: the code (UNASSIGNED) of the first reason that holds; None for the others."""
    problem = formulation.problem
    allowed = formulation.allowed if formulation.allowed is not None else problem.eligible
    codes = np.full(len(choice), None, dtype=object)
    left = choice == NO_CAMPAIGN
    for code in UNASSIGNED:
        counted = left & _holds(code, formulation, allowed)
        codes[counted] = code
        left &= ~counted
    return codes


def _holds(code: str, formulation: Formulation, allowed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The customers for whom reason ``code`` holds (each reason is asked only of those the ones
    before it left)."""
    problem, excluded = formulation.problem, formulation.data.lists.excluded
    if code == "excluded":
        return np.zeros(problem.n_customers, dtype=bool) if excluded is None else excluded
    if code == "not_eligible":
        some: NDArray[np.bool_] = np.asarray(allowed.any(axis=1))
    elif code == "contact_policy":
        some = np.asarray(problem.eligible.any(axis=1))
    elif code == "not_worth_its_cost":
        some = np.asarray((problem.eligible & (problem.pair_value > 0)).any(axis=1))
    else:
        some = np.zeros(problem.n_customers, dtype=bool)
    return ~some


def unassigned_figures(formulation: Formulation, choice: NDArray[np.integer[Any]]) -> dict[str, Any]:
    """Why the customers given nothing got nothing, each counted under the first reason that holds."""
    codes = unassigned_reasons(formulation, choice)
    counts = [{"reason": words, "customers": int((codes == code).sum())} for code, words in UNASSIGNED.items()]
    return {"total": int((choice == NO_CAMPAIGN).sum()), "reasons": counts}


def channel_figures(
    formulation: Formulation, choice: NDArray[np.integer[Any]], control: NDArray[np.bool_]
) -> list[dict[str, Any]]:
    channels = np.array(formulation.problem.channels)
    given = choice != NO_CAMPAIGN
    used_channel = np.where(given, channels[np.where(given, choice, 0)], "")
    figures = []
    for name in dict.fromkeys([*formulation.scenario.channels, *channels]):
        capacity = formulation.scenario.channels.get(name)
        figures.append({
            "channel": str(name),
            "contacts": int(((used_channel == name) & ~control).sum()),
            "audience": int((used_channel == name).sum()),
            "capacity": capacity.capacity if capacity else None,
        })
    return figures


def constraint_figures(
    problem: Problem, choice: NDArray[np.integer[Any]], treated_choice: NDArray[np.integer[Any]],
    shadow_prices: NDArray[np.float64] | None,
) -> list[dict[str, Any]]:
    """Each row's lhs (audience and treated), rhs, slack, and LP shadow price d(objective)/d(rhs).

    ``lhs_treated`` sums the treated customers at full weight: a budget that counts treated spend
    only (weight (1 - f) × spend) is summed on the spend itself, a ratio row (weights s (e - r p))
    on e - r p, not discounted twice."""
    lhs = problem.row_activity(choice)
    undiscounted = replace(problem, rows=tuple(
        replace(row, weight="spend") if row.weight == TREATED_SPEND else
        replace(row, weight=row.weight + AT_FULL_WEIGHT) if row.weight + AT_FULL_WEIGHT in problem.weights else row
        for row in problem.rows))
    lhs_treated = undiscounted.row_activity(treated_choice)
    prices = shadow_prices if shadow_prices is not None else [None] * len(problem.rows)
    return [constraint_figure(row, float(value), float(treated), price)
            for row, value, treated, price in zip(problem.rows, lhs, lhs_treated, prices)]


def constraint_figure(row: CouplingRow, lhs: float, lhs_treated: float, price: float | None) -> dict[str, Any]:
    """One row of the summary's constraints: its sense, lhs, rhs, slack, whether it binds, its price."""
    return {
        "name": row.name,
        "family": row.family,
        "source": row.source,
        "sense": str(row.sense),
        "lhs": lhs,
        "rhs": float(row.rhs),
        "slack": _slack(row, lhs),
        "binding": _binding(row, lhs, price),
        "shadow_price": None if price is None else float(price),
        "lhs_treated": lhs_treated,
    }


def ratio_figures(formulation: Formulation, choice: NDArray[np.integer[Any]],
                  constraints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The constraints, each ratio row with the ratio the plan reaches over its selected pairs
    (``ratio``: sum of expression / sum of per, None when the per sum is 0) and its limit r
    (``ratio_rhs``); lhs, rhs and slack stay those of the linear row sum(expression - r per)."""
    for row in constraints:
        if row["name"] in formulation.ratios:
            limit, per = formulation.ratios[row["name"]]
            with_ratio(row, limit, pair_sum(per, choice))
    return constraints


def with_ratio(row: dict[str, Any], limit: float, per_sum: float) -> None:
    """A ratio row's figures: the ratio its selected pairs reach, sum of expression / sum of per
    (None when that is 0), from the linear row's lhs = sum(expression - r per)."""
    row.update(ratio=(row["lhs"] + limit * per_sum) / per_sum if per_sum else None, ratio_rhs=limit, per_sum=per_sum)


def _binding(row: CouplingRow, lhs: float, price: float | None) -> bool:
    """Tight in the plan, or priced by the LP: a plan often leaves a little of a limit unused that no
    customer fits (the budget's last 0.05), and that limit is still what holds the objective back."""
    tight = _slack(row, lhs) <= BINDING_TOLERANCE * max(1.0, abs(row.rhs))
    return bool(tight or (price is not None and abs(price) > BINDING_TOLERANCE))


def _slack(row: CouplingRow, lhs: float) -> float:
    if row.sense is Sense.LE:
        return row.rhs - lhs
    if row.sense is Sense.GE:
        return lhs - row.rhs
    return -abs(lhs - row.rhs)


def pair_sum(weights: NDArray[np.float64], choice: NDArray[np.integer[Any]]) -> float:
    customers = np.flatnonzero(choice != NO_CAMPAIGN)
    return float(weights[customers, choice[customers]].sum())

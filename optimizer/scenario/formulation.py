"""From a scenario and its tables to the array-based Problem.

For campaign j and customer i, with p_t = p_treat, p_c = p_control, w = value_per_response:

    spend_ij = cost_per_contact_j + p_t * cost_per_response_j
    v_ij     = (p_t - p_c) * w - spend_ij      (objective: incremental_value)
             = p_t * w                         (objective: expected_revenue)
             = p_t                             (objective: responses)
             = e_ij                            (objective: {expression: e}, over customer and pair columns)

A pair is eligible when it is scored, the campaign's ``eligible`` expression holds, and no rule
of the contact policy (optimizer/scenario/policy.py) blocks it on the run date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, InfeasibleError, ScenarioError
from optimizer.scenario.checks import check_finite, check_probabilities, require_numbers
from optimizer.scenario.data import ScenarioData, Scores
from optimizer.scenario.expressions import Expression, parse
from optimizer.scenario.lists import describe_forced
from optimizer.scenario.policy import PolicyRule, policy_rules
from optimizer.scenario.rows import TREATED_SPEND, audience_rows, budget_rows, capacity_rows, scaled_rows
from optimizer.scenario.sample import Sample
from optimizer.scenario.schema import Campaign, CustomConstraint, Kpi, Objective, ObjectiveExpression, Scenario
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense

PAIR_COLUMNS = (
    "p_treat", "p_control", "uplift", "value_per_response", "cost_per_contact",
    "cost_per_response", "spend", "value", "campaign_id", "channel",
)


@dataclass(frozen=True)
class RuleImpact:
    """How many customers one rule removed from one campaign, counted in order: not scored,
    then the ``eligible`` expression, then each contact-policy rule among those still left."""

    campaign: str
    rule: str
    kind: str
    source: str
    removed: int


@dataclass(frozen=True)
class Formulation:
    """A scenario made concrete: its data, its Problem and its KPI arrays.

    ``allowed`` is the eligibility before the contact policy (None when the policy blocked
    nothing, i.e. the same as ``problem.eligible``); ``ratios`` holds each ratio row's r and its
    ``per`` weights by name, so the summary can state the ratio a plan reaches; ``strata`` numbers
    each customer's control stratum (None: no ``control_strata``).
    """

    data: ScenarioData
    problem: Problem
    kpis: dict[str, NDArray[np.float64]]
    scored: NDArray[np.bool_]
    impacts: tuple[RuleImpact, ...] = ()
    allowed: NDArray[np.bool_] | None = None
    ratios: dict[str, tuple[float, NDArray[np.float64]]] = field(default_factory=dict)
    strata: NDArray[np.intp] | None = None

    @property
    def scenario(self) -> Scenario:
        return self.data.scenario


def formulate(data: ScenarioData, whole: bool = True) -> Formulation:
    """Build the Problem from a scenario and its data (raises DataError/ScenarioError/InfeasibleError).

    ``whole=False`` builds one partition of a larger customer table: limits stay those of the
    whole scenario, and checks that need every customer (minimum audiences) are skipped.
    """
    scenario = data.scenario
    columns = _customer_columns(data)
    scores = _scores(data, columns)
    pairs = [_campaign_pairs(data, j, columns, scores) for j in range(len(scenario.campaigns))]
    rules = policy_rules(scenario, data.customer_ids, data.contacts, data.run_date)
    impacts, allowed = _apply_policy(scenario, pairs, rules, data.lists.excluded)
    if data.lists.forced is not None:
        _check_forced(data, data.lists.forced, pairs, rules)
    spend = np.column_stack([pair["spend"] for pair in pairs])
    weights = {"spend": spend}
    if not scenario.budget_counts_controls:
        weights[TREATED_SPEND] = spend * (1.0 - scenario.control_fractions())
        if data.lists.forced is not None:  # a forced customer is never held out: its whole spend is treated
            settled = data.lists.forced != NO_CAMPAIGN
            weights[TREATED_SPEND][settled] = spend[settled]
    ratios: dict[str, tuple[float, NDArray[np.float64]]] = {}
    custom_rows = _custom_rows(data, columns, pairs, weights, ratios)
    problem = Problem(
        customer_ids=data.customer_ids,
        campaign_ids=tuple(scenario.campaign_ids()),
        channels=tuple(campaign.channel for campaign in scenario.campaigns),
        pair_value=np.column_stack([pair["value"] for pair in pairs]),
        spend=spend,
        eligible=np.column_stack([pair["eligible"] for pair in pairs]),
        treated_share=1.0 - scenario.control_fractions(),
        rows=scaled_rows((*budget_rows(scenario), *audience_rows(scenario), *capacity_rows(scenario), *custom_rows),
                         data.sample, ratios, weights),
        weights=weights,
    )
    if whole:
        _check_min_audiences(scenario, problem, impacts, data.run_date, data.sample)
    kpis = {
        kpi.name: _pair_sum_weights(data, "kpis", i, kpi, columns, pairs) for i, kpi in enumerate(scenario.kpis)
    }
    return Formulation(data, problem, kpis, scores.scored, impacts, allowed, ratios, _strata(data, columns))


def response_values(data: ScenarioData, choice: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
    """w_ij, the scenario's value of one response, of each customer's chosen campaign j (NaN for
    customers given none): the valuation the objective used, recorded so that a measurement can
    value the responses it observes the same way. Evaluated again over the chosen rows only, so
    the (n, k) table of w is never kept."""
    columns = _customer_columns(data)
    scores = _scores(data, columns)
    out = np.full(len(choice), np.nan)
    for j, campaign in enumerate(data.scenario.campaigns):
        rows = np.flatnonzero(choice == j)
        if rows.size:
            context = {name: values[rows] for name, values in columns.items()}
            context.update(p_treat=np.nan_to_num(scores.p_treat[rows, j]),
                           p_control=np.nan_to_num(scores.p_control[rows, j]))
            out[rows] = _evaluate_numbers(data, f"campaigns[{j}].value_per_response", campaign.value_per_response,
                                          context, rows.size)
    return out


def planned_rates(data: ScenarioData, choice: NDArray[np.integer[Any]]) -> tuple[NDArray[np.float64], ...]:
    """p_treat and p_control of each customer's chosen campaign (NaN for customers given none): the
    response rates the plan expects, to set beside those a measurement finds."""
    scores = _scores(data, _customer_columns(data))
    rows = np.flatnonzero(choice != NO_CAMPAIGN)
    rates = []
    for table in (scores.p_treat, scores.p_control):
        out = np.full(len(choice), np.nan)
        out[rows] = np.nan_to_num(table[rows, choice[rows]])
        rates.append(out)
    return tuple(rates)


def breakdown_levels(data: ScenarioData) -> list[tuple[str, NDArray[np.object_]]]:
    """Each ``breakdown`` expression with its value per customer, as text (a segment, a region, a tier)."""
    sources = data.scenario.breakdown
    return list(zip(map(str, sources), _labels(data, "breakdown", sources, _customer_columns(data))))


def _labels(data: ScenarioData, key: str, sources: list[Any], columns: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
    """The value per customer of each expression at ``key`` (control_strata, breakdown), as text."""
    n = len(data.customers)
    return [_evaluate(data.scenario, f"{key}[{i}]", source, columns, n).astype(str).astype(object)
            for i, source in enumerate(sources)]


MAX_STRATA = 200  # control strata are groups (segments, tiers), not one per customer


def _strata(data: ScenarioData, columns: dict[str, NDArray[Any]]) -> NDArray[np.intp] | None:
    """Each customer's control stratum: the combination of the ``control_strata`` expressions' values."""
    scenario = data.scenario
    if not scenario.control_strata:
        return None
    values = _labels(data, "control_strata", scenario.control_strata, columns)
    codes, levels = pd.factorize(pd.Series(["\x1f".join(parts) for parts in zip(*values)], dtype=object))
    if len(levels) > MAX_STRATA:
        raise ScenarioError(
            f"control_strata make {len(levels):,} strata; the controls are drawn within each, so a stratum needs "
            f"customers by the dozen (at most {MAX_STRATA} strata)", where=f"{scenario.source}, control_strata",
            fix="Stratify by groups: a segment column, or a tier such as \"'high' if ltv > 800 else 'low'\"")
    return np.asarray(codes, dtype=np.intp)


def _apply_policy(
    scenario: Scenario, pairs: list[dict[str, Any]], rules: list[PolicyRule], excluded: NDArray[np.bool_] | None,
) -> tuple[tuple[RuleImpact, ...], NDArray[np.bool_] | None]:
    """Remove the excluded customers and the pairs the contact policy blocks; count what each rule
    removed, in order (not scored, the eligible rule, the excluded lists, each policy rule)."""
    allowed = np.column_stack([pair["eligible"] for pair in pairs])
    impacts = []
    for j, (campaign, pair) in enumerate(zip(scenario.campaigns, pairs)):
        left = pair["scored"].copy()
        impacts.append(RuleImpact(campaign.id, "no score for this campaign", "not_scored",
                                  "scores" if scenario.scores else f"campaigns[{j}].p_treat", int((~left).sum())))
        impacts.append(RuleImpact(campaign.id, f"eligible: {campaign.eligible}", "eligible",
                                  f"campaigns[{j}].eligible", int((left & ~pair["rule"]).sum())))
        left &= pair["rule"]
        if excluded is not None:
            impacts.append(RuleImpact(campaign.id, "on an excluded (do-not-contact) list", "excluded", "excluded",
                                      int((left & excluded).sum())))
            left &= ~excluded
        for rule in (rule for rule in rules if rule.campaigns[j]):
            removed = left & rule.blocked[:, j]
            impacts.append(RuleImpact(campaign.id, rule.rule, rule.kind, rule.source, int(removed.sum())))
            left &= ~removed
        pair["eligible"] = left
    blocked_any = not np.array_equal(allowed, np.column_stack([pair["eligible"] for pair in pairs]))
    return tuple(impacts), allowed if blocked_any else None


def _check_forced(data: ScenarioData, forced: NDArray[np.intp], pairs: list[dict[str, Any]],
                  rules: list[PolicyRule]) -> None:
    """DataError naming the forced customers their campaign may not reach, and which rule keeps them out."""
    scenario, ids, problems = data.scenario, data.customer_ids, []
    for j, pair in enumerate(pairs):
        out = (forced == j) & ~pair["eligible"]
        if not out.any():
            continue
        reasons = [(~pair["scored"], "have no score for it"),
                   (~pair["rule"], f"fail its eligible rule ({scenario.campaigns[j].eligible})"),
                   *((rule.blocked[:, j], f"are kept out by the contact policy ({rule.rule})")
                     for rule in rules if rule.campaigns[j])]
        for mask, reason in reasons:
            if (out & mask).any():
                problems.append(describe_forced(scenario, ids[out & mask], j, reason))
                out &= ~mask
    if problems:
        raise DataError(
            "Forced customers cannot get the campaign they are forced into: " + "; ".join(problems),
            where=f"{scenario.source}, forced",
            fix="Take them off the forced list, or widen the campaign's 'eligible' rule or contact policy "
                "if the promise must be kept",
        )


def _customer_columns(data: ScenarioData) -> dict[str, NDArray[Any]]:
    clash = sorted(set(map(str, data.customers.columns)) & set(PAIR_COLUMNS))
    if clash:
        raise DataError(
            f"The customers table has column(s) {', '.join(clash)}, names reserved for (customer, campaign) values",
            where=str(data.customers_file),
            fix="Rename those columns (e.g. add a prefix)",
        )
    return table_columns(data.customers)


def table_columns(table: pd.DataFrame) -> dict[str, NDArray[Any]]:
    """A table's columns as the expression language reads them: text as objects, the rest as numbers."""
    return {
        str(name): column.to_numpy(dtype=object) if column.dtype == object or pd.api.types.is_string_dtype(column)
        else column.to_numpy()
        for name, column in table.items()
    }


def _scores(data: ScenarioData, columns: dict[str, NDArray[Any]]) -> Scores:
    """The data's scores, with the campaigns' p_treat / p_control expressions evaluated in their place."""
    scenario, scores = data.scenario, data.scores
    n = len(data.customers)
    for j, campaign in enumerate(scenario.campaigns):
        for key in ("p_treat", "p_control"):
            source = getattr(campaign, key)
            if source is not None:
                values = _evaluate_numbers(data, f"campaigns[{j}].{key}", source, columns, n)
                check_probabilities(data, f"campaigns[{j}].{key}", source, values, columns)
                if getattr(scores, key) is getattr(data.scores, key):
                    scores = replace(scores, **{key: getattr(scores, key).copy()})  # the data stay as read
                getattr(scores, key)[:, j] = values
    return scores


def _evaluate(scenario: Scenario, key: str, source: Any, columns: dict[str, Any], n: int) -> NDArray[Any]:
    expression: Expression = parse(source, where=f"{scenario.source}, {key}")
    expression.check_names(columns, where=f"{scenario.source}, {key}")
    return expression.evaluate(columns, n)


def _evaluate_numbers(
    data: ScenarioData, key: str, source: Any, context: dict[str, Any], n: int
) -> NDArray[np.float64]:
    """The expression at ``key``, one number per customer (ScenarioError when it gives text)."""
    return require_numbers(data, key, source, _evaluate(data.scenario, key, source, context, n))


def _campaign_pairs(data: ScenarioData, j: int, columns: dict[str, NDArray[Any]], scores: Scores) -> dict[str, Any]:
    """Per-customer arrays of one campaign: eligible, spend, value and the pair columns."""
    scenario = data.scenario
    campaign = scenario.campaigns[j]
    n = len(next(iter(columns.values())))
    p_treat, p_control = scores.p_treat[:, j], scores.p_control[:, j]
    scored = ~np.isnan(p_treat)
    rule = _eligibility(scenario, j, columns, n)
    eligible = rule & scored
    context = {**columns, "p_treat": np.nan_to_num(p_treat), "p_control": np.nan_to_num(p_control)}
    key = f"campaigns[{j}].value_per_response"
    worth = _evaluate_numbers(data, key, campaign.value_per_response, context, n)
    check_finite(data, key, campaign.value_per_response, worth, eligible, context)
    worth = np.where(eligible, worth, 0.0)
    spend = campaign.cost_per_contact + context["p_treat"] * campaign.cost_per_response
    pair = {
        "eligible": eligible, "scored": scored, "rule": rule, "spend": spend,
        "p_treat": context["p_treat"],
        "p_control": context["p_control"], "uplift": context["p_treat"] - context["p_control"],
        "value_per_response": worth, "cost_per_contact": campaign.cost_per_contact,
        "cost_per_response": campaign.cost_per_response, "campaign_id": campaign.id, "channel": campaign.channel,
    }
    if isinstance(scenario.objective, ObjectiveExpression):
        context = {**columns, **{name: pair[name] for name in PAIR_COLUMNS if name != "value"}}
        pair["value"] = _expression_value(data, scenario.objective, context, eligible, n)
    else:
        pair["value"] = _pair_value(scenario.objective, campaign, pair["p_treat"], pair["p_control"], worth, spend)
    return pair


def _expression_value(data: ScenarioData, objective: ObjectiveExpression, context: dict[str, Any],
                      eligible: NDArray[np.bool_], n: int) -> NDArray[np.float64]:
    """e_ij of an expression objective for one campaign: a number per eligible customer (0 elsewhere).
    The context has no 'value' column: the objective is what defines it."""
    key = "objective.expression"
    amount = _evaluate_numbers(data, key, objective.expression, context, n)
    check_finite(data, key, objective.expression, amount, eligible, context)
    return np.where(eligible, amount, 0.0)


def _eligibility(scenario: Scenario, j: int, columns: dict[str, NDArray[Any]], n: int) -> NDArray[np.bool_]:
    key = f"campaigns[{j}].eligible"
    mask = _evaluate(scenario, key, scenario.campaigns[j].eligible, columns, n)
    _require_condition(scenario, key, scenario.campaigns[j].eligible, mask)
    return mask


def _require_condition(scenario: Scenario, key: str, source: Any, values: NDArray[Any]) -> None:
    """A condition must give true/false per row; say what it gave instead."""
    if values.dtype == bool:
        return
    if values.dtype == object and any(value is None or value != value for value in values):
        gave = "missing values (a column it uses has blanks)"
    elif values.dtype == object:
        gave = "text"
    else:
        gave = "numbers"
    raise ScenarioError(
        f"'{key}' must be true or false for each customer (a condition), but {source!r} gives {gave}",
        where=f"{scenario.source}, {key}",
        fix="Write a condition such as \"days_since_last_purchase > 60 and email_opt_in\" or \"segment == 'VIP'\"; "
        "fill blanks in yes/no columns first",
    )


def _pair_value(
    objective: Objective, campaign: Campaign, p_treat: NDArray[np.float64], p_control: NDArray[np.float64],
    worth: NDArray[np.float64], spend: NDArray[np.float64],
) -> NDArray[np.float64]:
    if objective is Objective.INCREMENTAL_VALUE:
        return (p_treat - p_control) * worth - spend
    if objective is Objective.EXPECTED_REVENUE:
        return p_treat * worth
    return p_treat.copy()


def _custom_rows(
    data: ScenarioData, columns: dict[str, NDArray[Any]], pairs: list[dict[str, Any]],
    weights: dict[str, NDArray[np.float64]], ratios: dict[str, tuple[float, NDArray[np.float64]]],
) -> list[CouplingRow]:
    scenario, rows = data.scenario, []
    ids = scenario.campaign_ids()
    for index, constraint in enumerate(scenario.constraints):
        key = f"custom:{constraint.name}"
        weights[key] = _pair_sum_weights(data, "constraints", index, constraint, columns, pairs)
        rhs = constraint.rhs
        if constraint.per is not None:  # sum e <sense> r sum p, as sum (e - r p) <sense> 0
            per = _pair_sum_weights(data, "constraints", index, constraint, columns, pairs, "per")
            weights[key] -= rhs * per
            ratios[constraint.name], rhs = (rhs, per), 0.0
        mask = np.array([constraint.campaigns is None or c in constraint.campaigns for c in ids])
        rows.append(CouplingRow(constraint.name, "custom", Sense(constraint.sense), rhs, key, mask,
                                f"constraints[{index}]"))
    return rows


def _pair_sum_weights(
    data: ScenarioData, family: str, index: int, item: CustomConstraint | Kpi, columns: dict[str, NDArray[Any]],
    pairs: list[dict[str, Any]], field: str = "expression",
) -> NDArray[np.float64]:
    """(n, k) array of ``field`` (``expression``, or a ratio row's ``per``) where ``where`` holds (0
    elsewhere) for a constraint or KPI."""
    scenario = data.scenario
    n = len(next(iter(columns.values())))
    out = np.zeros((n, len(pairs)))
    for j, pair in enumerate(pairs):
        if item.campaigns is not None and scenario.campaigns[j].id not in item.campaigns:
            continue
        context = {**columns, **{name: pair[name] for name in PAIR_COLUMNS}}
        where = _evaluate(scenario, f"{family}[{index}].where", item.where, context, n)
        key, source = f"{family}[{index}].{field}", getattr(item, field)
        amount = _evaluate_numbers(data, key, source, context, n)
        _require_condition(scenario, f"{family}[{index}].where", item.where, where)
        selected = where & pair["eligible"]
        check_finite(data, key, source, amount, selected, context)
        out[:, j] = np.where(selected, amount, 0.0)
    return out


def _check_min_audiences(
    scenario: Scenario, problem: Problem, impacts: tuple[RuleImpact, ...], run_date: dt.date,
    sample: Sample | None = None,
) -> None:
    for j, campaign in enumerate(scenario.campaigns):
        eligible = int(problem.eligible[:, j].sum())
        needed = campaign.min_audience if sample is None else sample.scaled(campaign.min_audience, "floor")
        if needed > eligible:
            kept_out = sum(i.removed for i in impacts if i.campaign == campaign.id and i.source.startswith("contact"))
            policy = f" after the contact policy kept out {kept_out} on {run_date}" if kept_out else ""
            raise InfeasibleError(
                f"The 'min_audience' of campaign '{campaign.id}' ({needed:,.0f}"
                f"{'' if sample is None else f', scaled to the {sample.share:g} sample'}) exceeds its "
                f"{eligible} eligible customers{policy}",
                where=f"{scenario.source}, campaigns[{j}]",
                fix="Lower min_audience or widen 'eligible'" + (
                    ", or shorten the cool-downs and measurement windows that keep customers out" if kept_out else ""),
            )

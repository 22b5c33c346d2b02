"""From a scenario and its tables to the array-based Problem.

The problem's columns are the scenario's offers (optimizer/scenario/offers.py): each campaign, or
each of its variants, with the spend and value of optimizer/scenario/pairs.py. A pair is eligible
when it is scored, the campaign's (and variant's) ``eligible`` expression holds, and no rule of the
contact policy (optimizer/scenario/policy.py) blocks it on the run date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import DataError, Findings, InfeasibleError
from optimizer.scenario.checks import check_finite
from optimizer.scenario.data import ScenarioData, findings, needed_scores
from optimizer.scenario.groups import stratum_codes
from optimizer.scenario.limits import CustomConstraint, Kpi
from optimizer.scenario.lists import describe_forced
from optimizer.scenario.offers import Offer, offer_campaigns, offer_fractions, offers
from optimizer.scenario.pairs import (
    PAIR_COLUMNS,
    Layered,
    customer_columns,
    eligible_text,
    evaluate,
    evaluate_numbers,
    offer_pairs,
    offer_rates,
    require_condition,
    scenario_scores,
    score_source,
    value_key,
)
from optimizer.scenario.policy import PolicyRule, policy_rules
from optimizer.scenario.rows import (
    AT_FULL_WEIGHT,
    TREATED_SPEND,
    audience_rows,
    budget_rows,
    capacity_rows,
    scaled_rows,
)
from optimizer.scenario.schema import Scenario
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense


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

    @property
    def offers(self) -> tuple[Offer, ...]:
        """The problem's columns: each campaign, or each of its variants."""
        return offers(self.data.scenario)

    def unscored_customers(self) -> int:
        """The customers, not on an excluded list, the scores table has no row for under any campaign
        that reads it (0 when no campaign does): a table of other customers, or of ids written
        otherwise, leaves many."""
        reading = set(needed_scores(self.scenario))
        columns = [j for j, campaign in enumerate(self.scenario.campaigns) if campaign.id in reading]
        if self.scenario.scores is None or not columns:
            return 0
        excluded = self.data.lists.excluded  # they get nothing in this run, scored or not
        reached = np.zeros(self.scored.shape[0], dtype=bool) if excluded is None else excluded.copy()
        for j in columns:  # column by column: no copy of the n × k mask
            reached |= self.scored[:, j]
        return int((~reached).sum())


Pair = dict[str, Any]  # one offer's per-customer arrays (optimizer/scenario/pairs.py offer_pairs)

LIMITS_UNCHECKED = ("Not checked until the above is fixed: whether the minimum audiences fit the budgets, channel "
                    "capacities and constraints.")


def formulate(data: ScenarioData, whole: bool = True, found: Findings | None = None) -> Formulation:
    """Build the Problem from a scenario and its data (raises DataError/ScenarioError/InfeasibleError).

    ``whole=False`` builds one partition of a larger customer table: limits stay those of the
    whole scenario, and checks that need every customer (minimum audiences) are skipped.

    The parts that do not depend on each other (each campaign's expressions, each constraint and
    KPI, the control strata, each campaign's minimum audience) are each checked, and their problems
    raised in one error with those ``found`` already holds (load_data's): cvo validate lists them all.
    """
    found = findings(data.scenario) if found is None else found
    scenario, choices = data.scenario, offers(data.scenario)
    columns = found.attempt("columns", customer_columns, data)
    if columns is None:
        found.skip("Not checked: the expressions, the minimum audiences and the limits, which read the customers' "
                   "columns.")
        raise found.error()
    scores = scenario_scores(data, columns, found)
    unrated = set(found.failed)  # campaigns whose p_treat or p_control expression failed
    pairs = [None if f"campaigns[{offer.index}]" in unrated else
             found.attempt(f"campaigns[{offer.index}]", offer_pairs, data, offer, columns, scores) for offer in choices]
    rules = policy_rules(scenario, data.customer_ids, data.contacts, data.run_date)
    impacts, allowed = _apply_policy(choices, pairs, rules, data.lists.excluded)
    if data.lists.forced is not None:
        found.attempt(None, _check_forced, data, data.lists.forced, pairs, rules)
    ratios: dict[str, tuple[float, NDArray[np.float64]]] = {}
    custom: dict[str, NDArray[np.float64]] = {}
    custom_rows = _custom_rows(data, columns, pairs, custom, ratios, found)
    kpis = {kpi.name: found.attempt(None, _pair_sum_weights, data, "kpis", i, kpi, columns, pairs)
            for i, kpi in enumerate(scenario.kpis)}
    strata = found.attempt(None, stratum_codes, data, columns)
    if whole:
        _check_min_audiences(data, pairs, impacts, found)
    if found.errors:
        found.skip(LIMITS_UNCHECKED)
        raise found.error()
    complete = [pair for pair in pairs if pair is not None]
    problem = _problem(data, complete, custom, custom_rows, ratios)
    return Formulation(data, problem, {name: kpi for name, kpi in kpis.items() if kpi is not None}, scores.scored,
                       impacts, allowed, ratios, strata)


def _problem(data: ScenarioData, pairs: list[Pair], custom: dict[str, NDArray[np.float64]],
             custom_rows: list[CouplingRow], ratios: dict[str, tuple[float, NDArray[np.float64]]]) -> Problem:
    """The Problem of the offers' ``pairs``: spend and value, eligibility, and every limit's row."""
    scenario, choices = data.scenario, offers(data.scenario)
    spend = np.column_stack([pair["spend"] for pair in pairs])
    weights = {"spend": spend}
    fractions = offer_fractions(scenario)
    if not scenario.budget_counts_controls:
        weights[TREATED_SPEND] = spend * treated_shares(data)
    weights.update(custom)
    return Problem(
        customer_ids=data.customer_ids,
        campaign_ids=tuple(offer.label for offer in choices),
        channels=tuple(offer.campaign.channel for offer in choices),
        pair_value=np.column_stack([pair["value"] for pair in pairs]),
        spend=spend,
        eligible=np.column_stack([pair["eligible"] for pair in pairs]),
        treated_share=1.0 - fractions,
        rows=scaled_rows((*budget_rows(scenario), *audience_rows(scenario), *capacity_rows(scenario), *custom_rows),
                         data.sample, ratios, weights),
        weights=weights,
    )


def response_values(data: ScenarioData, choice: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
    """w_ij, the scenario's value of one response, of each customer's chosen offer j (NaN for
    customers given none): the valuation the objective used, recorded so that a measurement can
    value the responses it observes the same way. Evaluated again over the chosen rows only, so
    the (n, k) table of w is never kept."""
    columns = customer_columns(data)
    scores = scenario_scores(data, columns)
    out = np.full(len(choice), np.nan)
    for j, offer in enumerate(offers(data.scenario)):
        rows = np.flatnonzero(choice == j)
        if rows.size:
            context = columns.rows(rows)
            p_treat, p_control, _ = offer_rates(data, offer, context, scores, rows)
            out[rows] = evaluate_numbers(data, value_key(offer), offer.value_per_response,
                                         Layered({"p_treat": p_treat, "p_control": p_control}, context), rows.size)
    return out


def planned_rates(data: ScenarioData, choice: NDArray[np.integer[Any]]) -> tuple[NDArray[np.float64], ...]:
    """p_treat and p_control of each customer's chosen offer (NaN for customers given none): the
    response rates the plan expects, to set beside those a measurement finds."""
    columns = customer_columns(data)
    scores = scenario_scores(data, columns)
    rates = (np.full(len(choice), np.nan), np.full(len(choice), np.nan))
    for j, offer in enumerate(offers(data.scenario)):
        rows = np.flatnonzero(choice == j)
        if rows.size:
            context = columns.rows(rows)
            rates[0][rows], rates[1][rows], _ = offer_rates(data, offer, context, scores, rows)
    return rates


def _apply_policy(
    choices: tuple[Offer, ...], pairs: list[Pair | None], rules: list[PolicyRule], excluded: NDArray[np.bool_] | None,
) -> tuple[tuple[RuleImpact, ...], NDArray[np.bool_] | None]:
    """Remove the excluded customers and the pairs the contact policy blocks; count what each rule
    removed from each campaign, in order (not scored, the eligible rule, the excluded lists, each
    policy rule): the customers it left with none of the campaign's offers (its variants together).
    A campaign with an offer that could not be evaluated (None: its problem is listed) is left out."""
    complete = all(pair is not None for pair in pairs)
    allowed = np.column_stack([pair["eligible"] for pair in pairs if pair is not None]) if complete else None
    impacts: list[RuleImpact] = []
    for j in dict.fromkeys(offer.index for offer in choices):
        mine = [o for o, offer in enumerate(choices) if offer.index == j]
        theirs = [pair for pair in (pairs[o] for o in mine) if pair is not None]
        if len(theirs) == len(mine):
            impacts.extend(_campaign_impacts([choices[o] for o in mine], theirs, [(rule, mine) for rule in rules],
                                             excluded))
    blocked_any = allowed is not None and not np.array_equal(
        allowed, np.column_stack([pair["eligible"] for pair in pairs if pair is not None]))
    return tuple(impacts), allowed if blocked_any else None


def _campaign_impacts(mine: list[Offer], pairs: list[dict[str, Any]], rules: list[tuple[PolicyRule, list[int]]],
                      excluded: NDArray[np.bool_] | None) -> list[RuleImpact]:
    """One campaign's rule impacts, each the customers who had one of its offers (``mine``, their
    ``pairs``) before the rule and none after; each pair's ``eligible`` set to what is left."""
    first, name = mine[0], mine[0].campaign.id
    left = [np.ones_like(pair["scored"]) for pair in pairs]
    impacts = []

    def step(rule: str, kind: str, source: str, keep: list[NDArray[np.bool_] | None]) -> None:
        before = np.logical_or.reduce(left)
        for position, kept in enumerate(keep):
            if kept is not None:
                left[position] &= kept
        impacts.append(RuleImpact(name, rule, kind, source, int((before & ~np.logical_or.reduce(left)).sum())))

    step("no score for this campaign", "not_scored", score_source(first), [pair["scored"] for pair in pairs])
    own = any(offer.variant is not None and offer.variant.eligible is not True for offer in mine)
    step(f"eligible: {first.campaign.eligible}" + (" (and its variants' own rules)" if own else ""), "eligible",
         f"campaigns[{first.index}].eligible", [pair["rule"] for pair in pairs])
    if excluded is not None:
        step("on an excluded (do-not-contact) list", "excluded", "excluded", [~excluded] * len(pairs))
    for rule, columns in rules:
        if any(rule.campaigns[o] for o in columns):
            step(rule.rule, rule.kind, rule.source, [~rule.blocked[:, o] if rule.campaigns[o] else None
                                                     for o in columns])
    for pair, kept in zip(pairs, left):
        pair["eligible"] = kept
    return impacts


def _check_forced(data: ScenarioData, forced: NDArray[np.intp], pairs: list[Pair | None],
                  rules: list[PolicyRule]) -> None:
    """DataError naming the forced customers their campaign may not reach, and which rule keeps them out."""
    scenario, ids, problems = data.scenario, data.customer_ids, []
    for j, (offer, pair) in enumerate(zip(offers(scenario), pairs)):
        if pair is None:  # its problem is listed
            continue
        out = (forced == j) & ~pair["eligible"]
        if not out.any():
            continue
        reasons = [(~pair["scored"], "have no score for it"),
                   (~pair["rule"], f"fail its eligible rule ({eligible_text(offer)})"),
                   *((rule.blocked[:, j], f"are kept out by the contact policy ({rule.rule})")
                     for rule in rules if rule.campaigns[j])]
        for mask, reason in reasons:
            if (out & mask).any():
                problems.append(describe_forced(ids[out & mask], offer.label, reason))
                out &= ~mask
    if problems:
        raise DataError(
            "Forced customers cannot get the campaign they are forced into: " + "; ".join(problems),
            where=scenario.where("forced"),
            fix="Take them off the forced list, or widen the campaign's 'eligible' rule or contact policy "
                "if the promise must be kept",
        )


def _custom_rows(
    data: ScenarioData, columns: Mapping[str, Any], pairs: list[Pair | None],
    weights: dict[str, NDArray[np.float64]], ratios: dict[str, tuple[float, NDArray[np.float64]]], found: Findings,
) -> list[CouplingRow]:
    """The row of each of the scenario's constraints, its weights in ``weights`` (a ratio row's r and
    per in ``ratios``); the problem of each constraint is kept in ``found``."""
    rows = [found.attempt(None, _custom_row, data, index, constraint, columns, pairs, weights, ratios)
            for index, constraint in enumerate(data.scenario.constraints)]
    return [row for row in rows if row is not None]


def _custom_row(
    data: ScenarioData, index: int, constraint: CustomConstraint, columns: Mapping[str, Any],
    pairs: list[Pair | None], weights: dict[str, NDArray[np.float64]],
    ratios: dict[str, tuple[float, NDArray[np.float64]]],
) -> CouplingRow:
    key = f"custom:{constraint.name}"
    weights[key] = _pair_sum_weights(data, "constraints", index, constraint, columns, pairs)
    rhs = constraint.rhs
    if constraint.per is not None:  # sum e <sense> r sum p over the treated, as sum s (e - r p) <sense> 0
        share, per = treated_shares(data), _pair_sum_weights(data, "constraints", index, constraint, columns, pairs,
                                                             "per")
        weights[key + AT_FULL_WEIGHT] = weights[key] - rhs * per  # what the treated sum to after the draw
        weights[key] = share * weights[key + AT_FULL_WEIGHT]
        ratios[constraint.name], rhs = (rhs, share * per), 0.0
    ids = [offer.campaign.id for offer in offers(data.scenario)]
    mask = np.array([constraint.campaigns is None or c in constraint.campaigns for c in ids])
    return CouplingRow(constraint.name, "custom", Sense(constraint.sense), rhs, key, mask, f"constraints[{index}]")


def treated_shares(data: ScenarioData) -> NDArray[np.float64]:
    """(n, k) s_io: the share of customer i given offer o that is treated, 1 - f_o (its campaign's
    control fraction), and 1 for a forced customer (never held out). A ratio row is taken over the
    treated, as the objective and the ROI the summary reports are (an ROI hurdle of 6 counted the
    controls' value at full weight: the plan met it and was reported at an ROI of 5.85)."""
    fractions = offer_fractions(data.scenario)
    shares = np.broadcast_to(1.0 - fractions, (len(data.customer_ids), fractions.size)).copy()
    if data.lists.forced is not None:
        shares[data.lists.forced != NO_CAMPAIGN] = 1.0
    return shares


def _pair_sum_weights(
    data: ScenarioData, family: str, index: int, item: CustomConstraint | Kpi, columns: Mapping[str, Any],
    pairs: list[Pair | None], field: str = "expression",
) -> NDArray[np.float64]:
    """(n, k) array of ``field`` (``expression``, or a ratio row's ``per``) where ``where`` holds (0
    elsewhere) for a constraint or KPI; an offer that could not be evaluated (None) is skipped."""
    scenario = data.scenario
    n = len(data.customers)
    out = np.zeros((n, len(pairs)))
    for j, pair in enumerate(pairs):
        if pair is None or item.campaigns is not None and pair["campaign_id"] not in item.campaigns:
            continue
        context = Layered({name: pair[name] for name in PAIR_COLUMNS if name in pair}, columns)
        where = evaluate(data, f"{family}[{index}].where", item.where, context, n)
        key, source = f"{family}[{index}].{field}", getattr(item, field)
        amount = evaluate_numbers(data, key, source, context, n)
        require_condition(scenario, f"{family}[{index}].where", item.where, where)
        selected = where & pair["eligible"]
        check_finite(data, key, source, amount, selected, context)
        out[:, j] = np.where(selected, amount, 0.0)
    return out


def _check_min_audiences(data: ScenarioData, pairs: list[Pair | None], impacts: tuple[RuleImpact, ...],
                         found: Findings) -> None:
    """Keep in ``found`` each campaign whose minimum audience exceeds its eligible customers; a
    campaign with an offer that could not be evaluated (None) is not checked, nor any campaign when
    the contact history or the lists that decide who is eligible could not be read."""
    unread = [name for part, name in (("history", "the contact history"), ("lists", "the customer lists"))
              if part in found.failed]
    if unread:
        found.skip(f"Not checked: the minimum audiences, which need {' and '.join(unread)}.")
        return
    campaign_of = offer_campaigns(data.scenario)
    for j in range(len(data.scenario.campaigns)):
        mine = [pairs[o] for o in np.flatnonzero(campaign_of == j)]
        theirs = [pair for pair in mine if pair is not None]
        if len(theirs) == len(mine):
            short = _min_audience_short(data, j, int(np.logical_or.reduce([p["eligible"] for p in theirs]).sum()),
                                        impacts)
            if short is not None:
                found.add(short)


def _min_audience_short(data: ScenarioData, j: int, eligible: int,
                        impacts: tuple[RuleImpact, ...]) -> InfeasibleError | None:
    """The error of campaign j when its minimum audience (scaled to a sample's share) exceeds its
    ``eligible`` customers, naming what the contact policy kept out on the run date."""
    scenario, sample, campaign = data.scenario, data.sample, data.scenario.campaigns[j]
    needed = campaign.min_audience if sample is None else sample.scaled(campaign.min_audience, "floor")
    if needed <= eligible:
        return None
    kept_out = sum(i.removed for i in impacts if i.campaign == campaign.id and i.source.startswith("contact"))
    policy = f" after the contact policy kept out {kept_out} on {data.run_date}" if kept_out else ""
    return InfeasibleError(
        f"The 'min_audience' of campaign '{campaign.id}' ({needed:,.0f}"
        f"{'' if sample is None else f', scaled to the {sample.share:g} sample'}) exceeds its "
        f"{eligible} eligible customers{policy}",
        where=scenario.where(f"campaigns[{j}]"),
        fix="Lower min_audience or widen 'eligible'" + (
            ", or shorten the cool-downs and measurement windows that keep customers out" if kept_out else ""),
    )

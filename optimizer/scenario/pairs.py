"""The (customer, offer) arrays of a scenario: each offer's response probabilities, eligibility,
spend and value, from the customer table, the scores and the scenario's expressions.

For offer j (a campaign, or one of its variants: optimizer/scenario/offers.py) and customer i, with
p_t = p_treat, p_c = p_control, w = value_per_response (a variant's own, or its campaign's):

    spend_ij = cost_per_contact_j + p_t * cost_per_response_j
    v_ij     = (p_t - p_c) * w - spend_ij      (objective: incremental_value)
             = p_t * w                         (objective: expected_revenue)
             = p_t                             (objective: responses)
             = e_ij                            (objective: {expression: e}, over customer and pair columns)

A variant's p_treat and p_control are expressions read with its campaign's probabilities as
p_treat and p_control; its eligible rule narrows the campaign's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, Findings, ScenarioError
from optimizer.scenario.campaigns import scores_itself
from optimizer.scenario.checks import check_finite, check_probabilities, require_numbers
from optimizer.scenario.data import ScenarioData, Scores
from optimizer.scenario.dates import day_column
from optimizer.scenario.expressions import Expression, parse
from optimizer.scenario.objective import Objective, ObjectiveExpression
from optimizer.scenario.offers import Offer, has_variants
from optimizer.scenario.schema import Scenario

PAIR_COLUMNS = (
    "p_treat", "p_control", "uplift", "value_per_response", "cost_per_contact",
    "cost_per_response", "spend", "value", "campaign_id", "variant", "channel",
)


def pair_columns(scenario: Scenario) -> tuple[str, ...]:
    """The pair columns expressions may read in this scenario: ``variant`` only where campaigns have
    offer variants (elsewhere a customer column may have that name)."""
    return PAIR_COLUMNS if has_variants(scenario) else tuple(name for name in PAIR_COLUMNS if name != "variant")


class TableColumns(Mapping[str, NDArray[Any]]):
    """A table's columns as the expression language reads them (``_column``: dates as days, a date,
    a timestamp, or text whose every value is a day written YYYY-MM-DD: optimizer/scenario/dates.py;
    text as objects; the rest as numbers), each converted when an expression first reads it: a
    customers table's columns no expression names are never converted (a text date column of 10^7
    customers takes seconds). ``rows(r)`` is the same for the customers at positions r."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.positions = {str(name): position for position, name in enumerate(table.columns)}
        self.read: dict[str, NDArray[Any]] = {}

    def __getitem__(self, name: str) -> NDArray[Any]:
        if name not in self.read:
            self.read[name] = _column(self.table.iloc[:, self.positions[name]])
        return self.read[name]

    def __contains__(self, name: object) -> bool:
        return name in self.positions  # without converting the column, as Mapping's own would

    def __iter__(self) -> Iterator[str]:
        return iter(self.positions)

    def __len__(self) -> int:
        return len(self.positions)

    def rows(self, rows: NDArray[np.intp]) -> Mapping[str, NDArray[Any]]:
        """The columns of the customers at positions ``rows``, each taken when first read."""
        return _Rows(self, rows)


class _Rows(Mapping[str, NDArray[Any]]):
    """``TableColumns.rows``: the whole columns' rows ``rows``, each taken once."""

    def __init__(self, columns: TableColumns, rows: NDArray[np.intp]) -> None:
        self.columns, self.positions = columns, rows
        self.read: dict[str, NDArray[Any]] = {}

    def __getitem__(self, name: str) -> NDArray[Any]:
        if name not in self.read:
            self.read[name] = np.asarray(self.columns[name][self.positions])
        return self.read[name]

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


class Layered(Mapping[str, Any]):
    """Names of ``first`` (an offer's pair columns) over ``columns`` (the customers'), read through."""

    def __init__(self, first: dict[str, Any], columns: Mapping[str, Any]) -> None:
        self.first, self.columns = first, columns

    def __getitem__(self, name: str) -> Any:
        return self.first[name] if name in self.first else self.columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self.first or name in self.columns

    def __iter__(self) -> Iterator[str]:
        yield from self.first
        yield from (name for name in self.columns if name not in self.first)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def customer_columns(data: ScenarioData) -> TableColumns:
    """The customers table's columns (``TableColumns``); DataError when one has a pair column's name."""
    clash = sorted(set(map(str, data.customers.columns)) & set(pair_columns(data.scenario)))
    if clash:
        raise DataError(
            f"The customers table has column(s) {', '.join(clash)}, names reserved for (customer, campaign) values",
            where=str(data.customers_file),
            fix="Rename those columns (e.g. add a prefix)",
        )
    return TableColumns(data.customers)


def _column(column: pd.Series) -> NDArray[Any]:
    """Text (and yes/no with gaps) as objects, a gap as None; nullable numbers as floats, a gap as NaN.
    (pandas' NA would make every comparison with it an error: 'boolean value of NA is ambiguous'.)
    Dates as days, a gap as NaT."""
    days = day_column(column)
    if days is not None:
        return days
    if column.dtype == object or pd.api.types.is_string_dtype(column) or (
            pd.api.types.is_bool_dtype(column) and column.hasnans):
        values = column.to_numpy(dtype=object)
        if column.hasnans:  # a copy only then: a text column of 10^7 customers is 80 MB of pointers
            values = values.copy()
            values[column.isna().to_numpy()] = None
        return values
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64).to_numpy()  # NA becomes NaN
    return column.to_numpy()


def scenario_scores(data: ScenarioData, columns: Mapping[str, Any], found: Findings | None = None) -> Scores:
    """The data's scores, with the campaigns' p_treat / p_control expressions evaluated in their
    place; with ``found``, the problem of a campaign's expression is kept there (the campaign's part,
    'campaigns[j]', failed) and the other campaigns are evaluated still."""
    scenario, scores = data.scenario, data.scores
    n = len(data.customers)
    for j, campaign in enumerate(scenario.campaigns):
        for key in ("p_treat", "p_control"):
            source = getattr(campaign, key)
            if source is None:
                continue
            at = f"campaigns[{j}].{key}"
            values = probabilities(data, at, source, columns, n) if found is None else \
                found.attempt(f"campaigns[{j}]", probabilities, data, at, source, columns, n)
            if values is not None:
                if getattr(scores, key) is getattr(data.scores, key):
                    scores = replace(scores, **{key: getattr(scores, key).copy()})  # the data stay as read
                getattr(scores, key)[:, j] = values
    return scores


def probabilities(data: ScenarioData, key: str, source: Any, context: Mapping[str, Any], n: int) -> NDArray[np.float64]:
    """The probability expression at ``key``, one number in [0, 1] per customer."""
    values = evaluate_numbers(data, key, source, context, n)
    check_probabilities(data, key, source, values, context)
    return values


def evaluate(data: ScenarioData, key: str, source: Any, columns: Mapping[str, Any], n: int) -> NDArray[Any]:
    """The expression at ``key`` over ``columns``, days_since() counting to the data's run date."""
    expression: Expression = parse(source, where=data.scenario.where(key))
    expression.check_names(columns, where=data.scenario.where(key))
    return expression.evaluate(columns, n, data.run_date)


def evaluate_numbers(
    data: ScenarioData, key: str, source: Any, context: Mapping[str, Any], n: int
) -> NDArray[np.float64]:
    """The expression at ``key``, one number per customer (ScenarioError when it gives text)."""
    return require_numbers(data, key, source, evaluate(data, key, source, context, n))


def offer_rates(data: ScenarioData, offer: Offer, columns: Mapping[str, Any], scores: Scores,
                 rows: NDArray[np.intp] | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                               NDArray[np.bool_]]:
    """p_treat, p_control and whether scored, of one offer for every customer (or those of ``rows``,
    ``columns`` then being theirs): the campaign's probabilities, or a variant's own expressions read
    with the campaign's as p_treat and p_control. A customer the campaign has no score for has none
    for its variants either, unless the variant's two expressions read no score (``scores_itself``)."""
    p_treat, p_control = scores.p_treat[:, offer.index], scores.p_control[:, offer.index]
    if rows is not None:
        p_treat, p_control = p_treat[rows], p_control[rows]
    scored = ~np.isnan(p_treat)
    rates = [np.nan_to_num(p_treat), np.nan_to_num(p_control)]
    variant = offer.variant
    if variant is None or (variant.p_treat is None and variant.p_control is None):
        return rates[0], rates[1], scored
    context = Layered({"p_treat": rates[0], "p_control": rates[1]}, columns)
    for position, name in enumerate(("p_treat", "p_control")):
        source = getattr(variant, name)
        if source is not None:
            rates[position] = probabilities(data, f"{offer.key}.{name}", source, context, len(rates[0]))
    if scores_itself(variant):
        scored = np.ones(len(scored), dtype=bool)
    return rates[0], rates[1], scored


def value_key(offer: Offer) -> str:
    """The scenario key of an offer's value_per_response: the variant's own, or its campaign's."""
    own = offer.variant is not None and offer.variant.value_per_response is not None
    return f"{offer.key if own else f'campaigns[{offer.index}]'}.value_per_response"


def offer_pairs(data: ScenarioData, offer: Offer, columns: Mapping[str, Any], scores: Scores) -> dict[str, Any]:
    """Per-customer arrays of one offer: eligible, spend, value and the pair columns."""
    scenario = data.scenario
    n = len(data.customers)
    p_treat, p_control, scored = offer_rates(data, offer, columns, scores)
    rule = _eligibility(data, offer, columns, n)
    eligible = rule & scored
    context: Mapping[str, Any] = Layered({"p_treat": p_treat, "p_control": p_control}, columns)
    key = value_key(offer)
    worth = evaluate_numbers(data, key, offer.value_per_response, context, n)
    check_finite(data, key, offer.value_per_response, worth, eligible, context)
    worth = np.where(eligible, worth, 0.0)
    spend = offer.cost_per_contact + p_treat * offer.cost_per_response
    pair: dict[str, Any] = {
        "eligible": eligible, "scored": scored, "rule": rule, "spend": spend, "p_treat": p_treat,
        "p_control": p_control, "uplift": p_treat - p_control, "value_per_response": worth,
        "cost_per_contact": offer.cost_per_contact, "cost_per_response": offer.cost_per_response,
        "campaign_id": offer.campaign.id, "channel": offer.campaign.channel,
    }
    if has_variants(scenario):
        pair["variant"] = offer.variant_id or ""
    if isinstance(scenario.objective, ObjectiveExpression):
        context = Layered({name: pair[name] for name in PAIR_COLUMNS if name != "value" and name in pair}, columns)
        pair["value"] = _expression_value(data, scenario.objective, context, eligible, n)
    else:
        pair["value"] = _pair_value(scenario.objective, p_treat, p_control, worth, spend)
    return pair


def _expression_value(data: ScenarioData, objective: ObjectiveExpression, context: Mapping[str, Any],
                      eligible: NDArray[np.bool_], n: int) -> NDArray[np.float64]:
    """e_ij of an expression objective for one campaign: a number per eligible customer (0 elsewhere).
    The context has no 'value' column: the objective is what defines it."""
    key = "objective.expression"
    amount = evaluate_numbers(data, key, objective.expression, context, n)
    check_finite(data, key, objective.expression, amount, eligible, context)
    return np.where(eligible, amount, 0.0)


def _eligibility(data: ScenarioData, offer: Offer, columns: Mapping[str, Any], n: int) -> NDArray[np.bool_]:
    """Who may get an offer: its campaign's ``eligible`` condition, and its variant's."""
    scenario = data.scenario
    key = f"campaigns[{offer.index}].eligible"
    mask = evaluate(data, key, offer.campaign.eligible, columns, n)
    require_condition(scenario, key, offer.campaign.eligible, mask)
    if offer.variant is not None and offer.variant.eligible is not True:
        key = f"{offer.key}.eligible"
        narrower = evaluate(data, key, offer.variant.eligible, columns, n)
        require_condition(scenario, key, offer.variant.eligible, narrower)
        mask = mask & narrower
    return mask


def score_source(offer: Offer) -> str:
    """Where an offer's probabilities come from: a variant's or campaign's p_treat, or the scores table."""
    if offer.variant is not None and scores_itself(offer.variant):
        return f"{offer.key}.p_treat"
    return "scores" if offer.campaign.p_treat is None else f"campaigns[{offer.index}].p_treat"


def eligible_text(offer: Offer) -> str:
    """An offer's eligible rule as written: the campaign's, and its variant's."""
    own = offer.variant is not None and offer.variant.eligible is not True
    return f"{offer.campaign.eligible}" + (f" and {offer.variant.eligible}" if own and offer.variant else "")


def require_condition(scenario: Scenario, key: str, source: Any, values: NDArray[Any]) -> None:
    """A condition must give true/false per row; say what it gave instead."""
    if values.dtype == bool:
        return
    if values.dtype == object and any(value is None or value != value for value in values):
        gave = "missing values (a column it uses has blanks)"
    elif values.dtype == object:
        gave = "text"
    elif values.dtype.kind == "M":
        gave = "dates (compare them with a day, e.g. \"last_purchase_date < '2026-10-01'\")"
    else:
        gave = "numbers"
    raise ScenarioError(
        f"'{key}' must be true or false for each customer (a condition), but {source!r} gives {gave}",
        where=scenario.where(key),
        fix="Write a condition such as \"days_since_last_purchase > 60 and email_opt_in\" or \"segment == 'VIP'\"; "
        "fill blanks in yes/no columns first",
    )


def _pair_value(
    objective: Objective, p_treat: NDArray[np.float64], p_control: NDArray[np.float64],
    worth: NDArray[np.float64], spend: NDArray[np.float64],
) -> NDArray[np.float64]:
    if objective is Objective.INCREMENTAL_VALUE:
        return (p_treat - p_control) * worth - spend
    if objective is Objective.EXPECTED_REVENUE:
        return p_treat * worth
    return p_treat.copy()



"""Sub-personas: groups of a campaign's customers whose uplift differs from the rest's, each with an eligibility rule.

For campaign j, a group G of its customers picked by one feature (one level of a text, categorical or
true/false column, or one quartile range of a numeric column), the rest R of j's customers, and an
outcome y (revenue, or converted 0/1):

    tau_G = mean_T,G(y) - mean_C,G(y),   tau_R likewise,   d = tau_G - tau_R
    se(d)^2 = s_T,G^2 / n_T,G + s_C,G^2 / n_C,G + s_T,R^2 / n_T,R + s_C,R^2 / n_C,R   (four independent arms)
    z = d / se(d),   p = 2 (1 - Phi(|z|))                                             (H0: tau_G = tau_R)

A group is tested only when it and its rest both have at least ``min_group`` customers in each arm.
The p-values of one campaign's tests are adjusted by Benjamini–Hochberg
(scipy.stats.false_discovery_control), which keeps the expected share of false finds among the kept
groups at most ``alpha``; groups with adjusted p < alpha are the personas, 'better' when d > 0.

Each persona suggests a rule in cvo's expression language (optimizer/scenario/expressions.py) for a campaign's
``eligible:`` key (joined to an existing rule with 'and'): the group's condition for a better group
(``segment == 'VIP'``), its negation for a worse one (``not (segment == 'New')``). Quartile edges are
rounded to 3 significant digits (more when needed to keep them apart) and the groups are cut at the
rounded edges, so a rule selects exactly its group. Columns whose names cannot be written in a rule
(not identifiers) and text columns holding non-text values are not split.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from optimizer.errors import DataError
from optimizer.plan.controls import CONTROL, TREATMENT
from optimizer.reporting.text import text_table
from optimizer.store.tables import require_columns

MIN_GROUP = 50
LEVELS_MAX = 5  # numeric columns with at most this many distinct values are split by value, not by quartile
QUARTILES = (0.25, 0.5, 0.75)
RATE_OUTCOMES = ("converted", "responded")


@dataclass(frozen=True)
class Group:
    """Customers picked by one feature; ``condition`` selects them in cvo's expression language and
    ``complement`` everyone else. ``level`` for a level group, ``low <= x < high`` (None: open) for a range."""

    feature: str
    label: str
    condition: str
    complement: str
    mask: NDArray[np.bool_] = field(repr=False, compare=False)
    level: str | float | bool | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Persona:
    """A group whose uplift differs from the rest of its campaign, and the eligibility rule it suggests."""

    campaign_id: str
    outcome: str
    feature: str
    group: str
    direction: str
    uplift_group: float
    uplift_rest: float
    uplift_campaign: float
    difference: float
    std_error: float
    p_value: float
    p_adjusted: float
    n_treatment: int
    n_control: int
    share: float
    condition: str
    suggested_rule: str
    level: str | float | bool | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Test:
    group: Group
    uplift_group: float
    uplift_rest: float
    std_error: float
    p_value: float
    n_treatment: int
    n_control: int


def sub_personas(contacts: pd.DataFrame, outcomes_joined: pd.DataFrame, features: pd.DataFrame, *,
                 outcome: str = "revenue", alpha: float = 0.05, min_group: int = MIN_GROUP) -> list[Persona]:
    """The personas of every campaign in ``contacts``, see the module docstring.

    ``outcomes_joined`` holds customer_id and ``outcome`` for every contacted customer (as
    optimizer.measure.join_outcomes returns it); ``features`` holds customer_id and the feature columns.
    """
    campaigns, treated, y, table = _inputs(contacts, outcomes_joined, features, outcome)
    personas: list[Persona] = []
    for campaign_id in pd.unique(campaigns):
        rows = np.flatnonzero(campaigns == campaign_id)
        personas += _campaign_personas(str(campaign_id), table.iloc[rows], treated[rows], y[rows], outcome, alpha,
                                       min_group)
    return personas


def _inputs(contacts: pd.DataFrame, outcomes_joined: pd.DataFrame, features: pd.DataFrame,
            outcome: str) -> tuple[NDArray[np.object_], NDArray[np.bool_], NDArray[np.float64], pd.DataFrame]:
    """(campaign per contacted customer, treated, outcome, features in the same order), checked."""
    require_columns(contacts, ("customer_id", "campaign_id", "group"), "the plan's contacts", "contacts",
                    "The contacts are the plan's assignments table")
    require_columns(outcomes_joined, ("customer_id", outcome), "the joined outcomes", "joined outcomes",
                    "Pass the table optimizer.measure.join_outcomes returns, and one of its columns as outcome")
    require_columns(features, ("customer_id",), "the features", "features", "One row per customer, by customer_id")
    contacted = contacts[contacts["group"].isin([TREATMENT, CONTROL])]
    ids = pd.Index(contacted["customer_id"].astype(str))
    joined = _by_customer(outcomes_joined, "joined outcomes")[outcome].reindex(ids)
    y = pd.to_numeric(joined, errors="coerce").to_numpy(float, na_value=np.nan)
    if not np.isfinite(y).all():
        first = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"Customer '{ids[first]}' has no number as '{outcome}' in the joined outcomes",
                        where="the joined outcomes", fix="Pass the table optimizer.measure.join_outcomes returns")
    table = _by_customer(features, "features").reindex(ids).drop(columns="customer_id", errors="ignore")
    treated = contacted["group"].eq(TREATMENT).to_numpy(bool)
    return contacted["campaign_id"].astype(str).to_numpy(), treated, y, table


def _by_customer(table: pd.DataFrame, what: str) -> pd.DataFrame:
    ids = table["customer_id"].astype(str)
    duplicated = ids.duplicated().to_numpy()
    if duplicated.any():
        raise DataError(f"The customer '{ids[duplicated].iloc[0]}' appears more than once in the {what}",
                        where=f"the {what}", fix="Keep one row per customer")
    return table.set_index(ids.to_numpy())


def _campaign_personas(campaign_id: str, table: pd.DataFrame, treated: NDArray[np.bool_], y: NDArray[np.float64],
                       outcome: str, alpha: float, min_group: int) -> list[Persona]:
    groups = [group for name in table.columns for group in feature_groups(table[name], str(name))]
    tests = [test for group in groups if (test := _test(group, treated, y, min_group)) is not None]
    if not tests:
        return []
    adjusted = stats.false_discovery_control([test.p_value for test in tests], method="bh")
    average = float(y[treated].mean() - y[~treated].mean())
    personas = [_persona(campaign_id, outcome, test, float(q), average, len(y))
                for test, q in zip(tests, adjusted) if q < alpha]
    return sorted(personas, key=lambda persona: (persona.p_adjusted, persona.feature, persona.group))


def _test(group: Group, treated: NDArray[np.bool_], y: NDArray[np.float64], min_group: int) -> _Test | None:
    """The z test of tau_G = tau_R; None when an arm of the group or of its rest is under ``min_group``."""
    arms = [y[group.mask & treated], y[group.mask & ~treated], y[~group.mask & treated], y[~group.mask & ~treated]]
    if min(len(arm) for arm in arms) < max(min_group, 2):
        return None
    means = [float(arm.mean()) for arm in arms]
    se = math.sqrt(sum(float(arm.var(ddof=1)) / len(arm) for arm in arms))
    if se == 0:
        return None
    uplift_group, uplift_rest = means[0] - means[1], means[2] - means[3]
    p_value = float(2 * stats.norm.sf(abs(uplift_group - uplift_rest) / se))
    return _Test(group, uplift_group, uplift_rest, se, p_value, len(arms[0]), len(arms[1]))


def _persona(campaign_id: str, outcome: str, test: _Test, p_adjusted: float, average: float, size: int) -> Persona:
    group, difference = test.group, test.uplift_group - test.uplift_rest
    better = difference > 0
    return Persona(
        campaign_id=campaign_id, outcome=outcome, feature=group.feature, group=group.label,
        direction="better" if better else "worse", uplift_group=test.uplift_group, uplift_rest=test.uplift_rest,
        uplift_campaign=average, difference=difference, std_error=test.std_error, p_value=test.p_value,
        p_adjusted=p_adjusted, n_treatment=test.n_treatment, n_control=test.n_control,
        share=(test.n_treatment + test.n_control) / size, condition=group.condition,
        suggested_rule=group.condition if better else group.complement, level=group.level, low=group.low,
        high=group.high,
    )


def feature_groups(values: pd.Series, name: str) -> list[Group]:
    """The groups one feature column splits customers into, each with its rule ([] if it cannot be split).

    >>> [g.condition for g in feature_groups(pd.Series(["a", "b", "c"]), "segment")]
    ["segment == 'a'", "segment == 'b'", "segment == 'c'"]
    >>> [g.condition for g in feature_groups(pd.Series(np.arange(100.0)), "ltv")]
    ['ltv < 24.8', 'ltv >= 24.8 and ltv < 49.5', 'ltv >= 49.5 and ltv < 74.2', 'ltv >= 74.2']
    """
    if not (name.isidentifier() and not keyword.iskeyword(name) and name not in ("true", "false")):
        return []
    if _is_boolean(values):
        return [Group(name, name, name, f"not {name}", values.eq(True).fillna(False).to_numpy(bool), level=True)]
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > LEVELS_MAX:
        return _range_groups(values.to_numpy(float), name)
    return _level_groups(values, name)


def _is_boolean(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return True
    present = values.dropna()
    return values.dtype == object and len(present) > 0 and all(isinstance(v, bool | np.bool_) for v in present)


def _level_groups(values: pd.Series, name: str) -> list[Group]:
    """One group per level (one only when two levels cover everyone: the other is its rest)."""
    levels = [level.item() if isinstance(level, np.generic) else level for level in pd.unique(values.dropna())]
    numeric = pd.api.types.is_numeric_dtype(values)
    if not numeric and not all(isinstance(level, str) for level in levels):
        return []
    levels = [level for level in levels if not numeric or math.isfinite(level)]
    levels = sorted(levels)[: 1 if len(levels) == 2 and values.notna().all() else None]
    groups = []
    for level in levels:
        condition = f"{name} == {_literal(level) if numeric else repr(level)}"
        mask = values.eq(level).fillna(False).to_numpy(bool)
        groups.append(Group(name, condition, condition, f"not ({condition})", mask, level=level))
    return groups


def _range_groups(x: NDArray[np.float64], name: str) -> list[Group]:
    """Groups cut at the rounded quartiles: x < e1, e1 <= x < e2, ..., x >= e3 (a missing x is in none)."""
    edges = readable_edges(x[np.isfinite(x)])
    groups = [_range_group(x, name, low, high) for low, high in zip([None, *edges], [*edges, None])]
    return [group for group in groups if group.mask.any()]


def _range_group(x: NDArray[np.float64], name: str, low: float | None, high: float | None) -> Group:
    parts = [f"{name} >= {_literal(low)}"] * (low is not None) + [f"{name} < {_literal(high)}"] * (high is not None)
    condition = " and ".join(parts)
    label = f"{_literal(low)} <= {name} < {_literal(high)}" if low is not None and high is not None else condition
    mask = ~np.isnan(x)
    if low is not None:
        mask &= x >= low
    if high is not None:
        mask &= x < high
    return Group(name, label, condition, f"not ({condition})", mask, low=low, high=high)


def readable_edges(values: NDArray[np.float64]) -> list[float]:
    """The distinct quartiles of ``values``, rounded to the fewest significant digits (3 or more) that keep them apart.

    >>> readable_edges(np.array([1.0, 10.0, 12.3456, 80.04, 1000.0]))
    [10.0, 12.3, 80.0]
    """
    if len(values) == 0:
        return []
    quartiles = np.unique(np.quantile(values, QUARTILES))
    for digits in range(3, 18):
        edges = sorted({float(f"{q:.{digits}g}") for q in quartiles})
        if len(edges) == len(quartiles):
            return edges
    return [float(q) for q in quartiles]


def _literal(number: float | int | None) -> str:
    """A number as an expression literal that reads back exactly: 80, 12.5, 1e-05."""
    text = repr(number)
    return text[:-2] if text.endswith(".0") else text


def format_personas(personas: list[Persona], *, alpha: float = 0.05, min_group: int = MIN_GROUP) -> str:
    """A plain-text table of the personas and their suggested rules, with how they were found."""
    how = (f"Benjamini–Hochberg adjusted p < {alpha:g} per campaign; groups with fewer than {min_group:,} "
           "customers in either arm were not tested")
    if not personas:
        return f"No group's uplift differs from the rest of its campaign ({how})."
    rows = [[p.campaign_id, p.group, p.direction, p.suggested_rule, f"{p.n_treatment:,}/{p.n_control:,}",
             f"{p.share:.0%}", _uplift(p.uplift_group, p.outcome), _uplift(p.uplift_campaign, p.outcome),
             f"{p.p_adjusted:.2g}"] for p in personas]
    table = text_table(["campaign", "group", "direction", "suggested eligible rule", "treated/control", "share",
                        "uplift in group", "campaign uplift", "adj. p"], rows, left=range(4))
    return "\n".join([f"Sub-personas by {personas[0].outcome} ({how})", "", table, "",
                      "Join a rule to the campaign's eligible: key with 'and'."])


def _uplift(value: float, outcome: str) -> str:
    return f"{value * 100:+.2f} pp" if outcome in RATE_OUTCOMES else f"{value:+,.2f}"

"""Measure a sent plan against its random hold-outs: uplift in response and revenue, cost and ROI per campaign.

Each contacted customer is in one campaign, in its 'treatment' arm (got it) or its 'control' arm (held
out at random, got nothing). Customers of a forced list (group 'forced') got it without being drawn at
random, so they are left out of the arms. For an outcome y (responded 0/1, or revenue per customer) of campaign j
with n_T treated and n_C control customers, a difference of means with Welch's standard error:

    uplift_j = mean_T(y) - mean_C(y),   se_j^2 = s_T^2 / n_T + s_C^2 / n_C     (s^2: sample variance, ddof 1)
    CI = uplift_j ± t_{df, (1 + confidence) / 2} se_j,   p = 2 P(t_df > |uplift_j| / se_j)   (H0: no uplift)

with Welch–Satterthwaite degrees of freedom df = se^4 / sum_a (s_a^2 / n_a)^2 / (n_a - 1) (for arms of
hundreds this is the normal approximation). The incremental revenue is the revenue uplift times n_T
(fixed by the plan, so its CI scales likewise); the cost n_T cost_per_contact + responders_T
cost_per_response (summed contact by contact at each one's own costs when the contacts carry them: a
campaign's offer variants differ) is taken as known, so ROI = (incremental revenue - cost) / cost has the CI of the
incremental revenue mapped the same way and a p-value testing break-even (ROI = 0).

The "all campaigns" row weights each campaign's uplift by its treated customers, w_j = n_T,j / N_T:
uplift = sum_j w_j uplift_j, se^2 = sum_j w_j^2 se_j^2, df by Satterthwaite over every arm. Each campaign
is compared with its own controls, so campaigns with different control shares cannot bias the total
(pooling all controls would); its "control" rate is the treated-weighted sum_j w_j mean_C,j.

A responder is a customer with converted = 1 or, when the outcomes hold only revenue, revenue > 0
(``Measurement.responders_from`` says which).

The plan optimised value, not revenue: v_ij = (p_t - p_c) w_ij - spend_ij with w the scenario's value
of one response (a margin, often). When the contacts carry w (``value_per_response``, recorded by cvo
commit), the outcome value = responded × w is measured the same way, and

    incremental value = n_T (mean_T(value) - mean_C(value)),   ROI = (incremental value - cost) / cost,

the ROI on the basis the plan optimised (its summary's roi); revenue and its ROI are shown beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from optimizer.errors import DataError
from optimizer.loop.outcomes import OWN_COSTS, join_outcomes
from optimizer.plan.controls import TREATMENT
from optimizer.store.tables import exported_ids

ALL_CAMPAIGNS = "all campaigns"
LISTED_NONRESPONDERS = 0.2  # outcomes with rows for this share of the contacted non-responders list them
MISSING_GAP, MISSING_P = 0.2, 1e-3  # one group missing this much more often than the other, this surely: a gap
SAID = {"treatment": "treated", "control": "control"}


@dataclass(frozen=True)
class Arm:
    """One arm's outcome: size, mean and sample variance (ddof 1; NaN below two customers)."""

    n: int
    mean: float
    variance: float

    @classmethod
    def of(cls, values: NDArray[np.float64]) -> Arm:
        n = len(values)
        return cls(n, float(values.mean()) if n else math.nan, float(values.var(ddof=1)) if n > 1 else math.nan)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error, confidence interval and two-sided p-value (H0: it is 0).

    The error, interval and p-value are None when an arm has fewer than two customers; ``df`` is the
    Welch–Satterthwaite degrees of freedom of the t distribution behind them (None when se is 0).
    """

    estimate: float
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    df: float | None

    def affine(self, scale: float, shift: float = 0.0) -> Estimate:
        """The estimate of scale × value + shift: interval mapped, p-value retested against 0."""
        value = scale * self.estimate + shift
        if self.std_error is None or self.ci_low is None or self.ci_high is None:
            return Estimate(value, None, None, None, None, None)
        low, high = sorted((scale * self.ci_low + shift, scale * self.ci_high + shift))
        se = abs(scale) * self.std_error
        return Estimate(value, se, low, high, _p_value(value, se, self.df), self.df)


@dataclass(frozen=True)
class CampaignMeasurement:
    """The measured effect of one campaign (or of all, ``campaign_id`` 'all campaigns')."""

    campaign_id: str
    channel: str | None
    n_treatment: int
    n_control: int
    missing_outcomes: int
    missing_treatment: int
    missing_control: int
    responders_treatment: int
    responders_control: int
    response_rate_treatment: float
    response_rate_control: float
    response_uplift: Estimate
    revenue_per_customer_treatment: float | None
    revenue_per_customer_control: float | None
    incremental_revenue_per_customer: Estimate | None
    incremental_revenue: Estimate | None
    cost_per_contact: float | None
    cost_per_response: float | None
    cost: float
    roi: Estimate | None
    value_per_customer_treatment: float | None = None
    value_per_customer_control: float | None = None
    incremental_value_per_customer: Estimate | None = None
    incremental_value: Estimate | None = None
    value_roi: Estimate | None = None


@dataclass(frozen=True)
class Measurement:
    """Every campaign's measured effect, the all-campaigns total, and how it was measured."""

    source: str
    confidence: float
    responders_from: str
    has_revenue: bool
    outcomes_not_in_plan: int
    campaigns: tuple[CampaignMeasurement, ...]
    total: CampaignMeasurement
    has_value: bool = False
    unmeasured: dict[str, str] = field(default_factory=dict)  # campaign -> why it has no arm to compare
    method: str = ("difference of means, Welch standard error, t interval with Welch-Satterthwaite df; "
                   "all campaigns: treated-weighted sum of the campaign differences")

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, lists, numbers and None: ready for ``json.dumps(..., allow_nan=False)``."""
        return {**asdict(self), "campaigns": [asdict(c) for c in self.campaigns]}


@dataclass(frozen=True)
class _Arms:
    """A campaign's arms of each outcome ('responded', and 'revenue' if given), its counts, costs and cost."""

    campaign_id: str
    channel: str | None
    treated: dict[str, Arm]
    control: dict[str, Arm]
    counts: dict[str, int]
    costs: tuple[float, float]
    cost: float


def measure(contacts: pd.DataFrame, outcomes: pd.DataFrame, costs: Mapping[str, tuple[float, float]], *,
            source: str, confidence: float = 0.95, plan: str = "the plan's contacts",
            others: int | None = None) -> Measurement:
    """Measure each campaign of ``contacts`` on ``outcomes`` (read from ``source``), see the module docstring.

    ``costs`` maps campaign_id to (cost_per_contact, cost_per_response); ``others``: the rows of the
    outcomes file about customers the plan did not contact, when ``outcomes`` holds only the plan's
    (``outcomes_of``; None: counted here). DataError for bad input names ``source`` (the outcomes) or
    ``plan`` (the contacts)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    joined = join_outcomes(contacts, outcomes, source=source, plan=plan)
    columns = {name: joined[name].to_numpy() for name in joined.columns}
    positions = joined.groupby("campaign_id").indices
    groups = {j: {name: values[positions[j]] for name, values in columns.items()}
              for j in pd.unique(columns["campaign_id"])}
    unmeasured = {j: why for j, rows in groups.items() if (why := _no_arm(rows)) is not None}
    if len(unmeasured) == len(groups):
        raise _unmeasurable(unmeasured, plan)
    arms = [_campaign_arms(j, rows, costs, plan) for j, rows in groups.items() if j not in unmeasured]
    _check_coverage(arms, _lists_nonresponders(joined), source)
    rows = tuple(_measured(arm.campaign_id, arm.channel, [(1.0, arm)], arm.costs, confidence) for arm in arms)
    n_treated = sum(arm.counts["n_treatment"] for arm in arms)
    total = _measured(ALL_CAMPAIGNS, None, [(arm.counts["n_treatment"] / n_treated, arm) for arm in arms], None,
                      confidence)
    sent = contacts.loc[contacts["campaign_id"].notna().to_numpy(), "customer_id"].astype(str)  # forced ones too
    extra = others if others is not None else len(
        set(exported_ids(outcomes["customer_id"]).dropna().tolist()) - set(exported_ids(sent).tolist()))
    responders_from = "converted" if "converted" in joined else "revenue > 0"
    return Measurement(source, confidence, responders_from, "revenue" in joined, extra, rows, total,
                       has_value="value" in joined, unmeasured=unmeasured)


def _no_arm(rows: dict[str, NDArray[Any]]) -> str | None:
    """Why a campaign (its rows of the joined table) cannot be measured: no treated or no control
    customer; None when it has both arms."""
    treated = int((rows["group"] == TREATMENT).sum())
    control = len(rows["group"]) - treated
    if treated and control:
        return None
    if treated:
        return (f"no control group ({treated:,} treated, 0 control): nobody was held out (a control_fraction of 0, or "
                "an audience too small for its share to round to one customer)")
    return f"nobody treated (0 treated, {control:,} control): every customer was held out as a control"


def _unmeasurable(unmeasured: Mapping[str, str], plan: str) -> DataError:
    """The error when no campaign of the plan has both arms."""
    reasons = "; ".join(f"'{campaign}': {why}" for campaign, why in unmeasured.items())
    return DataError(f"No campaign can be measured against controls: {reasons}", where=plan,
                     fix="Give the campaigns a control_fraction between 0 and 1, and audiences large enough to hold "
                     "out at least one customer each, in the next run")


def _lists_nonresponders(joined: pd.DataFrame) -> bool:
    """Whether the outcomes list customers who did not respond, not only responders: rows for at
    least LISTED_NONRESPONDERS of the contacted customers who did not respond (a buyers' file with a
    refund row of 0 does not). Then a customer without a row is missing from the export."""
    listed = int((joined["has_outcome"] & (joined["responded"] == 0)).sum())
    nonresponders = int((joined["responded"] == 0).sum())  # those without a row count as 0
    return nonresponders > 0 and listed >= LISTED_NONRESPONDERS * nonresponders


def _check_coverage(arms: Sequence[_Arms], lists_nonresponders: bool, source: str) -> None:
    """DataError when outcomes that list non-responders miss one group of a campaign far more often
    than the other (by MISSING_GAP or more, two-proportion z-test p < MISSING_P), or every customer
    of it: counted as non-responders, the missing ones would make up (or hide) its uplift (a sending
    tool's export has no control group; another week's outcomes miss most of this week's treated)."""
    if not lists_nonresponders:
        return  # responders only: a customer without a row did not respond
    for arm in arms:
        counts = arm.counts
        n = {group: counts[f"n_{group}"] for group in ("treatment", "control")}
        missing = {group: counts[f"missing_{group}"] for group in n}
        if missing == n:
            raise DataError(f"No customer of campaign '{arm.campaign_id}' ({n['treatment']:,} treated, "
                            f"{n['control']:,} control) has a row in the outcomes, which list customers who did "
                            "not respond: they are other customers' outcomes (another run's?)", where=source,
                            fix="Measure the run the outcomes are of, or export this run's outcomes for every one "
                            "of its customers, controls included")
        if _missing_apart(missing["treatment"], n["treatment"], missing["control"], n["control"]):
            shares = {group: f"{missing[group]:,} of its {n[group]:,} {SAID[group]} customers "
                             f"({missing[group] / n[group]:.0%})" for group in n}
            raise DataError(f"The outcomes have no row for {shares['treatment']} but for {shares['control']} of "
                            f"campaign '{arm.campaign_id}', and they list customers who did not respond: counted as "
                            "non-responders, the missing ones would make up or hide its uplift", where=source,
                            fix="Export the outcomes of every customer of this run, the control groups included (0 "
                            "for those who did not respond); a sending tool's export lists only those it sent to, "
                            "and another week's outcomes other customers")


def _missing_apart(missing_treated: int, treated: int, missing_control: int, control: int) -> bool:
    """Whether the treated and the control group miss their rows at shares MISSING_GAP or more apart,
    and surely so (pooled two-proportion z-test, p < MISSING_P)."""
    low, high = sorted((missing_treated / treated, missing_control / control))
    pooled = (missing_treated + missing_control) / (treated + control)
    se = math.sqrt(pooled * (1 - pooled) * (1 / treated + 1 / control))
    return high - low >= MISSING_GAP and se > 0 and 2 * stats.norm.sf((high - low) / se) < MISSING_P


def _campaign_arms(campaign_id: str, rows: dict[str, NDArray[Any]], costs: Mapping[str, tuple[float, float]],
                   plan: str) -> _Arms:
    """The arms of one campaign from its rows of the joined table (column name -> values)."""
    if campaign_id not in costs:
        raise DataError(f"No costs were given for campaign '{campaign_id}'", where=plan,
                        fix=f"Give its (cost_per_contact, cost_per_response); costs are known for: "
                            f"{', '.join(map(str, costs)) or 'no campaign'}")
    treated, missing, responded = rows["group"] == TREATMENT, ~rows["has_outcome"].astype(bool), rows["responded"]
    counts = {"n_treatment": int(treated.sum()), "n_control": int((~treated).sum()),
              "missing_treatment": int(missing[treated].sum()), "missing_control": int(missing[~treated].sum()),
              "responders_treatment": int(responded[treated].sum()),
              "responders_control": int(responded[~treated].sum())}
    outcomes = ["responded", *(y for y in ("revenue", "value") if y in rows)]
    own = all(cost in rows for cost in OWN_COSTS)
    per_contact, per_response = (float(cost) for cost in costs[campaign_id])
    contact_costs = rows[OWN_COSTS[0]][treated].astype(float) if own else np.full(int(treated.sum()), per_contact)
    response_costs = rows[OWN_COSTS[1]][treated].astype(float) if own else np.full(int(treated.sum()), per_response)
    responders = responded[treated].astype(float)
    cost = float(contact_costs.sum() + (responders * response_costs).sum())
    if own and treated.any() and (np.ptp(contact_costs) > 0 or np.ptp(response_costs) > 0):
        per_contact = float(contact_costs.mean())  # each contact at its offer's own costs: the means, as shown
        per_response = float((responders * response_costs).sum() / responders.sum()) if responders.any() else \
            float(response_costs.mean())
    elif own and treated.any():
        per_contact, per_response = float(contact_costs[0]), float(response_costs[0])
    channel = rows["channel"][0] if "channel" in rows else None
    return _Arms(campaign_id, None if channel is None else str(channel),
                 {y: Arm.of(rows[y][treated].astype(float)) for y in outcomes},
                 {y: Arm.of(rows[y][~treated].astype(float)) for y in outcomes}, counts, (per_contact, per_response),
                 cost)


def _measured(campaign_id: str, channel: str | None, parts: Sequence[tuple[float, _Arms]],
              costs: tuple[float, float] | None, confidence: float) -> CampaignMeasurement:
    """The measurement of sum_j w_j (treated_j - control_j) over ``parts`` (w_j, arms of j); one part of
    weight 1 is one campaign, parts weighted by n_T,j / N_T are the all-campaigns row."""
    counts = {key: sum(arms.counts[key] for _, arms in parts) for key in parts[0][1].counts}
    treated_rate, control_rate, uplift = _difference(parts, "responded", confidence)
    revenue = _difference(parts, "revenue", confidence) if "revenue" in parts[0][1].treated else None
    value = _difference(parts, "value", confidence) if "value" in parts[0][1].treated else None
    cost = float(sum(arms.cost for _, arms in parts))
    incremental = revenue[2].affine(counts["n_treatment"]) if revenue else None
    incremental_value = value[2].affine(counts["n_treatment"]) if value else None
    return CampaignMeasurement(
        campaign_id=campaign_id, channel=channel, **counts,
        missing_outcomes=counts["missing_treatment"] + counts["missing_control"],
        response_rate_treatment=treated_rate, response_rate_control=control_rate, response_uplift=uplift,
        revenue_per_customer_treatment=revenue[0] if revenue else None,
        revenue_per_customer_control=revenue[1] if revenue else None,
        incremental_revenue_per_customer=revenue[2] if revenue else None, incremental_revenue=incremental,
        cost_per_contact=costs[0] if costs else None, cost_per_response=costs[1] if costs else None, cost=cost,
        roi=incremental.affine(1 / cost, -1.0) if incremental and cost > 0 else None,
        value_per_customer_treatment=value[0] if value else None,
        value_per_customer_control=value[1] if value else None,
        incremental_value_per_customer=value[2] if value else None, incremental_value=incremental_value,
        value_roi=incremental_value.affine(1 / cost, -1.0) if incremental_value and cost > 0 else None,
    )


def _difference(parts: Sequence[tuple[float, _Arms]], outcome: str, confidence: float) -> tuple[float, float, Estimate]:
    """(sum_j w_j mean_T,j, sum_j w_j mean_C,j, their difference as an Estimate) of one outcome."""
    terms = [(w, arms.treated[outcome]) for w, arms in parts] + [(-w, arms.control[outcome]) for w, arms in parts]
    treated = sum(w * arms.treated[outcome].mean for w, arms in parts)
    control = sum(w * arms.control[outcome].mean for w, arms in parts)
    return float(treated), float(control), contrast(terms, confidence)


def contrast(terms: Sequence[tuple[float, Arm]], confidence: float = 0.95) -> Estimate:
    """sum_a w_a mean_a with se^2 = sum_a w_a^2 s_a^2 / n_a and Welch–Satterthwaite df over the arms.

    >>> round(contrast([(1.0, Arm(100, 0.3, 0.21)), (-1.0, Arm(100, 0.2, 0.16))]).std_error, 4)
    0.0608
    """
    value = float(sum(w * arm.mean for w, arm in terms))
    if any(arm.n < 2 for _, arm in terms):
        return Estimate(value, None, None, None, None, None)
    parts = [w * w * arm.variance / arm.n for w, arm in terms]
    variance = sum(parts)
    if variance <= 0:
        return Estimate(value, 0.0, value, value, 1.0 if value == 0 else 0.0, None)
    df = variance**2 / sum(part**2 / (arm.n - 1) for part, (_, arm) in zip(parts, terms))
    se = math.sqrt(variance)
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Estimate(value, se, value - half, value + half, _p_value(value, se, df), float(df))


def _p_value(value: float, se: float, df: float | None) -> float:
    if se == 0 or df is None:
        return 1.0 if value == 0 else 0.0
    return float(2 * stats.t.sf(abs(value) / se, df))

"""The value of a plan on randomized campaign history, by inverse propensity weighting (IPW).

Customer i got arm A_i (a campaign, or none) with probability e_i = e(A_i | x_i) and brought
y_i (e.g. revenue). A policy gives customer i arm a with probability pi_i(a) (0 or 1 for a plan).
With c_a the contact cost of arm a, its value per customer is estimated by

    V_IPW   = 1/n sum_i y_i w_i - cbar                w_i = pi_i(A_i) / e_i
    V_SNIPW = sum_i w_i y_i / sum_i w_i - cbar        cbar = 1/n sum_i sum_a pi_i(a) c_a

IPW is unbiased when the e_i are the true assignment probabilities; the self-normalised form
trades a small bias for less variance. The standard error is sd(t_i) / sqrt(n) of the
per-customer terms t_i (IPW: y_i w_i - c_i; SNIPW, linearised: V + w_i (y_i - V) / wbar - c_i),
and the 95% interval V +- 1.96 se, or the 2.5 and 97.5 percentiles of ``bootstrap`` resamples
drawn by a Generator from ``seed`` (the same resamples for every policy, so they compare).

Propensities come from a column, from the arm shares n_a / n (assignment completely at random),
or from a multinomial logistic regression on the features (clipped below at ``min_propensity``);
a history whose controls were drawn inside each campaign's audience (cvo's own control groups)
is not completely random: give its propensities, or model them. Every arm the plan or a baseline
uses, no campaign included, needs customers who got it: IPW values an arm only on them.
Beside the plan: nobody treated, everybody given the best single campaign (the best by its
estimate on the same history, so slightly flattered; when costs are known, among the campaigns
with one), and random targeting
at the plan's volume (pi_i(a) = s_a, the plan's share of customers given arm a), whose estimate
is sum_a s_a V(everybody gets a), computed analytically rather than by drawing one random plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

from optimizer.errors import DataError, ScenarioError, did_you_mean
from optimizer.scoring.uplift import HistoryColumns, campaign_arms, history_source, number_column
from optimizer.store.tables import flag_values, require_columns, row_label, show, source_of

NO_CAMPAIGN = "(no campaign)"
COLUMNS = HistoryColumns()
Z_95 = 1.959963984540054


class Propensity(StrEnum):
    """Where e(A_i | x_i) comes from."""

    GIVEN = "given"
    SHARES = "shares"
    MODEL = "model"


@dataclass(frozen=True)
class EvaluateOptions:
    """What to estimate and how: outcome column, propensities, contact costs, estimator, interval."""

    outcome: str = "revenue"
    propensity: Propensity = Propensity.SHARES
    propensity_column: str | None = None
    features: tuple[str, ...] | None = None
    costs: Mapping[str, float] | None = None
    some_costs: bool = False  # the costs may leave out campaigns (a scenario's, which knows not every one tested)
    self_normalised: bool = False
    bootstrap: int = 0
    seed: int = 0
    min_propensity: float = 0.01


@dataclass(frozen=True)
class RandomizedHistory:
    """Arrays of one randomized history: arms[0] is no campaign; observed[i] indexes arms."""

    customer_ids: NDArray[np.object_]
    arms: tuple[str, ...]
    observed: NDArray[np.intp]
    outcome: NDArray[np.float64]
    propensity: NDArray[np.float64]
    costs: NDArray[np.float64]

    @property
    def n(self) -> int:
        return len(self.observed)

    def customers_per_arm(self) -> NDArray[np.intp]:
        """How many customers got each arm: IPW can value an arm only on customers who got it."""
        counts: NDArray[np.intp] = np.bincount(self.observed, minlength=len(self.arms))
        return counts

    def subset(self, rows: NDArray[np.intp]) -> RandomizedHistory:
        return RandomizedHistory(self.customer_ids[rows], self.arms, self.observed[rows], self.outcome[rows],
                                 self.propensity[rows], self.costs)


@dataclass(frozen=True)
class PolicyValue:
    """The estimated value per customer of one policy, net of contact costs, with its 95% interval."""

    name: str
    value: float
    std_error: float
    ci_low: float
    ci_high: float
    treated_share: float
    cost: float
    terms: NDArray[np.float64] = field(repr=False, compare=False)

    def minus(self, other: PolicyValue) -> tuple[float, float]:
        """(V_self - V_other, its standard error), paired on the same customers."""
        diff = self.terms - other.terms
        return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "value", "std_error", "ci_low", "ci_high",
                                             "treated_share", "cost")}


@dataclass(frozen=True)
class Difference:
    """The plan's value minus a baseline's, paired on the same customers, with its 95% interval."""

    baseline: str
    difference: float
    std_error: float

    @property
    def ci_low(self) -> float:
        return self.difference - Z_95 * self.std_error

    @property
    def ci_high(self) -> float:
        return self.difference + Z_95 * self.std_error

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "difference": self.difference, "std_error": self.std_error,
                "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class Evaluation:
    """A plan's estimated value beside the baselines, on ``n_customers`` customers of the history.
    Every value is per customer: the mean ``outcome`` minus the mean contact cost (``costs``,
    from ``costs_source``)."""

    plan: PolicyValue
    baselines: tuple[PolicyValue, ...]
    n_customers: int
    n_unmatched: int
    propensity: str
    estimator: str
    interval: str
    outcome: str = "revenue"
    costs: Mapping[str, float] = field(default_factory=dict)
    costs_source: str = "none given"
    uncharged: tuple[str, ...] = ()  # history campaigns without a cost, left out of the best-campaign baseline

    @property
    def value_basis(self) -> str:
        if not self.costs:
            return f"per customer: mean {self.outcome}, no contact cost charged (costs: {self.costs_source})"
        return f"per customer: mean {self.outcome} minus contact cost per customer (costs: {self.costs_source})"

    def differences(self) -> tuple[Difference, ...]:
        """The plan minus each baseline (normal 95% interval of the paired difference)."""
        return tuple(Difference(b.name, *self.plan.minus(b)) for b in self.baselines)

    def to_dict(self) -> dict[str, Any]:
        return {"value_basis": self.value_basis, "outcome": self.outcome, "costs": dict(self.costs),
                "costs_source": self.costs_source, "plan": self.plan.to_dict(),
                "baselines": [b.to_dict() for b in self.baselines],
                "differences": [d.to_dict() for d in self.differences()],
                "n_customers": self.n_customers, "n_unmatched": self.n_unmatched, "uncharged": list(self.uncharged),
                "propensity": self.propensity, "estimator": self.estimator, "interval": self.interval}


def randomized_history(history: pd.DataFrame, columns: HistoryColumns = COLUMNS,
                       options: EvaluateOptions = EvaluateOptions()) -> RandomizedHistory:
    """Observed arm, outcome and propensity per customer, checked (one row per customer)."""
    needed = (columns.customer_id, columns.campaign, columns.treated, options.outcome)
    require_columns(history, needed, history_source(history), "history",
                    "The history needs the customer id, the campaign, treated (0/1) and the outcome to value")
    if history.empty:
        raise DataError("The history has no customers", where=history_source(history),
                        fix="Evaluate on a randomized history with one row per customer")
    ids = history[columns.customer_id].astype(str).to_numpy(dtype=object)
    duplicated = pd.Series(ids).duplicated().to_numpy()
    if duplicated.any():
        raise DataError(f"The customer '{ids[duplicated][0]}' appears more than once in the history "
                        f"({int(duplicated.sum())} duplicate row(s))",
                        where=row_label(history_source(history), int(np.flatnonzero(duplicated)[0])),
                        fix="Keep one row per customer: IPW values each randomized customer once")
    labels, treated = campaign_arms(history, columns)
    arms = (NO_CAMPAIGN, *sorted({str(label) for label in labels[treated == 1]}))
    observed = np.where(treated == 1, pd.Index(arms).get_indexer(pd.Index(labels.astype(str))), 0)
    flags = flag_values(history[options.outcome])  # yes/no and true/false read as 1/0, as a history's flags are
    outcome = flags if not np.isnan(flags).any() else number_column(history, options.outcome)
    propensity = estimate_propensity(history, observed, len(arms), columns, options)
    return RandomizedHistory(ids, arms, observed, outcome, propensity, arm_costs(arms, options.costs))


def uncharged_arms(arms: tuple[str, ...], costs: Mapping[str, float] | None) -> tuple[str, ...]:
    """The campaigns of the history without a cost when some have one: charged nothing, each would
    flatter 'everybody: it' against the others (a 'vip_call ' with a trailing space, at 0 against
    vip_call's 4.00, was picked as the best campaign)."""
    return tuple(arm for arm in arms[1:] if arm not in costs) if costs else ()


def arm_costs(arms: tuple[str, ...], costs: Mapping[str, float] | None) -> NDArray[np.float64]:
    """Contact cost per arm (0 for no campaign and for campaigns without a cost)."""
    costs = dict(costs or {})
    for name in costs:
        if name not in arms[1:]:
            hint = did_you_mean(name, arms[1:])
            raise ScenarioError(f"A cost is given for '{name}', which no customer got in the history",
                                where="--cost", fix=f"{hint + ' ' if hint else ''}Campaigns: {', '.join(arms[1:])}")
    return np.array([0.0, *(float(costs.get(arm, 0.0)) for arm in arms[1:])])


def estimate_propensity(history: pd.DataFrame, observed: NDArray[np.intp], n_arms: int, columns: HistoryColumns,
                        options: EvaluateOptions) -> NDArray[np.float64]:
    """e(A_i | x_i): the given column, the arm shares n_a / n, or a multinomial logistic regression."""
    if options.propensity_column is not None or Propensity(options.propensity) is Propensity.GIVEN:
        return given_propensity(history, options.propensity_column or "propensity")
    if Propensity(options.propensity) is Propensity.SHARES:
        shares: NDArray[np.float64] = (np.bincount(observed, minlength=n_arms) / len(observed))[observed]
        return shares
    if len(np.unique(observed)) == 1:
        return np.ones(len(observed))  # one arm observed: every customer got it for certain
    x = feature_matrix(history, columns, options)
    model = LogisticRegression(max_iter=1000).fit(x.to_numpy(), observed)
    probabilities = model.predict_proba(x.to_numpy())
    column = np.searchsorted(model.classes_, observed)
    modelled: NDArray[np.float64] = np.maximum(probabilities[np.arange(len(observed)), column], options.min_propensity)
    return modelled


def feature_matrix(history: pd.DataFrame, columns: HistoryColumns, options: EvaluateOptions) -> pd.DataFrame:
    """The customer features to model propensities from (given, or every column that is not reserved),
    one-hot encoded and standardised."""
    features = options.features or tuple(c for c in map(str, history.columns)
                                         if c not in (*columns.reserved(), options.outcome))
    if not features:
        raise DataError(
            f"The history has no feature columns to model propensities from: it holds only "
            f"{', '.join(map(str, history.columns))}", where=history_source(history),
            fix="Use --propensity shares for a completely randomized history, or add the customer features "
            "the assignment depended on")
    require_columns(history, features, history_source(history), "history",
                    "List features that exist in the history")
    x = pd.get_dummies(history[list(features)], dtype=float).fillna(0.0)
    standardised: pd.DataFrame = (x - x.mean()) / x.std(ddof=0).replace(0.0, 1.0)
    return standardised


def given_propensity(history: pd.DataFrame, name: str) -> NDArray[np.float64]:
    require_columns(history, (name,), history_source(history), "history",
                    "Name the column holding each customer's assignment probability")
    values = pd.to_numeric(history[name], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~((values > 0) & (values <= 1)))
    if bad.size:
        raise DataError(
            f"The propensity '{name}' must be a probability in (0, 1] but is {show(history[name].iat[bad[0]])} "
            f"({bad.size} such row(s))", where=row_label(history_source(history), int(bad[0])),
            fix="Give the probability with which each customer got the arm they got; a customer who could not "
            "have got it cannot be used to value a plan")
    return values


def plan_arms(plan: pd.DataFrame) -> pd.Series:
    """The arm a plan gives each customer, by customer id: its campaign when it is sent (the treatment
    group or a forced list)."""
    source = source_of(plan, "the plan table")
    require_columns(plan, ("customer_id", "campaign_id"), source, "plan",
                    "Use the plan.parquet written by cvo optimize")
    campaign = plan["campaign_id"].astype("object").where(plan["campaign_id"].notna(), None)
    if "group" in plan.columns:
        campaign = campaign.where(plan["group"].astype("object").isin(["treatment", "forced"]), None)
    ids = plan["customer_id"].astype(str)
    if ids.duplicated().any():
        first = int(np.flatnonzero(ids.duplicated().to_numpy())[0])
        raise DataError(f"The customer '{ids.iat[first]}' appears more than once in the plan",
                        where=row_label(source, first), fix="Use the plan.parquet written by cvo optimize (one row "
                        "per customer)")
    return pd.Series(campaign.to_numpy(dtype=object), index=ids.to_numpy(), dtype=object)


def deterministic_policy(data: RandomizedHistory, arms: NDArray[np.object_],
                         where: str = "plan vs history") -> NDArray[np.float64]:
    """pi as an (n, arms) 0/1 matrix from one arm label per customer (None: no campaign); a DataError
    at ``where`` (the plan's and the history's files) for an arm no customer of the history got."""
    labels = np.array([NO_CAMPAIGN if a is None or a != a else str(a) for a in arms], dtype=object)
    index = pd.Index(data.arms).get_indexer(pd.Index(labels))
    got = data.customers_per_arm()
    unknown = np.flatnonzero((index < 0) | ((index > 0) & (got[np.maximum(index, 0)] == 0)))
    if unknown.size:
        name = labels[unknown[0]]
        campaigns = [arm for arm, customers in zip(data.arms[1:], got[1:]) if customers]
        hint = did_you_mean(name, campaigns)
        raise DataError(
            f"The plan gives '{name}' to {int((labels == name).sum()):,} customer(s), but no customer in the "
            "history got it, so its value cannot be estimated", where=where,
            fix=f"{hint + ' ' if hint else ''}Campaigns in the history: {', '.join(campaigns) or 'none'}")
    policy = np.zeros((data.n, len(data.arms)))
    policy[np.arange(data.n), index] = 1.0
    return policy


def require_both_kinds_of_customer(data: RandomizedHistory, policy: NDArray[np.float64],
                                   where: str = "plan vs history") -> None:
    """Raise (naming ``where``) unless some customers went without a campaign (the plan's untreated
    customers and the baseline 'nobody' are valued on them) and some got one (the baseline 'everybody')."""
    got = data.customers_per_arm()
    if got[0] == 0:
        raise DataError(
            f"None of the {data.n:,} history customers the plan covers went without a campaign, but the plan "
            f"leaves {int(policy[:, 0].sum()):,} of them untreated and the baseline 'nobody' all of them, so what "
            "no campaign earns cannot be estimated", where=where,
            fix="Evaluate on a randomized history with a control arm: customers drawn at random to get no "
            "campaign (treated 0)")
    if not got[1:].any():
        raise DataError(
            f"None of the {data.n:,} history customers the plan covers got a campaign, so no campaign's value "
            "can be estimated", where=where,
            fix="Evaluate on a randomized history in which customers were drawn at random to get each campaign "
            "(treated 1) beside the untreated ones")


def random_policy(data: RandomizedHistory, shares: Mapping[str, float]) -> NDArray[np.float64]:
    """pi_i(a) = s_a for every customer; no campaign gets 1 - sum of the shares."""
    row = np.zeros(len(data.arms))
    for arm, share in shares.items():
        row[data.arms.index(arm)] = share
    row[0] = 1.0 - row[1:].sum()
    return np.tile(row, (data.n, 1))


def policy_value(data: RandomizedHistory, name: str, policy: NDArray[np.float64],
                 options: EvaluateOptions = EvaluateOptions()) -> PolicyValue:
    """V of one policy (an (n, arms) matrix of pi_i(a)) with its standard error and 95% interval."""
    rows = np.arange(data.n)
    w = policy[rows, data.observed] / data.propensity
    cost = policy @ data.costs
    if options.self_normalised:
        value = float((w * data.outcome).sum() / w.sum())
        terms = value + w * (data.outcome - value) / w.mean() - cost
    else:
        terms = w * data.outcome - cost
    value, se = float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(data.n))
    low, high = value - Z_95 * se, value + Z_95 * se
    if options.bootstrap:
        low, high = bootstrap_interval(w, data.outcome, cost, options)
    return PolicyValue(name, value, se, low, high, float(1.0 - policy[:, 0].mean()), float(cost.mean()), terms)


def bootstrap_interval(w: NDArray[np.float64], y: NDArray[np.float64], cost: NDArray[np.float64],
                       options: EvaluateOptions) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of the estimate over resamples of the customers (seeded)."""
    rng = np.random.default_rng(options.seed)
    estimates = np.empty(options.bootstrap)
    for b in range(options.bootstrap):
        i = rng.integers(0, len(w), len(w))
        mean_wy = (w[i] * y[i]).sum() / (w[i].sum() if options.self_normalised else len(i))
        estimates[b] = mean_wy - cost[i].mean()
    low, high = np.percentile(estimates, [2.5, 97.5])
    return float(low), float(high)


def baselines(
    data: RandomizedHistory, policy: NDArray[np.float64], options: EvaluateOptions
) -> tuple[PolicyValue, ...]:
    """Nobody treated; everybody with the best single campaign; random at the plan's per-arm shares."""
    nobody = policy_value(data, "nobody", random_policy(data, {}), options)
    got, uncharged = data.customers_per_arm(), set(uncharged_arms(data.arms, options.costs))
    singles = [policy_value(data, f"everybody: {arm}", random_policy(data, {arm: 1.0}), options)
               for a, arm in enumerate(data.arms) if a > 0 and got[a] > 0 and arm not in uncharged]
    best = max(singles, key=lambda v: v.value)
    shares = {arm: float(policy[:, a].mean()) for a, arm in enumerate(data.arms) if a > 0}
    random = policy_value(data, "random at the plan's volume", random_policy(data, shares), options)
    return nobody, best, random


def evaluate_plan(plan: pd.DataFrame, history: pd.DataFrame, columns: HistoryColumns = COLUMNS,
                  options: EvaluateOptions = EvaluateOptions()) -> Evaluation:
    """The plan's value on the history customers it covers, beside the baselines. The arms are checked
    before the costs: a campaign the history never tested is the problem, not its cost."""
    require_resamples(options.bootstrap)
    data = randomized_history(history, columns, replace(options, costs=None))
    arms, where = plan_arms(plan), f"{source_of(plan, 'the plan table')}; {history_source(history)}"
    matched = np.flatnonzero(pd.Index(arms.index).get_indexer(data.customer_ids) >= 0)
    if matched.size == 0:
        raise DataError("No customer of the history is in the plan", where=where,
                        fix="Evaluate a plan made for the customers of this history (same customer ids)")
    data = data.subset(matched)
    policy = deterministic_policy(data, arms.loc[pd.Index(data.customer_ids)].to_numpy(), where)
    require_both_kinds_of_customer(data, policy, where)
    charged, uncharged = arm_costs(data.arms, options.costs), uncharged_arms(data.arms, options.costs)
    if uncharged and not options.some_costs:
        blanks = [name for name in uncharged if name != name.strip()]
        raise ScenarioError(f"Costs were given for {', '.join(map(repr, options.costs or {}))} but not for "
                            f"{', '.join(map(repr, uncharged))}, which the history tested: charged nothing, the plan "
                            "and the baselines would not compare", where="--cost",
                            fix="Give every campaign of the history its cost per contact (0 for a free one)" + (
                                f"; {blanks[0]!r} has blanks around it: correct the history" if blanks else ""))
    data = replace(data, costs=charged)
    return Evaluation(
        plan=policy_value(data, "plan", policy, options), baselines=baselines(data, policy, options),
        n_customers=data.n, n_unmatched=len(history) - data.n,
        propensity="given" if options.propensity_column else str(options.propensity),
        estimator="snipw" if options.self_normalised else "ipw",
        interval=f"bootstrap ({options.bootstrap})" if options.bootstrap else "normal",
        outcome=options.outcome, costs=dict(options.costs or {}),
        costs_source="given" if options.costs else "none given", uncharged=uncharged)


def require_resamples(bootstrap: int) -> None:
    """Raise unless ``bootstrap`` is 0 (the normal interval) or a number of resamples."""
    if bootstrap < 0:
        raise ScenarioError(f"The interval cannot be drawn from {bootstrap} bootstrap resamples", where="--bootstrap",
                            fix="Give 0 for the normal interval, or a number of resamples such as 1000")

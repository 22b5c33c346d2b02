"""A plan as rules: a shallow decision tree over the customer columns that reproduces it, for
execution systems that take rules, not lists.

The tree (scikit-learn's CART, depth at most d, every leaf at least MIN_LEAF_SHARE of the customers)
learns each customer's campaign in the plan ('none' for nobody's) from the customer table: numbers
as they are, yes/no columns as 0/1, text columns of at most MAX_LEVELS levels one level at a time.
Each leaf is a rule written in the scenario's expression language (``segment == 'VIP' and ltv >
812.5``), so a rule can be pasted as a campaign's ``eligible``; the figures below come from
evaluating those texts, not the tree. With r_i the campaign the rules give customer i:

    agreement    = share of customers with r_i equal to their campaign in the plan
    value        z = sum_i (1 - f_j) v_ij over customers i given j = r_i and eligible for it
                   (a rule's campaign a customer may not get counts as nothing)
    value loss   = z_plan - z_rules

Rules are not held to the scenario's limits; each limit's use under the rules is listed beside it.
Nor do they know who may get what (eligibility, the contact policy) or the run's lists: the
customers a rule gives a campaign they may not get are counted, those on the do-not-contact list
and the promised (forced) customers the rules give another campaign are named in rules.json, and
the text says to apply the rules after all of these.
"""

from __future__ import annotations

import datetime as dt
import json
import keyword
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, ScenarioError
from optimizer.reporting.summary import pair_sum, with_ratio
from optimizer.scenario.data import load_data
from optimizer.scenario.dates import day_column
from optimizer.scenario.expressions import parse
from optimizer.scenario.formulation import formulate
from optimizer.scenario.offers import planned_offers
from optimizer.scenario.pairs import TableColumns
from optimizer.scenario.schema import Scenario, load_scenario
from optimizer.solve.fixed import fixed_value
from optimizer.solve.problem import NO_CAMPAIGN, Problem
from optimizer.store.files import RULES_FILE, RULES_TEXT, SCENARIO_FILE, atomic_write
from optimizer.store.folders import folder_lock
from optimizer.store.history_file import history_state
from optimizer.store.object_runs import put_file, readable_run
from optimizer.store.runs import read_run

MAX_LEVELS = 20
MIN_LEAF_SHARE = 0.002
NOTHING = "none"


@dataclass(frozen=True)
class Rule:
    """One leaf: customers meeting ``condition`` get ``campaign`` (or nothing, 'none'); how many
    customers it covers and the share of them the plan gives that campaign."""

    condition: str
    campaign: str
    customers: int
    as_planned: float


@dataclass(frozen=True)
class RuleSet:
    """The rules of a plan and how well they reproduce it (module docstring)."""

    depth: int
    rules: tuple[Rule, ...]
    agreement: float
    plan_value: float
    rules_value: float
    limits: tuple[dict[str, Any], ...]
    columns: tuple[str, ...]
    left_out: tuple[str, ...]
    not_allowed: int = 0
    excluded_given: tuple[str, ...] = ()
    forced_missed: tuple[str, ...] = ()
    forced: int = 0

    @property
    def value_loss(self) -> float:
        return self.plan_value - self.rules_value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rules": [asdict(rule) for rule in self.rules], "value_loss": self.value_loss}

    def text(self) -> str:
        """The rules as an execution team reads them, first match wins, and the two figures."""
        lines = [f"IF {rule.condition} THEN {rule.campaign}   ({rule.customers:,} customers, "
                 f"{rule.as_planned:.0%} as planned)" for rule in self.rules]
        share = self.value_loss / abs(self.plan_value) if self.plan_value else 0.0
        broken = [_broken_words(limit) for limit in self.limits if not limit["holds"]]
        return "\n".join([*lines, "", f"Agreement with the plan: {self.agreement:.1%} of customers; value loss "
                          f"{self.value_loss:,.2f} of {self.plan_value:,.2f} ({share:.1%}).",
                          f"Limits the rules break (rules are not held to them): {'; '.join(broken) or 'none'}.",
                          self._apply_after()])

    def _apply_after(self) -> str:
        """What the rules do not know, to apply before them (module docstring)."""
        excluded = f", {len(self.excluded_given):,} of them on the do-not-contact list" if self.excluded_given else ""
        forced = (f"; {len(self.forced_missed):,} of the {self.forced:,} promised customers would not get their "
                  "promised campaign" if self.forced else "")
        named = " (rules.json names them)" if self.excluded_given or self.forced_missed else ""
        return (f"Apply the rules only after eligibility, the contact policy and the run's lists: alone they would "
                f"give {self.not_allowed:,} customers a campaign they may not get{excluded}{forced}{named}.")


def _broken_words(limit: dict[str, Any]) -> str:
    """'budget (9,120.00, limit <= 9,000.00)'; a ratio limit by the ratio the rules reach:
    'roi_hurdle (ratio 3.12, limit >= 4.50)', not its linear row's sum against 0."""
    if limit.get("ratio") is not None:
        return f"{limit['name']} (ratio {limit['ratio']:,.2f}, limit {limit['sense']} {limit['ratio_rhs']:,.2f})"
    return f"{limit['name']} ({limit['lhs']:,.2f}, limit {limit['sense']} {limit['rhs']:,.2f})"


def plan_rules(out_dir: Path, depth: int = 3) -> RuleSet:
    """The rules of the plan in ``out_dir`` (a cvo optimize run folder) at tree depth ``depth``."""
    if not 1 <= depth <= 8:
        raise ScenarioError(f"The rules' depth must be between 1 and 8, not {depth}", where="--depth",
                            fix="Give --depth 3 for rules a person can read, up to 8 for closer ones")
    run = read_run(out_dir)
    problem, customers, choice, forced, excluded, ratios = _planned(out_dir, run.summary)
    features, names, left_out = _features(customers)
    labels = np.array([*problem.campaign_ids, NOTHING], dtype=object)
    tree = _fit(features, np.where(choice == NO_CAMPAIGN, len(problem.campaign_ids), choice), depth)
    rules = _leaf_rules(tree, names, labels, customers)
    matches = _matches(rules, customers)
    given = _given(rules, matches, problem.campaign_ids)
    allowed = _allowed(problem, given)
    ids = problem.customer_ids.astype(str)
    promised = np.full(len(choice), NO_CAMPAIGN) if forced is None else forced
    return RuleSet(
        depth=depth, rules=_counted(rules, matches, choice, given), agreement=float(np.mean(given == choice)),
        plan_value=_worth(problem, choice, forced), rules_value=_worth(problem, allowed, forced),
        limits=_limits(problem, allowed, ratios), columns=tuple(names), left_out=tuple(left_out),
        not_allowed=int((given != allowed).sum()), excluded_given=tuple(ids[(given != NO_CAMPAIGN) & excluded]),
        forced_missed=tuple(ids[(promised != NO_CAMPAIGN) & (given != promised)]),
        forced=int((promised != NO_CAMPAIGN).sum()),
    )


def run_rules(location: Path | str, depth: int = 3) -> tuple[RuleSet, tuple[str, str]]:
    """``plan_rules`` and ``write_rules`` on a run folder, or on a run on an object store (its local
    copy, the two files then put beside the run's files: optimizer/store/object_runs.py); the rules
    and where the two files are."""
    with readable_run(location) as (folder, origin), folder_lock(folder):  # not while a run replaces its files
        exported = plan_rules(folder, depth)
        written = write_rules(folder, exported)
        if origin:
            return exported, (put_file(origin, written[0]), put_file(origin, written[1]))
        return exported, (str(written[0]), str(written[1]))


def write_rules(out_dir: Path, rules: RuleSet) -> tuple[Path, Path]:
    """rules.json and rules.txt in the run folder, each written whole or not at all."""
    atomic_write(out_dir / RULES_FILE, lambda temp: temp.write_text(json.dumps(rules.to_dict(), indent=2)))
    atomic_write(out_dir / RULES_TEXT, lambda temp: temp.write_text(rules.text() + "\n", encoding="utf-8"))
    return out_dir / RULES_FILE, out_dir / RULES_TEXT


def _worth(problem: Problem, choice: NDArray[np.intp], forced: NDArray[np.intp] | None) -> float:
    """A plan's expected value: (1 - f_j) v_ij for a customer who may be held out, the whole v_ij for
    a forced customer given the campaign promised (never held out)."""
    if forced is None:
        return problem.objective(choice)
    kept = (forced != NO_CAMPAIGN) & (choice == forced)
    return problem.objective(np.where(kept, NO_CAMPAIGN, choice)) + fixed_value(problem, np.where(kept, forced,
                                                                                                     NO_CAMPAIGN))


Ratios = dict[str, tuple[float, NDArray[np.float64]]]  # a ratio row's name: its limit r and its per weights


def _planned(out_dir: Path, summary: dict[str, Any]) -> tuple[Problem, pd.DataFrame, NDArray[np.intp],
                                                              NDArray[np.intp] | None, NDArray[np.bool_], Ratios]:
    """The run's Problem (its scenario as run, on its run date and sample; the plan's own pairs
    allowed), customer table, plan, forced customers' offers, excluded customers and ratio rows."""
    for lacking, missing in ((f"The run folder has no {SCENARIO_FILE}", not (out_dir / SCENARIO_FILE).is_file()),
                             ("The run's summary.json has no run_date", "run_date" not in summary)):
        if missing:
            raise DataError(f"{lacking} (runs of cvo before it kept none)", where=str(out_dir),
                            fix="Run cvo optimize again, then export its rules")
    scenario = load_scenario(out_dir / SCENARIO_FILE)  # the history as planned, the forced lists off the plan
    data = load_data(scenario.model_copy(update={"forced": []}), dt.date.fromisoformat(summary["run_date"]),
                     as_of=_as_planned(scenario, summary))
    if summary.get("sample"):
        data = data.sampled(summary["sample"]["share"], summary["sample"]["seed"])
    formulation = formulate(data)
    problem = formulation.problem
    plan = pd.read_parquet(out_dir / "plan.parquet")
    ids = plan["customer_id"].astype(str)
    offer = pd.Series(planned_offers(data.scenario, plan), index=ids)
    choice = offer.reindex(problem.customer_ids.astype(str)).fillna(NO_CAMPAIGN).to_numpy(dtype=np.intp)
    promised = pd.Series(plan["group"].eq("forced").fillna(False).to_numpy(bool), index=ids).reindex(
        problem.customer_ids.astype(str), fill_value=False).to_numpy(bool)
    forced = np.where(promised, choice, NO_CAMPAIGN) if scenario.forced else None
    # the plan's own pairs were allowed when it was made (a commit since then records them as contacts)
    eligible, given = problem.eligible.copy(), np.flatnonzero(choice != NO_CAMPAIGN)
    eligible[given, choice[given]] = True
    excluded = data.lists.excluded if data.lists.excluded is not None else np.zeros(len(choice), dtype=bool)
    return (replace(problem, eligible=eligible), data.customers.drop(columns=[data.scenario.customer_id]), choice,
            forced, excluded, formulation.ratios)


def _as_planned(scenario: Scenario, summary: dict[str, Any]) -> int | None:
    """The history's event seq the plan was made at (its summary's history_seq, 0 when there was no
    history yet), so that runs committed since, its own included, do not count; None (read it as
    it is now) when the history file is another than the plan read."""
    planned_id = summary.get("history_id")
    if planned_id is not None and history_state(scenario.history_location(), scenario.storage_options)[0] != planned_id:
        return None
    return int(summary.get("history_seq") or 0)


def _features(customers: pd.DataFrame) -> tuple[NDArray[np.float64], list[str], list[str]]:
    """The tree's inputs: numeric and yes/no columns as numbers, each level of a text column of at
    most MAX_LEVELS levels as a 0/1 column named by its condition; the columns left out, dates
    among them (the expressions read them as days, so a level written with its time of day,
    '2026-09-01 10:00:00', could not be tested)."""
    columns, names, left_out = [], [], []
    for name, column in customers.items():
        if not str(name).isidentifier() or keyword.iskeyword(str(name)) or day_column(column) is not None:
            left_out.append(str(name))  # a rule could not name it, or test it level by level
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            if column.isna().any():
                left_out.append(str(name))
                continue
            columns.append(column.to_numpy(dtype=float))
            names.append(str(name))
        elif column.nunique(dropna=False) <= MAX_LEVELS and column.notna().all():
            for level in sorted(column.astype(str).unique()):
                columns.append((column.astype(str) == level).to_numpy(dtype=float))
                names.append(f"{name} == {level!r}")
        else:
            left_out.append(str(name))
    if not columns:
        raise DataError("The customer table has no column a rule can use (numbers, yes/no, or text of at most "
                        f"{MAX_LEVELS} levels)", fix="Add such columns to the customer table")
    return np.column_stack(columns), names, left_out


def _fit(features: NDArray[np.float64], target: NDArray[np.intp], depth: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier  # scikit-learn: loaded when rules are asked for

    leaf = max(1, int(np.ceil(MIN_LEAF_SHARE * len(target))))
    return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf, random_state=0).fit(features, target)


def _leaf_rules(tree: Any, names: list[str], labels: NDArray[np.object_], customers: pd.DataFrame) -> list[Rule]:
    """One rule per leaf, its condition the splits on the way there, each column's bounds merged."""
    structure, rules = tree.tree_, []

    def walk(node: int, path: list[tuple[int, bool, float]]) -> None:
        if structure.children_left[node] == -1:
            campaign = labels[tree.classes_[int(np.argmax(structure.value[node][0]))]]
            rules.append(Rule(_condition(path, names, customers), str(campaign), 0, 0.0))
            return
        feature, threshold = int(structure.feature[node]), float(structure.threshold[node])
        walk(int(structure.children_left[node]), [*path, (feature, False, threshold)])
        walk(int(structure.children_right[node]), [*path, (feature, True, threshold)])

    walk(0, [])
    return rules


def _condition(path: list[tuple[int, bool, float]], names: list[str], customers: pd.DataFrame) -> str:
    """The conditions of a path, in the expression language: a level test, a yes/no column, or a range."""
    parts: dict[str, list[str]] = {}
    bounds: dict[str, tuple[float, float]] = {}
    for feature, above, threshold in path:
        name = names[feature]
        if " == " in name:
            parts.setdefault(name, []).append(name if above else name.replace(" == ", " != ", 1))
        elif pd.api.types.is_bool_dtype(customers[name]):
            parts[name] = [name if above else f"not {name}"]
        else:
            low, high = bounds.get(name, (-np.inf, np.inf))
            cut = _readable(customers[name].to_numpy(dtype=float), threshold)
            bounds[name] = (max(low, cut), high) if above else (low, min(high, cut))
    for name, (low, high) in bounds.items():
        parts[name] = [text for text, bounded in ((f"{name} > {low:.10g}", np.isfinite(low)),
                                                  (f"{name} <= {high:.10g}", np.isfinite(high))) if bounded]
    conditions = [condition for group in parts.values() for condition in dict.fromkeys(group)]
    return " and ".join(conditions) or "True"


def _readable(values: NDArray[np.float64], threshold: float) -> float:
    """A cut that splits ``values`` as ``threshold`` does, with the fewest decimals: any number from
    the largest value at or below the threshold up to (not including) the smallest above it."""
    below, above = values[values <= threshold], values[values > threshold]
    if below.size == 0 or above.size == 0:
        return threshold
    low, high = float(below.max()), float(above.min())
    for decimals in range(7):
        for cut in (round((low + high) / 2, decimals), round(low, decimals)):
            if low <= cut < high:
                return cut
    return low


def _matches(rules: list[Rule], customers: pd.DataFrame) -> list[NDArray[np.bool_]]:
    """For each rule, the customers it gives its campaign: its condition holds and no earlier one did
    (the leaves of a tree never overlap; the texts are evaluated, so this is what the rules do)."""
    columns = TableColumns(customers)
    taken, matches = np.zeros(len(customers), dtype=bool), []
    for rule in rules:
        holds = np.asarray(parse(rule.condition, where="rules").evaluate(columns, len(customers)), dtype=bool)
        matches.append(holds & ~taken)
        taken |= holds
    return matches


def _given(rules: list[Rule], matches: list[NDArray[np.bool_]], campaigns: tuple[str, ...]) -> NDArray[np.intp]:
    """The campaign index each customer gets from the rules (-1: nothing)."""
    given = np.full(len(matches[0]) if matches else 0, NO_CAMPAIGN, dtype=np.intp)
    for rule, mine in zip(rules, matches):
        if rule.campaign != NOTHING:
            given[mine] = campaigns.index(rule.campaign)
    return given


def _counted(rules: list[Rule], matches: list[NDArray[np.bool_]], choice: NDArray[np.intp],
             given: NDArray[np.intp]) -> tuple[Rule, ...]:
    """Each rule with the customers it covers and the share of them it gives their planned campaign."""
    counted = [Rule(rule.condition, rule.campaign, int(mine.sum()),
                    float(np.mean(given[mine] == choice[mine])) if mine.any() else 0.0)
               for rule, mine in zip(rules, matches)]
    return tuple(sorted(counted, key=lambda rule: -rule.customers))


def _allowed(problem: Problem, given: NDArray[np.intp]) -> NDArray[np.intp]:
    """The rules' campaigns where the customer may get them; nothing elsewhere."""
    rows = np.arange(problem.n_customers)
    ok = (given != NO_CAMPAIGN) & problem.eligible[rows, np.maximum(given, 0)]
    return np.where(ok, given, NO_CAMPAIGN)


def _limits(problem: Problem, given: NDArray[np.intp], ratios: Ratios) -> tuple[dict[str, Any], ...]:
    """Each limit's use under the rules, and whether it holds; a ratio row also with the ratio the
    rules reach and its limit (optimizer/reporting/summary.py's ``with_ratio``)."""
    limits = []
    for row, lhs in zip(problem.rows, problem.row_activity(given)):
        limit = {"name": row.name, "sense": str(row.sense), "rhs": float(row.rhs), "lhs": float(lhs),
                 "holds": bool(row.satisfied(float(lhs)))}
        if row.name in ratios:
            with_ratio(limit, ratios[row.name][0], pair_sum(ratios[row.name][1], given))
        limits.append(limit)
    return tuple(limits)

"""An independent checker of a written plan: recompute every rule of the scenario from the raw files.

It reads the scenario with plain ``yaml.safe_load`` and the customer and score tables with
pandas, rebuilds each (customer, campaign) pair's columns from the formulas in the scenario
docs, and checks plan.parquet against them. From cvo it borrows only the expression
language (``optimizer.expressions.parse``), to evaluate the scenario's own expressions.

    spend = cost_per_contact + p_treat * cost_per_response
    value = (p_treat - p_control) * value_per_response - spend   (incremental_value)
          = p_treat * value_per_response                         (expected_revenue)
          = p_treat                                              (responses)

Limits count the selected audience (treatment and control) at full weight, which is what the
model constrains; treated spend and channel contacts are checked as well. Controls of
campaign j number round-half-up(f_j * |A_j|), computed in decimal from the fraction written
in the file, A_j without the customers of a forced list: those have their campaign and the group
'forced'; customers of an excluded list have nothing. With control_strata, each stratum of A_j has
round-half-up(f_j * |A_js|) controls.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from optimizer.scenario.expressions import parse

PLAN_COLUMNS = ("customer_id", "campaign_id", "variant", "group", "expected_value", "expected_spend", "value_per_response",
                "channel", "reason")
GROUPS = ("treatment", "control", "forced")
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Expected:
    """A scenario recomputed from its files: customer columns and per-offer pair columns (an offer:
    a campaign without variants, or one variant of a campaign, in the scenario's order)."""

    scenario: dict[str, Any]
    customer_ids: np.ndarray
    columns: dict[str, np.ndarray]
    pairs: list[dict[str, Any]]
    forced: dict[str, str]  # customer id -> offer label (campaign, or campaign:variant)
    excluded: set[str]

    @property
    def campaigns(self) -> list[dict[str, Any]]:
        return self.scenario["campaigns"]

    @property
    def offers(self) -> list[tuple[int, dict[str, Any] | None]]:
        """(campaign index, variant or None) of each offer."""
        return _offers(self.scenario)

    @property
    def labels(self) -> list[str]:
        return [self.campaigns[j]["id"] + (f":{v['id']}" if v else "") for j, v in self.offers]

    @property
    def campaign_of(self) -> np.ndarray:
        return np.array([j for j, _ in self.offers])


def _offers(scenario: dict[str, Any]) -> list[tuple[int, dict[str, Any] | None]]:
    return [(j, variant) for j, campaign in enumerate(scenario["campaigns"])
            for variant in (campaign.get("variants") or [None])]


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def evaluate(source: Any, context: dict[str, Any], n: int) -> np.ndarray:
    return parse(source, where="checker").evaluate(context, n)


def load_expected(scenario_path: str | Path) -> Expected:
    """The scenario's customers and, for every campaign, eligibility, spend, value and the pair columns."""
    scenario_path = Path(scenario_path)
    scenario = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
    base = scenario_path.parent
    id_column = scenario.get("customer_id", "customer_id")
    customers = read_table(base / scenario["customers"]).reset_index(drop=True)
    ids = customers[id_column].astype(str).to_numpy(dtype=object)
    columns = {
        str(name): column.to_numpy(dtype=object)
        if column.dtype == object or pd.api.types.is_string_dtype(column) else column.to_numpy()
        for name, column in customers.items()
    }
    columns[id_column] = ids
    scores = read_table(base / scenario["scores"]) if scenario.get("scores") else None
    pairs = [_pair_columns(scenario, scenario["campaigns"][j], variant, columns, ids, scores)
             for j, variant in _offers(scenario)]
    forced = {str(customer): _forced_label(listed, campaign, variant)
              for listed in scenario.get("forced", [])
              for customer, campaign, variant in _listed(base / listed["file"], id_column, "campaign_id")}
    excluded = {str(customer) for name in scenario.get("excluded", [])
                for customer, _, _ in _listed(base / name, id_column, None)}
    return Expected(scenario, ids, columns, pairs, forced, excluded)


def _forced_label(listed: dict[str, Any], campaign: str | None, variant: str | None) -> str:
    name, kind = listed.get("campaign") or str(campaign), listed.get("variant") or variant
    return name + (f":{kind}" if isinstance(kind, str) and kind.strip() else "")


def _listed(path: Path, id_column: str, campaign_column: str | None) -> list[tuple[str, str | None, str | None]]:
    table = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_parquet(path).astype(str)
    campaigns = table[campaign_column] if campaign_column in table else [None] * len(table)
    variants = table["variant"].where(table["variant"].notna(), None) if "variant" in table else [None] * len(table)
    return list(zip(table[id_column], campaigns, variants))


def _probabilities(campaign: dict, columns: dict, ids: np.ndarray, scores: pd.DataFrame | None):
    n = len(ids)
    if campaign.get("p_treat") is not None:
        return evaluate(campaign["p_treat"], columns, n), evaluate(campaign["p_control"], columns, n)
    if scores is None:
        return np.full(n, np.nan), np.full(n, np.nan)
    mine = scores[scores["campaign_id"].astype(str) == campaign["id"]]
    mine = mine.set_index(mine["customer_id"].astype(str))
    return (
        mine["p_treat"].reindex(ids).to_numpy(dtype=float),
        mine["p_control"].reindex(ids).to_numpy(dtype=float),
    )


def _pair_columns(scenario: dict, campaign: dict, variant: dict | None, columns: dict, ids: np.ndarray,
                  scores) -> dict[str, Any]:
    """One offer's pair columns: the campaign's, each key a variant gives replacing it (its p_treat and
    p_control read with the campaign's as p_treat and p_control; its eligible narrowing the campaign's)."""
    n, variant = len(ids), variant or {}
    p_treat, p_control = _probabilities(campaign, columns, ids, scores)
    scored = ~np.isnan(p_treat)
    p_treat, p_control = np.nan_to_num(p_treat), np.nan_to_num(p_control)
    base = {**columns, "p_treat": p_treat, "p_control": p_control}
    if variant.get("p_treat") is not None:
        p_treat = evaluate(variant["p_treat"], base, n).astype(float)
    if variant.get("p_control") is not None:
        p_control = evaluate(variant["p_control"], base, n).astype(float)
    own = [variant.get(key) for key in ("p_treat", "p_control")]
    if all(e is not None and not re.search(r"\bp_(treat|control)\b", str(e)) for e in own):
        scored = np.ones(n, dtype=bool)  # neither reads the campaign's scores
    eligible = evaluate(campaign.get("eligible", True), columns, n).astype(bool) & scored
    eligible &= evaluate(variant.get("eligible", True), columns, n).astype(bool)
    worth = evaluate(variant.get("value_per_response", campaign.get("value_per_response", 0.0)),
                     {**columns, "p_treat": p_treat, "p_control": p_control}, n)
    cost_per_contact = float(variant.get("cost_per_contact", campaign.get("cost_per_contact", 0.0)))
    cost_per_response = float(variant.get("cost_per_response", campaign.get("cost_per_response", 0.0)))
    spend = cost_per_contact + p_treat * cost_per_response
    objective = scenario.get("objective", "incremental_value")
    pair = {
        "eligible": eligible, "p_treat": p_treat, "p_control": p_control, "uplift": p_treat - p_control,
        "value_per_response": worth, "cost_per_contact": np.full(n, cost_per_contact),
        "cost_per_response": np.full(n, cost_per_response), "spend": spend,
        "campaign_id": np.full(n, campaign["id"], dtype=object),
        "variant": np.full(n, variant.get("id", ""), dtype=object),
        "channel": np.full(n, campaign["channel"], dtype=object),
    }
    if isinstance(objective, dict):  # {expression: e}: e over customer and pair columns
        value = evaluate(objective["expression"], {**columns, **pair}, n).astype(float)
    else:
        value = {
            "incremental_value": (p_treat - p_control) * worth - spend,
            "expected_revenue": p_treat * worth,
            "responses": p_treat,
        }[objective]
    return {
        **pair, "value": value,
    }


def expected_controls(fraction: Any, audience: int) -> int:
    """round-half-up(f * |A|) on the decimal value of f as written in the scenario."""
    exact = Decimal(str(fraction)) * audience
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _within(sense: str, lhs: float, rhs: float) -> bool:
    slack = TOLERANCE * max(1.0, abs(rhs))
    return {"<=": lhs <= rhs + slack, ">=": lhs >= rhs - slack, "==": abs(lhs - rhs) <= slack}[sense]


def check_plan(scenario_path: str | Path, out_dir: str | Path) -> list[str]:
    """Every rule of the scenario that plan.parquet in ``out_dir`` breaks (empty when none)."""
    expected = load_expected(scenario_path)
    plan = pd.read_parquet(Path(out_dir) / "plan.parquet")
    missing = [column for column in PLAN_COLUMNS if column not in plan.columns]
    if missing:
        return [f"plan.parquet lacks column(s) {missing}"]
    problems = _check_customers(expected, plan)
    if problems:
        return problems
    plan = plan.set_index(plan["customer_id"].astype(str)).reindex(expected.customer_ids)
    offer_index = {label: o for o, label in enumerate(expected.labels)}
    given = plan["campaign_id"].notna().to_numpy()
    variants = plan["variant"].astype(object).where(plan["variant"].notna(), None)
    named = [f"{c}:{v}" if v is not None else c for c, v in zip(plan["campaign_id"].astype(object), variants)]
    unknown = {name for name, g in zip(named, given) if g} - set(offer_index)
    if unknown:
        return [f"plan names unknown campaign(s) or variant(s) {sorted(unknown)}"]
    choice = np.array([offer_index[name] if g else -1 for name, g in zip(named, given)])
    group = plan["group"].astype(object).fillna("").astype(str).to_numpy()  # "" where null
    problems += _check_groups(expected, plan, choice, group)
    control = group == "control"
    problems += _check_pairs(expected, plan, choice, control)
    problems += _check_limits(expected, choice, control)
    problems += _check_custom(expected, choice)
    return problems


def _check_customers(expected: Expected, plan: pd.DataFrame) -> list[str]:
    ids = plan["customer_id"].astype(str)
    problems = []
    if ids.duplicated().any():
        problems.append(f"customers listed twice: {sorted(ids[ids.duplicated()])[:5]}")
    absent = set(expected.customer_ids) - set(ids)
    extra = set(ids) - set(expected.customer_ids)
    if absent:
        problems.append(f"{len(absent)} customer(s) missing from the plan, e.g. {sorted(absent)[:3]}")
    if extra:
        problems.append(f"{len(extra)} unknown customer(s) in the plan, e.g. {sorted(extra)[:3]}")
    return problems


def _check_groups(expected: Expected, plan: pd.DataFrame, choice: np.ndarray, group: np.ndarray) -> list[str]:
    problems = []
    given = choice >= 0
    bad = given & ~np.isin(group, GROUPS)
    if bad.any():
        problems.append(f"{bad.sum()} assigned customer(s) with group not in {GROUPS}")
    stray = ~given & (group != "")
    if stray.any():
        problems.append(f"{stray.sum()} unassigned customer(s) with a group")
    idle = ~given & ((plan["expected_value"].to_numpy() != 0) | (plan["expected_spend"].to_numpy() != 0))
    if idle.any():
        problems.append(f"{idle.sum()} unassigned customer(s) with non-zero expected value or spend")
    ids, names = expected.customer_ids, expected.labels
    listed = np.array([i in expected.forced for i in ids], dtype=bool)
    kept = np.array([expected.forced.get(i) for i in ids[listed]], dtype=object)
    broken = (choice[listed] < 0) | (np.array(names, dtype=object)[np.maximum(choice[listed], 0)] != kept)
    if broken.any():
        problems.append(f"{broken.sum()} forced customer(s) without the campaign they were forced into")
    if np.any(listed != (group == "forced")):
        problems.append("group 'forced' does not mark exactly the customers of the forced lists")
    shut = np.array([i in expected.excluded for i in ids], dtype=bool)
    if np.any(given & shut):
        problems.append(f"{(given & shut).sum()} excluded customer(s) given a campaign")
    strata = [evaluate(source, expected.columns, len(ids)).astype(str)
              for source in expected.scenario.get("control_strata") or []]
    stratum = np.array(["|".join(parts) for parts in zip(*strata)] if strata else [""] * len(ids), dtype=object)
    for j, (c, _) in enumerate(expected.offers):  # each offer (variant) its own draw: round(f × |A_j|) controls
        fraction, label = expected.campaigns[c].get("control_fraction", 0.0), expected.labels[j]
        drawn = (choice == j) & ~listed
        audience = int(drawn.sum())
        controls = int(((choice == j) & (group == "control")).sum())
        want = sum(expected_controls(fraction, int((drawn & (stratum == s)).sum())) for s in set(stratum[drawn]))
        for s in set(stratum[drawn]):  # each stratum has its own round(f × |A_js|) controls
            mine, held = drawn & (stratum == s), (choice == j) & (group == "control") & (stratum == s)
            if int(held.sum()) != expected_controls(fraction, int(mine.sum())):
                problems.append(f"{label}: stratum {s!r} has {int(held.sum())} controls of {int(mine.sum())}")
        if controls != want:
            problems.append(f"{label}: {controls} controls in an audience of {audience}, expected {want}")
    return problems


def _check_pairs(expected: Expected, plan: pd.DataFrame, choice: np.ndarray, control: np.ndarray) -> list[str]:
    problems = []
    value, spend = plan["expected_value"].to_numpy(float), plan["expected_spend"].to_numpy(float)
    for j, label in enumerate(expected.labels):
        pair = expected.pairs[j]
        mine = choice == j
        ineligible = mine & ~pair["eligible"]
        if ineligible.any():
            problems.append(f"{label}: {ineligible.sum()} ineligible customer(s), "
                            f"e.g. {expected.customer_ids[ineligible][:3].tolist()}")
        treated, held = mine & ~control, mine & control
        if np.any(value[held] != 0) or np.any(spend[held] != 0):
            problems.append(f"{label}: controls with non-zero expected value or spend")
        for name, column in (("expected_value", value), ("expected_spend", spend)):
            want = pair["value" if name == "expected_value" else "spend"][treated]
            if not np.allclose(column[treated], want, rtol=1e-9, atol=1e-9):
                problems.append(f"{label}: {name} of treated customers differs from the formula")
    return problems


def _spend(expected: Expected, choice: np.ndarray, campaigns: set[int], who: np.ndarray) -> float:
    return float(sum(expected.pairs[j]["spend"][(choice == j) & who].sum() for j in campaigns))


def _check_limits(expected: Expected, choice: np.ndarray, control: np.ndarray) -> list[str]:
    scenario, problems = expected.scenario, []
    everyone, treated = np.ones(len(choice), bool), ~control
    every_campaign, campaign_of = set(range(len(expected.pairs))), expected.campaign_of
    by_campaign = np.where(choice >= 0, campaign_of[np.maximum(choice, 0)], -1)
    limits = []  # (label, lhs, sense, rhs)
    if scenario.get("budget") is not None:
        limits.append(("budget (audience spend)", _spend(expected, choice, every_campaign, everyone), "<=",
                       scenario["budget"]))
        limits.append(("budget (treated spend)", _spend(expected, choice, every_campaign, treated), "<=",
                       scenario["budget"]))
    for j, campaign in enumerate(expected.campaigns):
        audience, own = int((by_campaign == j).sum()), set(np.flatnonzero(campaign_of == j).tolist())
        limits.append((f"min_audience[{campaign['id']}]", audience, ">=", campaign.get("min_audience", 0)))
        if campaign.get("max_audience") is not None:
            limits.append((f"max_audience[{campaign['id']}]", audience, "<=", campaign["max_audience"]))
        if campaign.get("budget") is not None:
            for label, who in (("audience", everyone), ("treated", treated)):
                limits.append((f"budget[{campaign['id']}] ({label} spend)", _spend(expected, choice, own, who), "<=",
                               campaign["budget"]))
    for j, (_, variant) in enumerate(expected.offers):
        if variant and variant.get("max_audience") is not None:
            limits.append((f"max_audience[{expected.labels[j]}]", int((choice == j).sum()), "<=",
                           variant["max_audience"]))
    channels = np.array([expected.campaigns[c]["channel"] for c, _ in expected.offers])
    for name, channel in (scenario.get("channels") or {}).items():
        if (channel or {}).get("capacity") is not None:
            mine = np.isin(choice, np.flatnonzero(channels == name))
            limits.append((f"capacity[{name}] (treated contacts)", int((mine & treated).sum()), "<=",
                           channel["capacity"]))
    for label, lhs, sense, rhs in limits:
        if not _within(sense, lhs, float(rhs)):
            problems.append(f"{label}: {lhs:g} {sense} {rhs:g} does not hold")
    return problems


def custom_lhs(expected: Expected, constraint: dict[str, Any], choice: np.ndarray, key: str = "expression") -> float:
    """sum over the selected audience (campaigns listed, ``where`` true) of ``expression`` (or ``per``);
    of a ratio row (one with ``per``), each customer at its treated share: 1 - its campaign's
    control fraction, 1 when forced (the ratio is over the treated, in expectation over the draw)."""
    n, total = len(choice), 0.0
    forced = np.isin(expected.customer_ids, list(expected.forced))
    for j, (c, _) in enumerate(expected.offers):
        if constraint.get("campaigns") is not None and expected.campaigns[c]["id"] not in constraint["campaigns"]:
            continue
        context = {**expected.columns, **{k: v for k, v in expected.pairs[j].items() if k != "eligible"}}
        where = evaluate(constraint.get("where", True), context, n).astype(bool)
        amount = evaluate(constraint.get(key, 1), context, n).astype(float)
        selected = (choice == j) & where
        if constraint.get("per") is not None:
            amount = amount * np.where(forced, 1.0, 1.0 - expected.campaigns[c].get("control_fraction", 0.0))
        total += float(amount[selected].sum())
    return total


def _check_custom(expected: Expected, choice: np.ndarray) -> list[str]:
    problems = []
    for constraint in expected.scenario.get("constraints") or []:
        lhs, rhs = custom_lhs(expected, constraint, choice), float(constraint["rhs"])
        if constraint.get("per") is not None:  # a ratio row: sum e <sense> r sum per
            lhs, rhs = lhs - rhs * custom_lhs(expected, constraint, choice, "per"), 0.0
        if not math.isfinite(lhs) or not _within(constraint["sense"], lhs, rhs):
            problems.append(f"{constraint['name']}: {lhs:g} {constraint['sense']} {rhs:g} does not hold")
    return problems

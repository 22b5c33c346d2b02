"""Compare scenarios side by side: solve each, line up their figures, and count the customers who move.

For scenarios S_0, S_1, ... each solved by ``optimizer.plan.workflow``, the comparison holds
per scenario its status, objective, bound, gap, spend, treatment and control, per-campaign
audience and value, KPIs, and every constraint with its slack and LP shadow price dz/db (the
text shows those binding in the plan or with a non-zero price). For every
scenario S_t after the baseline S_0 (the first scenario that has a plan) and the customers C
of both plans (joined on customer_id), with a(i), b(i) the campaign of customer i in S_0 and S_t
('none' when not selected),

    moved[u, v] = |{i in C : a(i) = u, b(i) = v}|,      changed = |{i in C : a(i) != b(i)}|,

so the matrix sums to |C| and its diagonal (same campaign in both) holds |C| - changed.
A scenario without a plan (infeasible, or the solver stopped without one) is reported with
its error instead of stopping the others.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import InfeasibleError, ScenarioError, SolverError
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize
from optimizer.reporting.comparison_page import (
    currency_words,
    mixed_currencies,
    render_comparison,
    stated_currencies,
)
from optimizer.reporting.plots import CampaignMoney, campaign_money_png
from optimizer.reporting.text import text_table
from optimizer.scenario.offers import SEPARATOR, offer_label
from optimizer.scenario.schema import Scenario, load_scenario
from optimizer.solve.options import Method
from optimizer.store.files import atomic_write
from optimizer.store.folders import check_comparison_folder, check_output_folder, check_run_folder, is_run_folder
from optimizer.store.history_file import check_not_committed
from optimizer.store.names import COMPARE_FILE, COMPARE_PAGE, COMPARE_PLOT

PLANS_FOLDER = "plans"
NONE = "none"


@dataclass(frozen=True)
class Solved:
    """One scenario of a comparison: its plan's summary, or the error that left it without one.

    ``status`` is the summary's (optimal | feasible), or 'infeasible' / 'none' with ``error``.
    """

    label: str
    name: str
    scenario_file: str
    status: str
    summary: dict[str, Any] | None = None
    error: str | None = None
    assignments: pd.DataFrame | None = field(default=None, repr=False)
    plan_folder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        head = {"label": self.label, "name": self.name, "scenario_file": self.scenario_file, "status": self.status,
                "error": self.error, "plan_folder": self.plan_folder}
        if self.summary is None:
            return head
        s = self.summary
        return {
            **head,
            **{key: s[key] for key in ("objective_name", "method", "objective", "bound", "gap", "expected_spend",
                                       "expected_value", "treatment", "control")},
            **{key: s.get(key) for key in ("gross_value", "roi", "control_spend", "currency", "money_basis")},
            "budget_counts_controls": s.get("budget_counts_controls", True),
            "campaigns": [{key: c[key] for key in ("id", "channel", "audience", "treatment", "control",
                                                   "expected_spend", "expected_value")} for c in s["campaigns"]],
            "kpis": {kpi["name"]: kpi["value"] for kpi in s["kpis"]},
            "constraints": [{key: c[key] for key in ("name", "sense", "rhs", "lhs", "slack", "binding", "shadow_price")}
                            for c in s["constraints"]],
        }


@dataclass(frozen=True)
class Moved:
    """Customers of both plans by campaign in the baseline (``rows``) and in ``target`` (``columns``)."""

    source: str
    target: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: NDArray[np.int64]
    changed: int
    only_in_source: int
    only_in_target: int

    @property
    def common(self) -> int:
        return int(self.counts.sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.source, "to": self.target, "rows": list(self.rows), "columns": list(self.columns),
            "counts": self.counts.tolist(), "common_customers": self.common, "changed": self.changed,
            "only_in_from": self.only_in_source, "only_in_to": self.only_in_target,
        }


@dataclass(frozen=True)
class Comparison:
    """The scenarios, the baseline's label, the customers moved from it, and the scenario keys
    whose values differ (``inputs``: key and value per label)."""

    scenarios: tuple[Solved, ...]
    baseline: str | None
    moved: tuple[Moved, ...]
    inputs: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"scenarios": [s.to_dict() for s in self.scenarios], "baseline": self.baseline,
                "moved": [m.to_dict() for m in self.moved], "inputs": list(self.inputs)}


def compare(
    scenarios: Sequence[Scenario | str | Path], method: Method | None = None, run_date: dt.date | None = None,
    stage: Callable[[str], None] | None = None, plans_dir: Path | None = None,
) -> Comparison:
    """Optimize every scenario (``method`` overrides each one's solver.method; all sent on ``run_date``,
    default today, for the contact policy) and compare the plans; ``stage`` hears each solve as it starts
    (with how the one before ended) and the counting of the customers who move; with ``plans_dir``,
    each plan is written there as a run folder named by its label, as it is solved.

    Every file is read and validated, and every plan folder checked, before anything is solved, so
    a broken file fails fast (ScenarioError, as for fewer than two scenarios) and so does a plan
    folder holding files of the user's (RunFolderError); InfeasibleError and SolverError are
    recorded per scenario.
    """
    if len(scenarios) < 2:
        raise ScenarioError(f"A comparison needs two or more scenarios; {len(scenarios)} given", where="scenarios",
                            fix="Give two or more, e.g. compare(['scenarios/weekly.yaml', "
                            "'scenarios/tight_budget.yaml'])")
    loaded = [s if isinstance(s, Scenario) else load_scenario(s) for s in scenarios]
    labels = scenario_labels(loaded)
    if plans_dir is not None:  # before any solve
        check_comparison_folder(plans_dir.parent)
        for scenario, label in zip(loaded, labels):
            check_output_folder(plans_dir / label)
            check_run_folder(plans_dir / label)
            check_not_committed(plans_dir / label, scenario.history_location())
    tell = stage or (lambda text: None)
    solved: list[Solved] = []
    for number, (scenario, label) in enumerate(zip(loaded, labels), start=1):
        tell(f"Solving {label} ({number} of {len(loaded)}){_ended(solved[-1]) if solved else ''}")
        solved.append(_solve(scenario, label, method, run_date, None if plans_dir is None else plans_dir / label))
    if plans_dir is not None:
        _remove_earlier_plans(plans_dir, [Path(s.plan_folder) for s in solved if s.plan_folder is not None])
    inputs = differing_inputs(loaded, labels)
    with_plan = [s for s in solved if s.assignments is not None]
    if not with_plan:
        return Comparison(tuple(solved), None, (), inputs)
    base = with_plan[0]
    tell(f"Counting the customers who move from {base.label}'s plan{_ended(solved[-1])}")
    moved = tuple(customers_moved(base, s) for s in with_plan[1:])
    return Comparison(tuple(solved), base.label, moved, inputs)


def differing_inputs(scenarios: Sequence[Scenario], labels: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """The scenario keys (dotted; a campaign's by its id) whose values are not the same in every
    scenario, with each scenario's value as text ('—' where it has none); names and descriptions aside
    (the scenario's and its campaigns')."""
    flat = [_flattened(scenario.effective()) for scenario in scenarios]
    keys = list(dict.fromkeys(key for values in flat for key in values))
    return tuple({"key": key, "values": {label: values.get(key, "—") for label, values in zip(labels, flat)}}
                 for key in keys if key.rsplit(".", 1)[-1] not in ("name", "description")
                 and len({values.get(key, "—") for values in flat}) > 1)


def _flattened(raw: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted key -> value as text; campaigns by id, other lists whole."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key == "campaigns" and isinstance(value, list):
            for campaign in value:
                out.update(_flattened({k: v for k, v in campaign.items() if k != "id"},
                                      f"{prefix}campaigns.{campaign.get('id')}."))
        elif isinstance(value, dict):
            out.update(_flattened(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else _shown(value)
    return out


def _ended(solved: Solved) -> str:
    """' · weekly: optimal, 34,139.48 in 6.9 s': how a solve ended, for the progress line."""
    if solved.summary is None:
        return f" · {solved.label}: {solved.status}"
    seconds = solved.summary["build_seconds"] + solved.summary["solve_seconds"]
    return f" · {solved.label}: {solved.status}, {solved.summary['objective']:,.2f} in {seconds:.1f} s"


def scenario_labels(scenarios: Sequence[Scenario]) -> list[str]:
    """Each scenario's name; scenarios that share a name go by their file stem, then by position."""
    names = [s.name for s in scenarios]
    labels = [name if names.count(name) == 1 or s.path is None else Path(s.path).stem
              for name, s in zip(names, scenarios)]
    return [label if labels.count(label) == 1 else f"{label}#{i}" for i, label in enumerate(labels, start=1)]


def _shown(value: Any) -> str:
    """A scenario value as the page shows it: 9,000 and 0.35, not 9000.0; text as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"


def _solve(scenario: Scenario, label: str, method: Method | None, run_date: dt.date | None,
           folder: Path | None) -> Solved:
    try:
        plan = optimize(scenario, method, run_date=run_date)
    except (InfeasibleError, SolverError) as error:
        status = "infeasible" if isinstance(error, InfeasibleError) else "none"
        return Solved(label, scenario.name, scenario.source, status, error=error.message)
    summary = plan.summary if folder is None else write_plan(plan, folder)
    return Solved(label, scenario.name, scenario.source, plan.summary["status"], summary,
                  assignments=plan.assignments[["customer_id", "campaign_id", "variant"]],
                  plan_folder=None if folder is None else str(folder))


def _remove_earlier_plans(plans_dir: Path, written: list[Path]) -> None:
    """Remove the plan folders that the comparison before this one wrote into ``plans_dir`` (those
    its compare.json, beside it, lists) and this one did not write again: of a scenario now without
    a plan or no longer compared. Nothing else there is touched: not a folder the user put there,
    not a link, not a folder that holds no run."""
    for name in _earlier_plan_names(plans_dir.parent / COMPARE_FILE):
        folder = plans_dir / name
        if folder.is_symlink() or not folder.is_dir() or not is_run_folder(folder):
            continue
        if not any(plan.exists() and os.path.samefile(folder, plan) for plan in written):  # whatever the case rules
            shutil.rmtree(folder)


def _earlier_plan_names(path: Path) -> list[str]:
    """The plan folders' names an earlier compare.json lists (none if there is none or it cannot be read)."""
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        return [Path(s["plan_folder"]).name for s in earlier["scenarios"] if s.get("plan_folder")]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


def customers_moved(source: Solved, target: Solved) -> Moved:
    """The moved matrix of the module docstring, over customers in both plans."""
    if source.assignments is None or target.assignments is None or source.summary is None or target.summary is None:
        raise TypeError("customers_moved compares two scenarios that both have a plan")
    merged = source.assignments.merge(target.assignments, on="customer_id", how="outer", suffixes=("_a", "_b"),
                                      indicator=True)
    both = merged[merged["_merge"] == "both"]
    before, after = _offer_labels(both, "_a"), _offer_labels(both, "_b")
    rows = (*_offers(source.summary), NONE)
    columns = (*_offers(target.summary), NONE)
    counts = pd.crosstab(before, after).reindex(index=list(rows), columns=list(columns), fill_value=0)
    return Moved(source.label, target.label, rows, columns, counts.to_numpy(dtype=np.int64),
                 changed=int((before != after).sum()), only_in_source=int((merged["_merge"] == "left_only").sum()),
                 only_in_target=int((merged["_merge"] == "right_only").sum()))


def _offer_labels(merged: pd.DataFrame, suffix: str) -> pd.Series:
    """Each customer's offer in one plan of a merged pair: the campaign, 'campaign:variant' for a
    variant (a change of variant is a move), or NONE."""
    campaign = merged[f"campaign_id{suffix}"].astype(object)
    variant = merged[f"variant{suffix}"].astype(object) if f"variant{suffix}" in merged else \
        pd.Series(None, index=merged.index, dtype=object)
    labels = campaign.where(variant.isna(), campaign.astype(str) + SEPARATOR + variant.astype(str))
    return labels.fillna(NONE).astype(str)


def _offers(summary: dict[str, Any]) -> list[str]:
    """The offers of a plan's summary, in its campaigns' order: each campaign, or each of its variants."""
    return [offer_label(c["id"], v and v["id"]) for c in summary["campaigns"] for v in c.get("variants") or [None]]


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """Write compare.json, compare.png (value and spend by campaign, numbers on the bars) and
    compare.html (optimizer/reporting/comparison_page.py) into ``out_dir``, each atomically; return
    the paths written, the JSON's first.

    Without any plan there is no picture to draw, and an earlier comparison's compare.png is removed:
    left beside this compare.json it would show other scenarios' plans as these."""
    path, figures = out_dir / COMPARE_FILE, comparison.to_dict()
    atomic_write(path, lambda temp: temp.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8"))
    written = [path]
    planned = [s for s in comparison.scenarios if s.summary is not None]
    if planned:
        picture = campaign_money_png([money_bars(s.label, s.summary) for s in planned if s.summary is not None])
        atomic_write(out_dir / COMPARE_PLOT, lambda temp: temp.write_bytes(picture))
        written.append(out_dir / COMPARE_PLOT)
    else:
        (out_dir / COMPARE_PLOT).unlink(missing_ok=True)
    page = render_comparison(figures, list(comparison.inputs),
                             {s.label: s.plan_folder for s in comparison.scenarios if s.plan_folder})
    atomic_write(out_dir / COMPARE_PAGE, lambda temp: temp.write_text(page, encoding="utf-8"))
    return [*written, out_dir / COMPARE_PAGE]


def money_bars(label: str, summary: dict[str, Any]) -> CampaignMoney:
    return CampaignMoney(label, {c["id"]: c["expected_value"] for c in summary["campaigns"]},
                         {c["id"]: c["expected_spend"] for c in summary["campaigns"]})


def format_comparison(comparison: Comparison) -> str:
    """The comparison as text: a column per scenario, then the errors, then the customers moved."""
    entries = [s.to_dict() for s in comparison.scenarios]
    lines = ["cvo compare " + ", ".join(f"{e['label']} ({e['scenario_file']})" for e in entries), ""]
    lines += text_table(["", *(e["label"] for e in entries)], _figure_rows(entries)).splitlines()
    lines += ["", *money_basis_lines(entries)]
    lines += [f"{e['label']}: {e['error']}" for e in entries if e["error"]]
    for moved in comparison.moved:
        lines += ["", *_moved_lines(moved)]
    return "\n".join(lines)


def _figure_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["status", *(e["status"] for e in entries)]]
    for key, digits in (("objective", 2), ("bound", 2), ("gap", None), ("gross_value", 2), ("expected_spend", 2),
                        ("expected_value", 2), ("roi", 2), ("control_spend", 2), ("treatment", 0), ("control", 0)):
        rows.append([key.replace("_", " "), *(_cell(e.get(key), digits) for e in entries)])
    campaigns = {c["id"]: None for e in entries for c in e.get("campaigns", [])}
    for key, digits in (("audience", 0), ("expected_value", 2)):
        for campaign in campaigns:
            cells = [_cell(_by(e.get("campaigns", []), "id", campaign).get(key), digits) for e in entries]
            rows.append([f"{key.replace('_', ' ')}[{campaign}]", *cells])
    for kpi in {name: None for e in entries for name in e.get("kpis", {})}:
        rows.append([f"kpi {kpi}", *(_cell(e.get("kpis", {}).get(kpi), 2) for e in entries)])
    for name in {c["name"]: None for e in entries for c in e.get("constraints", []) if _matters(c)}:
        cells = [_cell(_by(e.get("constraints", []), "name", name).get("shadow_price"), 4) for e in entries]
        rows.append([f"shadow price {name}", *cells])
    return rows


def money_basis_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The one money basis under the figures (summary.json's money_basis), and what each scenario's
    budgets count when they differ."""
    planned = [e for e in entries if e.get("objective") is not None]
    if not planned:
        return []
    currencies = stated_currencies(planned)
    currency = currency_words(currencies)
    unit = f" ({currency})" if currency is not None and not mixed_currencies(currencies) else ""
    lines = [f"Money{unit}, treated customers: expected value = gross value - expected spend; roi = expected value "
             "/ expected spend; the objective is that value as expected before the random control draw; control "
             "spend is what the control customers would have cost."]
    if mixed_currencies(currencies):
        lines.append(f"The scenarios state different currencies, {currency}: compare their money figures only "
                     "between scenarios of one currency.")
    counting = {e["label"]: e.get("budget_counts_controls", True) for e in planned}
    if all(counting.values()):
        lines.append("Limits count control customers too, at control spend.")
    elif not any(counting.values()):
        lines.append("Budgets count treated spend as expected before the draw; capacities and audiences count "
                     "control customers too.")
    else:
        treated = ", ".join(label for label, counts in counting.items() if not counts)
        lines.append(f"Budgets count control customers too, except in {treated} (budget_counts_controls: false: "
                     "treated spend as expected before the draw): their budget figures are not alike.")
    return lines


def _matters(constraint: dict[str, Any]) -> bool:
    """Binding: tight in the plan or priced by the LP (optimizer/reporting/summary.py)."""
    return bool(constraint["binding"])


def _by(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next((item for item in items if item[key] == value), {})


def _cell(value: float | None, digits: int | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1e}" if digits is None else f"{value:,.{digits}f}"


def _moved_lines(moved: Moved) -> list[str]:
    title = (f"Customers moved, {moved.source} → {moved.target}: {moved.changed:,} of {moved.common:,} customers "
             f"in both changed campaign or offer variant (rows: {moved.source}, columns: {moved.target})")
    extra = []
    if moved.only_in_source or moved.only_in_target:
        extra = [f"{moved.only_in_source:,} customers only in {moved.source}, "
                 f"{moved.only_in_target:,} only in {moved.target}"]
    body = [[row, *(f"{count:,}" for count in counts)] for row, counts in zip(moved.rows, moved.counts)]
    return [title, *text_table([f"{moved.source} \\ {moved.target}", *moved.columns], body).splitlines(), *extra]

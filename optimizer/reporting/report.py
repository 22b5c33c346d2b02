"""The plan report: one self-contained HTML page (report.html) a marketing manager can read and
print, built from OUT_DIR/summary.json and, when a sweep was run, sweep.json and frontier.png.

The page loads nothing: CSS is inline and every chart is a PNG drawn with matplotlib (Figure +
FigureCanvasAgg, no global backend) and embedded as a base64 data URI. Keys that older
summaries lack (run date, contact costs, eligibility rules, why customers got nothing) show as
"not recorded". A shadow price y_r = d(objective)/d(b_r) from the LP relaxation is what one
more unit of limit r would add to the objective.
"""

from __future__ import annotations

import io
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from optimizer.errors import DataError, ScenarioError
from optimizer.reporting.formatting import NOT_RECORDED, data_uri, environment, gap_words
from optimizer.reporting.run_summary import load_summary
from optimizer.store.files import (
    FRONTIER_FILE,
    MEASUREMENT_FILE,
    MIGRATION_FILE,
    REPORT_FILE,
    SWEEP_FILE,
    SWEEP_FOLDER,
    atomic_write,
)
from optimizer.store.folders import folder_lock
from optimizer.store.object_runs import put_file, readable_run

USED_COLOUR, CAPACITY_COLOUR, NOTHING_COLOUR = "#2b6cb0", "#d5dde8", "#dd6b20"
OBJECTIVE_LABELS = {"incremental_value": "expected incremental value", "expected_revenue": "expected revenue",
                    "responses": "expected responses"}
# looked up with a summary's value, which may be missing (None)
RULE_KINDS: dict[str | None, str] = {"not_scored": "no score", "eligible": "eligibility rule",
                                     "excluded": "excluded list", "cooldown": "cool-down",
                                     "rolling_cap": "rolling contact cap", "measurement_window": "measurement window"}
SENSE_SYMBOLS: dict[str | None, str] = {"<=": "≤", ">=": "≥", "==": "="}
SWEEP_HINT = "cvo sweep SCENARIO --budget A:B:N --out OUT_DIR"


@dataclass(frozen=True)
class SweepRecord:
    """A sweep run into ``folder``: the limit it varied, its points, frontier.png if drawn, and the
    name and resolved file of the scenario swept (None from a sweep.json that does not say)."""

    folder: Path
    limit: str | None
    points: list[dict[str, Any]]
    frontier_png: bytes | None
    scenario: str | None = None
    scenario_path: str | None = None
    limit_values: dict[str, float] | None = None  # every limit as the swept scenario had it (None: not said)


def report_run(location: Path | str, sweep_dir: Path | str | None = None) -> str:
    """``write_report`` on a run folder, or on a run on an object store (its local copy, the page
    then put beside the run's files: optimizer/store/object_runs.py); where the page is."""
    with readable_run(location) as (folder, origin):
        path = write_report(folder, sweep_dir)
        return put_file(origin, path) if origin else str(path)


def write_report(out_dir: Path | str, sweep_dir: Path | str | None = None) -> Path:
    """Write OUT_DIR/report.html from OUT_DIR/summary.json (and a sweep, if any); return its path.

    The sweep is read from ``sweep_dir`` when given (it must hold sweep.json), else from
    OUT_DIR or OUT_DIR/sweep (where cvo sweep writes by default beside out/<name>) when a sweep
    was run there.
    """
    out_dir = Path(out_dir)
    with folder_lock(out_dir):  # not while a run replaces the folder's files: the page would outlive its run
        summary = load_summary(out_dir)
        sweep = load_sweep(Path(sweep_dir), required=True) if sweep_dir is not None else \
            load_sweep(out_dir) or load_sweep(out_dir / SWEEP_FOLDER)
        _check_same_scenario(sweep, summary, given=sweep_dir is not None)
        page = render_report(summary, sweep, load_measurement(out_dir), load_migration(out_dir))
        path = out_dir / REPORT_FILE
        atomic_write(path, lambda temp: temp.write_text(page, encoding="utf-8"))
    return path


def _check_same_scenario(sweep: SweepRecord | None, summary: dict[str, Any], given: bool) -> None:
    """DataError when the sweep is of another scenario than the run, by name or, where both say, by
    file (a scenario that extends another keeps its name): a sweep left in the folder by an earlier
    run's scenario would be shown as this plan's frontier."""
    if sweep is None:
        return
    paths = (sweep.scenario_path, summary.get("scenario_path"))
    same_name = sweep.scenario in (None, summary.get("scenario"))
    changed = _other_limits(sweep, summary)
    if same_name and (None in paths or paths[0] == paths[1]) and not changed:
        return
    path = sweep.folder / SWEEP_FILE
    fix = (f"Give --sweep a folder where {SWEEP_HINT.split(' --out')[0]} wrote a sweep of '{summary.get('scenario')}'"
           if given else f"Run {SWEEP_HINT.replace('OUT_DIR', str(sweep.folder))} with this run's scenario, "
           f"or delete {path} and report without a sweep")
    swept = (f"scenario '{sweep.scenario}', the plan of '{summary.get('scenario')}'" if not same_name else
             f"scenario file {paths[0]}, the plan of {paths[1]}" if None not in paths and paths[0] != paths[1] else
             f"'{sweep.scenario}' with other limits than the plan's ({'; '.join(changed)}: "
             + ("the plan is of a sample, its limits scaled to it)" if summary.get("sample") else
                "a --set or an edit between the two)"))
    raise DataError(f"The sweep is of {swept}", where=str(path), fix=fix)


def _other_limits(sweep: SweepRecord, summary: dict[str, Any]) -> list[str]:
    """The limits, other than the one swept, whose value in the swept scenario is not the plan's
    ('name: sweep's, plan's'); none where the sweep.json does not say (an older cvo's)."""
    plan = {row.get("name"): row.get("rhs") for row in summary.get("constraints", []) if isinstance(row, dict)}
    changed = []
    for name, value in (sweep.limit_values or {}).items():
        theirs = plan.get(name)
        if name == sweep.limit or not isinstance(theirs, (int, float)) or not isinstance(value, (int, float)):
            continue
        if abs(value - theirs) > 1e-9 * max(1.0, abs(theirs)):
            changed.append(f"{name}: {value:,.6g} in the sweep, {theirs:,.6g} in the plan")
    return changed


def load_migration(out_dir: Path) -> dict[str, Any] | None:
    """migration.json (cvo segments --out) in ``out_dir``, if it was written there."""
    path = out_dir / MIGRATION_FILE
    return _read_json(path, "Run cvo segments again, or delete the broken file") if path.is_file() else None


def load_measurement(out_dir: Path) -> dict[str, Any] | None:
    """measurement.json (cvo measure) in ``out_dir``, if the run was measured there."""
    path = out_dir / MEASUREMENT_FILE
    return _read_json(path, "Run cvo measure again, or delete the broken file") if path.is_file() else None


def render_report(summary: dict[str, Any], sweep: SweepRecord | None = None,
                  measurement: dict[str, Any] | None = None, migration: dict[str, Any] | None = None) -> str:
    """The report page for ``summary`` as one HTML string."""
    context = report_context(summary, sweep, measurement)
    return environment().get_template("report.html.j2").render(**context, migration=migration)


def load_sweep(folder: Path, required: bool = False) -> SweepRecord | None:
    """The sweep in ``folder`` (sweep.json, frontier.png), or None when there is none and none is required."""
    path = folder / SWEEP_FILE
    fix = f"Run {SWEEP_HINT.replace('OUT_DIR', str(folder))} first, or leave out --sweep"
    if not path.is_file():
        if required:  # --sweep named it: a command-line value
            raise ScenarioError("There is no sweep to report", where=str(path), fix=fix)
        return None
    data = _read_json(path, fix)
    points = data.get("points")
    if not isinstance(points, list) or not all(isinstance(point, dict) for point in points):
        raise DataError("The sweep has no list of 'points'", where=str(path), fix=fix)
    frontier = folder / FRONTIER_FILE
    values = data.get("limit_values")
    return SweepRecord(folder, data.get("limit"), points, frontier.read_bytes() if frontier.is_file() else None,
                       data.get("scenario"), data.get("scenario_path"), values if isinstance(values, dict) else None)


def _read_json(path: Path, fix: str) -> dict[str, Any]:
    """A JSON object from ``path``, or a DataError ending with ``fix``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path.name} cannot be read as JSON: {error}", where=str(path), fix=fix) from None
    if not isinstance(data, dict):
        raise DataError(f"{path.name} holds a {type(data).__name__}, not a JSON object", where=str(path), fix=fix)
    return data


STOPPED = {"time_limit": "stopped at the time limit",
           "stalled": "stopped before the time limit (the search found nothing better)"}


def verdict(summary: dict[str, Any]) -> str:
    """How good the plan is, in words: proven optimal, stopped at the time limit, or no plan."""
    status, termination, gap = summary.get("status"), summary.get("termination"), summary.get("gap")
    if status == "optimal":
        return "proven optimal" if not gap else f"proven optimal within {gap_words(gap)}"
    if status == "feasible" and gap is not None:
        stopped = STOPPED.get(str(termination), f"stopped ({termination})")
        return f"{stopped}, at most {gap_words(gap)} below the best possible"
    return f"no plan: the solver stopped ({termination or status})"


# The page's sections, as plain dicts for the template.

def report_context(summary: dict[str, Any], sweep: SweepRecord | None = None,
                   measurement: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the template shows, formatted only by its filters."""
    objective_label = OBJECTIVE_LABELS.get(summary.get("objective_name", ""), "objective value")
    return {
        "summary": summary,
        "run_date": summary.get("run_date"),
        "verdict": verdict(summary),
        "objective_label": objective_label,
        "budget": budget_row(summary),
        "campaigns": campaign_rows(summary),
        "channels": channel_rows(summary),
        "channel_chart": channel_chart(summary["channels"]),
        "constraints": constraint_rows(summary["constraints"]),
        "shadow_example": shadow_example(summary["constraints"]),
        "one_more": one_more_unit(summary["constraints"]),
        "rules": rule_rows(summary.get("eligibility")),
        "unassigned": unassigned_section(summary),
        "sweep": sweep_section(sweep),
        "sweep_hint": SWEEP_HINT,
        "measured": measurement,
        "planned": planned_rows(summary, measurement),
        "not_recorded": NOT_RECORDED,
    }


def planned_rows(summary: dict[str, Any], measurement: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """Per measured campaign, what the plan expected beside what was measured: response uplift per
    treated customer and incremental value over the measured treated customers, each flagged when
    it lies outside the measured interval; None when not measured or the plan's figures were not
    recorded (runs of cvo before them)."""
    planned = {c["id"]: c for c in summary["campaigns"] if c.get("planned_response_uplift") is not None}
    if measurement is None or not planned:
        return None
    rows = []
    for measured in measurement["campaigns"]:
        plan = planned.get(measured["campaign_id"])
        if plan is None:
            continue
        value = plan["planned_value_uplift"] * measured["n_treatment"]
        rows.append({"campaign_id": measured["campaign_id"],
                     "uplift": plan["planned_response_uplift"], "measured_uplift": measured["response_uplift"],
                     "uplift_outside": _outside(plan["planned_response_uplift"], measured["response_uplift"]),
                     "value": value if measurement.get("has_value") else None,
                     "measured_value": measured.get("incremental_value"),
                     "value_outside": measurement.get("has_value") and _outside(value, measured["incremental_value"])})
    return rows


def _outside(expected: float, measured: dict[str, Any] | None) -> bool:
    """The plan's figure lies outside the measured confidence interval."""
    if not measured or measured.get("ci_low") is None:
        return False
    return not measured["ci_low"] <= expected <= measured["ci_high"]


def budget_row(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The total budget constraint (lhs counts the audience at full spend), if the scenario has one."""
    return next((row for row in summary["constraints"] if row.get("family") == "budget"), None)


def campaign_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per campaign, with its offer variants' rows (``variants``); value per contact is value
    over treated customers."""
    return [
        {**campaign,
         "value_per_contact": _per_contact(campaign),
         "cost_per_contact": campaign.get("cost_per_contact"),
         "cost_per_response": campaign.get("cost_per_response"),
         "measurement_window_days": campaign.get("measurement_window_days"),
         "variants": [{**variant, "value_per_contact": _per_contact(variant)}
                      for variant in campaign.get("variants", [])]}
        for campaign in summary["campaigns"]
    ]


def _per_contact(figures: dict[str, Any]) -> float | None:
    return figures["expected_value"] / figures["treatment"] if figures["treatment"] else None


def channel_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per channel with the share of its capacity the selected audience (treated and
    control, what the capacity row counts) uses."""
    return [
        {**channel, "audience": channel.get("audience", channel["contacts"]), "capacity": channel.get("capacity"),
         "used": channel.get("audience", channel["contacts"]) / channel["capacity"] if channel.get("capacity")
         else None}
        for channel in summary["channels"]
    ]


def constraint_rows(constraints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The constraints with their sense as a symbol (≤, ≥, =)."""
    return [{**row, "sense_symbol": SENSE_SYMBOLS.get(row.get("sense"), row.get("sense")),
             "shadow_price": row.get("shadow_price")} for row in constraints]


def one_more_unit(constraints: list[dict[str, Any]], shown: int = 4) -> list[dict[str, Any]]:
    """The binding limits with a price, largest first: what one more unit of each would add."""
    priced = [row for row in constraints if row.get("binding") and row.get("shadow_price") and "ratio_rhs" not in row]
    return sorted(priced, key=lambda row: -abs(row["shadow_price"]))[:shown]  # a ratio row's price is per unit of 0


def shadow_example(constraints: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The binding constraint with the largest shadow price, to explain what the column means."""
    priced = [row for row in constraints if row.get("binding") and row.get("shadow_price")]
    return max(priced, key=lambda row: abs(row["shadow_price"]), default=None)


def rule_rows(rules: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The eligibility and contact-policy rules with a readable kind, or None when not recorded."""
    if rules is None:
        return None
    return [{"campaign": rule.get("campaign"), "rule": rule.get("rule") or NOT_RECORDED,
             "kind_label": RULE_KINDS.get(rule.get("kind"), rule.get("kind") or NOT_RECORDED),
             "source": rule.get("source"), "removed": rule.get("removed")} for rule in rules]


def unassigned_section(summary: dict[str, Any]) -> dict[str, Any]:
    """Customers who got no campaign: the total, the reasons (None if not recorded) and a chart."""
    recorded = summary.get("unassigned")
    if recorded is None:
        total = summary["customers"] - summary["treatment"] - summary["control"]
        return {"total": total, "reasons": None, "chart": None}
    reasons = [{"reason": reason.get("reason") or NOT_RECORDED, "customers": reason.get("customers")}
               for reason in recorded.get("reasons") or []]
    return {"total": recorded.get("total"), "reasons": reasons, "chart": reasons_chart(reasons)}


def sweep_section(sweep: SweepRecord | None) -> dict[str, Any] | None:
    """The sweep's table (each point's campaigns' audiences, when recorded) and its frontier plot
    (cvo sweep's frontier.png), if there is one."""
    if sweep is None:
        return None
    png = sweep.frontier_png
    campaigns = list(next((p["audiences"] for p in sweep.points if isinstance(p.get("audiences"), dict)), {}))
    return {"limit": sweep.limit, "points": sweep.points, "folder": str(sweep.folder), "campaigns": campaigns,
            "chart": None if png is None else data_uri(png)}


# Charts: PNG bytes drawn without pyplot, so nothing global changes.

def _png(figure: Figure) -> bytes:
    """The figure as PNG bytes, rendered by Agg without touching pyplot's global state."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)  # type: ignore[no-untyped-call]  # matplotlib leaves it unannotated
    return buffer.getvalue()


def _bar_figure(labels: list[str]) -> tuple[Figure, Axes]:
    """A figure for horizontal bars, one per label (top to bottom), as tall as the labels need."""
    lines = sum(label.count("\n") + 1 for label in labels)
    figure = Figure(figsize=(7.5, 0.3 * lines + 0.2 * len(labels) + 0.9), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    axes.set_yticks(range(len(labels)), labels)
    axes.spines[["top", "right"]].set_visible(False)
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.invert_yaxis()
    return figure, axes


def channel_chart(channels: list[dict[str, Any]]) -> str | None:
    """Horizontal bars: the selected audience (treated and control, what the capacity counts) per
    channel over its capacity (grey)."""
    if not channels:
        return None
    names = [str(channel["channel"]) for channel in channels]
    figure, axes = _bar_figure(names)
    capacities = [channel.get("capacity") or 0 for channel in channels]
    contacts = [channel.get("audience", channel["contacts"]) for channel in channels]
    axes.barh(range(len(names)), capacities, color=CAPACITY_COLOUR, label="capacity")
    axes.barh(range(len(names)), contacts, height=0.5, color=USED_COLOUR, label="treated and control")
    for y, (used, capacity) in enumerate(zip(contacts, capacities)):
        text = f" {used:,} of {capacity:,} ({used / capacity:.0%})" if capacity else f" {used:,} (no limit)"
        axes.text(max(used, capacity), y, text, va="center", fontsize=9)
    axes.set_xlim(0, 1.35 * max([*capacities, *contacts, 1]))
    axes.set_xlabel("customers contacted")
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False, fontsize=9)
    return data_uri(_png(figure))


def reasons_chart(reasons: list[dict[str, Any]]) -> str | None:
    """Horizontal bars: customers who got nothing, per reason."""
    if not reasons:
        return None
    labels = [textwrap.fill(str(reason.get("reason")), 36, break_on_hyphens=False) for reason in reasons]
    customers = [reason.get("customers") or 0 for reason in reasons]
    figure, axes = _bar_figure(labels)
    axes.barh(range(len(labels)), customers, color=NOTHING_COLOUR)
    for y, value in enumerate(customers):
        axes.text(value, y, f" {value:,}", va="center", fontsize=9)
    axes.set_xlim(0, 1.2 * max([*customers, 1]))
    axes.set_xlabel("customers")
    return data_uri(_png(figure))

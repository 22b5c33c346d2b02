"""Rich rendering of a plan summary for the terminal."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from optimizer.errors import did_you_mean


class PassProgress:
    """A spinner while a scenario solves; a bar per pass over the customers when the
    decomposition runs (it calls this with (stage, customers done, customers)), and after each of
    its phases the best plan's value, the bound and the gap (``standing``). Nothing is drawn when
    the console is quiet or not a terminal."""

    def __init__(self, console: Console, title: str) -> None:
        self.title = title
        self.passes = 0
        self.known = ""
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)

    def __enter__(self) -> PassProgress:
        if self.progress.console.is_terminal:  # Rich would still end a file with an empty line
            self.progress.start()
        self.task = self.progress.add_task(f"{self.title} …", total=None)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def __call__(self, stage: str, done: int, customers: int) -> None:
        if done == customers:
            self.passes += 1
        description = f"{self.title} · {stage} · pass {self.passes + (done < customers)}{self.known}"
        self.progress.update(self.task, description=description, completed=done, total=customers)

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        """'… · exact core · plan 34,139.48 · bound 34,140.02 · gap 1.6e-05' from now on."""
        finite = bound is not None and math.isfinite(bound)
        parts = [] if objective is None else [f"plan {objective:,.2f}"]
        parts += [f"bound {bound:,.2f}"] if finite else []
        if objective is not None and finite and bound is not None:
            parts.append(f"gap {max(0.0, bound - objective) / max(1.0, abs(objective)):.1e}")  # as SolveResult.gap
        self.known = "".join(f" · {part}" for part in parts)
        self.progress.update(self.task, description=f"{self.title} · {phase}{self.known}")


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _count(value: int | float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


STOPPED = {"time_limit": "stopped by the time limit", "stalled": "stalled: no better plan or bound in sight"}


def headline(summary: dict[str, Any]) -> Text:
    """The plan's first line: its status (and, for a plan not proven, why the solver stopped),
    objective, bound, gap, time and method."""
    gap = summary["gap"]
    style = "bold green" if summary["status"] == "optimal" else "bold yellow"
    stopped = STOPPED.get(str(summary.get("termination")))
    text = Text.assemble(
        ("cvo plan ", "bold"), (f"{summary['scenario']}", "bold cyan"), f"  ({_scenario_as_run(summary)})\n",
        ("status ", "dim"), (summary["status"], style), (f" ({stopped})" if stopped else "", style),
        ("  objective ", "dim"), _money(summary["objective"]),
        ("  bound ", "dim"), _money(summary["bound"]),
        ("  gap ", "dim"), "—" if gap is None else f"{gap:.1e}",
        ("  time ", "dim"), f"{summary['build_seconds'] + summary['solve_seconds']:.1f} s",
        ("  method ", "dim"), summary["method"],
    )
    return text


def _scenario_as_run(summary: dict[str, Any]) -> str:
    """The scenario file, with the --set overrides the run laid over it (summary.json's ``overrides``)."""
    overrides, file = summary.get("overrides") or [], str(summary["scenario_file"])
    return f"{file} with --set {' '.join(overrides)}" if overrides else file


def campaign_table(summary: dict[str, Any]) -> Table:
    """Treated customers' spend and value per campaign, and the one money basis in the caption
    (summary.json's ``money_basis``)."""
    table = Table(title=f"Campaigns (expected value = {_value_words(summary.get('objective_name'))})",
                  title_justify="left", caption=_money_caption(summary), caption_justify="left")
    for column in ("campaign", "channel", "eligible", "treatment", "control", "expected spend", "expected value"):
        table.add_column(column, justify="left" if column in ("campaign", "channel") else "right")
    for c in summary["campaigns"]:
        table.add_row(escape(c["id"]), escape(c["channel"]), _count(c["eligible"]), _count(c["treatment"]),
                      _count(c["control"]), _money(c["expected_spend"]), _money(c["expected_value"]))
        for v in c.get("variants", []):
            table.add_row(f"  ↳ {escape(v['id'])}", "", _count(v["eligible"]), _count(v["treatment"]),
                          _count(v["control"]), _money(v["expected_spend"]), _money(v["expected_value"]), style="dim")
    table.add_row("total", "", "", _count(summary["treatment"]), _count(summary["control"]),
                  _money(summary["expected_spend"]), _money(summary["expected_value"]), style="bold")
    return table


VALUE_WORDS = {"incremental_value": "value of incremental responses - spend", "expected_revenue": "expected revenue",
               "responses": "expected responses"}


def _value_words(objective_name: str | None) -> str:
    """What a pair's expected value is under the plan's objective ('expression: e' gives e)."""
    if objective_name and objective_name.startswith("expression: "):
        return objective_name.removeprefix("expression: ")
    return VALUE_WORDS.get(objective_name or "incremental_value", "the objective")


def _money_caption(summary: dict[str, Any]) -> str | None:
    """How the objective, the treated customers' value and the spend the limits count relate (gross
    value and ROI only where the value is money net of spend: the incremental_value objective)."""
    if summary.get("control_spend") is None or summary.get("objective") is None:
        return None
    if summary.get("objective_name", "incremental_value") != "incremental_value":
        spend = summary["expected_spend"] + summary["control_spend"]
        return (f"The objective ({_money(summary['objective'])}) is the expected value as expected before the random "
                f"control draw. {_limits_sentence(summary, spend)}")
    spend = summary["expected_spend"] + summary["control_spend"]
    unit = f" ({summary['currency']})" if summary.get("currency") else ""
    roi = "" if summary.get("roi") is None else f", ROI {summary['roi']:.2f}"
    return (f"Treated customers{unit}: gross value {_money(summary['gross_value'])} - spend "
            f"{_money(summary['expected_spend'])} = expected value {_money(summary['expected_value'])}{roi}. "
            f"The objective ({_money(summary['objective'])}) is that value as expected before the random control "
            f"draw. {_limits_sentence(summary, spend)}")


def _limits_sentence(summary: dict[str, Any], spend: float) -> str:
    """What the budgets count (``budget_counts_controls``, default true)."""
    if summary.get("budget_counts_controls", True):
        return (f"Limits count control customers too: spend {_money(summary['expected_spend'])} + "
                f"{_money(summary['control_spend'])} (control) = {_money(spend)}.")
    return ("Budgets count treated spend as expected before the draw (each selected customer's spend x (1 - "
            "control fraction)); capacities and audiences count control customers too.")


def channel_table(summary: dict[str, Any]) -> Table:
    """Contacts per channel; its capacity counts treated and control customers, as ``used`` does."""
    table = Table(title="Channels (capacity counts treated and control)", title_justify="left")
    for column in ("channel", "treatment", "control", "capacity", "used"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for c in summary["channels"]:
        audience = c.get("audience", c["contacts"])
        used = "—" if not c["capacity"] else f"{audience / c['capacity']:.0%}"
        table.add_row(escape(c["channel"]), _count(c["contacts"]), _count(audience - c["contacts"]),
                      _count(c["capacity"]), used)
    return table


def constraint_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Constraints (lhs counts the selected audience; shadow price = value of one more unit)",
                  title_justify="left")
    for column in ("constraint", "lhs", "limit", "slack", "shadow price"):
        table.add_column(column, justify="left" if column == "constraint" else "right")
    for c in summary["constraints"]:
        price = c["shadow_price"]
        name = escape(c["name"]) + ("" if "ratio_rhs" not in c else
                                    f" (ratio {'—' if c['ratio'] is None else format(c['ratio'], ',.4g')}, "
                                    f"{c['sense']} {c['ratio_rhs']:,.4g})")
        table.add_row(name, f"{c['lhs']:,.2f}", f"{c['sense']} {c['rhs']:,.2f}", f"{c['slack']:,.2f}",
                      "—" if price is None else f"{price:,.4f}", style="bold" if c["binding"] else None)
    return table


def kpi_table(summary: dict[str, Any]) -> Table:
    table = Table(title="KPIs (treated customers)", title_justify="left")
    table.add_column("kpi")
    table.add_column("value", justify="right")
    for kpi in summary["kpis"]:
        table.add_row(escape(kpi["name"]), f"{kpi['value']:,.2f}")
    return table


def unassigned_table(summary: dict[str, Any]) -> Table:
    """Why customers got nothing, each under the first reason that holds."""
    unassigned = summary["unassigned"]
    table = Table(title=f"Customers given nothing ({unassigned['total']:,})", title_justify="left")
    table.add_column("reason")
    table.add_column("customers", justify="right")
    for reason in unassigned["reasons"]:
        if reason["customers"]:
            table.add_row(escape(reason["reason"]), _count(reason["customers"]))
    return table


def policy_table(summary: dict[str, Any]) -> Table | None:
    """Customers each contact-policy rule removed from each campaign (None when it removed nobody)."""
    removed = [rule for rule in summary.get("eligibility", []) if rule["kind"] in POLICY_KINDS and rule["removed"]]
    if not removed:
        return None
    table = Table(title="Contact policy (customers it kept out of each campaign)", title_justify="left")
    for column in ("campaign", "rule", "customers"):
        table.add_column(column, justify="right" if column == "customers" else "left")
    for rule in removed:
        table.add_row(escape(rule["campaign"]), escape(rule["rule"]), _count(rule["removed"]))
    return table


POLICY_KINDS = ("cooldown", "rolling_cap", "measurement_window")


def power_table(summary: dict[str, Any]) -> Table | None:
    """Each campaign's controls: the power to detect its planned uplift, and the controls for 80%."""
    campaigns = [c for c in summary["campaigns"] if c.get("power")]
    if not campaigns:
        return None
    table = Table(title="Controls (power to find the planned response uplift, two-sided 5% test)",
                  title_justify="left", caption_justify="left",
                  caption="Under 80%, a measurement may well miss an uplift that is there: raise the control_fraction "
                  "towards the controls named, or measure over more weeks.")
    for column in ("campaign", "planned uplift", "treated", "controls", "power", "controls for 80%"):
        table.add_column(column, justify="left" if column == "campaign" else "right")
    for c in campaigns:
        power, needed = c["power"], c["power"]["controls_needed"]
        table.add_row(escape(c["id"]), f"{100 * c['planned_response_uplift']:+.2f}pp", _count(power["treated"]),
                      _count(power["controls"]), f"{power['power']:.0%}", "none suffices" if needed is None
                      else _count(needed), style=None if power["power"] >= power["target"] else "bold")
    return table


def lists_table(summary: dict[str, Any]) -> Table | None:
    """The run's forced and excluded lists and the customers each held (None without lists)."""
    files = summary.get("customer_lists") or []
    if not files:
        return None
    table = Table(title="Customer lists of this run", title_justify="left", caption_justify="left",
                  caption="Forced customers are treated (in the treatment column), never held out, and left out of "
                  "the measurement; excluded customers get nothing.")
    for column in ("list", "file", "campaign", "customers", "not in the customers table"):
        table.add_column(column, justify="right" if column in ("customers", "not in the customers table") else "left")
    for listed in files:
        table.add_row(listed["list"], escape(Path(listed["file"]).name), escape(listed_campaign(listed)),
                      _count(listed["customers"]), _count(listed.get("not_in_customers", 0)))
    return table


def listed_campaign(listed: dict[str, Any]) -> str:
    """A customer list's campaign as the tables show it: 'vip_call', 'winback_coupon, variant off12',
    'its campaign_id' (a forced list whose rows name theirs), or nothing (an excluded list)."""
    if listed.get("campaign"):
        return str(listed["campaign"]) + (f", variant {listed['variant']}" if listed.get("variant") else "")
    return "its campaign_id" if listed["list"] == "forced" else ""


def render_summary(summary: dict[str, Any], console: Console) -> None:
    parts: list[Any] = [headline(summary), campaign_table(summary), channel_table(summary)]
    if summary["constraints"]:
        parts.append(constraint_table(summary))
    if summary["kpis"]:
        parts.append(kpi_table(summary))
    if "unassigned" in summary:
        parts.append(unassigned_table(summary))
    parts += [table for table in (policy_table(summary), lists_table(summary), power_table(summary))
              if table is not None]
    console.print(Group(*parts))


def sample_line(sample: dict[str, Any]) -> str:
    """What a run on a sample is: its share, its customers, and that its limits were scaled."""
    return (f"A sample of {sample['share']:.4g} of the customers (seed {sample['seed']}): {sample['customers']:,} of "
            f"{sample['of']:,}; budgets, capacities, audiences and custom limits scaled by {sample['share']:.4g}. A "
            "quick look, not a plan to send: cvo commit refuses it.")


def ignored_scores_line(ignored: dict[str, int], campaigns: list[str]) -> str:
    """One line on the score rows whose campaign is not in the scenario, with a did-you-mean per id."""
    named = [f"'{name}' ({rows:,} rows{'; ' + hint if (hint := did_you_mean(name, campaigns)) else ''})"
             for name, rows in list(ignored.items())[:5]]
    more = f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""
    return (f"Ignored {sum(ignored.values()):,} score rows of campaigns not in this scenario: {', '.join(named)}{more} "
            "(one scores table may serve several scenarios; a misspelt id leaves its customers unscored).")


def unscored_customers_line(unscored: int, customers: int, scores: str) -> str:
    """One line on the customers without a score row for any campaign that reads the scores table."""
    return (f"{unscored:,} of {customers:,} customers have no score row in {scores} for any campaign that reads it: "
            "no offer scored there can reach them (is the scores table of other customers, or does it write "
            "their ids otherwise?).")


def unused_channels_line(channels: list[str], where: str) -> str:
    """One line on the channels under 'channels' that no campaign uses (``where``: the first one's
    place), as on score rows that are not read: kept for later, or a sign of a misspelt channel."""
    named = ", ".join(f"'{channel}'" for channel in channels)
    plural = len(channels) > 1
    return (f"No campaign uses the channel{'s' if plural else ''} {named} under 'channels' ({where}): "
            f"{'their' if plural else 'its'} limits apply to nobody in this run (kept for later, or should a "
            "campaign's channel be named so?).")


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """The runs of a contact history (``store.history_file.runs``), newest first, never wrapped (a run id
    is copied from here to cvo void and cvo measure); a voided run is dimmed."""
    table = Table(title="Runs in the contact history, newest first", title_justify="left", box=box.SIMPLE_HEAD)
    columns = ("run_id", "run_date", "scenario", "committed_at", "status", "objective", "treatment", "control",
               "expected_spend", "voided_at")
    for column in columns:
        table.add_column(column, justify="right" if column in NUMBERS else "left", no_wrap=True)
    for run in runs:
        cells = [_money(run[c]) if c in ("objective", "expected_spend") else _count(run[c]) if c in NUMBERS
                 else "" if run[c] is None else escape(str(run[c])) for c in columns]
        table.add_row(*cells, style="dim" if run["voided_at"] is not None else None)
    return table


NUMBERS = frozenset({"objective", "treatment", "control", "expected_spend"})

"""Figures as PNG bytes, drawn with matplotlib's Agg canvas (no global backend switch, no pyplot state).

Each takes plain figures, not the workflows' types: ``campaign_money_png`` draws scenarios side by
side (optimizer/whatif/comparison.py): each one's expected value and spend per campaign, numbered.
``frontier_png`` draws a sweep (optimizer/whatif/frontier.py) in three panels: the frontier z(b),
the objective against the swept limit b; what one more unit of the limit is worth: the marginal
value Δz/Δb between consecutive points (a step over each interval) and the LP shadow price dz_LP/db
at each point; and the same plans' value against the expected spend of their treated customers,
whatever limit was swept.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FRONTIER_SIZE = (16.5, 4.5)  # inches; at FRONTIER_DPI a 1650 × 450 pixel image
FRONTIER_DPI = 100
INFEASIBLE_COLOR, UNSOLVED_COLOR, PLAN_COLOR, PRICE_COLOR = "#c0392b", "#7f8c8d", "#1f4e79", "#e67e22"


@dataclass(frozen=True)
class FrontierPoint:
    """One solve of a sweep: the limit's ``value`` b, the plan's objective z(b) (None: no plan),
    whether it is proven optimal, the marginal value from the point before, the LP shadow price,
    the plan's expected spend (treated customers; None: no plan) and, without a plan, whether none
    exists (``infeasible``) or the solver found none in its time."""

    value: float
    objective: float | None
    proven: bool
    marginal_value: float | None
    shadow_price: float | None
    spend: float | None = None
    infeasible: bool = True


@dataclass(frozen=True)
class Frontier:
    """A sweep as the figure draws it: the scenario, the limit swept (its sense and the scenario's
    own value), what the objective measures, and the points in increasing order of the limit."""

    scenario: str
    limit: str
    sense: str
    scenario_value: float
    objective_name: str
    points: Sequence[FrontierPoint]


def frontier_png(sweep: Frontier) -> bytes:
    """The sweep's frontier and marginal values as a PNG image (FRONTIER_SIZE at FRONTIER_DPI)."""
    figure = Figure(figsize=FRONTIER_SIZE, dpi=FRONTIER_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    frontier, prices, spend = figure.subplots(1, 3)
    _draw_frontier(frontier, sweep)
    _draw_marginal_values(prices, sweep)
    _draw_against_spend(spend, sweep)
    figure.suptitle(f"{sweep.scenario}: {sweep.objective_name} as '{sweep.limit}' ({sweep.sense}) varies",
                    fontsize=12)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_frontier(axes: Axes, sweep: Frontier) -> None:
    solved = [p for p in sweep.points if p.objective is not None]
    axes.plot([p.value for p in solved], _objectives(solved), "-", color=PLAN_COLOR, linewidth=1.5)
    proven = [p for p in solved if p.proven]
    unproven = [p for p in solved if not p.proven]
    axes.plot([p.value for p in proven], _objectives(proven), "o", color=PLAN_COLOR,
              label="optimal plan")
    if unproven:
        axes.plot([p.value for p in unproven], _objectives(unproven), "o", markerfacecolor="white",
                  color=PLAN_COLOR, label="plan, gap not proven")
    for infeasible, colour, label in ((True, INFEASIBLE_COLOR, "no plan (infeasible)"),
                                      (False, UNSOLVED_COLOR, "no plan found (not proven infeasible)")):
        failed = [p.value for p in sweep.points if p.objective is None and p.infeasible is infeasible]
        if failed:  # drawn along the bottom edge: there is no objective to place them at
            axes.plot(failed, [0.04] * len(failed), "x", color=colour, markersize=9, markeredgewidth=2,
                      transform=axes.get_xaxis_transform(), clip_on=False, label=label)
    _mark_scenario_value(axes, sweep)
    axes.set_title(f"Best plan's value as {sweep.limit} changes", loc="left")
    axes.set_xlabel(_limit_words(sweep.limit))
    axes.set_ylabel(f"best plan's value ({sweep.objective_name.removeprefix('expression: ')})")
    _finish(axes)


def _objectives(points: Sequence[FrontierPoint]) -> list[float]:
    """The objectives of the points with a plan (those without have none to draw)."""
    return [p.objective for p in points if p.objective is not None]


def _draw_marginal_values(axes: Axes, sweep: Frontier) -> None:
    points = sweep.points
    for before, point in zip(points, points[1:]):
        if point.marginal_value is not None:
            axes.plot([before.value, point.value], [point.marginal_value] * 2, "-", color=PLAN_COLOR, linewidth=2)
    if any(p.marginal_value is not None for p in points):
        axes.plot([], [], "-", color=PLAN_COLOR, linewidth=2, label="value of one more unit, between two points")
    priced = [(p.value, p.shadow_price) for p in points if p.shadow_price is not None]
    axes.plot(*_columns(priced), "D", color=PRICE_COLOR, markersize=5, label="value of one more unit at the point "
              "(shadow price)")
    axes.axhline(0.0, color="grey", linewidth=0.8)
    _mark_scenario_value(axes, sweep)
    axes.set_title(f"Value of one more unit of {sweep.limit}", loc="left")
    axes.set_xlabel(_limit_words(sweep.limit))
    axes.set_ylabel(f"value per unit of {sweep.limit}")
    _finish(axes)


def _draw_against_spend(axes: Axes, sweep: Frontier) -> None:
    """Each plan's value against its expected spend, each point labelled with the limit it was solved at."""
    spent = [(p, p.spend) for p in sweep.points if p.objective is not None and p.spend is not None]
    axes.plot([spend for _, spend in spent], _objectives([p for p, _ in spent]), "-o", color=PLAN_COLOR,
              linewidth=1.5, markersize=4, label=f"best plan at each value of {sweep.limit}")
    for point, spend in spent:
        axes.annotate(f"{point.value:,.6g}", (spend, point.objective or 0.0), fontsize=7,
                      textcoords="offset points", xytext=(4, -10), color="grey")
    axes.margins(x=0.1)
    axes.set_title("Best plan's value against its spend", loc="left")
    axes.set_xlabel("expected spend of the treated customers")
    axes.set_ylabel(f"best plan's value ({sweep.objective_name.removeprefix('expression: ')})")
    _finish(axes)


def _limit_words(limit: str) -> str:
    """An axis label for a limit in the reader's words: 'budget (spend allowed)'."""
    words = {"budget": "spend allowed", "capacity": "contacts the channel carries", "max_audience": "largest audience",
             "min_audience": "smallest audience"}
    family = limit.split("[", 1)[0]
    return f"{limit} ({words[family]})" if family in words else limit


def _mark_scenario_value(axes: Axes, sweep: Frontier) -> None:
    axes.axvline(sweep.scenario_value, color="grey", linestyle=":", linewidth=1,
                 label=f"scenario's value ({sweep.scenario_value:,.6g})")


def _finish(axes: Axes) -> None:
    axes.grid(True, alpha=0.3)
    axes.xaxis.set_major_formatter("{x:,.6g}")
    axes.yaxis.set_major_formatter("{x:,.6g}")
    axes.legend(fontsize=8, loc="best")


def _columns(pairs: Sequence[tuple[float, float]]) -> tuple[list[float], list[float]]:
    return [x for x, _ in pairs], [y for _, y in pairs]


@dataclass(frozen=True)
class CampaignMoney:
    """One scenario's expected value and spend per campaign (treated customers)."""

    label: str
    values: dict[str, float]
    spends: dict[str, float]


def campaign_money_png(scenarios: Sequence[CampaignMoney]) -> bytes:
    """Expected value and expected spend of each campaign, one bar per scenario, each bar with its number."""
    campaigns = list(dict.fromkeys(c for s in scenarios for c in s.values))
    figure = Figure(figsize=(11, 4.2), dpi=FRONTIER_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    width = 0.8 / max(len(scenarios), 1)
    for axes, title, figures in zip(figure.subplots(1, 2), ("Expected value (net of spend)", "Expected spend"),
                                    ("values", "spends")):
        for k, scenario in enumerate(scenarios):
            positions = [i + (k - (len(scenarios) - 1) / 2) * width for i in range(len(campaigns))]
            bars = axes.bar(positions, [getattr(scenario, figures).get(c, 0.0) for c in campaigns], width,
                            label=scenario.label)
            axes.bar_label(bars, fmt="{:,.0f}", fontsize=7, rotation=90, padding=2)
        axes.set_xticks(range(len(campaigns)), campaigns, rotation=15)
        axes.set_title(title, loc="left")
        axes.margins(y=0.25)
        axes.spines[["top", "right"]].set_visible(False)
    figure.axes[0].legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()



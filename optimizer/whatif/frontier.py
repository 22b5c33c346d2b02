"""What-if sweeps: solve one scenario at several values of one limit and read off the frontier.

For a limit b_r (any coupling row: the total budget, a campaign budget, a channel capacity, an
audience bound, a custom constraint) and values b^1 < b^2 < ... the sweep solves

    z(b) = max { sum_ij c_ij x_ij : the scenario's rows, with row r's limit set to b }

once per value, from one formulation (the data are read once; only the rhs changes). At each
point it reports, beside the plan's figures:

    shadow price  y_s = dz_LP/db_s   for every limit s, the LP dual of row s at that point
                                      (negative for a >= limit that costs value to meet)
    marginal value  (z(b^k) - z(b^(k-1))) / (b^k - b^(k-1))   between consecutive points

The LP optimum z_LP(b) is concave and piecewise linear in b, so y_r at b^(k-1) >= the LP's
marginal value >= y_r at b^k; the MIP's z(b) follows z_LP within the value of at most m
fractional customers (m limits), which is why the two read alike on all but tiny scenarios.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import ScenarioError, did_you_mean
from optimizer.plan.controls import draw_controls
from optimizer.plan.workflow import limit_conflicts, with_method
from optimizer.reporting.plots import Frontier, FrontierPoint, frontier_png
from optimizer.reporting.summary import campaign_figures
from optimizer.reporting.text import text_table
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import Formulation, formulate
from optimizer.scenario.offers import offer_fractions
from optimizer.scenario.schema import Scenario
from optimizer.solve.options import Method
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem
from optimizer.solve.results import SolutionStatus, SolveResult, Termination
from optimizer.solve.solver import solve
from optimizer.store.files import FRONTIER_FILE, SWEEP_CSV, SWEEP_FILE, atomic_write

SweepProgress = Callable[[int, int], None]  # (points done, points)


@dataclass(frozen=True)
class SweepPoint:
    """One solve of the sweep: the limit's ``value`` and what the plan at that value looks like.

    Plan figures are None when there is no plan (``status`` none: infeasible, or stopped without
    one). ``expected_spend``, ``treatment`` and ``control`` are after the control draw, as in
    ``cvo optimize``; ``audiences`` count treatment + control per campaign; ``limit_lhs`` is the
    swept limit's left-hand side; ``marginal_value`` is the slope from the previous point.
    """

    value: float
    status: SolutionStatus
    termination: Termination
    objective: float | None
    bound: float | None
    gap: float | None
    expected_spend: float | None
    treatment: int | None
    control: int | None
    audiences: Mapping[str, int] | None
    limit_lhs: float | None
    shadow_prices: Mapping[str, float | None]
    marginal_value: float | None
    solve_seconds: float
    reason: str | None = None  # why an infeasible point has no plan, as cvo validate would say it

    @property
    def has_plan(self) -> bool:
        return self.objective is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value, "status": str(self.status), "termination": str(self.termination),
            "objective": self.objective, "bound": self.bound, "gap": self.gap,
            "expected_spend": self.expected_spend, "treatment": self.treatment, "control": self.control,
            "audiences": None if self.audiences is None else dict(self.audiences), "limit_lhs": self.limit_lhs,
            "marginal_value": self.marginal_value, "shadow_prices": dict(self.shadow_prices),
            "solve_seconds": round(self.solve_seconds, 3), "reason": self.reason,
        }


@dataclass(frozen=True)
class Sweep:
    """The points of one sweep, in increasing order of the limit's value."""

    scenario: str
    scenario_file: str
    objective_name: str
    limit: str
    family: str
    sense: str
    scenario_value: float
    limits: tuple[str, ...]
    campaigns: tuple[str, ...]
    points: tuple[SweepPoint, ...]
    scenario_path: str | None = None  # the scenario file, resolved (None for one built in Python)
    limit_values: tuple[float, ...] = ()  # every limit's value in the scenario swept (``limits``' order)

    @property
    def values(self) -> list[float]:
        return [point.value for point in self.points]

    def figure(self) -> Frontier:
        """The sweep as optimizer/reporting/plots.py draws it."""
        points = [FrontierPoint(p.value, p.objective, p.status is SolutionStatus.OPTIMAL, p.marginal_value, price,
                                p.expected_spend, p.termination is Termination.INFEASIBLE)
                  for p, price in zip(self.points, self.shadow_prices)]
        return Frontier(self.scenario, self.limit, self.sense, self.scenario_value, self.objective_name, points)

    @property
    def shadow_prices(self) -> list[float | None]:
        """The swept limit's own shadow price dz_LP/db at each point."""
        return [point.shadow_prices[self.limit] for point in self.points]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "scenario_file": self.scenario_file, "objective_name": self.objective_name,
            "scenario_path": self.scenario_path,
            "limit": self.limit, "family": self.family, "sense": self.sense, "scenario_value": self.scenario_value,
            "limits": list(self.limits), "campaigns": list(self.campaigns),
            "limit_values": dict(zip(self.limits, self.limit_values)),
            "points": [point.to_dict() for point in self.points],
        }


def sweep(
    scenario: Scenario | str | Path, limit: str, values: Sequence[float], progress: SweepProgress | None = None,
    method: Method | None = None, run_date: dt.date | None = None,
) -> Sweep:
    """Solve ``scenario`` with the limit named ``limit`` at each of ``values`` (sorted, duplicates
    dropped); infeasible points are recorded, not raised. ``progress(done, total)`` hears of each point;
    ``run_date`` (default today) is the day the contact policy is checked on.

    Raises ScenarioError for an unknown limit, no values, a value that is not a finite number, or a
    negative one for a budget, audience or capacity (which the scenario file refuses too).
    """
    scenario = with_method(scenario, method)
    ordered = sorted({float(value) for value in values})
    if not ordered:
        raise ScenarioError(f"No values to sweep '{limit}' over", where="sweep values",
                            fix="Give at least one value, e.g. START:STOP:COUNT = 5000:50000:10")
    if not np.all(np.isfinite(ordered)):
        raise ScenarioError(f"The values to sweep '{limit}' over must be finite numbers, not "
                            f"{', '.join(str(v) for v in ordered if not np.isfinite(v))}", where="sweep values",
                            fix="Give numbers such as 5000 or 12.5")
    formulation = formulate(load_data(scenario, run_date))
    index = limit_index(formulation.problem, limit, scenario)
    _check_in_range(formulation.problem.rows[index], ordered)
    points = []
    for done, value in enumerate(ordered, start=1):
        points.append(solve_point(formulation, index, value))
        if progress is not None:
            progress(done, len(ordered))
    row = formulation.problem.rows[index]
    return Sweep(
        scenario=scenario.name, scenario_file=scenario.source, objective_name=scenario.objective_name,
        limit=row.name, family=row.family, sense=str(row.sense), scenario_value=float(row.rhs),
        limits=tuple(r.name for r in formulation.problem.rows), campaigns=tuple(scenario.campaign_ids()),
        points=tuple(with_marginal_values(points)),
        scenario_path=None if scenario.path is None else str(scenario.path.resolve()),
        limit_values=tuple(float(r.rhs) for r in formulation.problem.rows),
    )


NOT_NEGATIVE = ("budget", "campaign_budget", "min_audience", "max_audience", "channel_capacity")  # as the file's


def _check_in_range(row: CouplingRow, values: Sequence[float]) -> None:
    """ScenarioError when the sweep would give a budget, audience or capacity a value the scenario
    file may not: a negative one (a custom limit may take any)."""
    if row.family in NOT_NEGATIVE and values[0] < 0:
        raise ScenarioError(f"'{row.name}' cannot be negative, and the sweep gives it {values[0]:g}",
                            where="sweep values", fix="Sweep from 0 or more, e.g. 0:12000:7")


def limit_index(problem: Problem, limit: str, scenario: Scenario) -> int:
    """Position of the row named ``limit``; a ScenarioError naming the limits there are otherwise."""
    names = [row.name for row in problem.rows]
    ratios = {c.name for c in scenario.constraints if c.per is not None}
    if limit in ratios:
        raise ScenarioError(f"'{limit}' is a ratio limit (per), whose rhs the solver sees as 0: a sweep of it is not "
                            "a sweep of the ratio", where=scenario.source,
                            fix="Compare scenarios with different ratios instead (--set or extends)")
    if limit in names:
        return names.index(limit)
    if limit == "budget":
        raise ScenarioError(
            f"Scenario '{scenario.name}' has no total budget to sweep", where=scenario.source,
            fix="Add a 'budget:' key to the scenario file (any value: the sweep replaces it), or sweep another "
            f"limit: {', '.join(names) or 'there are none'}",
        )
    _check_unset(limit, scenario)
    hint = did_you_mean(limit, names)
    raise ScenarioError(
        f"'{limit}' is not a limit of scenario '{scenario.name}'", where=scenario.source,
        fix=f"{hint + ' ' if hint else ''}Limits: {', '.join(names) or 'none'}. A limit the file does not set "
        "(a campaign budget, max_audience, min_audience, channel capacity) must be set there first, to any value",
    )


CAMPAIGN_LIMITS = ("budget", "max_audience", "min_audience")  # the keys of a campaign a sweep may vary


def _check_unset(limit: str, scenario: Scenario) -> None:
    """ScenarioError naming the key to set when ``limit`` is a campaign's own limit the file leaves
    unset ('budget[winback_coupon]'), where a did-you-mean would offer another family's row."""
    found = re.fullmatch(r"(\w+)\[(.+)\]", limit)
    if found is None or found[1] not in CAMPAIGN_LIMITS or found[2] not in scenario.campaign_ids():
        return
    family, campaign = found[1], found[2]
    raise ScenarioError(
        f"Campaign '{campaign}' of scenario '{scenario.name}' sets no {family}, so there is no '{limit}' to sweep",
        where=scenario.source, fix=f"Give campaign '{campaign}' a '{family}:' in the scenario file first (any value: "
        "the sweep replaces it)")


def set_limit(problem: Problem, index: int, value: float) -> Problem:
    """``problem`` with coupling row ``index``'s rhs replaced by ``value``."""
    rows = list(problem.rows)
    rows[index] = replace(rows[index], rhs=float(value))
    return replace(problem, rows=tuple(rows))


def solve_point(formulation: Formulation, index: int, value: float) -> SweepPoint:
    """Solve the formulation with row ``index`` at ``value``; the plan's figures as cvo optimize gives them."""
    scenario = formulation.scenario
    problem = set_limit(formulation.problem, index, value)
    started = time.perf_counter()
    forced = formulation.data.lists.forced
    result = solve(problem, scenario.solver, fixed=forced)
    seconds = time.perf_counter() - started
    prices = _shadow_prices(problem, result)
    if result.termination is Termination.INFEASIBLE or result.status is SolutionStatus.NONE:
        reason = _infeasible_reason(problem, scenario, forced) if result.termination is Termination.INFEASIBLE else None
        return SweepPoint(float(value), result.status, result.termination, None, result.bound, None, None, None,
                          None, None, None, prices, None, seconds, reason)
    if result.choice is None:  # a result with a status other than none has a plan
        raise TypeError("the solver's result has no plan")
    control = draw_controls(result.choice, problem.customer_ids, problem.campaign_ids, offer_fractions(scenario),
                            scenario.seed,
                            None if forced is None else forced != NO_CAMPAIGN, formulation.strata)
    campaigns = campaign_figures(replace(formulation, problem=problem), result.choice, control)
    return SweepPoint(
        value=float(value), status=result.status, termination=result.termination, objective=result.objective,
        bound=result.bound, gap=result.gap, expected_spend=float(sum(c["expected_spend"] for c in campaigns)),
        treatment=int(sum(c["treatment"] for c in campaigns)), control=int(sum(c["control"] for c in campaigns)),
        audiences={c["id"]: c["audience"] for c in campaigns},
        limit_lhs=float(problem.row_activity(result.choice)[index]), shadow_prices=prices, marginal_value=None,
        solve_seconds=seconds,
    )


def _infeasible_reason(problem: Problem, scenario: Scenario, forced: NDArray[np.intp] | None) -> str:
    """Why no plan meets the limits: the conflict cvo validate finds without solving (minimum
    audiences that need more than a limit allows even with their cheapest customers), else that
    the solver proved it."""
    conflicts = limit_conflicts(problem, scenario, forced)
    if conflicts:
        return "; and ".join(conflict.text for conflict in conflicts)
    return "no plan meets every limit at once (proven by the solver; no single minimum audience explains it)"


def _shadow_prices(problem: Problem, result: SolveResult) -> dict[str, float | None]:
    prices = result.shadow_prices
    if prices is None:
        return {row.name: None for row in problem.rows}
    return {row.name: float(price) for row, price in zip(problem.rows, prices)}


def with_marginal_values(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """Each point with the slope Δz/Δb from the point before it (None without two objectives)."""
    out = list(points[:1])
    for before, point in zip(points, points[1:]):
        slope = None
        if before.objective is not None and point.objective is not None:  # both have a plan
            slope = (point.objective - before.objective) / (point.value - before.value)
        out.append(replace(point, marginal_value=slope))
    return out


MAX_POINTS = 1_000  # points of a sweep range at most: each is a solve


def parse_range(text: str) -> list[float]:
    """'START:STOP:COUNT' as COUNT (2 to MAX_POINTS) evenly spaced values from START to STOP, both included.

    >>> parse_range("5000:50000:10")[:3]
    [5000.0, 10000.0, 15000.0]
    """
    parts = text.split(":")
    fix = (f"Write START:STOP:COUNT with 2 <= COUNT <= {MAX_POINTS:,}, e.g. 5000:50000:10 (ten values from 5,000 "
           "to 50,000)")
    if len(parts) != 3:
        raise ScenarioError(f"The range '{text}' does not have the form START:STOP:COUNT", where="sweep range",
                            fix=fix)
    try:
        start, stop = float(parts[0]), float(parts[1])
        count = int(parts[2])
    except ValueError:
        raise ScenarioError(f"The range '{text}' needs numbers for START and STOP and a whole number for COUNT",
                            where="sweep range", fix=fix) from None
    if count < 2 or not (np.isfinite(start) and np.isfinite(stop)) or start == stop:
        raise ScenarioError(f"The range '{text}' must have COUNT >= 2 and START != STOP (finite numbers)",
                            where="sweep range", fix=fix)
    if count > MAX_POINTS:
        raise ScenarioError(f"The range '{text}' asks for {count:,} points, each a solve of the scenario",
                            where="sweep range", fix=fix)
    return [float(value) for value in np.linspace(start, stop, count)]


def parse_limit(text: str) -> tuple[str, list[float]]:
    """'NAME=START:STOP:COUNT' as (NAME, values): the ``--limit`` option of ``cvo sweep``.

    >>> parse_limit("capacity[email]=1000:3000:3")
    ('capacity[email]', [1000.0, 2000.0, 3000.0])
    """
    name, separator, span = text.rpartition("=")
    if not separator or not name.strip():
        raise ScenarioError(f"'{text}' is not NAME=START:STOP:COUNT", where="--limit",
                            fix="Write e.g. --limit capacity[email]=1000:20000:8")
    return name.strip(), parse_range(span.strip())


def sweep_table(result: Sweep) -> pd.DataFrame:
    """One row per point: the figures of sweep.csv, with audience[...] and shadow_price[...] columns;
    customer counts stay whole numbers (4810, not 4810.0) where a point without a plan leaves a blank."""
    rows = []
    for point in result.points:
        row = {key: value for key, value in point.to_dict().items() if key not in ("audiences", "shadow_prices")}
        audiences = point.audiences or {}
        row.update({f"audience[{c}]": audiences.get(c) for c in result.campaigns})
        row.update({f"shadow_price[{name}]": point.shadow_prices.get(name) for name in result.limits})
        rows.append(row)
    counts = ["treatment", "control", *(f"audience[{c}]" for c in result.campaigns)]
    table = pd.DataFrame(rows)
    return table.astype({column: "Int64" for column in counts if column in table})


def write_sweep(result: Sweep, out_dir: Path) -> list[Path]:
    """Write sweep.json, sweep.csv and frontier.png into ``out_dir``, each atomically; return their paths."""
    paths = [out_dir / SWEEP_FILE, out_dir / SWEEP_CSV, out_dir / FRONTIER_FILE]
    text = json.dumps(result.to_dict(), indent=2) + "\n"
    table = sweep_table(result)
    png = frontier_png(result.figure())
    atomic_write(paths[0], lambda temp: temp.write_text(text, encoding="utf-8"))
    atomic_write(paths[1], lambda temp: table.to_csv(temp, index=False))
    atomic_write(paths[2], lambda temp: temp.write_bytes(png))
    return paths


def slope_range(before: SweepPoint, point: SweepPoint) -> tuple[float, float] | None:
    """Where the true marginal value from ``before`` to ``point`` lies when either plan is not
    proven optimal (None when both are, or a plan or bound is missing): each optimum z*(b) is between
    the plan's objective z(b) and its bound, so

        (z(b_k) - bound(b_(k-1))) / Δb  <=  Δz*/Δb  <=  (bound(b_k) - z(b_(k-1))) / Δb."""
    if before.status is SolutionStatus.OPTIMAL and point.status is SolutionStatus.OPTIMAL:
        return None
    z_before, bound_before, z, bound = before.objective, before.bound, point.objective, point.bound
    if z_before is None or bound_before is None or z is None or bound is None:
        return None
    step = point.value - before.value
    return (z - bound_before) / step, (bound - z_before) / step


def format_sweep(result: Sweep, top: int = 3) -> str:
    """The sweep as a text table: value, status, objective, gap, spend, marginal value, and the
    ``top`` largest shadow prices (by size) at each point."""
    head = (f"cvo sweep {result.scenario}: {result.limit} ({result.sense} {result.scenario_value:,.6g} in the "
            f"scenario), objective {result.objective_name}")
    header = ["value", "status", "objective", "gap", "spend", "lhs", "marginal value", "largest shadow prices"]
    ranges = [None, *(slope_range(before, point) for before, point in zip(result.points, result.points[1:]))]
    body = [
        [f"{p.value:,.6g}", str(p.status if p.has_plan else p.termination), _number(p.objective),
         "—" if p.gap is None else f"{p.gap:.1e}", _number(p.expected_spend), _number(p.limit_lhs),
         _number(p.marginal_value, 4) + (" *" if p.marginal_value is not None and span is not None else ""),
         _largest_prices(p.shadow_prices, top)]
        for p, span in zip(result.points, ranges)
    ]
    notes = [f"spend: treated customers, after the control hold-out; lhs: {result.limit} over the whole selected "
             "audience; marginal value = Δobjective/Δvalue from the row above; shadow price = d objective/d limit "
             "(LP dual)"]
    notes += [f"* At {p.value:,.6g}, the marginal value is between plans not both proven optimal: the true one "
              f"lies between {_span(*span)} (their objectives and bounds)"
              for p, span in zip(result.points, ranges) if span is not None and p.marginal_value is not None]
    notes += [f"At {p.value:,.6g}, infeasible: {p.reason}" for p in result.points if p.reason]
    return "\n".join([head, *text_table(header, body, left={1, 7}).splitlines(), *notes])


def _span(low: float, high: float) -> str:
    """'low and high' with the decimals that tell them apart (4 at least, 10 at most)."""
    digits = next((d for d in range(4, 11) if f"{low:,.{d}f}" != f"{high:,.{d}f}"), 10)
    return f"{low:,.{digits}f} and {high:,.{digits}f}"


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _largest_prices(prices: Mapping[str, float | None], top: int) -> str:
    known = [(name, price) for name, price in prices.items() if price is not None and abs(price) > 1e-9]
    largest = sorted(known, key=lambda item: -abs(item[1]))[:top]
    return ", ".join(f"{name} {price:,.4g}" for name, price in largest) or "—"


"""What-if sweeps (optimizer/whatif/frontier.py) and the frontier figure (optimizer/reporting/plots.py).

The scenario is 120 seeded customers × 3 campaigns with a total budget, an audience floor and
cap, three channel capacities, a custom constraint and control groups: each solve takes well
under a second, and the budget binds at the scenario's value (60).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.errors import ScenarioError
from optimizer.plan.workflow import optimize
from optimizer.reporting.plots import FRONTIER_DPI, FRONTIER_SIZE
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.schema import load_scenario
from optimizer.solve.relaxation import solve_relaxation
from optimizer.solve.results import SolutionStatus, Termination
from optimizer.whatif.frontier import format_sweep, parse_limit, parse_range, set_limit, sweep, write_sweep

BUDGET = 60.0


def write_scenario(folder: Path, name: str = "what_if", **changes) -> Path:
    """Write the tables (once per folder) and a scenario file ``name``.yaml with ``changes`` to its keys."""
    if not (folder / "customers.parquet").exists():
        _write_tables(folder)
    scenario = {
        "name": name, "customers": "customers.parquet", "scores": "scores.parquet", "seed": 5, "budget": BUDGET,
        "campaigns": [
            {"id": "email_offer", "channel": "email", "cost_per_contact": 0.5, "cost_per_response": 2.0,
             "value_per_response": "ltv * 0.4", "min_audience": 10, "control_fraction": 0.1},
            {"id": "call_offer", "channel": "phone", "cost_per_contact": 4.0, "value_per_response": "ltv * 0.4",
             "eligible": "vip", "max_audience": 15, "control_fraction": 0.25},
            {"id": "sms_nudge", "channel": "sms", "cost_per_contact": 0.2, "value_per_response": "ltv * 0.3",
             "control_fraction": 0.2},
        ],
        "channels": {"email": {"capacity": 60}, "phone": {"capacity": 12}, "sms": {"capacity": 40}},
        "constraints": [{"name": "vip_contacts", "sense": "<=", "where": "vip", "rhs": 20}],
        "kpis": [{"name": "responses", "expression": "p_treat"}],
        **changes,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in scenario.items() if v is not None}, sort_keys=False))
    return path


def _write_tables(folder: Path, n: int = 120) -> None:
    rng = np.random.default_rng(3)
    ids = [f"c{k:03d}" for k in range(1, n + 1)]
    customers = pd.DataFrame({"customer_id": ids, "ltv": rng.gamma(2.0, 150.0, n), "vip": rng.random(n) < 0.25})
    customers.to_parquet(folder / "customers.parquet", index=False)
    scores = pd.concat([
        pd.DataFrame({"customer_id": ids, "campaign_id": campaign,
                      "p_treat": np.clip(p_treat + rng.normal(0, 0.03, n), 0.01, 0.9), "p_control": p_control})
        for campaign, p_treat, p_control in (("email_offer", 0.08, 0.05), ("call_offer", 0.25, 0.08),
                                             ("sms_nudge", 0.05, 0.04))
    ])
    scores.to_parquet(folder / "scores.parquet", index=False)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("what_if"))


@pytest.fixture(scope="module")
def budget_sweep(scenario):
    return sweep(scenario, "budget", parse_range("0:150:16"))


def test_the_frontier_never_falls_as_the_budget_grows(budget_sweep):
    """z(b) is non-decreasing in a <= limit: every plan at b is a plan at b' > b (up to the gap)."""
    solved = [p for p in budget_sweep.points if p.has_plan]
    assert len(solved) == 15
    assert all(p.status is SolutionStatus.OPTIMAL for p in solved)
    for before, after in zip(solved, solved[1:]):
        assert after.objective >= before.objective - 1e-6 * max(1.0, abs(before.objective))
        assert after.marginal_value >= -1e-6
    assert budget_sweep.values == sorted(budget_sweep.values)


def test_an_infeasible_point_is_recorded_and_the_others_still_solve(budget_sweep):
    """A budget of 0 cannot pay for min_audience[email_offer] (10 × 0.5 and more)."""
    first, second = budget_sweep.points[:2]
    assert first.value == 0.0
    assert first.termination is Termination.INFEASIBLE and first.status is SolutionStatus.NONE
    assert first.objective is None and first.expected_spend is None and first.audiences is None
    assert set(first.shadow_prices.values()) == {None}
    assert second.has_plan and second.marginal_value is None  # no slope from a point without a plan
    assert "infeasible" in format_sweep(budget_sweep).splitlines()[3]


def test_an_infeasible_point_says_why_as_validate_would(budget_sweep):
    """It said only 'infeasible', where cvo optimize at that budget names the minimum audience and
    the budget it needs."""
    first = budget_sweep.points[0]
    assert first.reason is not None and "min_audience[email_offer]" in first.reason
    assert "raise budget by at least" in first.reason and first.to_dict()["reason"] == first.reason
    assert f"At 0, infeasible: {first.reason}" in format_sweep(budget_sweep)
    assert all(point.reason is None for point in budget_sweep.points[1:])


def test_a_sweep_point_is_what_optimize_gives_with_the_scenario_edited(tmp_path, scenario):
    point = sweep(scenario, "budget", [45.0]).points[0]
    summary = optimize(write_scenario(tmp_path, "edited", budget=45.0)).summary
    assert point.objective == pytest.approx(summary["objective"], rel=1e-12)
    assert point.bound == pytest.approx(summary["bound"], rel=1e-12)
    assert point.expected_spend == pytest.approx(summary["expected_spend"], rel=1e-12)
    assert (point.treatment, point.control) == (summary["treatment"], summary["control"])
    assert dict(point.audiences) == {c["id"]: c["audience"] for c in summary["campaigns"]}
    budget = next(c for c in summary["constraints"] if c["name"] == "budget")
    assert point.limit_lhs == pytest.approx(budget["lhs"])
    assert dict(point.shadow_prices) == pytest.approx({c["name"]: c["shadow_price"] for c in summary["constraints"]})


def test_every_limit_has_a_shadow_price_at_every_point(budget_sweep):
    for point in budget_sweep.points[1:]:
        assert list(point.shadow_prices) == list(budget_sweep.limits)
        assert point.shadow_prices["budget"] >= 0  # one more unit of a <= limit never costs value
        assert point.shadow_prices["min_audience[email_offer]"] <= 0  # a >= floor never adds value


def test_the_budget_shadow_price_is_the_slope_of_the_lp_frontier(scenario):
    """z_LP(b) is concave, and its dual y is a supergradient: z_LP(b + h) <= z_LP(b) + y h for all h."""
    problem = formulate(load_data(load_scenario(scenario))).problem
    price = sweep(scenario, "budget", [BUDGET]).points[0].shadow_prices["budget"]
    assert price > 1  # the budget binds at the scenario's value

    def lp(budget: float) -> float:
        changed = set_limit(problem, 0, budget)
        return solve_relaxation(changed, *changed.candidate_pairs()).bound

    for step in (-5.0, -0.5, 0.5, 5.0):
        assert lp(BUDGET + step) <= lp(BUDGET) + price * step + 1e-6
    slope = (lp(BUDGET + 0.5) - lp(BUDGET - 0.5)) / 1.0
    assert slope == pytest.approx(price, rel=0.05)


def test_the_marginal_value_lies_between_the_shadow_prices_at_its_ends(budget_sweep):
    """For the LP, y(b_k-1) >= Δz_LP/Δb >= y(b_k); the MIP follows it within a few customers' value."""
    points = budget_sweep.points
    for before, point in zip(points[1:], points[2:]):
        low, high = point.shadow_prices["budget"], before.shadow_prices["budget"]
        assert low - 0.1 * high - 0.05 <= point.marginal_value <= high * 1.1 + 0.05


@pytest.mark.parametrize(("limit", "span", "direction"), [
    ("capacity[phone]", "0:12:4", +1),
    pytest.param("vip_contacts", "0:30:4", +1, marks=pytest.mark.slow),  # 3 s each: a cap and a floor stay in
    pytest.param("max_audience[call_offer]", "2:14:4", +1, marks=pytest.mark.slow),  # the default run
    ("min_audience[email_offer]", "0:40:5", -1),
])
def test_any_limit_can_be_swept(scenario, limit, span, direction):
    """Raising a <= limit never lowers z; raising a >= floor never raises it."""
    result = sweep(scenario, limit, parse_range(span))
    assert result.limit == limit
    objectives = [p.objective for p in result.points]
    assert None not in objectives
    steps = np.diff(objectives) * direction
    assert (steps >= -1e-6 * max(map(abs, objectives))).all()
    for point in result.points:
        assert point.shadow_prices[limit] * direction >= -1e-9


def test_the_points_are_sorted_and_progress_hears_of_each(scenario):
    calls = []
    result = sweep(scenario, "budget", [80.0, 20.0, 50.0, 20.0], progress=lambda done, total: calls.append((done, total)))
    assert result.values == [20.0, 50.0, 80.0]
    assert calls == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_value_that_is_no_finite_number_is_refused(scenario, value):
    with pytest.raises(ScenarioError, match="must be finite numbers"):
        sweep(scenario, "budget", [50.0, value])


def test_a_negative_budget_or_audience_is_refused_as_the_scenario_file_refuses_it(scenario):
    with pytest.raises(ScenarioError, match="'budget' cannot be negative, and the sweep gives it -5"):
        sweep(scenario, "budget", [-5.0, 10.0])


def test_an_unknown_limit_is_refused_with_a_did_you_mean_and_the_limits(scenario):
    with pytest.raises(ScenarioError) as error:
        sweep(scenario, "capacity[emial]", [1.0, 2.0])
    message = error.value.message
    assert "'capacity[emial]' is not a limit of scenario 'what_if'" in message
    assert "Did you mean 'capacity[email]'?" in message
    assert "Limits: budget, min_audience[email_offer], max_audience[call_offer], capacity[email]" in message
    assert str(scenario) in message


@pytest.mark.parametrize("limit", ["max_audience[sms_nudge]", "budget[email_offer]"])
def test_a_limit_the_file_does_not_set_says_to_set_it(scenario, limit: str):
    """budget[email_offer] was offered 'Did you mean min_audience[email_offer]?', another limit."""
    family, campaign = limit.rstrip("]").split("[")
    with pytest.raises(ScenarioError, match=rf"Give campaign '{campaign}' a '{family}:' in the scenario file") as error:
        sweep(scenario, limit, [1.0, 2.0])
    assert "Did you mean" not in error.value.message


def test_sweeping_the_budget_of_a_scenario_without_one_says_so(tmp_path):
    path = write_scenario(tmp_path, "no_budget", budget=None)
    with pytest.raises(ScenarioError) as error:
        sweep(path, "budget", [10.0, 20.0])
    assert "Scenario 'no_budget' has no total budget to sweep" in error.value.message
    assert "Add a 'budget:' key" in error.value.message


def test_parse_range_gives_count_values_from_start_to_stop():
    assert parse_range("5000:50000:10") == [5000.0 * k for k in range(1, 11)]
    assert parse_range("10:0:3") == [10.0, 5.0, 0.0]
    assert parse_range(" 1.5 : 2.5 : 2 ") == [1.5, 2.5]


@pytest.mark.parametrize(("text", "message"), [
    ("5000:50000", "does not have the form START:STOP:COUNT"),
    ("5000:50000:10:2", "does not have the form START:STOP:COUNT"),
    ("a:50000:10", "needs numbers for START and STOP and a whole number for COUNT"),
    ("5000:50000:2.5", "needs numbers for START and STOP and a whole number for COUNT"),
    ("5000:50000:1", "must have COUNT >= 2"),
    ("5000:5000:3", "START != STOP"),
    ("0:inf:3", "finite numbers"),
    ("5000:6000:1000000000000", "asks for 1,000,000,000,000 points"),
])
def test_parse_range_refuses_a_bad_range(text, message):
    with pytest.raises(ScenarioError) as error:
        parse_range(text)
    assert message in error.value.message
    assert "e.g. 5000:50000:10" in error.value.message


def test_parse_limit_splits_name_and_range():
    assert parse_limit("capacity[email]=1000:3000:3") == ("capacity[email]", [1000.0, 2000.0, 3000.0])
    with pytest.raises(ScenarioError, match="is not NAME=START:STOP:COUNT"):
        parse_limit("capacity[email]")
    with pytest.raises(ScenarioError, match="COUNT >= 2"):
        parse_limit("budget=1:2:1")


def test_write_sweep_writes_json_csv_and_the_frontier(budget_sweep, tmp_path):
    out = tmp_path / "out" / "sweep"
    paths = write_sweep(budget_sweep, out)
    assert [p.name for p in paths] == ["sweep.json", "sweep.csv", "frontier.png"]
    assert sorted(p.name for p in out.iterdir()) == ["frontier.png", "sweep.csv", "sweep.json"]  # no temp files

    written = json.loads((out / "sweep.json").read_text())
    assert written == json.loads(json.dumps(budget_sweep.to_dict()))
    assert list(written) == ["scenario", "scenario_file", "objective_name", "scenario_path", "limit", "family",
                             "sense", "scenario_value", "limits", "campaigns", "limit_values", "points"]
    assert written["scenario_path"] == str(load_scenario(budget_sweep.scenario_file).path.resolve())
    assert list(written["points"][0]) == ["value", "status", "termination", "objective", "bound", "gap",
                                          "expected_spend", "treatment", "control", "audiences", "limit_lhs",
                                          "marginal_value", "shadow_prices", "solve_seconds", "reason"]

    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 16
    assert "audience[call_offer]" in table.columns and "shadow_price[vip_contacts]" in table.columns
    assert table["objective"].iloc[1:].tolist() == pytest.approx([p.objective for p in budget_sweep.points[1:]])
    # the infeasible first point leaves blanks, and the counts stay whole numbers: '12', not '12.0'
    lines = (out / "sweep.csv").read_text().splitlines()
    header, second = lines[0].split(","), lines[2].split(",")
    assert second[header.index("treatment")] == str(budget_sweep.points[1].treatment)
    assert second[header.index("audience[email_offer]")] == str(budget_sweep.points[1].audiences["email_offer"])
    assert lines[1].split(",")[header.index("treatment")] == ""

    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(out / "frontier.png")
    width, height = (round(inches * FRONTIER_DPI) for inches in FRONTIER_SIZE)
    assert image.shape[:2] == (height, width)
    pixels = image[..., :3].reshape(-1, 3)
    assert (pixels < 0.9).any(axis=1).mean() > 0.01  # ink: axes, labels, the curve
    assert len(np.unique(np.round(pixels, 2), axis=0)) > 20


def test_the_frontier_draws_a_sweep_without_any_plan(scenario, tmp_path):
    result = sweep(scenario, "budget", [0.0, 1.0])
    assert not any(p.has_plan for p in result.points)
    write_sweep(result, tmp_path)
    assert matplotlib.image.imread(tmp_path / "frontier.png").shape[2] == 4


def test_the_frontier_tells_a_point_stopped_by_the_time_limit_from_an_infeasible_one(budget_sweep):
    """A point that found no plan in its time was drawn as 'no plan (infeasible)', as if proven."""
    from matplotlib.figure import Figure

    from optimizer.reporting.plots import _draw_frontier

    stopped = replace(budget_sweep.points[0], value=-1.0, termination=Termination.TIME_LIMIT)
    result = replace(budget_sweep, points=(stopped, *budget_sweep.points))
    figure = result.figure()
    assert [p.infeasible for p in figure.points[:2]] == [False, True]
    axes = Figure().add_subplot()
    _draw_frontier(axes, figure)
    labels = axes.get_legend_handles_labels()[1]
    assert "no plan (infeasible)" in labels and "no plan found (not proven infeasible)" in labels


def test_format_sweep_prints_one_row_per_point(budget_sweep):
    lines = format_sweep(budget_sweep).splitlines()
    assert lines[0] == "cvo sweep what_if: budget (<= 60 in the scenario), objective incremental_value"
    assert lines[1].split()[:5] == ["value", "status", "objective", "gap", "spend"]
    assert len(lines) == 3 + 16 + 1 + 1  # header, rule, points, the notes, why budget 0 is infeasible
    row = next(line for line in lines if line.startswith("   60"))
    assert "optimal" in row and "budget 4.2" in row


def test_a_marginal_value_next_to_an_unproven_plan_is_marked_with_where_the_true_one_lies(budget_sweep):
    """A plan stopped at its time limit has a gap: the slope to it is only known to lie between
    (z_k - bound_(k-1)) / Δb and (bound_k - z_(k-1)) / Δb, and the table says so."""
    points = list(budget_sweep.points)
    k = next(i for i in range(1, len(points)) if points[i].has_plan and points[i - 1].has_plan)
    stopped = replace(points[k], status=SolutionStatus.FEASIBLE, termination=Termination.TIME_LIMIT,
                      bound=points[k].objective + 1.0, gap=1.0 / points[k].objective)
    points[k] = stopped
    text = format_sweep(replace(budget_sweep, points=tuple(points)))
    step = stopped.value - points[k - 1].value
    low = (stopped.objective - points[k - 1].bound) / step
    high = (stopped.objective + 1.0 - points[k - 1].objective) / step
    assert low <= stopped.marginal_value <= high
    assert f"{stopped.marginal_value:,.4f} *" in text
    assert f"* At {stopped.value:,.6g}, the marginal value is between plans not both proven optimal: the true one " \
           f"lies between {low:,.4f} and {high:,.4f}" in text
    assert text.count(" *") == 2 - (k == len(points) - 1)  # the slopes into and out of the stopped point
    assert "between plans" not in format_sweep(budget_sweep)


def test_a_range_of_marginal_values_shows_the_digits_that_tell_its_ends_apart():
    """Never 'between 0.9280 and 0.9280': as many decimals as tell the ends apart, 4 at least."""
    from optimizer.whatif.frontier import _span

    assert _span(0.928, 0.929) == "0.9280 and 0.9290"
    assert _span(0.92801, 0.92804) == "0.92801 and 0.92804"
    assert _span(1234.5, 1234.5000002) == "1,234.5000000 and 1,234.5000002"

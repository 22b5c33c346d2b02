"""Terminal output: the progress bar the decomposition drives, and the summary headline."""

from __future__ import annotations

import io

import pytest
from instances import medium_problem
from rich.console import Console

from optimizer.reporting.console import PassProgress, headline
from optimizer.solve.decompose import solve_decompose


class Spy:
    """Hears what the decomposition tells its progress bar and passes it on."""

    def __init__(self, progress: PassProgress) -> None:
        self.progress = progress
        self.calls: list[tuple[str, int, int]] = []
        self.standings: list[tuple[str, float | None, float | None]] = []

    def __call__(self, stage: str, done: int, customers: int) -> None:
        self.calls.append((stage, done, customers))
        self.progress(stage, done, customers)

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        self.standings.append((phase, objective, bound))
        self.progress.standing(phase, objective, bound)


def test_the_progress_bar_counts_the_passes_of_a_decomposition():
    stream = io.StringIO()
    with PassProgress(Console(file=stream, force_terminal=True, width=100), "Solving demo") as progress:
        spy = Spy(progress)
        solve_decompose(medium_problem(1, n=300), progress=spy)
    calls = spy.calls
    assert progress.passes == sum(done == customers for _, done, customers in calls) > 3
    assert {stage for stage, _, _ in calls} >= {"balance", "pass", "fixed", "plan"}
    assert all(customers == 300 for _, _, customers in calls)


def test_the_progress_bar_shows_each_phase_with_its_plan_bound_and_gap():
    """Every bound told is at least the final plan's value; the last standing is the plan and bound
    the result states, and the bar's text carries them."""
    stream = io.StringIO()
    with PassProgress(Console(file=stream, force_terminal=True, width=200), "Solving demo") as progress:
        spy = Spy(progress)
        result = solve_decompose(medium_problem(1, n=300), progress=spy)
    phases = [phase for phase, _, _ in spy.standings]
    assert {"balancing pass 1", "balanced prices", "exact core"} <= set(phases)
    assert all(bound >= result.objective - 1e-6 for _, _, bound in spy.standings if bound is not None)
    _, objective, bound = [s for s in spy.standings if s[0] == "exact core"][-1]
    assert objective == pytest.approx(result.objective) and bound == pytest.approx(result.bound)
    assert f"plan {result.objective:,.2f}" in progress.known and "gap " in progress.known


def test_a_console_that_is_no_terminal_or_quiet_shows_no_progress():
    for console in (Console(file=io.StringIO(), force_terminal=False), Console(file=io.StringIO(), quiet=True,
                                                                                  force_terminal=True)):
        with PassProgress(console, "Solving demo") as progress:
            solve_decompose(medium_problem(1, n=300), progress=progress)
        assert console.file.getvalue() == ""


def test_the_headline_names_the_solver_that_ran():
    summary = {"scenario": "weekly", "scenario_file": "weekly.yaml", "status": "optimal", "objective": 10.0,
               "bound": 10.0, "gap": 0.0, "build_seconds": 0.5, "solve_seconds": 1.0, "method": "decompose"}
    assert "method decompose" in headline(summary).plain
    assert "status optimal  objective" in headline({**summary, "termination": "optimal"}).plain


def test_the_headline_names_the_overrides_a_run_laid_over_its_scenario_file():
    summary = {"scenario": "weekly", "scenario_file": "weekly.yaml", "status": "optimal", "objective": 10.0,
               "bound": 10.0, "gap": 0.0, "build_seconds": 0.5, "solve_seconds": 1.0, "method": "exact"}
    assert headline(summary).plain.startswith("cvo plan weekly  (weekly.yaml)\n")
    assert headline({**summary, "overrides": ["budget=12000", "campaigns.vip_call.max_audience=500"]}).plain.startswith(
        "cvo plan weekly  (weekly.yaml with --set budget=12000 campaigns.vip_call.max_audience=500)\n")


def test_the_headline_says_why_an_unproven_plan_stopped():
    summary = {"scenario": "holiday", "scenario_file": "holiday.yaml", "status": "feasible", "objective": 10.0,
               "bound": 10.1, "gap": 1e-2, "build_seconds": 0.5, "solve_seconds": 1.0, "method": "exact"}
    assert "status feasible (stalled: no better plan or bound in sight)" in headline(
        {**summary, "termination": "stalled"}).plain
    assert "status feasible (stopped by the time limit)" in headline({**summary, "termination": "time_limit"}).plain


def test_one_money_basis_in_the_summary_the_console_and_the_report(tmp_path):
    """The treated value and spend, the control customers' spend the limits count, and the
    objective as the value expected before the control draw, the same in all three places."""
    import json
    import re

    import numpy as np
    from weekly_loop import MONDAY, write_scenario

    from optimizer.plan.outputs import write_plan
    from optimizer.plan.workflow import optimize
    from optimizer.reporting.console import render_summary
    from optimizer.reporting.report import write_report
    from optimizer.scenario.schema import load_scenario

    scenario = write_scenario(tmp_path, n=400, budget=60.0)
    plan = optimize(scenario, run_date=MONDAY)
    summary = write_plan(plan, tmp_path / "out")
    assert summary == json.loads((tmp_path / "out" / "summary.json").read_text())
    given = plan.assignments.dropna(subset=["campaign_id"])
    treated = given[given["group"] == "treatment"]
    assert summary["expected_value"] == pytest.approx(treated["expected_value"].sum())
    assert summary["expected_spend"] == pytest.approx(treated["expected_spend"].sum())
    budget = next(row for row in summary["constraints"] if row["name"] == "budget")
    assert budget["lhs"] == pytest.approx(summary["expected_spend"] + summary["control_spend"])
    fractions = dict(zip(load_scenario(scenario).campaign_ids(), load_scenario(scenario).control_fractions()))
    audience_value = sum((1 - fractions[c["id"]]) * (c["expected_value"] + c["control_value"])
                         for c in summary["campaigns"])
    assert summary["objective"] == pytest.approx(audience_value, rel=1e-9)
    assert summary["control_value"] > 0 and not np.isclose(summary["objective"], summary["expected_value"])

    stream = io.StringIO()
    render_summary(summary, Console(file=stream, width=120))
    console = " ".join(stream.getvalue().split())
    money = [f"{summary[key]:,.2f}" for key in ("objective", "expected_value", "expected_spend", "control_spend")]
    assert all(figure in console for figure in money), console
    assert f"{budget['lhs']:,.2f}" in console and "before the random control draw" in console
    assert summary["gross_value"] == pytest.approx(summary["expected_value"] + summary["expected_spend"])
    assert f"gross value {summary['gross_value']:,.2f}" in console and f"ROI {summary['roi']:.2f}" in console
    page = re.sub(r"<[^>]+>", " ", write_report(tmp_path / "out").read_text(encoding="utf-8"))
    page = " ".join(page.split())
    assert all(figure in page for figure in money) and "before the random control draw" in page


def test_budgets_that_count_treated_customers_only_charge_each_selected_customer_its_expected_treated_spend(
    tmp_path,
):
    """budget_counts_controls: false: the budget row is Σ (1 - f_j) spend_ij over the selected
    audience, the plan may select more customers than under the default, and the console and
    the report say what the budget counts."""
    import re

    import yaml
    from weekly_loop import MONDAY, write_scenario

    from optimizer.plan.outputs import write_plan
    from optimizer.plan.workflow import optimize
    from optimizer.reporting.console import render_summary
    from optimizer.reporting.report import write_report

    path = write_scenario(tmp_path, n=400, budget=60.0)
    default = write_plan(optimize(path, run_date=MONDAY), tmp_path / "default")
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "budget_counts_controls": False}, sort_keys=False))
    summary = write_plan(optimize(path, run_date=MONDAY), tmp_path / "treated")

    fractions = {c["id"]: c["control_fraction"] for c in raw["campaigns"]}
    budget = next(row for row in summary["constraints"] if row["name"] == "budget")
    treated_share_spend = sum((1 - fractions[c["id"]]) * (c["expected_spend"] + c["control_spend"])
                              for c in summary["campaigns"])
    assert budget["lhs"] == pytest.approx(treated_share_spend) and budget["lhs"] <= 60.0 + 1e-6
    assert budget["lhs_treated"] == pytest.approx(summary["expected_spend"])  # treated at full spend, once
    assert budget["lhs"] < summary["expected_spend"] + summary["control_spend"]
    assert default["budget_counts_controls"] and not summary["budget_counts_controls"]
    assert summary["treatment"] + summary["control"] > default["treatment"] + default["control"]
    assert summary["objective"] > default["objective"]
    assert "budget_counts_controls is false" in summary["money_basis"]

    stream = io.StringIO()
    render_summary(summary, Console(file=stream, width=120))
    console = " ".join(stream.getvalue().split())
    assert "Budgets count treated spend as expected before the draw" in console
    assert "Limits count control customers too" not in console
    page = " ".join(re.sub(r"<[^>]+>", " ", write_report(tmp_path / "treated").read_text(encoding="utf-8")).split())
    assert "Budgets count treated spend as expected before the draw" in page

"""Scenario comparison (optimizer/whatif/comparison.py): figures side by side and the customers who move.

Uses the 120-customer scenario of tests/whatif/test_frontier.py at different budgets.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from test_frontier import write_scenario

from optimizer.errors import RunFolderError, ScenarioError
from optimizer.plan.workflow import optimize
from optimizer.reporting.report import write_report
from optimizer.scenario.schema import load_scenario
from optimizer.whatif.comparison import NONE, compare, format_comparison, write_comparison


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("compare")


@pytest.fixture(scope="module")
def two_budgets(folder):
    return [write_scenario(folder, "base", budget=60.0), write_scenario(folder, "more", budget=90.0)]


@pytest.fixture(scope="module")
def comparison(two_budgets):
    return compare(two_budgets)


def _campaign_of(path):
    """customer_id → campaign ('none' when not selected) in the plan optimize makes of ``path``."""
    plan = optimize(path).assignments
    return dict(zip(plan["customer_id"], plan["campaign_id"].astype(object).fillna(NONE)))


def test_the_figures_are_those_of_each_plan(comparison, two_budgets):
    base, more = comparison.scenarios
    assert (base.label, more.label) == ("base", "more")
    assert comparison.baseline == "base"
    for solved, path in zip(comparison.scenarios, two_budgets):
        summary = optimize(path).summary
        entry = solved.to_dict()
        assert entry["status"] == "optimal" and entry["error"] is None
        for key in ("objective", "bound", "gap", "expected_spend", "treatment", "control"):
            assert entry[key] == pytest.approx(summary[key])
        assert [c["audience"] for c in entry["campaigns"]] == [c["audience"] for c in summary["campaigns"]]
        assert entry["kpis"] == {"responses": pytest.approx(summary["kpis"][0]["value"])}
    assert more.summary["objective"] > base.summary["objective"]


def test_a_limit_with_a_price_is_binding_even_with_a_little_slack(comparison):
    """The MIP leaves 0.05 of the budget unspent (no customer fits it), yet the LP prices it at ~4.3."""
    budget = next(c for c in comparison.scenarios[0].to_dict()["constraints"] if c["name"] == "budget")
    assert budget["slack"] > 0.01 and budget["binding"] and budget["shadow_price"] > 1
    assert "shadow price budget" in format_comparison(comparison)


def test_the_moved_matrix_counts_every_common_customer_once(comparison, two_budgets):
    (moved,) = comparison.moved
    assert (moved.source, moved.target) == ("base", "more")
    assert moved.rows == ("email_offer", "call_offer", "sms_nudge", NONE) == moved.columns
    before, after = (_campaign_of(path) for path in two_budgets)
    assert moved.common == moved.counts.sum() == len(before) == 120
    for r, row in enumerate(moved.rows):
        for c, column in enumerate(moved.columns):
            assert moved.counts[r, c] == sum(before[i] == row and after[i] == column for i in before)
    assert moved.changed == sum(before[i] != after[i] for i in before) == moved.common - np.trace(moved.counts)
    assert moved.changed > 0
    assert (moved.only_in_source, moved.only_in_target) == (0, 0)


def test_the_moved_margins_are_the_two_plans_audiences(comparison):
    (moved,) = comparison.moved
    base, more = (s.summary for s in comparison.scenarios)
    assert moved.counts.sum(axis=1)[:-1].tolist() == [c["audience"] for c in base["campaigns"]]
    assert moved.counts.sum(axis=0)[:-1].tolist() == [c["audience"] for c in more["campaigns"]]


def test_an_infeasible_scenario_is_reported_and_the_others_still_compared(folder, two_budgets):
    broke = write_scenario(folder, "broke", budget=1.0)
    result = compare([broke, *two_budgets])
    failed = result.scenarios[0]
    assert failed.status == "infeasible"
    assert "No plan satisfies every constraint of scenario 'broke'" in failed.error
    assert failed.to_dict().keys() == {"label", "name", "scenario_file", "status", "error", "plan_folder"}
    assert [s.status for s in result.scenarios[1:]] == ["optimal", "optimal"]
    assert result.baseline == "base"  # the first scenario with a plan
    assert [(m.source, m.target) for m in result.moved] == [("base", "more")]
    text = format_comparison(result)
    assert "broke: No plan satisfies" in text and "Customers moved, base → more" in text
    write_comparison(result, folder / "with_broke")  # the page lists the scenario without a plan too
    assert "No plan satisfies" in (folder / "with_broke" / "compare.html").read_text(encoding="utf-8")


def test_a_second_comparison_into_a_folder_leaves_no_plan_of_the_first(folder, two_budgets, tmp_path):
    """The first comparison's plan of a scenario that has none now is removed (its compare.json lists
    it); a folder of the user's among the plans, even a run's copy, and a link are kept."""
    plans = tmp_path / "plans"
    write_comparison(compare(two_budgets, plans_dir=plans), tmp_path)
    (plans / "notes").mkdir()
    shutil.copytree(plans / "more", plans / "my_copy")  # a run folder the comparison did not write
    (plans / "link").symlink_to(plans / "base")
    broke = write_scenario(tmp_path, "more", budget=1.0)  # the label 'more' again, now infeasible
    second = compare([two_budgets[0], broke], plans_dir=plans)
    assert [s.plan_folder is not None for s in second.scenarios] == [True, False]
    assert sorted(p.name for p in plans.iterdir()) == ["base", "link", "my_copy", "notes"]


def test_a_comparison_without_any_plan_leaves_no_picture_of_the_one_before(comparison, folder, tmp_path):
    """compare.png is drawn from the plans; with none, the earlier comparison's picture would stand
    beside this compare.json as if of these scenarios."""
    write_comparison(comparison, tmp_path)
    broke = [write_scenario(folder, name, budget=1.0) for name in ("broke_a", "broke_b")]
    written = write_comparison(compare(broke), tmp_path)
    assert [path.name for path in written] == ["compare.json", "compare.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare.html", "compare.json"]


def test_a_plan_folder_holding_the_users_files_is_refused_before_any_solve(two_budgets, tmp_path):
    """plans/more holding a scenario.yaml of the user's was refused only when its plan was written,
    after every scenario before it had been solved."""
    (tmp_path / "plans" / "more").mkdir(parents=True)
    (tmp_path / "plans" / "more" / "scenario.yaml").write_text("my notes")
    heard: list[str] = []
    with pytest.raises(RunFolderError, match="The output folder holds scenario.yaml, not the files of a cvo run"):
        compare(two_budgets, stage=heard.append, plans_dir=tmp_path / "plans")
    assert heard == [] and not (tmp_path / "plans" / "base").exists()


@pytest.mark.parametrize("count", [0, 1])
def test_a_comparison_of_fewer_than_two_scenarios_is_refused(two_budgets, count):
    with pytest.raises(ScenarioError, match=f"two or more scenarios; {count} given"):
        compare(two_budgets[:count])


def test_scenarios_with_the_same_name_go_by_their_file_stem(folder):
    paths = []
    for stem, budget in (("week_a", 60.0), ("week_b", 70.0)):
        path = write_scenario(folder, stem, budget=budget)
        path.write_text(path.read_text().replace(f"name: {stem}", "name: weekly"))
        paths.append(path)
    result = compare(paths)
    assert [s.name for s in result.scenarios] == ["weekly", "weekly"]
    assert [s.label for s in result.scenarios] == ["week_a", "week_b"]
    tables = {"customers": str(folder / "customers.parquet"), "scores": str(folder / "scores.parquet")}
    scenarios = [load_scenario(paths[0]).model_copy(update={"path": None, **tables})] * 2
    assert [s.label for s in compare(scenarios).scenarios] == ["weekly#1", "weekly#2"]


def test_write_comparison_writes_compare_json_its_plot_and_page(comparison, folder):
    written = write_comparison(comparison, folder / "out")
    path = written[0]
    assert written == [folder / "out" / name for name in ("compare.json", "compare.png", "compare.html")]
    assert sorted(p.name for p in path.parent.iterdir()) == ["compare.html", "compare.json", "compare.png"]
    picture = imread(path.parent / "compare.png")
    assert picture.shape[:2] == (420, 1100) and picture[..., :3].std() > 0.05
    written = json.loads(path.read_text())
    assert list(written) == ["scenarios", "baseline", "moved", "inputs"]
    assert written["inputs"] == [{"key": "budget", "values": {"base": "60", "more": "90"}}]
    assert list(written["scenarios"][0]) == [
        "label", "name", "scenario_file", "status", "error", "plan_folder", "objective_name", "method", "objective", "bound",
        "gap", "expected_spend", "expected_value", "treatment", "control", "gross_value", "roi", "control_spend",
        "currency", "money_basis", "budget_counts_controls", "campaigns", "kpis", "constraints"]
    assert list(written["moved"][0]) == ["from", "to", "rows", "columns", "counts", "common_customers", "changed",
                                         "only_in_from", "only_in_to"]
    assert sum(map(sum, written["moved"][0]["counts"])) == 120


def test_format_comparison_lines_the_scenarios_up(comparison):
    lines = format_comparison(comparison).splitlines()
    assert lines[0].startswith("cvo compare base (") and "more (" in lines[0]
    assert lines[2].split() == ["base", "more"]
    for label in ("status", "objective", "gap", "expected spend", "audience[call_offer]", "kpi responses"):
        assert any(line.startswith(label) for line in lines), label
    moved = lines.index(next(line for line in lines if line.startswith("Customers moved, base → more")))
    assert lines[moved + 1].split() == ["base", "\\", "more", "email_offer", "call_offer", "sms_nudge", "none"]


def test_the_comparison_states_the_money_basis_of_its_figures(comparison, folder):
    """Gross value, spend, value, ROI and control spend side by side, and the basis once under
    them; scenarios whose budgets count differently are named."""
    text = format_comparison(comparison)
    for label in ("gross value", "roi", "control spend"):
        assert any(line.startswith(label) for line in text.splitlines()), label
    assert "expected value = gross value - expected spend" in text
    assert "Limits count control customers too" in text
    base = comparison.scenarios[0].to_dict()
    assert base["gross_value"] == pytest.approx(base["expected_value"] + base["expected_spend"])

    treated = write_scenario(folder, "treated_only", budget=60.0, budget_counts_controls=False)
    mixed = format_comparison(compare([folder / "base.yaml", treated]))
    assert "except in treated_only (budget_counts_controls: false" in mixed


def test_each_solve_of_a_comparison_is_announced_as_it_starts(two_budgets):
    heard: list[str] = []
    compare(two_budgets, stage=heard.append)
    assert heard[0] == "Solving base (1 of 2)"
    assert re.fullmatch(r"Solving more \(2 of 2\) · base: optimal, 542\.97 in [\d.]+ s", heard[1])
    assert re.fullmatch(r"Counting the customers who move from base's plan · more: optimal, 636\.10 in [\d.]+ s",
                        heard[2]) and len(heard) == 3


def test_the_page_shows_what_differs_and_each_figure_against_the_baseline(comparison, folder):
    """compare.html: the budget 60 vs 90, and every figure of 'more' with its difference to 'base'."""
    write_comparison(comparison, folder / "page")
    raw = (folder / "page" / "compare.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", raw, flags=re.S))))
    assert "budget 60 90" in text
    base, more = (s.summary for s in comparison.scenarios)
    objective = f"Objective {base['objective']:,.2f} {more['objective']:,.2f} {more['objective'] - base['objective']:+,.2f}"
    assert objective in text
    treated = f"Treated customers {base['treatment']:,} {more['treatment']:,} {more['treatment'] - base['treatment']:+,}"
    assert treated in text
    assert "data:image/png;base64," in raw and "<script" not in raw


def _page_text(folder: Path) -> str:
    raw = (folder / "compare.html").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", raw, flags=re.S))))


def test_money_in_different_currencies_is_named_and_not_subtracted(comparison, tmp_path):
    """A plan in EUR beside one in USD: the page said 'money in EUR' of both and gave USD - EUR as the
    difference; counts still get theirs."""
    base, more = comparison.scenarios
    mixed = replace(comparison, scenarios=(replace(base, summary={**base.summary, "currency": "EUR"}),
                                           replace(more, summary={**more.summary, "currency": "USD"})))
    text = format_comparison(mixed)
    assert "The scenarios state different currencies, EUR (base), USD (more)" in text and "Money (" not in text
    write_comparison(mixed, tmp_path)
    page = _page_text(tmp_path)
    assert "state different currencies, EUR (base), USD (more)" in page and "money in EUR" not in page
    objective = f"Objective {base.summary['objective']:,.2f} {more.summary['objective']:,.2f} Gross"
    assert objective in page
    treated = base.summary["treatment"], more.summary["treatment"]
    assert f"Treated customers {treated[0]:,} {treated[1]:,} {treated[1] - treated[0]:+,}" in page


def test_each_plan_is_saved_as_a_run_folder_a_report_opens(two_budgets, folder):
    result = compare(two_budgets, plans_dir=folder / "plans")
    for solved in result.scenarios:
        assert solved.plan_folder == str(folder / "plans" / solved.label)
        assert write_report(Path(solved.plan_folder)).is_file()
        assert json.loads((Path(solved.plan_folder) / "summary.json").read_text())["objective"] == pytest.approx(
            solved.summary["objective"])


def test_a_change_of_offer_variant_is_a_move() -> None:
    """Two plans that give the same customers the same campaign at other coupon levels: each customer
    whose variant changed has moved, counted between the variants."""
    from optimizer.whatif.comparison import Solved, customers_moved

    summary = {"campaigns": [{"id": "coupon", "variants": [{"id": "low"}, {"id": "high"}]}, {"id": "call"}]}
    plans = [pd.DataFrame({"customer_id": ["a", "b", "c"], "campaign_id": ["coupon", "coupon", "call"],
                           "variant": variants}) for variants in (["low", "low", None], ["high", "low", None])]
    before, after = (Solved(label, label, "x.yaml", "optimal", summary, assignments=plan)
                     for label, plan in zip(("A", "B"), plans))
    moved = customers_moved(before, after)
    assert moved.changed == 1
    assert moved.rows[:3] == ("coupon:low", "coupon:high", "call")
    assert int(moved.counts[0, 1]) == 1 and int(moved.counts[0, 0]) == 1 and int(moved.counts[2, 2]) == 1

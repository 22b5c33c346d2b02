"""examples/weekly: three weekly runs keep the contact policy, and the README shows what the script prints."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from conftest import ROOT, load_example


@pytest.fixture(scope="module")
def weekly():
    return load_example("weekly/run.py")


@pytest.fixture(scope="module")
def loop_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("weekly_loop")


@pytest.fixture(scope="module")
def results(weekly, loop_folder):
    return weekly.main(loop_folder, seed=2026)


def test_no_contact_breaks_the_policy_and_the_policy_did_keep_people_out(results):
    assert results["breaches"]["inside_open_window"] == 0
    assert results["breaches"]["inside_cooldown"] == 0
    assert results["breaches"]["contacts"] > 30_000
    assert [week["blocked"] > 5_000 for week in results["weeks"]] == [False, True, True]


def test_measured_uplift_covers_the_simulated_truth(results):
    """The 24 95% intervals (response and revenue uplift, 4 campaigns × 3 weeks) cover the truth at
    about their level: at least 21 (20 or fewer has probability 3% for independent intervals)."""
    rows = results["rows"]
    assert len(rows) == 12
    covered = sum(row[f"{name}_low"] <= row[f"{name}_true"] <= row[f"{name}_high"]
                  for row in rows for name in ("uplift", "revenue"))
    assert covered >= 21


def test_a_run_reproduces_the_stored_results(results):
    stored = json.loads((ROOT / "examples" / "weekly" / "results.json").read_text())
    assert stored["breaches"] == results["breaches"] and stored["weeks"] == results["weeks"]
    for mine, theirs in zip(results["rows"], stored["rows"]):
        assert {k: v for k, v in mine.items() if isinstance(v, str | bool | int)} == {
            k: v for k, v in theirs.items() if isinstance(v, str | bool | int)}
        np.testing.assert_allclose([v for v in mine.values() if isinstance(v, float)],
                                   [v for v in theirs.values() if isinstance(v, float)], rtol=1e-9, atol=1e-12)


def test_readme_table_is_what_the_script_prints(weekly):
    stored = json.loads((ROOT / "examples" / "weekly" / "results.json").read_text())
    readme = (ROOT / "examples" / "weekly" / "README.md").read_text()
    assert f"{weekly.MARKERS[0]}\n{weekly.format_results(stored)}\n{weekly.MARKERS[1]}" in readme



def test_each_weeks_report_sets_the_plan_beside_the_measurement(results, loop_folder):
    """Every week's report has the planned-vs-measured table, one row per campaign; week 1's is the
    README's table, figure for figure."""
    rows = {}
    for week in (1, 2, 3):
        page = (loop_folder / f"week{week}" / "report.html").read_text(encoding="utf-8")
        table = re.search(r'<table id="planned-measured">.*?<tbody>(.*?)</tbody>', page, re.S)
        assert table, f"week {week} has no planned-vs-measured table"
        rows[week] = [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip()
                      for row in re.findall(r"<tr.*?</tr>", table.group(1), re.S)]
        assert len(rows[week]) == 4
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for row in rows[1]:
        cells = row.replace("as planned, within the interval", "within").split(" ")
        line = f"| {cells[0]} | {cells[1]} | {' '.join(cells[2:5])} | {cells[5]} | {' '.join(cells[6:9])} | {cells[9]} |"
        assert line in readme, line

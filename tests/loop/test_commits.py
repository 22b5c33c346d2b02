"""A forced commit of a stale plan records only what the contact policy still allows."""

from __future__ import annotations

import pandas as pd
import pytest
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.errors import HistoryError
from optimizer.loop.commits import commit
from optimizer.store.history_file import contacts_around, run_record, runs


def test_a_forced_stale_commit_leaves_out_the_customers_the_policy_now_blocks(tmp_path):
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "first", MONDAY)
    run_week(scenario, tmp_path / "second", MONDAY)
    taken = commit(tmp_path / "second", history)
    with pytest.raises(HistoryError, match="stale"):
        commit(tmp_path / "first", history)
    forced = commit(tmp_path / "first", history, force=True)
    plan = pd.read_parquet(tmp_path / "first" / "plan.parquet").dropna(subset=["campaign_id"])
    recorded = run_record(history, forced.run_id)[2]
    earlier = set(run_record(history, taken.run_id)[2]["customer_id"])
    # separate_windows (the default) blocks everyone the second plan holds in an open window
    assert set(recorded["customer_id"]) == set(plan["customer_id"]) - earlier
    assert forced.dropped == len(plan) - len(recorded) == len(set(plan["customer_id"]) & earlier) > 0
    [row] = [run for run in runs(history) if run["run_id"] == forced.run_id]
    assert row["treatment"] + row["control"] == len(recorded)
    every = contacts_around(history, MONDAY, 30)
    assert not every.duplicated(subset=["customer_id"]).any()


def test_a_forced_commit_of_a_fresh_plan_records_it_all(tmp_path):
    scenario = write_scenario(tmp_path)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    done = commit(tmp_path / "w1", tmp_path / "history.duckdb", force=True)
    assert done.created and done.dropped == 0 and done.contacts == summary["treatment"] + summary["control"]

"""A forced commit of a stale plan records only what the contact policy still allows, and its send lists
leave out the rest; a commit goes to the history its plan saw."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.errors import HistoryError, RunFolderError
from optimizer.loop import commits
from optimizer.loop.commits import commit, short_audiences
from optimizer.scenario.schema import load_scenario
from optimizer.store.history_file import check_not_committed, contacts_around, recorded_history, run_record, runs
from optimizer.store.ledger import void
from optimizer.store.runs import read_run


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
    # the send lists name only the treated customers recorded, and the folder is still one run
    folder = read_run(tmp_path / "first")
    sent = pd.concat([pd.read_csv(tmp_path / "first" / name, dtype=str) for name in folder.summary["contact_lists"]
                      .values()])
    treated = recorded[recorded["group"].isin(["treatment", "forced"])]
    assert sorted(sent["customer_id"]) == sorted(treated["customer_id"])
    assert folder.summary["forced_commit"] == {"left_out": forced.dropped, "recorded": len(recorded),
                                               "notes": list(forced.notes)}


def test_a_cut_that_failed_after_the_commit_is_done_by_the_next_forced_commit(tmp_path, monkeypatch):
    """The history is written first; when the lists cannot be cut then (another command holds the
    folder), the error says so and a second `commit --force` cuts them, line for line as written."""
    scenario, history = write_scenario(tmp_path), tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "first", MONDAY)
    run_week(scenario, tmp_path / "second", MONDAY)
    commit(tmp_path / "second", history)
    before = {name: (tmp_path / "first" / name).read_text().splitlines()
              for name in read_run(tmp_path / "first").summary["contact_lists"].values()}

    def busy(*args):
        raise RunFolderError("Another cvo command is writing to this folder")

    monkeypatch.setattr(commits, "replace_run_files", busy)
    with pytest.raises(HistoryError, match="could not be cut: Another cvo command.*--force` again"):
        commit(tmp_path / "first", history, force=True)
    monkeypatch.undo()
    again = commit(tmp_path / "first", history, force=True)
    assert not again.recorded and again.dropped > 0
    folder = read_run(tmp_path / "first")
    assert folder.summary["forced_commit"]["left_out"] == again.dropped
    for name, lines in before.items():
        after = (tmp_path / "first" / name).read_text().splitlines()
        assert after[0] == lines[0] and set(after) <= set(lines)  # the header, and rows as they were written
    assert sum(len(lines) - 1 for lines in before.values()) > sum(
        len((tmp_path / "first" / name).read_text().splitlines()) - 1 for name in before)


def test_a_forced_commit_checks_the_policy_the_run_had_not_the_scenario_file_edited_since(tmp_path):
    """The run's scenario.yaml, not loop.yaml as it is now: editing the file after planning (here:
    the text campaign dropped, the cool-down lifted) changes nothing of what the commit keeps."""
    scenario, history = write_scenario(tmp_path), tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "first", MONDAY)
    run_week(scenario, tmp_path / "second", MONDAY)
    taken = commit(tmp_path / "second", history)
    edited = yaml.safe_load(scenario.read_text())
    edited["campaigns"] = edited["campaigns"][:1]
    edited["contact_policy"] = {"history": "history.duckdb", "separate_windows": False}
    scenario.write_text(yaml.safe_dump(edited))
    forced = commit(tmp_path / "first", history, force=True)
    plan = pd.read_parquet(tmp_path / "first" / "plan.parquet").dropna(subset=["campaign_id"])
    earlier = set(run_record(history, taken.run_id)[2]["customer_id"])
    assert set(run_record(history, forced.run_id)[2]["customer_id"]) == set(plan["customer_id"]) - earlier


def test_a_commit_whose_plans_history_is_gone_is_refused(tmp_path):
    scenario, history = write_scenario(tmp_path), tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "w1", MONDAY)
    commit(tmp_path / "w1", history)
    run_week(scenario, tmp_path / "w2", MONDAY + dt.timedelta(days=7))
    history.rename(tmp_path / "moved.duckdb")
    with pytest.raises(HistoryError, match="The contact history the plan names is missing"):
        commit(tmp_path / "w2")
    assert not history.exists()


def test_promised_customers_a_forced_commit_leaves_out_are_named():
    plan = pd.DataFrame({"customer_id": ["a", "b", "c"], "campaign_id": ["m", "m", "m"],
                         "group": ["forced", "forced", "treatment"]})
    kept = plan.iloc[[0, 2]]
    assert commits._promises_left(plan, kept) == (
        "1 promised (forced) customers are left out, who the contact policy now blocks: b",)
    assert commits._promises_left(plan, plan) == ()


def test_a_commit_to_a_missing_history_when_the_plan_saw_one_is_refused(tmp_path):
    """A typo in --history would start a second history that the next plans never read."""
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "w1", MONDAY)
    commit(tmp_path / "w1", history)
    run_week(scenario, tmp_path / "w2", MONDAY + dt.timedelta(days=7))
    with pytest.raises(HistoryError, match="given with --history is missing"):
        commit(tmp_path / "w2", tmp_path / "histroy.duckdb")
    assert not (tmp_path / "histroy.duckdb").exists()


def test_a_forced_commit_of_a_fresh_plan_records_it_all(tmp_path):
    scenario = write_scenario(tmp_path)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    done = commit(tmp_path / "w1", tmp_path / "history.duckdb", force=True)
    assert done.created and done.dropped == 0 and done.contacts == summary["treatment"] + summary["control"]


def test_a_forced_commit_says_which_minimum_audiences_it_leaves_unmet(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path)).with_changes({"campaigns.mail.min_audience": 2})
    kept = pd.DataFrame({"customer_id": ["a", "b"], "campaign_id": ["mail", "text"]})
    assert short_audiences(scenario, kept) == ("campaign 'mail' keeps 1 customers, below its min_audience of 2",)
    assert short_audiences(scenario, pd.concat([kept, kept])) == ()


def test_a_commit_to_another_history_is_remembered_by_the_runs_folder(tmp_path, monkeypatch):
    """Committed with --history elsewhere, `cvo measure FOLDER` said 'no contact history here yet'
    (it read the one the summary names) and a new run could be written over the sent plan."""
    scenario = write_scenario(tmp_path)
    elsewhere = tmp_path / "elsewhere.duckdb"
    run_week(scenario, tmp_path / "w1", MONDAY)
    named = read_run(tmp_path / "w1").summary["contact_history"]
    monkeypatch.chdir(tmp_path)
    done = commit(tmp_path / "w1", Path("elsewhere.duckdb"))  # as typed: recorded as the file, from any folder
    assert done.recorded and not done.notes
    summary = read_run(tmp_path / "w1").summary
    assert summary["committed_to"] == [str(elsewhere)] and summary["contact_history"] == named
    assert recorded_history(summary, None, "w1") == elsewhere
    assert recorded_history(summary, tmp_path / "given.duckdb", "w1") == tmp_path / "given.duckdb"
    with pytest.raises(RunFolderError, match="committed to the contact history"):
        check_not_committed(tmp_path / "w1", named)
    assert not commit(tmp_path / "w1").recorded  # the folder's history: already there, not a second one


def test_a_run_committed_to_two_other_histories_remembers_both(tmp_path):
    """A second commit elsewhere replaced the first's committed_to: a new run could then be
    written over a plan the first history still holds as sent."""
    scenario = write_scenario(tmp_path)
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    run_week(scenario, tmp_path / "w1", MONDAY)
    commit(tmp_path / "w1", first)
    commit(tmp_path / "w1", second)
    summary = read_run(tmp_path / "w1").summary
    assert summary["committed_to"] == [str(first), str(second)]
    assert recorded_history(summary, None, "w1") == second  # the latest, as cvo measure reads it
    void(second, summary["run_id"], "sent from the first")
    with pytest.raises(RunFolderError, match="committed to the contact history"):
        check_not_committed(tmp_path / "w1", tmp_path / "none.duckdb")  # the first still holds it
    commit(tmp_path / "w1", first)  # again: nothing new to remember
    assert read_run(tmp_path / "w1").summary["committed_to"] == [str(first), str(second)]
    named = Path(summary["contact_history"])
    commit(tmp_path / "w1", named)  # the folder's own history, after the others: the latest now
    assert recorded_history(read_run(tmp_path / "w1").summary, None, "w1") == named.resolve()

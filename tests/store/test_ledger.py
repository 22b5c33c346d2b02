"""The contact history: commit records a run once, in one transaction; a killed commit leaves nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.errors import HistoryError, RunFolderError
from optimizer.store import history_file, ledger
from optimizer.store.history_file import contacts_around, run_record, runs
from optimizer.store.runs import read_run


def commit(folder: Path, history: Path, recheck: ledger.Recheck | None = None) -> ledger.Commit:
    return ledger.commit(read_run(folder), history, recheck)


def test_commit_records_every_given_customer_once(tmp_path):
    scenario = write_scenario(tmp_path)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    first = commit(tmp_path / "w1", tmp_path / "history.duckdb")
    again = commit(tmp_path / "w1", tmp_path / "history.duckdb")
    assert first.recorded and not again.recorded
    record, campaigns, contacts = run_record(tmp_path / "history.duckdb", summary["run_id"][:8])
    plan = pd.read_parquet(tmp_path / "w1" / "plan.parquet").dropna(subset=["campaign_id"])
    assert len(contacts) == len(plan) == first.contacts == summary["treatment"] + summary["control"]
    assert sorted(contacts["customer_id"]) == sorted(plan["customer_id"])
    windows = contacts.groupby("campaign_id").apply(lambda c: (c["window_end"] - c["sent_on"]).dt.days.unique())
    assert {key: list(value) for key, value in windows.items()} == {"mail": [14], "text": [7]}
    assert set(campaigns["campaign_id"]) == {"mail", "text"} and record["run_date"].date() == MONDAY
    assert len(runs(tmp_path / "history.duckdb")) == 1


def test_a_plan_and_summary_from_different_runs_are_refused(tmp_path):
    scenario = write_scenario(tmp_path)
    run_week(scenario, tmp_path / "w1", MONDAY)
    run_week(scenario, tmp_path / "w2", MONDAY)
    (tmp_path / "w1" / "summary.json").write_bytes((tmp_path / "w2" / "summary.json").read_bytes())
    with pytest.raises(RunFolderError, match="summary.json is not the file run .* wrote: the folder holds files of different runs"):
        commit(tmp_path / "w1", tmp_path / "history.duckdb")
    assert not (tmp_path / "history.duckdb").exists()


def test_a_folder_without_a_plan_is_refused(tmp_path):
    with pytest.raises(RunFolderError, match="summary.json is missing"):
        commit(tmp_path, tmp_path / "history.duckdb")


KILLED_COMMIT = """
import pathlib, sys, time
import optimizer.store.ledger as history
from optimizer.store.runs import read_run
insert = history._insert
def insert_then_hang(connection, *args):
    insert(connection, *args)
    pathlib.Path(sys.argv[3]).write_text("inserted, not committed")
    time.sleep(120)
history._insert = insert_then_hang
history.commit(read_run(pathlib.Path(sys.argv[1])), pathlib.Path(sys.argv[2]))
"""


def test_a_commit_killed_before_it_ends_leaves_the_history_as_it_was(tmp_path):
    scenario = write_scenario(tmp_path, n=3000)
    history = tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "w1", MONDAY)
    commit(tmp_path / "w1", history)
    before = _snapshot(history)
    second = run_week(scenario, tmp_path / "w2", MONDAY + dt.timedelta(days=7))
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", KILLED_COMMIT, str(tmp_path / "w2"), str(history), str(marker)],
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the child never reached the middle of its commit"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert _snapshot(history) == before
    assert commit(tmp_path / "w2", history).recorded
    assert second["run_id"] in {run["run_id"] for run in runs(history)}


def _snapshot(history: Path) -> tuple:
    with duckdb.connect(str(history), read_only=True) as connection:
        return tuple(
            connection.execute(f"SELECT count(*), count(DISTINCT run_id) FROM {table}").fetchone()
            for table in ("runs", "campaigns", "contacts")
        )


def test_summary_records_the_run_date_and_history(tmp_path):
    scenario = write_scenario(tmp_path)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    written = json.loads((tmp_path / "w1" / "summary.json").read_text())
    assert written["run_date"] == "2026-01-05" == summary["run_date"]
    assert written["contact_history"] == str(tmp_path / "history.duckdb")
    assert {c["id"]: c["measurement_window_days"] for c in written["campaigns"]} == {"mail": 14, "text": 7}


HOLD_LOCK = """
import pathlib, sys, time
import duckdb
connection = duckdb.connect(sys.argv[1])
pathlib.Path(sys.argv[2]).write_text("holding")
time.sleep(60)
"""


def test_a_history_another_process_is_writing_gives_a_clear_error(tmp_path, monkeypatch):
    """A commit waits LOCK_WAIT_S (1 s here, 30 s in a run) for another process's lock on the
    history, then says so; once the lock is released the same commit goes through."""
    monkeypatch.setattr(history_file, "LOCK_WAIT_S", 1.0)
    scenario = write_scenario(tmp_path)
    run_week(scenario, tmp_path / "w1", MONDAY)
    history, marker = tmp_path / "history.duckdb", tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(history), str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(HistoryError, match=r"\(waited 1 s for it\).*If another cvo command is writing to it, wait"):
            commit(tmp_path / "w1", history)
        assert time.monotonic() - started >= 1.0
    finally:
        child.kill()
        child.wait()
    assert commit(tmp_path / "w1", history).recorded


def test_a_plan_computed_before_a_newer_commit_is_stale(tmp_path):
    """Two plans for the same day against the same history: the second one committed, the first refused."""
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "w0", MONDAY - dt.timedelta(days=28))
    commit(tmp_path / "w0", history)
    first = run_week(scenario, tmp_path / "first", MONDAY)
    second = run_week(scenario, tmp_path / "second", MONDAY)
    assert first["history_seq"] == second["history_seq"] == 1
    commit(tmp_path / "second", history)
    before = _snapshot(history)
    with pytest.raises(HistoryError, match=f"stale: it saw the contact history before run {second['run_id'][:8]} "
                       r"\(loop, sent 2026-01-05\) was committed") as error:
        commit(tmp_path / "first", history)
    assert "--force" in error.value.message and "--date 2026-01-05" in error.value.message
    assert error.value.message.count(f"--history {history}") == 2  # both ways out name the history it met
    assert _snapshot(history) == before


def test_a_newer_run_of_other_customers_does_not_make_a_plan_stale(tmp_path):
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    first = run_week(scenario, tmp_path / "first", MONDAY)
    run_week(scenario, tmp_path / "second", MONDAY)
    other = tmp_path / "other"
    other.mkdir()
    other_scenario = write_scenario(other)
    customers = pd.read_parquet(other / "customers.parquet")
    customers.assign(customer_id="x" + customers["customer_id"]).to_parquet(other / "customers.parquet")
    scores = pd.read_parquet(other / "scores.parquet")
    scores.assign(customer_id="x" + scores["customer_id"]).to_parquet(other / "scores.parquet")
    run_week(other_scenario, other / "w", MONDAY)
    commit(other / "w", history)
    assert commit(tmp_path / "first", history).run_id == first["run_id"]
    with pytest.raises(HistoryError, match="stale"):
        commit(tmp_path / "second", history)


def test_a_voided_run_stops_counting_and_cannot_come_back(tmp_path):
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    committed = commit(tmp_path / "w1", history)
    assert len(contacts_around(history, MONDAY, 30)) == committed.contacts > 0
    assert ledger.void(history, summary["run_id"][:6], "sent twice") == (summary["run_id"], committed.contacts)
    assert contacts_around(history, MONDAY, 30).empty
    assert len(run_record(history, summary["run_id"])[2]) == committed.contacts  # kept, not deleted
    listed = runs(history)
    assert [run["void_note"] for run in listed] == ["sent twice"] and listed[0]["voided_at"] is not None
    with pytest.raises(HistoryError, match="already voided"):
        ledger.void(history, summary["run_id"], None)
    with pytest.raises(HistoryError, match="was voided; a voided run cannot be committed again"):
        commit(tmp_path / "w1", history)
    assert history_file.history_state(history)[1] == 2  # the commit and the void


def test_after_a_void_a_new_plan_is_not_stale(tmp_path):
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    first = run_week(scenario, tmp_path / "first", MONDAY)
    run_week(scenario, tmp_path / "second", MONDAY)
    commit(tmp_path / "second", history)
    ledger.void(history, json.loads((tmp_path / "second" / "summary.json").read_text())["run_id"])
    assert commit(tmp_path / "first", history).run_id == first["run_id"]


def test_a_plan_that_saw_another_history_counts_every_event_of_this_one(tmp_path):
    """Its history_seq numbers another file's events, so none of this file's may be skipped."""
    scenario = write_scenario(tmp_path)
    other = tmp_path / "other.duckdb"
    run_week(scenario, tmp_path / "w0", MONDAY - dt.timedelta(days=35))
    commit(tmp_path / "w0", other)
    commit(tmp_path / "w0", tmp_path / "history.duckdb")  # the scenario's history: seq 1 there too
    first = run_week(scenario, tmp_path / "first", MONDAY)  # saw history.duckdb at seq 1
    second = run_week(scenario, tmp_path / "second", MONDAY)
    assert first["history_id"] == history_file.history_state(tmp_path / "history.duckdb")[0] != history_file.history_state(
        other)[0]
    commit(tmp_path / "second", other)  # other is now at seq 2, beyond what 'first' saw of history.duckdb
    with pytest.raises(HistoryError, match=f"before run .*{second['run_id'][:8]}"):
        commit(tmp_path / "first", other)



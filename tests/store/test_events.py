"""The history's events (optimizer/store/events.py): numbering, staleness within the policy's reach, voids."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from optimizer.errors import DataError, HistoryError
from optimizer.store.events import newer_runs, record_event, refuse_voided, seen_seq, stale_customers
from optimizer.store.history_file import SCHEMA
from optimizer.store.runs import RunFolder

MONDAY = dt.date(2026, 3, 2)


@pytest.fixture
def connection(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    with duckdb.connect(str(tmp_path / "history.duckdb")) as opened:
        opened.execute(SCHEMA)
        yield opened


def committed(connection: duckdb.DuckDBPyConnection, run_id: str, customers: list[str], sent_on: dt.date,
              window_days: int = 14) -> None:
    """A run committed: its row, its contacts (treated) and its commit event."""
    connection.execute("INSERT INTO runs (run_id, scenario, run_date) VALUES (?, 'weekly', ?)", [run_id, sent_on])
    for customer in customers:
        connection.execute('INSERT INTO contacts (run_id, customer_id, campaign_id, channel, "group", sent_on, '
                           "window_end) VALUES (?, ?, 'mail', 'email', 'treatment', ?, ?)",
                           [run_id, customer, sent_on, sent_on + dt.timedelta(days=window_days)])
    record_event(connection, "commit", run_id, None)


def plan(tmp_path: Path, customers: list[str], seq: int, history_id: str | None, **summary: object) -> RunFolder:
    path = tmp_path / f"plan{seq}.parquet"
    pd.DataFrame({"customer_id": customers, "campaign_id": ["mail"] * len(customers)}).to_parquet(path)
    return RunFolder(tmp_path, {"run_id": "new", "history_seq": seq, "history_id": history_id,
                                "policy_lookback_days": 28, "contact_rules": 1, **summary}, [path])


def this_history(connection: duckdb.DuckDBPyConnection) -> str:
    return str(connection.execute("SELECT history_id FROM meta").fetchone()[0])


def test_events_are_numbered_in_order_from_one(connection):
    for run_id in ("a", "b", "c"):
        committed(connection, run_id, [], MONDAY)
    record_event(connection, "void", "b", "sent by mistake")
    events = connection.execute("SELECT seq, kind, run_id FROM events ORDER BY seq").fetchall()
    assert events == [(1, "commit", "a"), (2, "commit", "b"), (3, "commit", "c"), (4, "void", "b")]


def test_only_runs_after_the_seen_state_touching_the_plans_customers_within_reach_make_it_stale(
    connection, tmp_path
):
    committed(connection, "before", ["k1", "k2"], MONDAY)                       # seen by the plan
    committed(connection, "other", ["k9"], MONDAY)                              # other customers
    committed(connection, "long_ago", ["k3"], MONDAY - dt.timedelta(days=60))   # out of the policy's reach
    committed(connection, "clash", ["k1", "k4"], MONDAY)
    fresh = plan(tmp_path, ["k1", "k2", "k3", "k4", "k5"], 1, this_history(connection))
    assert seen_seq(connection, fresh) == 1
    assert stale_customers(connection, fresh, MONDAY) == 2                      # k1 and k4, by "clash"
    assert [run_id for run_id, _, _ in newer_runs(connection, fresh)] == ["other", "long_ago", "clash"]
    record_event(connection, "void", "clash", None)
    assert stale_customers(connection, fresh, MONDAY) == 0
    assert [run_id for run_id, _, _ in newer_runs(connection, fresh)] == ["other", "long_ago"]


def test_a_plan_that_saw_another_history_counts_every_event_of_this_one(connection, tmp_path):
    committed(connection, "first", ["k1"], MONDAY)
    elsewhere = plan(tmp_path, ["k1"], 5, "another-history")
    assert seen_seq(connection, elsewhere) == 0
    assert stale_customers(connection, elsewhere, MONDAY) == 1
    assert [run_id for run_id, _, _ in newer_runs(connection, elsewhere)] == ["first"]


def test_without_contact_rules_nothing_is_stale_and_an_unrecorded_state_is_refused(connection, tmp_path):
    committed(connection, "first", ["k1"], MONDAY)
    assert stale_customers(connection, plan(tmp_path, ["k1"], 0, None, contact_rules=0), MONDAY) == 0
    unknown = plan(tmp_path, ["k1"], 0, None)
    del unknown.summary["history_seq"]
    with pytest.raises(DataError, match="which state of the contact history"):
        stale_customers(connection, unknown, MONDAY)


def test_a_voided_run_is_refused_and_the_transaction_rolled_back(connection, tmp_path):
    committed(connection, "gone", ["k1"], MONDAY)
    record_event(connection, "void", "gone", None)
    connection.begin()
    connection.execute("INSERT INTO runs (run_id) VALUES ('half-written')")
    with pytest.raises(HistoryError, match="was voided"):
        refuse_voided(connection, "gone", tmp_path / "history.duckdb")
    assert connection.execute("SELECT count(*) FROM runs WHERE run_id = 'half-written'").fetchone() == (0,)
    refuse_voided(connection, "first-time", tmp_path / "history.duckdb")  # not voided: nothing happens

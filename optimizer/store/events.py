"""The contact history's events: every commit and void, numbered in order (``seq``), and what
they say about a plan: which runs were committed after the state it saw, and whether they
touched its customers within reach of the contact policy (optimizer/store/ledger.py uses these
inside its transactions).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from optimizer.errors import DataError, HistoryError
from optimizer.store.runs import RunFolder

LIVE = "run_id NOT IN (SELECT run_id FROM events WHERE kind = 'void')"  # contacts of runs not voided


def stale_customers(connection: duckdb.DuckDBPyConnection, run: RunFolder, run_date: dt.date) -> int:
    """How many of the plan's customers runs committed after the plan was computed (events
    after its ``history_seq``, not voided) contacted within the policy's reach of ``run_date``:
    sent within ``policy_lookback_days`` of it, or with a measurement window still open then
    (0 when the scenario's contact policy has no rule)."""
    if run.summary.get("contact_rules") == 0:
        return 0  # no rule reads the history, so nothing committed since can change what the plan may do
    if run.summary.get("history_seq") is None:
        raise DataError("summary.json does not say which state of the contact history the plan saw "
                        "(written by an older cvo)", where=str(run.path),
                        fix="Run `cvo optimize` again into this folder, then commit")
    return count(connection, (
        "SELECT count(DISTINCT c.customer_id) FROM contacts c JOIN read_parquet(?) p "
        "ON p.customer_id = c.customer_id AND p.campaign_id IS NOT NULL "
        "WHERE c.run_id IN (SELECT run_id FROM events WHERE kind = 'commit' AND seq > ?) AND c." + LIVE +
        " AND (c.window_end > ? OR abs(date_diff('day', c.sent_on, ?)) < ?)"),
        [[str(file) for file in run.plan], seen_seq(connection, run), run_date, run_date,
         int(run.summary.get("policy_lookback_days", 1))])


def history_id(connection: duckdb.DuckDBPyConnection) -> str | None:
    """The id the history file was given when it was created."""
    row = connection.execute("SELECT history_id FROM meta").fetchone()
    return None if row is None else str(row[0])


def seen_seq(connection: duckdb.DuckDBPyConnection, run: RunFolder) -> int:
    """The last event of this history the plan saw (0 when it saw another history or none)."""
    same = run.summary.get("history_id") == history_id(connection)
    return int(run.summary["history_seq"]) if same else 0


def newer_runs(connection: duckdb.DuckDBPyConnection, run: RunFolder) -> list[tuple[str, str, dt.date]]:
    """(run_id, scenario, run date) of every run committed after the plan saw the history, not voided."""
    rows = connection.execute(
        "SELECT e.run_id, r.scenario, r.run_date FROM events e JOIN runs r USING (run_id) WHERE e.kind = 'commit' "
        f"AND e.seq > ? AND e.{LIVE} ORDER BY e.seq", [seen_seq(connection, run)]).fetchall()
    return [(str(run_id), str(scenario), sent) for run_id, scenario, sent in rows]


def refuse_voided(connection: duckdb.DuckDBPyConnection, run_id: str, history: Path) -> None:
    if count(connection, "SELECT count(*) FROM events WHERE kind = 'void' AND run_id = ?", [run_id]):
        connection.rollback()
        raise HistoryError(f"Run {run_id} was voided; a voided run cannot be committed again", where=str(history),
                           fix="Re-plan with `cvo optimize` and commit the new plan")


def record_event(connection: duckdb.DuckDBPyConnection, kind: str, run_id: str, note: str | None) -> None:
    connection.execute(
        "INSERT INTO events SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ? FROM events",
        [kind, run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), note],
    )


def count(connection: duckdb.DuckDBPyConnection, query: str, parameters: list[Any]) -> int:
    """The number a ``SELECT count(*)`` query returns (it always returns one row)."""
    row = connection.execute(query, parameters).fetchone()
    if row is None:
        raise TypeError(f"{query} returned no row")
    return int(row[0])

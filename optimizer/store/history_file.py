"""The contact history file: its tables, opening and checking it, and reading what it holds.

Four tables (and ``meta``, the id the file was given when it was created). ``runs``: one row per
committed run (its run_id, scenario, run date, figures). ``campaigns``: per run and campaign, the
channel, costs and measurement window. ``contacts``: per run, one row per customer given a
campaign, treated or control, with the date sent and the end of the measurement window
(exclusive):

    window_end = sent_on + measurement_window_days

``events``: every commit and every void, numbered in order (``seq``). Writing it is
optimizer/store/ledger.py's (commit, void). A file written by an older cvo is read as it is and
given what it lacks when it may be written. A history on an object store (a folder of versions,
optimizer/store/history_versions.py) is read from a local copy of its newest version.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb

from optimizer.errors import HistoryError, RunFolderError
from optimizer.store.datasets import local_path
from optimizer.store.events import LIVE
from optimizer.store.folders import committed_places, committed_to, run_id_of
from optimizer.store.history_versions import history_url, readable_history

if TYPE_CHECKING:  # pandas loads when contacts are read: cvo history never needs it
    import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, scenario VARCHAR, scenario_file VARCHAR, run_date DATE,
    committed_at TIMESTAMP, out_dir VARCHAR, status VARCHAR, objective DOUBLE,
    treatment BIGINT, control BIGINT, expected_spend DOUBLE, expected_value DOUBLE
);
CREATE TABLE IF NOT EXISTS campaigns (
    run_id VARCHAR, campaign_id VARCHAR, channel VARCHAR, cost_per_contact DOUBLE,
    cost_per_response DOUBLE, measurement_window_days INTEGER, treatment BIGINT, control BIGINT
);
CREATE TABLE IF NOT EXISTS contacts (
    run_id VARCHAR, customer_id VARCHAR, campaign_id VARCHAR, channel VARCHAR, "group" VARCHAR,
    sent_on DATE, window_end DATE
);
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY, kind VARCHAR, run_id VARCHAR, happened_at TIMESTAMP, note VARCHAR
);
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS value_per_response DOUBLE;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS variant VARCHAR;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS cost_per_contact DOUBLE;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS cost_per_response DOUBLE;
CREATE TABLE IF NOT EXISTS meta (history_id VARCHAR);
INSERT INTO meta SELECT uuid()::VARCHAR WHERE NOT EXISTS (SELECT 1 FROM meta);
"""
RUN_ID = re.compile(r"[0-9a-f]{32}")  # uuid4().hex, as optimize names a run
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file

CONTACT_COLUMNS = ["customer_id", "campaign_id", "channel", "group", "sent_on", "window_end", "value_per_response",
                   "variant", "cost_per_contact", "cost_per_response"]
LATER_COLUMNS = ("value_per_response", "variant", "cost_per_contact", "cost_per_response")  # added after the first cvo
AS_OF = ("run_id IN (SELECT run_id FROM events WHERE kind = 'commit' AND seq <= ?) AND run_id NOT IN "
         "(SELECT run_id FROM events WHERE kind = 'void' AND seq <= ?)")  # live as the history stood at a seq


LOCK_WAIT_S = 30.0  # how long a command waits for another's lock on the history file (a commit takes ~1 s)
LOCK_POLL_S = 0.2
LOCK_ERRORS = ("Could not set lock", "Conflicting lock")  # DuckDB's words for a file another process holds
TABLES = {  # each table's columns since the first cvo; later ones are added (SCHEMA)
    "runs": ("run_id", "scenario", "scenario_file", "run_date", "committed_at", "out_dir", "status", "objective",
             "treatment", "control", "expected_spend", "expected_value"),
    "campaigns": ("run_id", "campaign_id", "channel", "cost_per_contact", "cost_per_response",
                  "measurement_window_days", "treatment", "control"),
    "contacts": ("run_id", "customer_id", "campaign_id", "channel", "group", "sent_on", "window_end"),
    "events": ("seq", "kind", "run_id", "happened_at", "note"),
    "meta": ("history_id",),
}


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the history (creating it unless read-only) with its tables in place; a DuckDB file
    that is not a contact history (other tables, or cvo's table names with other columns) is
    refused before anything is written into it. While another process holds the file's lock (a
    commit takes about a second), it waits up to LOCK_WAIT_S for it."""
    check_history_path(path)
    waited_until = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            return _opened(path, read_only)
        except duckdb.Error as error:
            locked = any(words in str(error) for words in LOCK_ERRORS)
            if locked and time.monotonic() < waited_until:
                time.sleep(LOCK_POLL_S)
                continue
            raise HistoryError(
                f"The contact history cannot be opened: {str(error).splitlines()[0]}"
                + (f" (waited {LOCK_WAIT_S:g} s for it)" if locked else ""),
                where=str(path),
                fix="If another cvo command is writing to it, wait for it to finish; otherwise check that the file "
                "is a cvo contact history (a DuckDB file) and that you may write to its folder",
            ) from None


def _opened(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    if read_only:
        connection = duckdb.connect(str(path), read_only=True)
        _check_tables(connection, path)
        return connection
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    _check_tables(connection, path)
    connection.execute(SCHEMA)
    return connection


def _check_tables(connection: duckdb.DuckDBPyConnection, path: Path) -> None:
    """HistoryError (the connection closed) when the file's tables are not a contact history's."""
    found: dict[str, set[str]] = {}
    for table, column in connection.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main'").fetchall():
        found.setdefault(table, set()).add(column)
    problem = None
    if found and not found.keys() & TABLES.keys():
        problem = f"it is a DuckDB database of other tables ({', '.join(sorted(found)[:5])}), not a contact history"
    for table, columns in TABLES.items():
        lacking = [column for column in columns if table in found and column not in found[table]]
        if lacking and problem is None:
            problem = f"its table {table} lacks the columns {', '.join(lacking)} of a contact history's"
    if problem is not None:
        connection.close()
        raise HistoryError(f"The contact history cannot be used: {problem}", where=str(path),
                           fix="Give the DuckDB file `cvo commit` wrote (e.g. history.duckdb), or a new path for a "
                               "new history")


def check_history_path(history: Path) -> None:
    """Fail now when ``history`` cannot be a contact history file: it is a folder, sits under a
    file, or is a file that is not a DuckDB database (DuckDB would open a CSV file as one)."""
    history = Path(history)
    if history.is_dir():
        raise HistoryError("The contact history path is a folder", where=str(history),
                           fix="Give the DuckDB file itself, e.g. history.duckdb (it is created by the first commit)")
    parent = next(folder for folder in history.parents if folder.exists())
    if not parent.is_dir():
        raise HistoryError(f"The contact history cannot be created: {parent} is a file", where=str(history),
                           fix="Give a path under a folder")
    if history.is_file() and history.stat().st_size and _header(history)[8:12] != DUCKDB_MAGIC:
        raise HistoryError("The contact history cannot be opened: the file is not a DuckDB database",
                           where=str(history), fix="Give the DuckDB file `cvo commit` wrote (e.g. history.duckdb)")


def _header(path: Path) -> bytes:
    with open(path, "rb") as stream:
        return stream.read(12)


def open_existing(history: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    check_history_path(history)
    if not Path(history).is_file():
        raise HistoryError("There is no contact history here yet", where=str(history),
                           fix="Commit a run first: cvo commit OUT_DIR (or point the command at the history file "
                           "the runs were committed to)")
    connection = connect(Path(history), read_only=read_only)
    if read_only and not _up_to_date(connection):  # written by an older cvo: add what it lacks, once
        tables = _has_tables(connection, ("events", "meta"))
        connection.close()
        try:
            connect(Path(history)).close()
        except HistoryError:
            if not tables:
                raise
            # only contact columns added since are missing and the file cannot be written now: read it as it is
        connection = connect(Path(history), read_only=True)
    return connection


def _up_to_date(connection: duckdb.DuckDBPyConnection) -> bool:
    """The events and meta tables and contacts.value_per_response are there (added after the first
    cvo). The contact columns added since (variant and the own costs) are added by a commit only, not
    by a read: a read leaves the file as an older cvo can still commit to (its INSERT is positional)."""
    return _has_tables(connection, ("events", "meta")) and "value_per_response" in _later_columns(connection)


def _has_tables(connection: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> bool:
    found = connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name IN (SELECT unnest(?))",
                               [list(names)]).fetchone()
    return found is not None and int(found[0]) == len(names)


def history_state(history: Path | str, storage_options: dict[str, Any] | None = None) -> tuple[str | None, int]:
    """The history's id (made when the file was created) and the number of its last event: the
    state a plan saw ((None, 0) without a history file)."""
    with readable_history(history, storage_options) as local:
        return _history_state(local)


def _history_state(history: Path) -> tuple[str | None, int]:
    if not Path(history).is_file():
        return None, 0
    connection = open_existing(history)
    try:
        row = connection.execute("SELECT (SELECT history_id FROM meta), coalesce(max(seq), 0) FROM events").fetchone()
        return (None, 0) if row is None else (row[0], int(row[1]))
    finally:
        connection.close()


def recorded_history(summary: dict[str, Any], history: Path | str | None, where: Path | str) -> Path | str:
    """``history`` if given, else the contact history the run's summary names (a path, or an
    object-store URL as a string): the latest it was committed to (``committed_to``, once cvo commit
    was given another --history), else the one the plan saw."""
    places = committed_places(summary)
    named = places[-1] if places else summary.get("contact_history")
    chosen = named if history is None else history
    if chosen is None:
        raise HistoryError("summary.json does not name a contact history (written by an older cvo)",
                           where=str(where), fix="Give --history PATH")
    return history_url(chosen) or local_path(chosen)


def runs(history: Path | str, storage_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every committed run, newest first, with its contacts per group and when (and why) it was voided:
    one dict per run, read without pandas (``cvo history`` starts in a fraction of a second)."""
    with readable_history(history, storage_options) as local:
        return _runs(local)


def _runs(history: Path) -> list[dict[str, Any]]:
    connection = open_existing(history)
    try:
        cursor = connection.execute(
            "SELECT r.run_id, r.run_date, r.scenario, date_trunc('second', r.committed_at) AS committed_at, "
            "r.status, r.objective, r.treatment, r.control, r.expected_spend, "
            "date_trunc('second', v.happened_at) AS voided_at, v.note AS void_note, r.out_dir FROM runs r "
            "LEFT JOIN events v ON v.kind = 'void' AND v.run_id = r.run_id "
            "ORDER BY r.run_date DESC, r.committed_at DESC"
        )
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def check_not_committed(out_dir: Path, history: Path | str) -> None:
    """RunFolderError when ``out_dir`` holds a run committed (and not voided) to the local contact
    history ``history``: a new run there would replace the plan that was sent, which cvo measure
    reads from its folder (measured runs are read there too). Nothing to check without a history
    file or a run in the folder; a history on an object store is not read for it (that would take a
    download of its newest version before every run). The history the folder's summary says the run
    was committed to (``committed_to``) is read as well."""
    run_id = run_id_of(Path(out_dir))
    if run_id is None:
        return
    committed = [(place, run) for place in {str(history), *committed_to(Path(out_dir))}
                 if history_url(place) is None and local_path(place).is_file() for run in _runs(local_path(place))
                 if run["run_id"] == run_id and run["voided_at"] is None]
    if committed:
        place, run = committed[0]
        raise RunFolderError(
            f"The output folder holds run {run_id}, committed to the contact history {place} on "
            f"{run['committed_at']}: a new run here would replace the plan that was sent, which cvo measure "
            "reads from this folder", where=str(out_dir),
            fix="Give --out a new folder for this run (e.g. one named by its date), or move the committed run's "
                "folder elsewhere first")


def run_record(history: Path | str, run: str, storage_options: dict[str, Any] | None = None,
               ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """One run (by run_id or a unique prefix of it): its row (with ``voided_at`` and ``void_note``,
    missing values unless ``cvo void`` took it back), its campaigns and its contacts."""
    with readable_history(history, storage_options) as local:
        return _run_record(local, run)


def _run_record(history: Path, run: str) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    connection = open_existing(history)
    try:
        run_id = match_run(connection, run, history)
        record = cast(dict[str, Any], connection.execute(  # the runs table's column names, and the void if any
            "SELECT r.*, date_trunc('second', v.happened_at) AS voided_at, v.note AS void_note FROM runs r "
            "LEFT JOIN events v ON v.kind = 'void' AND v.run_id = r.run_id WHERE r.run_id = ?",
            [run_id]).df().iloc[0].to_dict())
        campaigns = connection.execute("SELECT * FROM campaigns WHERE run_id = ?", [run_id]).df()
        contacts = connection.execute(f"SELECT {contact_columns(connection)} FROM contacts WHERE run_id = ?",
                                      [run_id]).df()
        return record, campaigns, contacts
    finally:
        connection.close()


def match_run(connection: duckdb.DuckDBPyConnection, run: str, history: Path) -> str:
    """The one run_id that is ``run`` or starts with it (HistoryError listing the known ones otherwise)."""
    matches = [str(row[0]) for row in
               connection.execute("SELECT run_id FROM runs WHERE starts_with(run_id, ?)", [run]).fetchall()]
    if len(matches) != 1:
        known = [str(row[0]) for row in connection.execute("SELECT run_id FROM runs ORDER BY run_date").fetchall()]
        if not matches and RUN_ID.fullmatch(run):  # a whole run id, as a run folder gives it: never committed here
            raise HistoryError(f"No run in the contact history matches '{run}': the run was not committed to it",
                               where=str(history), fix="Commit the run first (cvo commit OUT_DIR), or give the "
                               "history it was committed to")
        found = "No run in the contact history matches" if not matches else \
            f"{len(matches)} runs in the contact history match"
        raise HistoryError(
            f"{found} '{run}'",
            where=str(history),
            fix=f"Give a run id (or a unique prefix) listed by `cvo history`: {', '.join(known) or 'none yet'}",
        )
    return matches[0]


def contacts_around(history: Path, run_date: dt.date, lookback_days: int, as_of: int | None = None) -> pd.DataFrame:
    """Contacts that a run on ``run_date`` must respect: of runs not voided, sent within
    ``lookback_days`` before or after it, or whose measurement window is still open then; with
    ``as_of`` (an event seq), as the history stood then: runs committed and not voided by that event
    (a plan read again as it was made). Empty when there is no history file yet."""
    import pandas as pd

    if not Path(history).exists():
        return pd.DataFrame({column: pd.Series(dtype=object) for column in CONTACT_COLUMNS})
    connection = open_existing(history)
    try:
        return connection.execute(
            f"SELECT {contact_columns(connection)} FROM contacts WHERE {LIVE if as_of is None else AS_OF} "
            "AND (window_end > ? OR abs(date_diff('day', sent_on, ?)) < ?)",
            [*([] if as_of is None else [as_of, as_of]), run_date, run_date, lookback_days],
        ).df()
    finally:
        connection.close()


def contact_columns(connection: duckdb.DuckDBPyConnection) -> str:
    """The contact columns to select; NULL for a column added after the first cvo (LATER_COLUMNS) that
    a file has not yet (written by an older cvo and not writable when read)."""
    present = _later_columns(connection)
    return ", ".join(f'"{column}"' if column in present or column not in LATER_COLUMNS else f'NULL AS "{column}"'
                     for column in CONTACT_COLUMNS)


def _later_columns(connection: duckdb.DuckDBPyConnection) -> set[str]:
    """Which of LATER_COLUMNS the file's contacts table has."""
    found = connection.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'contacts' "
                               "AND column_name IN (SELECT unnest(?))", [list(LATER_COLUMNS)]).fetchall()
    return {str(row[0]) for row in found}

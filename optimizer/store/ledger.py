"""The contact history: every plan sent, in an embedded DuckDB file.

Four tables. ``runs``: one row per committed run (its run_id, scenario, run date, figures).
``campaigns``: per run and campaign, the channel, costs and measurement window.
``contacts``: per run, one row per customer given a campaign, treated or control, with the
date sent and the end of the measurement window (exclusive):

    window_end = sent_on + measurement_window_days

``events``: every commit and every void, numbered in order (``seq``). A plan records the last
``seq`` it saw (its summary's ``history_seq``); a commit of that plan after newer runs that
contacted its customers within the contact policy's reach is stale and refused (or, forced,
commits only what the policy still allows). A void takes a run back as an event: its contacts
stay in the file but no longer count for the contact policy.

A commit is one transaction: it records the whole run or nothing, and a run already recorded
(same run_id) is recorded once. DuckDB allows one writing process at a time; a second one gets
a clear error instead of waiting.

A history may also live on an object store (``s3://bucket/cvo/contact_history.duckdb``): then it
is a folder of versions, each a whole DuckDB file; a read reads a local copy of the newest, and a
commit or void changes a copy and writes it as the next version, made again on top of another
writer's when that one landed first (optimizer/store/history_versions.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb

from optimizer.errors import DataError, HistoryError, RunFolderError
from optimizer.store.datasets import local_path
from optimizer.store.events import LIVE, count, newer_runs, record_event, refuse_voided, stale_customers
from optimizer.store.files import PLAN_FILE, RUN_ID_KEY, RunFolder
from optimizer.store.history_versions import change, history_url, readable_history

if TYPE_CHECKING:  # pandas and pyarrow load when contacts are read or written: cvo history never needs them
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
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file

CONTACT_COLUMNS = ["customer_id", "campaign_id", "channel", "group", "sent_on", "window_end", "value_per_response",
                   "variant", "cost_per_contact", "cost_per_response"]
LATER_COLUMNS = ("value_per_response", "variant", "cost_per_contact", "cost_per_response")  # added after the first cvo
AS_OF = ("run_id IN (SELECT run_id FROM events WHERE kind = 'commit' AND seq <= ?) AND run_id NOT IN "
         "(SELECT run_id FROM events WHERE kind = 'void' AND seq <= ?)")  # live as the history stood at a seq
OFFER_TABLE = "offers_now"  # a commit's (campaign, variant) costs, for the contacts' own cost columns


@dataclass(frozen=True)
class Commit:
    """What ``commit`` did: the run, how many contacts it holds, whether it was new, whether the
    history file was created by it, and (a forced stale commit) how many plan rows it left out."""

    run_id: str
    run_date: dt.date
    contacts: int
    recorded: bool
    history: Path | str
    created: bool = False
    dropped: int = 0


Recheck = Callable[[RunFolder, "pd.DataFrame"], "pd.DataFrame"]
"""Given a run and every live contact of its customers, the plan rows (customer_id, campaign_id,
group) the contact policy still allows (optimizer/loop/commits.py)."""


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the history (creating it unless read-only) with its tables in place."""
    check_history_path(path)
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(path))
        connection.execute(SCHEMA)
        return connection
    except duckdb.Error as error:
        raise HistoryError(
            f"The contact history cannot be opened: {str(error).splitlines()[0]}",
            where=str(path),
            fix="If another cvo command is writing to it, wait for it to finish; otherwise check that the file "
            "is a cvo contact history (a DuckDB file) and that you may write to its folder",
        ) from None


def commit(run: RunFolder, history: Path | str, recheck: Recheck | None = None,
           storage_options: dict[str, Any] | None = None) -> Commit:
    """Record the plan of ``run`` as sent, in one transaction.

    The plan is plan.parquet, or the folder plan/ of one file per partition (cvo optimize --dask);
    DuckDB reads it straight from parquet, so a plan of any size never passes through pandas
    (except a forced stale one, which ``recheck`` reads). A stale plan (``stale_customers`` > 0)
    is refused unless ``recheck`` is given; then only the rows it returns are recorded.
    ``history``: a DuckDB file, or an object-store URL (its next version, with ``storage_options``).
    """
    url = history_url(history)
    if url is None:
        return _commit_file(run, local_path(history), recheck)
    return replace(change(url, lambda local: _commit_file(run, local, recheck), storage_options), history=url)


def _commit_file(run: RunFolder, history: Path, recheck: Recheck | None) -> Commit:
    run_date, created = _run_date(run.summary, run.shown), not Path(history).exists()
    if not run.plan:
        raise DataError(f"{PLAN_FILE} is missing", where=run.shown,
                        fix="Commit a folder written by `cvo optimize SCENARIO --out FOLDER`")
    try:
        return _commit(run, history, run_date, created, recheck)
    except duckdb.Error as error:
        raise HistoryError(f"The commit failed and recorded nothing: {str(error).splitlines()[0]}",
                           where=f"{run.shown}, {history}",
                           fix="Check the run folder and run cvo commit again") from None
    except BaseException:
        if created:  # a first commit that failed leaves no empty history behind
            for leftover in (Path(history), Path(f"{history}.wal")):
                with suppress(OSError):
                    leftover.unlink(missing_ok=True)
        raise


def _commit(run: RunFolder, history: Path, run_date: dt.date, created: bool, recheck: Recheck | None) -> Commit:
    connection = connect(history)
    try:
        connection.begin()
        if count(connection, "SELECT count(*) FROM runs WHERE run_id = ?", [run.run_id]):
            refuse_voided(connection, run.run_id, history)
            connection.rollback()
            return Commit(run.run_id, run_date, _contact_count(connection, run.run_id), False, history)
        _check_plan_files(run)  # again, inside the transaction: a run written since read_run is refused
        stale = stale_customers(connection, run, run_date)
        rows = _plan_rows(connection, run, run_date, stale, recheck, history)
        _insert(connection, run, run_date, rows)
        record_event(connection, "commit", run.run_id, None)
        contacts = _contact_count(connection, run.run_id)
        dropped = _plan_count(connection, run) - contacts
        connection.commit()
    finally:
        connection.close()
    return Commit(run.run_id, run_date, contacts, True, history, created, dropped)


def _check_plan_files(run: RunFolder) -> None:
    """Every plan file still carries the run's id (its parquet metadata)."""
    import pyarrow.parquet as pq

    for file in run.plan:
        written_by = (pq.read_schema(file).metadata or {}).get(RUN_ID_KEY, b"").decode()
        if written_by != run.run_id:
            raise RunFolderError(f"{file.name} is now of run {written_by or 'unknown'}, not {run.run_id}: a run was "
                                 "written into the folder meanwhile", where=run.shown,
                                 fix="Commit the folder again once no cvo command writes there")


def _plan_rows(
    connection: duckdb.DuckDBPyConnection, run: RunFolder, run_date: dt.date, stale: int, recheck: Recheck | None,
    history: Path,
) -> pd.DataFrame | None:
    """None to record the whole plan; for a forced stale one, the rows the policy still allows
    against every live contact of the plan's customers."""
    if recheck is None and stale:
        newer = ", ".join(f"{run_id[:8]} ({scenario}, sent {sent})" for run_id, scenario, sent in
                          newer_runs(connection, run))
        replan = f"cvo optimize {run.summary.get('scenario_file', 'SCENARIO')} --date {run_date} --out {run.out}"
        raise HistoryError(
            f"The plan is stale: it saw the contact history before run {newer} was committed, which contacted "
            f"{stale:,} of its customers within reach of the contact policy, so it may break cool-downs, caps or "
            "measurement windows",
            where=f"{run.shown}, {history}",
            fix=f"Re-plan with `{replan}` and commit that plan; or run `cvo commit {run.shown} --force` to record "
            "only the customers the contact policy still allows",
        )
    if recheck is None or not stale:
        return None
    contacts = connection.execute(
        f"SELECT {_columns(connection)} FROM contacts WHERE {LIVE} AND customer_id IN "
        "(SELECT customer_id FROM read_parquet(?) WHERE campaign_id IS NOT NULL)",
        [[str(file) for file in run.plan]],
    ).df()
    return recheck(run, contacts)


def void(history: Path | str, run: str, note: str | None = None,
         storage_options: dict[str, Any] | None = None) -> tuple[str, int]:
    """Take a committed run back (by run_id or a unique prefix): record a 'void' event, so its
    contacts no longer count for the contact policy; nothing is deleted. Returns (run_id, contacts).
    ``history``: a DuckDB file, or an object-store URL (its next version, with ``storage_options``)."""
    url = history_url(history)
    if url is None:
        return _void_file(local_path(history), run, note)
    return change(url, lambda local: _void_file(local, run, note), storage_options)


def _void_file(history: Path, run: str, note: str | None) -> tuple[str, int]:
    connection = _open_existing(history, read_only=False)
    try:
        connection.begin()
        run_id = _match_run(connection, run, history)
        if count(connection, "SELECT count(*) FROM events WHERE kind = 'void' AND run_id = ?", [run_id]):
            connection.rollback()
            raise HistoryError(f"Run {run_id} is already voided", where=str(history),
                               fix="Nothing to do; `cvo history` lists every run and when it was voided")
        record_event(connection, "void", run_id, note)
        contacts = _contact_count(connection, run_id)
        connection.commit()
        return run_id, contacts
    finally:
        connection.close()


def history_state(history: Path | str, storage_options: dict[str, Any] | None = None) -> tuple[str | None, int]:
    """The history's id (made when the file was created) and the number of its last event: the
    state a plan saw ((None, 0) without a history file)."""
    with readable_history(history, storage_options) as local:
        return _history_state(local)


def _history_state(history: Path) -> tuple[str | None, int]:
    if not Path(history).is_file():
        return None, 0
    connection = _open_existing(history)
    try:
        row = connection.execute("SELECT (SELECT history_id FROM meta), coalesce(max(seq), 0) FROM events").fetchone()
        return (None, 0) if row is None else (row[0], int(row[1]))
    finally:
        connection.close()


def _insert(connection: duckdb.DuckDBPyConnection, run: RunFolder, run_date: dt.date,
            rows: pd.DataFrame | None) -> None:
    """The run, its campaigns and every customer given a campaign (window_end = sent_on + window):
    the plan files' rows, or ``rows`` when given."""
    summary, run_id = run.summary, run.run_id
    connection.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, summary.get("scenario"), summary.get("scenario_file"), run_date,
         dt.datetime.now(dt.UTC).replace(tzinfo=None), run.where, summary.get("status"),
         summary.get("objective"), summary.get("treatment"), summary.get("control"),
         summary.get("expected_spend"), summary.get("expected_value")],
    )
    for campaign in summary["campaigns"]:
        connection.execute(
            "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, campaign["id"], campaign["channel"], campaign.get("cost_per_contact"),
             campaign.get("cost_per_response"), campaign.get("measurement_window_days") or 0,
             campaign["treatment"], campaign["control"]],
        )
    if rows is None:
        source, parameters = "read_parquet(?)", [[str(file) for file in run.plan]]
    else:
        connection.register("allowed_rows", rows)
        source, parameters = "allowed_rows", []
    worth = "p.value_per_response" if _has_plan_column(run, rows, "value_per_response") else "NULL"
    variant = "p.variant" if _has_plan_column(run, rows, "variant") else "NULL::VARCHAR"
    _offer_costs(connection, summary)
    connection.execute(
        "INSERT INTO contacts (run_id, customer_id, campaign_id, channel, \"group\", sent_on, window_end, "
        "value_per_response, variant, cost_per_contact, cost_per_response) "
        'SELECT c.run_id, p.customer_id, p.campaign_id, c.channel, p."group", ?::DATE, '
        f"?::DATE + c.measurement_window_days, {worth}, {variant}, coalesce(o.cost_per_contact, c.cost_per_contact), "
        f"coalesce(o.cost_per_response, c.cost_per_response) FROM {source} p JOIN campaigns c "
        f"ON c.run_id = ? AND p.campaign_id = c.campaign_id LEFT JOIN {OFFER_TABLE} o "
        f"ON o.campaign_id = p.campaign_id AND o.variant IS NOT DISTINCT FROM {variant}",
        [run_date, run_date, *parameters, run_id],
    )
    if rows is not None:  # a forced commit: the run's counts are what was recorded, not what was planned
        _recount(connection, run_id)
        if {"expected_spend", "expected_value"} <= set(rows.columns):
            connection.execute("UPDATE runs SET expected_spend = ?, expected_value = ? WHERE run_id = ?",
                               [float(rows["expected_spend"].sum()), float(rows["expected_value"].sum()), run_id])


def _has_plan_column(run: RunFolder, rows: pd.DataFrame | None, column: str) -> bool:
    """Whether the plan holds ``column`` (value_per_response and variant: plans of cvo before them,
    and Dask plans, do not)."""
    import pyarrow.parquet as pq

    if rows is not None:
        return column in rows.columns
    return all(column in pq.read_schema(file).names for file in run.plan)


def _offer_costs(connection: duckdb.DuckDBPyConnection, summary: dict[str, Any]) -> None:
    """A temporary table of each offer variant's own costs (summary.json's campaigns' ``variants``),
    which the contacts of a variant are recorded with (its campaign's costs for the others)."""
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {OFFER_TABLE} (campaign_id VARCHAR, variant VARCHAR, "
                       "cost_per_contact DOUBLE, cost_per_response DOUBLE)")
    offers = [[campaign["id"], variant["id"], variant.get("cost_per_contact"), variant.get("cost_per_response")]
              for campaign in summary["campaigns"] for variant in campaign.get("variants") or []]
    if offers:
        connection.executemany(f"INSERT INTO {OFFER_TABLE} VALUES (?, ?, ?, ?)", offers)


def _recount(connection: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Set the run's and its campaigns' treatment (forced customers included: they were sent the
    campaign) and control counts from its recorded contacts."""
    for table, key in (("campaigns", "AND t.campaign_id = c.campaign_id"), ("runs", "")):
        connection.execute(
            f"UPDATE {table} t SET treatment = (SELECT count(*) FILTER (c.\"group\" IN ('treatment', 'forced')) "
            f"FROM contacts c WHERE c.run_id = t.run_id {key}), control = (SELECT count(*) "
            f"FILTER (c.\"group\" = 'control') FROM contacts c WHERE c.run_id = t.run_id {key}) WHERE t.run_id = ?",
            [run_id])


def _contact_count(connection: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return count(connection, "SELECT count(*) FROM contacts WHERE run_id = ?", [run_id])


def _plan_count(connection: duckdb.DuckDBPyConnection, run: RunFolder) -> int:
    """The plan's rows with a campaign (what a full commit records)."""
    return count(connection, "SELECT count(*) FROM read_parquet(?) WHERE campaign_id IS NOT NULL",
                  [[str(file) for file in run.plan]])


def recorded_history(summary: dict[str, Any], history: Path | str | None, where: Path | str) -> Path | str:
    """``history`` if given, else the contact history the run's summary names (a path, or an
    object-store URL as a string)."""
    if history is None and summary.get("contact_history") is None:
        raise HistoryError("summary.json does not name a contact history (written by an older cvo)",
                           where=str(where), fix="Give --history PATH")
    chosen = summary["contact_history"] if history is None else history
    return history_url(chosen) or local_path(chosen)


def _run_date(summary: dict[str, Any], out_dir: Path | str) -> dt.date:
    if "run_date" not in summary:
        raise DataError("summary.json has no run_date (written by an older cvo)", where=str(out_dir),
                        fix="Run `cvo optimize` again into this folder, then commit")
    return dt.date.fromisoformat(summary["run_date"])


def runs(history: Path | str, storage_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every committed run, newest first, with its contacts per group and when (and why) it was voided:
    one dict per run, read without pandas (``cvo history`` starts in a fraction of a second)."""
    with readable_history(history, storage_options) as local:
        return _runs(local)


def _runs(history: Path) -> list[dict[str, Any]]:
    connection = _open_existing(history)
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


def run_record(history: Path | str, run: str, storage_options: dict[str, Any] | None = None,
               ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """One run (by run_id or a unique prefix of it): its row, its campaigns and its contacts."""
    with readable_history(history, storage_options) as local:
        return _run_record(local, run)


def _run_record(history: Path, run: str) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    connection = _open_existing(history)
    try:
        run_id = _match_run(connection, run, history)
        record = cast(dict[str, Any], connection.execute(  # the keys are the runs table's column names
            "SELECT * FROM runs WHERE run_id = ?", [run_id]).df().iloc[0].to_dict())
        campaigns = connection.execute("SELECT * FROM campaigns WHERE run_id = ?", [run_id]).df()
        contacts = connection.execute(f"SELECT {_columns(connection)} FROM contacts WHERE run_id = ?", [run_id]).df()
        return record, campaigns, contacts
    finally:
        connection.close()


def _match_run(connection: duckdb.DuckDBPyConnection, run: str, history: Path) -> str:
    """The one run_id that is ``run`` or starts with it (HistoryError listing the known ones otherwise)."""
    matches = [str(row[0]) for row in
               connection.execute("SELECT run_id FROM runs WHERE starts_with(run_id, ?)", [run]).fetchall()]
    if len(matches) != 1:
        known = [str(row[0]) for row in connection.execute("SELECT run_id FROM runs ORDER BY run_date").fetchall()]
        raise HistoryError(
            f"{'No run' if not matches else f'{len(matches)} runs'} in the contact history match '{run}'",
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
    connection = _open_existing(history)
    try:
        return connection.execute(
            f"SELECT {_columns(connection)} FROM contacts WHERE {LIVE if as_of is None else AS_OF} AND (window_end > ? "
            "OR abs(date_diff('day', sent_on, ?)) < ?)",
            [*([] if as_of is None else [as_of, as_of]), run_date, run_date, lookback_days],
        ).df()
    finally:
        connection.close()


def _columns(connection: duckdb.DuckDBPyConnection) -> str:
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


def _open_existing(history: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    check_history_path(history)
    if not Path(history).is_file():
        raise HistoryError("There is no contact history here yet", where=str(history),
                           fix="Commit a run first: cvo commit OUT_DIR (or give the right --history path)")
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

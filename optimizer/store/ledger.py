"""The contact history: every plan sent, in an embedded DuckDB file.

Three tables. ``runs``: one row per committed run (its run_id, scenario, run date, figures).
``campaigns``: per run and campaign, the channel, costs and measurement window.
``contacts``: per run, one row per customer given a campaign, treated or control, with the
date sent and the end of the measurement window (exclusive):

    window_end = sent_on + measurement_window_days

A commit is one transaction: it records the whole run or nothing, and a run already recorded
(same run_id) is recorded once. DuckDB allows one writing process at a time; a second one gets
a clear error instead of waiting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from optimizer.errors import DataError, HistoryError
from optimizer.store.files import PLAN_FILE, RUN_ID_KEY, plan_files, read_summary

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
"""

CONTACT_COLUMNS = ["customer_id", "campaign_id", "channel", "group", "sent_on", "window_end"]


@dataclass(frozen=True)
class Commit:
    """What ``commit`` did: the run, how many contacts it holds, and whether it was new."""

    run_id: str
    run_date: dt.date
    contacts: int
    recorded: bool
    history: Path


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the history (creating it unless read-only) with its tables in place."""
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


def commit(out_dir: Path, history: Path) -> Commit:
    """Record the plan in ``out_dir`` as sent, in one transaction.

    The plan is plan.parquet, or the folder plan/ of one file per partition (cvo optimize --dask);
    DuckDB reads it straight from parquet, so a plan of any size never passes through pandas.
    """
    out_dir = Path(out_dir)
    summary, files = _read_run(out_dir)
    run_id, run_date = summary["run_id"], _run_date(summary, out_dir)
    connection = connect(history)
    try:
        connection.begin()
        if _count(connection, "SELECT count(*) FROM runs WHERE run_id = ?", [run_id]):
            connection.rollback()
            return Commit(run_id, run_date, _contact_count(connection, run_id), False, history)
        _insert(connection, summary, run_date, out_dir, files)
        contacts = _contact_count(connection, run_id)
        connection.commit()
    finally:
        connection.close()
    return Commit(run_id, run_date, contacts, True, history)


def _insert(
    connection: duckdb.DuckDBPyConnection, summary: dict[str, Any], run_date: dt.date, out_dir: Path,
    files: list[Path],
) -> None:
    """The run, its campaigns and every customer given a campaign (window_end = sent_on + window)."""
    run_id = summary["run_id"]
    connection.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, summary.get("scenario"), summary.get("scenario_file"), run_date,
         dt.datetime.now(dt.UTC).replace(tzinfo=None), str(out_dir.resolve()), summary.get("status"),
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
    connection.execute(
        'INSERT INTO contacts SELECT c.run_id, p.customer_id, p.campaign_id, c.channel, p."group", ?::DATE, '
        "?::DATE + c.measurement_window_days FROM read_parquet(?) p JOIN campaigns c "
        "ON c.run_id = ? AND p.campaign_id = c.campaign_id",
        [run_date, run_date, [str(file) for file in files], run_id],
    )


def _contact_count(connection: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return _count(connection, "SELECT count(*) FROM contacts WHERE run_id = ?", [run_id])


def _count(connection: duckdb.DuckDBPyConnection, query: str, parameters: list[Any]) -> int:
    """The number a ``SELECT count(*)`` query returns (it always returns one row)."""
    row = connection.execute(query, parameters).fetchone()
    if row is None:
        raise TypeError(f"{query} returned no row")
    return int(row[0])


def _read_run(out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """summary.json and the plan's parquet file(s) of one run; every file must carry its run_id."""
    summary, files = read_summary(out_dir), plan_files(out_dir)
    if not files:
        raise DataError(f"{PLAN_FILE} is missing", where=str(out_dir),
                        fix="Commit a folder written by `cvo optimize SCENARIO --out FOLDER`")
    for file in files:
        plan_run = (pq.read_schema(file).metadata or {}).get(RUN_ID_KEY, b"").decode()
        if plan_run != summary.get("run_id"):
            raise DataError(
                f"{file.name} (run {plan_run or 'unknown'}) and summary.json (run {summary.get('run_id')}) are not "
                "from the same run",
                where=str(out_dir),
                fix="Run `cvo optimize` again into this folder, then commit",
            )
    return summary, files


def recorded_history(summary: dict[str, Any], history: Path | None, where: Path) -> Path:
    """``history`` if given, else the contact history the run's summary names."""
    if history is not None:
        return Path(history)
    if summary.get("contact_history") is None:
        raise HistoryError("summary.json does not name a contact history (written by an older cvo)",
                           where=str(where), fix="Give --history PATH")
    return Path(summary["contact_history"])


def _run_date(summary: dict[str, Any], out_dir: Path) -> dt.date:
    if "run_date" not in summary:
        raise DataError("summary.json has no run_date (written by an older cvo)", where=str(out_dir),
                        fix="Run `cvo optimize` again into this folder, then commit")
    return dt.date.fromisoformat(summary["run_date"])


def runs(history: Path) -> pd.DataFrame:
    """Every committed run, newest first, with its contacts per group."""
    connection = _open_existing(history)
    try:
        return connection.execute(
            "SELECT run_id, run_date, scenario, committed_at, status, objective, treatment, control, "
            "expected_spend, out_dir FROM runs ORDER BY run_date DESC, committed_at DESC"
        ).df()
    finally:
        connection.close()


def run_record(history: Path, run: str) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """One run (by run_id or a unique prefix of it): its row, its campaigns and its contacts."""
    connection = _open_existing(history)
    try:
        matches = connection.execute("SELECT * FROM runs WHERE starts_with(run_id, ?)", [run]).df()
        if len(matches) != 1:
            known = connection.execute("SELECT run_id FROM runs ORDER BY run_date").df()["run_id"].tolist()
            raise HistoryError(
                f"{'No run' if matches.empty else f'{len(matches)} runs'} in the contact history match '{run}'",
                where=str(history),
                fix=f"Give a run id (or a unique prefix) listed by `cvo history`: {', '.join(known) or 'none yet'}",
            )
        record = cast(dict[str, Any], matches.iloc[0].to_dict())  # the keys are the runs table's column names
        campaigns = connection.execute("SELECT * FROM campaigns WHERE run_id = ?", [record["run_id"]]).df()
        contacts = connection.execute(f"SELECT {_columns()} FROM contacts WHERE run_id = ?", [record["run_id"]]).df()
        return record, campaigns, contacts
    finally:
        connection.close()


def contacts_around(history: Path, run_date: dt.date, lookback_days: int) -> pd.DataFrame:
    """Contacts that a run on ``run_date`` must respect: sent within ``lookback_days`` before
    or after it, or whose measurement window is still open then. Empty when there is no history."""
    if not Path(history).is_file():
        return pd.DataFrame({column: pd.Series(dtype=object) for column in CONTACT_COLUMNS})
    connection = _open_existing(history)
    try:
        return connection.execute(
            f"SELECT {_columns()} FROM contacts WHERE window_end > ? "
            "OR abs(date_diff('day', sent_on, ?)) < ?",
            [run_date, run_date, lookback_days],
        ).df()
    finally:
        connection.close()


def _columns() -> str:
    return ", ".join(f'"{column}"' for column in CONTACT_COLUMNS)


def _open_existing(history: Path) -> duckdb.DuckDBPyConnection:
    if not Path(history).is_file():
        raise HistoryError("There is no contact history here yet", where=str(history),
                           fix="Commit a run first: cvo commit OUT_DIR (or give the right --history path)")
    return connect(Path(history), read_only=True)

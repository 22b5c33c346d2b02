"""Writing the contact history: every plan sent is committed to it, and a run sent by mistake voided.

The file's tables and how it is read are optimizer/store/history_file.py's. ``events`` numbers
every commit and every void in order (``seq``). A plan records the last
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
import shlex
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from optimizer.errors import DataError, HistoryError, RunFolderError
from optimizer.store.datasets import local_path
from optimizer.store.events import LIVE, count, newer_runs, record_event, refuse_voided, stale_customers
from optimizer.store.files import PLAN_FILE, RUN_ID_KEY
from optimizer.store.history_file import connect, contact_columns, match_run, open_existing
from optimizer.store.history_versions import change, history_url
from optimizer.store.runs import RunFolder

if TYPE_CHECKING:  # pandas and pyarrow load when contacts are read or written: cvo history never needs them
    import pandas as pd

OFFER_TABLE = "offers_now"  # a commit's (campaign, variant) costs, for the contacts' own cost columns


@dataclass(frozen=True)
class Commit:
    """What ``commit`` did: the run, how many contacts it holds, whether it was new, whether the
    history file was created by it, and (a forced stale commit) how many plan rows it left out
    and what that did to the plan's limits (``notes``)."""

    run_id: str
    run_date: dt.date
    contacts: int
    recorded: bool
    history: Path | str
    created: bool = False
    dropped: int = 0
    notes: tuple[str, ...] = ()


Recheck = Callable[[RunFolder, "pd.DataFrame"], "pd.DataFrame"]
"""Given a run and every live contact of its customers, the plan rows (customer_id, campaign_id,
group) the contact policy still allows (optimizer/loop/commits.py)."""


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
        at = f"--history {shlex.quote(str(history))}"  # the history this commit met, not the scenario's own
        replan = (f"cvo optimize {shlex.quote(str(run.summary.get('scenario_file', 'SCENARIO')))} {at} --date "
                  f"{run_date} --out {shlex.quote(str(run.out))}")
        raise HistoryError(
            f"The plan is stale: it saw the contact history before run {newer} was committed, which contacted "
            f"{stale:,} of its customers within reach of the contact policy, so it may break cool-downs, caps or "
            "measurement windows",
            where=f"{run.shown}, {history}",
            fix=f"Re-plan with `{replan}` and commit that plan; or run `cvo commit {shlex.quote(run.shown)} {at} "
            "--force` to record only the customers the contact policy still allows",
        )
    if recheck is None or not stale:
        return None
    contacts = connection.execute(
        f"SELECT {contact_columns(connection)} FROM contacts WHERE {LIVE} AND customer_id IN "
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
    connection = open_existing(history, read_only=False)
    try:
        connection.begin()
        run_id = match_run(connection, run, history)
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


def _run_date(summary: dict[str, Any], out_dir: Path | str) -> dt.date:
    if "run_date" not in summary:
        raise DataError("summary.json has no run_date (written by an older cvo)", where=str(out_dir),
                        fix="Run `cvo optimize` again into this folder, then commit")
    return dt.date.fromisoformat(summary["run_date"])



"""The score workflow: customer values from a transaction log, response scores from a campaign
history, written in exactly the format ``cvo optimize`` reads.

    customers.parquet   one row per customer: features, RFM segment, p_alive, ltv (from the log)
                        or the customers table given, its id column named customer_id
    scores.parquet      customer_id, campaign_id, p_treat, p_control (a T-learner on the history, or the
                        cells model of optimizer.uplift_cells when given CellOptions)
    score_report.json   the fitted BG/NBD and Gamma-Gamma parameters, the uplift models' held-out
                        report, and revenue per response of each campaign (a value_per_response)

Features for the uplift models are the history's own columns plus, when a customer table is
known, that table's columns joined on customer_id; optimizer/scoring/uplift_inputs.py matches the
ids (whole numbers however stored, surrounding blanks ignored), leaves out a column without values
with a note, and checks every feature before the first fit.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from optimizer.errors import DataError, RunFolderError, ScenarioError
from optimizer.scoring.cells import CellOptions, fit_cell_uplift
from optimizer.scoring.clv import CustomerValue, score_customers as value_customers
from optimizer.scoring.rfm import after_cutoff, check_within_log, to_timestamp
from optimizer.scoring.transactions import LogReading, TransactionLog, clean_log, read_log
from optimizer.scoring.uplift import (
    HISTORY_TABLE,
    HistoryColumns,
    Stage,
    UpliftModel,
    UpliftOptions,
    fit_uplift,
    read_history,
    score_customers as score_responses,
)
from optimizer.scoring.uplift_inputs import Table, model_inputs
from optimizer.scoring.value_check import Dropout, ValueCheck, check_values, dropout_test, p_alive_informative
from optimizer.store.file_sets import SET_KEY, set_record, write_in_set, written_in_a_set, written_with_record
from optimizer.store.files import Writer, write_all
from optimizer.store.folders import folder_lock
from optimizer.store.tables import id_text, read_table, renamed_id, require_columns, row_label

CUSTOMERS_FILE, SCORES_FILE, REPORT_FILE = "customers.parquet", "scores.parquet", "score_report.json"
CUSTOMER_ID = "customer_id"  # the id column of both tables written, as cvo optimize reads them by default
FEW_SPENDERS = 30  # customers with a repeat purchase below which the spend model is said to be a rough guess


class ResponseModel(StrEnum):
    """The response model ``cvo score --model`` fits: a T-learner, or the cells model."""

    T_LEARNER = "t-learner"
    CELLS = "cells"


@dataclass(frozen=True)
class ScoreRun:
    """What one ``cvo score`` produced; each part is None when its input was not given."""

    customers: pd.DataFrame | None
    scores: pd.DataFrame | None
    value: CustomerValue | None
    model: UpliftModel | None
    log: LogReading | None = None
    notes: tuple[str, ...] = ()
    check: ValueCheck | None = None
    dropout: Dropout | None = None


@dataclass(frozen=True)
class _Valued:
    """What the transaction log gave: the value fit, its table, how the log was read, the holdout
    check, the dropout test and the notes they raise."""

    value: CustomerValue
    table: pd.DataFrame
    reading: LogReading
    check: ValueCheck | None
    dropout: Dropout
    notes: tuple[str, ...]


def score(
    *, history: Path | pd.DataFrame | None = None, customers: Path | pd.DataFrame | None = None,
    transactions: Path | pd.DataFrame | None = None,
    cutoff: str | None = None, columns: HistoryColumns | None = None,
    options: UpliftOptions | CellOptions | None = None, months: int = 12, monthly_discount: float = 0.01,
    transaction_columns: Mapping[str, str] | None = None, date_format: str | None = None, drop_duplicates: bool = False,
    customer_id: str | None = None, holdout_weeks: float = 13.0, stage: Stage | None = None,
) -> ScoreRun:
    """Fit what the inputs allow: LTV from ``transactions`` at ``cutoff``, uplift from ``history``.

    The log is read by optimizer/scoring/transactions.py (``transaction_columns``, ``date_format``,
    ``drop_duplicates``); ``columns`` name the history's columns, ``customer_id`` the customer
    table's id column (default: the history's). The values are checked on the last ``holdout_weeks`` before the cut-off
    (optimizer/scoring/value_check.py; 0: no check), and P(alive) is left out when it carries no
    information. A history without the default ``revenue`` column is conversion-only. The
    response model is a T-learner (``UpliftOptions``) or the cells model (``CellOptions``);
    ``stage`` hears each step as it starts (reading, valuing, each model fit, scoring). Each input
    may be a file or a DataFrame (a notebook's), which messages name 'the history table', 'the
    customer table' and 'the transaction log'.
    """
    tell = stage or (lambda text: None)
    columns, options = columns or HistoryColumns(), options or UpliftOptions()
    _check_inputs(history, customers, transactions, cutoff, customer_id)
    valued, table, source = None, None, ""
    if transactions is not None and cutoff is not None:
        label = _label(transactions, "the transaction log")
        tell(f"Reading {label}")
        log = read_log(Path(transactions), columns=transaction_columns, date_format=date_format,
                       drop_duplicates=drop_duplicates) if isinstance(transactions, Path | str) else clean_log(
            transactions, columns=transaction_columns, date_format=date_format, source=label,
            drop_duplicates=drop_duplicates)
        _check_cutoff(log, cutoff, label)
        valued = _value(log, cutoff, months, monthly_discount, holdout_weeks, tell, label)
        table, source = valued.table, f"the customer values from {label}"
    elif customers is not None:
        table = _read_customers(customers, customer_id or columns.customer_id)
        source = _label(customers, "the customer table")
    run = ScoreRun(table, None, None, None) if valued is None else ScoreRun(
        table, None, valued.value, None, valued.reading, valued.notes, valued.check, valued.dropout)
    if history is None:
        return run
    events_label = _label(history, HISTORY_TABLE)
    tell(f"Reading {events_label}")
    raw = _read_events(history, columns)
    columns, history_notes = _conversion_only(raw, columns, events_label)
    if table is not None:  # its id column is customer_id; the history may name its own
        table = _keyed_as(table, columns.customer_id, source, valued is not None)
    inputs = model_inputs(Table(raw, events_label), None if table is None else Table(table, source), columns,
                          options.cells if isinstance(options, CellOptions) else options.features)
    events = inputs.events
    if isinstance(options, CellOptions):
        tell(f"Fitting the cells model on {len(events):,} rows")
        model = fit_cell_uplift(events, columns, options)
    else:
        model = fit_uplift(events, columns, replace(options, features=inputs.features), stage)
    scored = table if table is not None else events.drop_duplicates(columns.customer_id)
    tell(f"Scoring {len(scored):,} customers")
    return replace(run, scores=score_responses(model, scored, columns.customer_id), model=model,
                   notes=(*run.notes, *history_notes, *inputs.notes, *model.notes))


def _value(log: TransactionLog, cutoff: str, months: int, monthly_discount: float, holdout_weeks: float,
           tell: Stage, source: str) -> _Valued:
    """The customer values at ``cutoff``, the holdout check, and P(alive) only when it informs; a note
    for each fit that did not converge."""
    cut = to_timestamp(cutoff, "cut-off")
    orders = log.orders_until(cut)  # a return after the cut-off is not known at it
    tell(f"Valuing the customers of {len(orders):,} orders: RFM, BG/NBD, Gamma-Gamma")
    value = value_customers(orders, cutoff, months=months, monthly_discount=monthly_discount, source=source)
    dropout = dropout_test(value.bgnbd, value.table)
    table, notes = value.table.reset_index(), _fit_notes(value, cutoff)
    later = after_cutoff(orders, cut)
    if later.orders:  # as cvo segments says it of its cut-offs
        notes.insert(0, f"the customer values are at the cut-off: {later.sentence()}")
    alive = table["p_alive"].to_numpy(dtype=float)
    if not p_alive_informative(alive, dropout):
        low, high = np.percentile(alive, [5, 95])
        why = (f"the log does not identify the dropout behind it (likelihood ratio {dropout.statistic:.2f} against "
               f"no dropout, p = {dropout.p_value:.2f})" if not dropout.identified else
               f"it hardly varies (5th to 95th percentile {low:.4f} to {high:.4f})")
        table = table.drop(columns="p_alive")
        notes.append(f"p_alive is left out of the customers table: {why}")
    check = None
    if holdout_weeks > 0:
        tell(f"Checking the values on the last {holdout_weeks:g} weeks before {cutoff}")
        check = check_values(log.orders_until(cut - pd.Timedelta(weeks=holdout_weeks)), cutoff, holdout_weeks)
        if check is None:
            notes.append(f"No holdout check: too few customers bought and came back before the last "
                         f"{holdout_weeks:g} weeks; give a shorter --holdout-weeks")
    return _Valued(value, table, log.reading, check, dropout, tuple(notes))


def _fit_notes(value: CustomerValue, cutoff: str) -> list[str]:
    """A note for each of BG/NBD and Gamma-Gamma whose likelihood maximisation did not converge, and
    one when the spend model rests on fewer than FEW_SPENDERS customers."""
    notes = [f"the {name} fit did not converge (the optimiser stopped early, or a parameter reached the bound "
             f"e^±15: the log up to {cutoff} does not pin it down); its values are unreliable, try a later cut-off"
             for name, fit in (("BG/NBD", value.bgnbd), ("Gamma-Gamma", value.gamma_gamma)) if not fit.converged]
    spenders = value.gamma_gamma.n_customers
    if spenders < FEW_SPENDERS:
        notes.append(f"the spend per purchase (Gamma-Gamma) rests on the {spenders} customer(s) who bought again "
                     f"before {cutoff}: every customer's LTV takes its spend from so few that it is a rough guess; "
                     "a later cut-off or a longer log gives it more")
    return notes


def _label(given: Path | str | pd.DataFrame, table: str) -> str:
    """How messages name an input: its file, or ``table`` for a DataFrame."""
    return table if isinstance(given, pd.DataFrame) else str(given)


def _check_cutoff(log: TransactionLog, cutoff: str, source: str) -> None:
    """The cut-off lies within the log: on or after its first order, on or before its last."""
    check_within_log(to_timestamp(cutoff, "cut-off"), log.orders["date"], source,
                     log.reading.dropped(repeats=False))  # a repeat's day is its first's: it moves no end


def _conversion_only(
    events: pd.DataFrame, columns: HistoryColumns, path: str
) -> tuple[HistoryColumns, tuple[str, ...]]:
    """The columns without a revenue column when the history has none and none was named."""
    if columns.revenue != HistoryColumns.revenue or columns.revenue in events.columns:
        return columns, ()
    note = (f"{path} has no '{columns.revenue}' column: the models are fitted on conversions alone, and the "
            "value of a response is left to the scenario's value_per_response")
    return replace(columns, revenue=None), (note,)


def _check_inputs(history: object, customers: object, transactions: object, cutoff: str | None,
                  customer_id: str | None) -> None:
    if customer_id is not None and customers is None:
        raise ScenarioError(f"--customers-column names the customer table's id column ('{customer_id}'), but no "
                            "customer table (--customers) was given", where="cvo score",
                            fix="Drop --customers-column, or give the table with --customers")
    if customers is not None and transactions is not None:
        raise ScenarioError("Both --customers and --transactions were given", where="cvo score",
                            fix="Give --transactions (and --cutoff) to compute customer values, or --customers "
                            "to score an existing customer table")
    if transactions is not None and cutoff is None:
        raise ScenarioError("--transactions needs --cutoff, the date the customer values are computed at",
                            where="cvo score", fix="Add e.g. --cutoff 1997-09-30")
    if history is None and transactions is None:
        raise ScenarioError("Nothing to score: neither --history nor --transactions was given", where="cvo score",
                            fix="Give a campaign history (--history) for response scores, a transaction log "
                            "(--transactions, --cutoff) for customer values, or both")


def _read_customers(path: Path | pd.DataFrame, id_column: str) -> pd.DataFrame:
    """The customer table to score (a file, or a DataFrame as given), its id column named
    customer_id as in the scores (DataError naming the file when it has none, or another column
    of that name)."""
    table = _given(path, "the customer table") if isinstance(path, pd.DataFrame) else read_table(
        path, what="customers", text_columns=(id_column,))
    where = _label(path, "the customer table")
    require_columns(table, [id_column], where, "customers",
                    f"The customer table needs the id column '{id_column}': rename its id column, or name it "
                    "with --customers-column NAME")
    require_ids(table, id_column, where, "customers table")
    return renamed_id(table, id_column, CUSTOMER_ID, f"The customer table has a column '{CUSTOMER_ID}' besides its "
                      f"id column '{id_column}', and every table cvo score writes names the id '{CUSTOMER_ID}': the "
                      "two would clash", where, f"Rename or drop the column '{CUSTOMER_ID}' in the customer table")


def _keyed_as(table: pd.DataFrame, id_column: str, source: str, values: bool) -> pd.DataFrame:
    """``table`` (keyed customer_id; the customer ``values`` from a log, or a customer table) with its
    id column named ``id_column``, the history's, to join the history on; a copy named ``source`` in
    scoring's messages (``source_of``)."""
    what = "customer values computed from the log have" if values else "customer table has"
    fix = ("Rename the history's id column in its file and map the new name with --history-column "
           "customer_id=NAME" if values else f"Rename or drop the column '{id_column}' in the customer table, or "
           "rename the history's id column")
    keyed = renamed_id(table, CUSTOMER_ID, id_column, f"The {what} a column '{id_column}', the name of the "
                       "history's id column, which the history is joined on: the two would clash", source, fix)
    keyed = keyed.copy(deep=False)
    keyed.attrs["source"] = source
    return keyed


def _given(table: pd.DataFrame, label: str) -> pd.DataFrame:
    """A copy of a DataFrame given in Python, named ``label`` in messages (``source_of``)."""
    copy = table.copy()
    copy.attrs["source"] = label
    return copy


def require_ids(table: pd.DataFrame, column: str, path: Path | str, what: str) -> None:
    """DataError naming the first row of ``table`` without a customer id (blank or missing)."""
    blank = np.flatnonzero(table[column].isna().to_numpy() | table[column].astype(str).str.strip().eq("").to_numpy())
    if blank.size:
        raise DataError(f"The {what} has {blank.size:,} row(s) without a customer id in '{column}'",
                        where=row_label(path, int(blank[0])), fix="Give every row its customer id, or remove such rows")


def _read_events(path: Path | pd.DataFrame, columns: HistoryColumns) -> pd.DataFrame:
    """The campaign history (a file, or a DataFrame as given), with its customer id column
    (DataError naming the file otherwise)."""
    events = _given(path, HISTORY_TABLE) if isinstance(path, pd.DataFrame) else read_history(path, columns)
    if isinstance(path, pd.DataFrame) and columns.customer_id in events.columns:
        events[columns.customer_id] = id_text(events[columns.customer_id])  # as read_history tidies a file's
    where = _label(path, HISTORY_TABLE)
    require_columns(events, [columns.customer_id], where, "history",
                    f"The history needs the columns {', '.join(columns.reserved())} and the features")
    require_ids(events, columns.customer_id, where, "history")
    return events


def check_score_folder(out_dir: Path, writes: tuple[str, ...], inputs: tuple[Path | None, ...] = ()) -> None:
    """Fail now, before any fitting, when cvo score would replace a file in ``out_dir`` that it
    must not: one of this run's ``inputs`` (a --customers table in the folder it writes), or one of
    the files it ``writes`` that no score run wrote (a table without a score run's set id, a report
    without one): the user's own, replaced without a word otherwise."""
    out_dir = Path(out_dir)
    read = [path.name for path in inputs if path is not None and path.name in writes
            and (out_dir / path.name).exists() and (out_dir / path.name).resolve() == Path(path).resolve()]
    if read:
        raise RunFolderError(f"The output folder holds {', '.join(read)}, which this run reads: writing its "
                             "results would replace its own input", where=str(out_dir),
                             fix="Give --out another folder, or move the input elsewhere first")
    theirs = [name for name in writes if (out_dir / name).is_file() and not _scored_here(out_dir / name)]
    if theirs:
        raise RunFolderError(f"The output folder holds {', '.join(theirs)}, not written by cvo score (no score "
                             f"run's set id): this run would replace {'it' if len(theirs) == 1 else 'them'}",
                             where=str(out_dir), fix="Give --out a new or empty folder (or one an earlier cvo "
                             "score wrote), or move those files elsewhere")


def score_files(history: Path | pd.DataFrame | None, customers: Path | pd.DataFrame | None,
                transactions: Path | pd.DataFrame | None) -> tuple[str, ...]:
    """The files a score run of these inputs writes: customer values or the customer table
    (customers.parquet), scores from a history (scores.parquet), and its report."""
    tables = ((CUSTOMERS_FILE,) if customers is not None or transactions is not None else ()) + (
        (SCORES_FILE,) if history is not None else ())
    return (*tables, REPORT_FILE)


def _scored_here(path: Path) -> bool:
    """Whether ``path`` was written by a cvo score run: a table marked as one of a score run's set
    (even of another set than the report's: a run killed between its renames is run again), or a
    report with a set id."""
    if path.name != REPORT_FILE:
        return written_in_a_set(path, REPORT_FILE)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(report, dict) and isinstance(report.get(SET_KEY), str)


def write_scores(run: ScoreRun, out_dir: Path) -> list[Path]:
    """Write what the run produced into ``out_dir`` as one set, under the folder's lock: every file
    written aside first, then the earlier score run's files this one does not write (a
    scores.parquet beside new customer values) removed, those its score_report.json records (a
    file the user put there stays), then all renamed into place, the report last. Each table and the
    report carry the run's set id (optimizer/store/file_sets.py): a reader refuses a table of
    another run than the report's (a run killed between two renames). Returns the paths."""
    set_id = uuid.uuid4().hex
    files: dict[str, Writer] = {}
    for name, table in ((CUSTOMERS_FILE, run.customers), (SCORES_FILE, run.scores)):
        if table is not None:
            files[name] = partial(_write_table, table=table, set_id=set_id)
    check_score_folder(out_dir, (*files, REPORT_FILE))
    report = {**set_record(set_id, [*files]), **score_report(run)}
    files[REPORT_FILE] = lambda temp: temp.write_text(json.dumps(report, indent=2) + "\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir):
        stale = [name for name in sorted({CUSTOMERS_FILE, SCORES_FILE} - files.keys())
                 if written_with_record(out_dir / name)]  # the earlier score run's, not a file of the user's
        write_all(out_dir, files, removed=stale)
    return [out_dir / name for name in files]


def _write_table(temp: Path, table: pd.DataFrame, set_id: str) -> None:
    write_in_set(pa.Table.from_pandas(table, preserve_index=False), temp, set_id, REPORT_FILE)


def score_report(run: ScoreRun) -> dict[str, Any]:
    """score_report.json: how the log was read, the fits, the uplift report, value per response
    (null for a conversion-only history) and the notes the console printed."""
    report: dict[str, Any] = {}
    if run.log is not None:
        report["transactions"] = {**run.log.to_dict(), "summary": run.log.sentence(), "warnings": run.log.warnings}
    if run.value is not None:
        report["bgnbd"] = asdict(run.value.bgnbd)
        report["gamma_gamma"] = asdict(run.value.gamma_gamma)
    if run.dropout is not None:
        report["bgnbd"]["dropout"] = {"statistic": run.dropout.statistic, "p_value": run.dropout.p_value,
                                      "identified": run.dropout.identified}
    if run.check is not None:
        report["value_check"] = run.check.to_dict()
    if run.model is not None:
        report["uplift"] = run.model.report.to_dict()
        report["value_per_response"] = run.model.value_per_response
    if run.notes:
        report["notes"] = list(run.notes)
    safe: dict[str, Any] = _json_safe(report)
    return safe


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

"""What ``cvo score`` fits its response models on: the campaign history joined to the customer table,
and the features chosen from both, all checked before the first model is fit.

Ids. The history's customer_id and the customer table's id are matched as ``id_text`` writes them
(optimizer/store/tables.py): a whole number the same however a table stores or writes it (4, 4.0,
'4', '4.0'), text as written but for surrounding blanks, which are ignored (' C1' and 'C1 ' are
customer 'C1': an export pads ids, it never means another customer by a blank). Case and leading
zeros are kept, since ids may differ by them. The ids written to scores.parquet are the
scored table's, as ``id_text`` writes them (as cvo optimize reads them). A customer table that
adds no column to the history's is only scored (a fitting half and an evaluation half have other
customers). Otherwise, when no history id is a customer's, a DataError names both files with ids
of each; when some are not, a note gives how many (their rows are fit with the customer table's
features missing).

Features. Every column of the joined table but the history's own (customer_id, campaign_id, treated,
converted, revenue), or the ones chosen. A column without a value for any row of the history is left
out, with a note, unless it was chosen. Every feature must be a column of the table that is scored
(the customer table), since the models score each customer on the features they were fit on; and
each must be usable by a model (optimizer/scoring/uplift_features.py). Messages name the file a
column came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.errors import DataError, did_you_mean
from optimizer.scoring.uplift import HistoryColumns
from optimizer.scoring.uplift_features import check_feature, has_no_value
from optimizer.store.tables import id_text, row_label, show

_LIKELY_CAUSES: tuple[tuple[Callable[[pd.Series], pd.Series], str], ...] = (
    (lambda ids: ids.str.lower(), "they differ in upper and lower case"),
    (lambda ids: ids.str.lstrip("0"), "they differ in leading zeros"),
)  # how two ways of writing the same ids may differ, and how to say it


@dataclass(frozen=True)
class Table:
    """A table and where it came from, as messages name it: its file, or what made it."""

    frame: pd.DataFrame
    source: str


@dataclass(frozen=True)
class ModelInputs:
    """The history with the customer table's columns, the features to fit on, and the notes saying
    what was left out or not matched."""

    events: pd.DataFrame
    features: tuple[str, ...]
    notes: tuple[str, ...]


def model_inputs(history: Table, customers: Table | None, columns: HistoryColumns,
                 chosen: tuple[str, ...] | None = None) -> ModelInputs:
    """The history joined to ``customers`` (None: the history alone) and the features, checked;
    ``chosen``: the features to use (None: every column but the history's own, the empty ones left
    out with a note)."""
    events, notes = (history.frame, []) if customers is None else join_customers(history, customers, columns)
    origin = _origins(events, history, customers)
    features = tuple(chosen) if chosen is not None else tuple(name for name in origin
                                                              if name not in columns.reserved())
    if chosen is None:
        empty = [name for name in features if has_no_value(events[name])]
        if empty and len(empty) == len(features):
            raise _only_empty(empty, origin)
        notes += [_empty_note(name, origin[name], customers) for name in empty]
        features = tuple(name for name in features if name not in empty)
    if customers is not None:
        check_scored(features, history, customers)
    for name in features:
        if name in events.columns:
            check_feature(events[name], name, origin[name])
    events.attrs["source"] = history.source
    return ModelInputs(events, features, tuple(notes))


def _origins(events: pd.DataFrame, history: Table, customers: Table | None) -> dict[str, str]:
    """The file each column of the joined table came from: the history's, or else the customer table's."""
    return {str(name): customers.source if customers is not None and name not in history.frame.columns
            else history.source for name in events.columns}


def _only_empty(empty: list[str], origin: dict[str, str]) -> DataError:
    """The error of a history and customer table whose only features have no values."""
    one = len(empty) == 1
    return DataError(
        f"There are no features to fit the response models on: the only {'column' if one else 'columns'} besides "
        f"the history's own ({', '.join(map(repr, empty))}) {'has' if one else 'have'} no values",
        where=", ".join(dict.fromkeys(origin[name] for name in empty)),
        fix=f"Fill {'it' if one else 'them'} in, or give a customer table with the customers' features (--customers)")


def _empty_note(name: str, source: str, customers: Table | None) -> str:
    """The note of a column left out of the features for having no value (for the history's customers)."""
    if customers is not None and source == customers.source and customers.frame[name].notna().any():
        return (f"the column '{name}' of {source} has no value for any customer of the history: it is left out "
                "of the features")
    return f"the column '{name}' of {source} has no value in any row: it is left out of the features"


def join_customers(history: Table, customers: Table, columns: HistoryColumns) -> tuple[pd.DataFrame, list[str]]:
    """The history with the customer table's other columns, its rows matched on ``id_text``; a note
    when some history rows match no customer; DataError when the table repeats an id, or when none
    matches. A customer table that adds no column is only scored (its customers may be others than
    the history's: a fitting half and an evaluation half)."""
    keys, wanted = id_text(customers.frame[columns.customer_id]), id_text(history.frame[columns.customer_id])
    check_unique(keys, customers.source)
    extra = [name for name in customers.frame.columns if name not in history.frame.columns]
    if not extra:  # the customers are only scored, on the history's own features: nothing to join
        return history.frame.copy(), []
    known = keys.notna().to_numpy()
    found = customers.frame.loc[known, extra].set_axis(pd.Index(keys[known])).reindex(pd.Index(wanted))  # NaN: none
    matched = pd.Index(wanted).isin(pd.Index(keys[known]))
    if wanted.notna().any() and not matched.any():  # the table's features would be missing for every row
        raise _no_match(wanted, keys, history.source, customers.source)
    joined = pd.concat([history.frame.reset_index(drop=True), found.reset_index(drop=True)], axis=1)
    if matched.all() or not len(matched):
        return joined, []
    return joined, [_unmatched_note(wanted[~matched], len(wanted), history, customers)]


def check_unique(keys: pd.Series, source: str) -> None:
    """DataError naming the first row of the customer table whose id an earlier row has."""
    repeated = np.flatnonzero(keys.duplicated().to_numpy() & keys.notna().to_numpy())
    if repeated.size:
        first = int(repeated[0])
        raise DataError(
            f"The customer id {show(keys.iat[first])} appears more than once in the customers table "
            f"({repeated.size:,} repeated row{'s' if repeated.size > 1 else ''}; surrounding blanks are ignored)",
            where=row_label(source, first), fix="Keep one row per customer")


def _examples(ids: pd.Series) -> str:
    return ", ".join(show(value) for value in ids.dropna().unique()[:3])


def _no_match(wanted: pd.Series, keys: pd.Series, history: str, customers: str) -> DataError:
    """The error of a history none of whose ids is a customer's, with ids of each and a likely cause."""
    cause = next((f" ({text})" for same, text in _LIKELY_CAUSES
                  if pd.Index(same(wanted.dropna())).isin(pd.Index(same(keys.dropna()))).any()), "")
    return DataError(
        f"None of the {wanted.nunique():,} customer ids of the history is an id of the customers table",
        where=f"{history}; {customers}",
        fix=f"The history has e.g. {_examples(wanted)}, the customers table {_examples(keys)}{cause}: write "
        "the ids the same way in both files, or name the customer table's id column with --customers-column")


def _unmatched_note(unmatched: pd.Series, rows: int, history: Table, customers: Table) -> str:
    return (f"{len(unmatched):,} of the {rows:,} rows of {history.source} ({len(unmatched) / rows:.1%}) name a "
            f"customer that is not in {customers.source}, e.g. {_examples(unmatched)}: they are fit with the "
            "customer table's features missing")


def check_scored(features: tuple[str, ...], history: Table, customers: Table) -> None:
    """DataError before any fit when a feature from the history is not a column of the customer table,
    which is scored on the features the models are fit on."""
    missing = [name for name in features
               if name in history.frame.columns and name not in customers.frame.columns]
    if missing:
        more = f" (and {len(missing) - 1:,} more: {', '.join(missing[1:4])})" if len(missing) > 1 else ""
        hint = did_you_mean(missing[0], map(str, customers.frame.columns))
        raise DataError(
            f"The history's column '{missing[0]}'{more} is a feature, but the customers table, whose customers "
            "are scored on the features, has no such column", where=f"{history.source}; {customers.source}",
            fix=f"{hint + ' ' if hint else ''}Add '{missing[0]}' to the customers table, or leave it out of the "
            "features (cvo score --features: the columns to fit on)")

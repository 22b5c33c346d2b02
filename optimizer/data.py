"""Customer and score tables: read, checked row by row, and laid out as (customer × campaign) arrays.

The customer table has one row per customer. The optional score table is long:
``customer_id, campaign_id, p_treat, p_control`` with probabilities in [0, 1]. A pair with no
score row cannot be targeted (it is counted as "no score" in the summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import DataError, did_you_mean

SCORE_COLUMNS = ("customer_id", "campaign_id", "p_treat", "p_control")


@dataclass(frozen=True)
class Scores:
    """Response probabilities laid out by (customer row, campaign column); NaN where unscored."""

    p_treat: np.ndarray
    p_control: np.ndarray

    @property
    def scored(self) -> np.ndarray:
        return ~np.isnan(self.p_treat)


def require_file(path: Path, what: str, fix: str | None = None) -> None:
    """Raise DataError when the ``what`` file is not there."""
    if not path.is_file():
        raise DataError(
            f"The {what} file {path} does not exist",
            where=f"looked in {path.parent}",
            fix=fix or f"Check the '{what}' path in the scenario; it is relative to the scenario file",
        )


def read_table(path: Path, *, what: str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a .parquet or .csv file, with a clear error when it is missing or unreadable.

    ``text_columns`` are read from CSV as text, so ids such as '007' keep their zeros.
    """
    require_file(path, what)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype={column: str for column in text_columns})
    except Exception as error:  # pyarrow and the csv parser raise many types
        raise DataError(
            f"The {what} file {path} could not be read: {error}",
            fix="Check that the file is a complete, valid table",
        ) from None
    raise DataError(
        f"The {what} file {path} has the suffix '{path.suffix}'",
        fix="Use a .parquet or .csv file",
    )


def _row_label(path: Path, position: int) -> str:
    """Row numbers as a user finds them: CSV line numbers, 1-based parquet rows."""
    if path.suffix.lower() == ".csv":
        return f"{path}, line {position + 2}"
    return f"{path}, row {position + 1}"


def require_columns(table: pd.DataFrame, columns: tuple[str, ...] | list[str], where: Path | str, what: str,
                    advice: str) -> None:
    """Raise DataError naming the first missing column, with a did-you-mean and the columns found."""
    for column in columns:
        if column not in table.columns:
            hint = did_you_mean(column, map(str, table.columns))
            shown = ", ".join(map(str, table.columns[:15]))
            raise DataError(
                f"The {what} table has no column '{column}'",
                where=str(where),
                fix=f"{hint + ' ' if hint else ''}Columns found: {shown}. {advice}",
            )


def show(value: object) -> str:
    """A table value as a user wrote it: 1.5, 'high', or 'missing (NaN)'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "a missing value (NaN)"
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def load_customers(path: Path, id_column: str) -> pd.DataFrame:
    """The customer table with ids as strings, rejecting missing and duplicate ids."""
    table = read_table(path, what="customers", text_columns=(id_column,))
    require_columns(table, [id_column], path, "customers",
                    "Rename the id column, or set 'customer_id' in the scenario to its name")
    ids = table[id_column]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if missing.size:
        raise DataError(
            f"The customers table has {missing.size} row(s) with no '{id_column}'",
            where=_row_label(path, int(missing[0])),
            fix="Give every customer an id or drop those rows",
        )
    table = table.reset_index(drop=True)
    table[id_column] = ids.astype(str).to_numpy(dtype=object)
    duplicated = np.flatnonzero(table[id_column].duplicated().to_numpy())
    if duplicated.size:
        first = int(duplicated[0])
        raise DataError(
            f"The customer id '{table[id_column].iat[first]}' appears more than once "
            f"({duplicated.size} duplicate row(s) in all)",
            where=_row_label(path, first),
            fix="Keep one row per customer (deduplicate before running)",
        )
    if len(table) == 0:
        raise DataError("The customers table is empty", where=str(path), fix="Point 'customers' at a table with rows")
    return table


def load_scores(path: Path, customer_ids: pd.Index, campaign_ids: list[str]) -> Scores:
    """The long score table pivoted to (customer, campaign) arrays after row-level checks."""
    table = read_table(path, what="scores", text_columns=("customer_id", "campaign_id"))
    require_columns(table, SCORE_COLUMNS, path, "scores",
                    f"The scores table needs the columns {', '.join(SCORE_COLUMNS)}")
    table = table.reset_index(drop=True)
    for column in ("p_treat", "p_control"):
        _check_probability(table, column, path)
    customer = customer_ids.get_indexer(table["customer_id"].astype(str))
    campaign = pd.Index(campaign_ids).get_indexer(table["campaign_id"].astype(str))
    _check_known_customers(table, customer, path)
    keep = campaign >= 0
    _check_unique_pairs(table, customer, campaign, keep, path)
    p_treat = np.full((len(customer_ids), len(campaign_ids)), np.nan)
    p_control = np.full_like(p_treat, np.nan)
    p_treat[customer[keep], campaign[keep]] = table["p_treat"].to_numpy(float)[keep]
    p_control[customer[keep], campaign[keep]] = table["p_control"].to_numpy(float)[keep]
    return Scores(p_treat, p_control)


def _check_probability(table: pd.DataFrame, column: str, path: Path) -> None:
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        first = int(bad[0])
        given = table[column].iat[first]
        raise DataError(
            f"'{column}' must be a probability in [0, 1] but is {show(given)} for customer "
            f"'{table['customer_id'].iat[first]}', campaign '{table['campaign_id'].iat[first]}' "
            f"({bad.size} bad row(s) in all)",
            where=_row_label(path, first),
            fix="Fix or drop those rows; a customer without a score is simply not targeted",
        )


def _check_known_customers(table: pd.DataFrame, customer: np.ndarray, path: Path) -> None:
    unknown = np.flatnonzero(customer < 0)
    if unknown.size:
        first = int(unknown[0])
        raise DataError(
            f"The scores name customer '{table['customer_id'].iat[first]}', who is not in the customers table "
            f"({unknown.size} such row(s))",
            where=_row_label(path, first),
            fix="Score the same customers as the customers table, or add the missing customers",
        )


def _check_unique_pairs(
    table: pd.DataFrame, customer: np.ndarray, campaign: np.ndarray, keep: np.ndarray, path: Path
) -> None:
    pairs = pd.DataFrame({"customer": customer, "campaign": campaign})
    duplicated = np.flatnonzero(pairs.duplicated().to_numpy() & keep)
    if duplicated.size:
        first = int(duplicated[0])
        raise DataError(
            f"The scores hold more than one row for customer '{table['customer_id'].iat[first]}' and "
            f"campaign '{table['campaign_id'].iat[first]}'",
            where=_row_label(path, first),
            fix="Keep one score row per (customer, campaign)",
        )

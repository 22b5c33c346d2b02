"""The tables users hand cvo (.parquet or .csv): read with a clear error, checked for columns,
and their rows and values named the way a user finds them (CSV line numbers, 1-based rows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import DataError, byte_position, did_you_mean


def require_file(path: Path, what: str, fix: str | None = None) -> None:
    """Raise DataError when the ``what`` file is not there."""
    if not path.is_file():
        raise DataError(
            f"The {what} file {path} does not exist",
            where=f"looked in {path.parent}",
            fix=fix or f"Check the '{what}' path in the scenario; it is relative to the scenario file",
        )


def read_table(path: Path, *, what: str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a .parquet or .csv file, or a folder of .parquet partitions (in the order of their names,
    as ``cvo optimize --dask`` numbers the customers), with a clear error when it is missing, empty,
    not UTF-8 or unreadable.

    ``text_columns`` are read from CSV as text, so ids such as '007' keep their zeros.
    """
    if path.is_dir():
        return _read_partitions(path, what)
    require_file(path, what)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype={column: str for column in text_columns})
    except Exception as error:  # pyarrow and the csv parser raise many types
        if path.suffix.lower() == ".csv":
            check_text_file(path, what)  # an empty file, or bytes that are not UTF-8, named for what they are
        raise DataError(
            f"The {what} file {path} could not be read: {error}",
            fix="Check that the file is a complete, valid table",
        ) from None
    raise DataError(
        f"The {what} file {path} has the suffix '{path.suffix}'",
        fix="Use a .parquet or .csv file",
    )


def _read_partitions(folder: Path, what: str) -> pd.DataFrame:
    """The .parquet files of ``folder`` as one table, in the order of their names."""
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise DataError(f"The {what} folder {folder} holds no .parquet files",
                        fix="Point at a .parquet or .csv file, or at a folder of .parquet partitions")
    return pd.concat([read_table(file, what=what) for file in files], ignore_index=True)


def check_text_file(path: Path, what: str) -> None:
    """Raise DataError when a text table (.csv, .txt) has no text at all, or bytes that are not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError:
        return  # missing or unreadable: read_table's error says so
    if not data.strip():
        raise DataError(f"The {what} file {path} is empty",
                        fix="Export the table again, with its header row and one row per line")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"The {what} file is not UTF-8 text (it was probably saved as Latin-1 or Windows-1252)",
            where=f"{path}, {byte_position(data, error.start)}",
            fix="Save it as UTF-8 (in Excel: Save As 'CSV UTF-8'; or iconv -f latin1 -t utf-8)",
        ) from None


def id_text(ids: pd.Series) -> pd.Series:
    """Customer ids as text, the same however a table stored them: whole numbers without '.0'
    (12346.0 and 12346 are one customer), text as it is."""
    if pd.api.types.is_float_dtype(ids) and bool(np.all(np.mod(ids.dropna(), 1) == 0)):
        return ids.astype("Int64").astype("string")  # missing ids stay missing
    return ids.astype(str)


def row_label(path: Path, position: int) -> str:
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

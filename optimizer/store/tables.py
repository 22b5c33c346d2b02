"""The tables users hand cvo (.parquet or .csv): read with a clear error, checked for columns,
and their rows and values named the way a user finds them (CSV line numbers, 1-based rows)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from optimizer.errors import DataError, byte_position, did_you_mean
from optimizer.store.datasets import is_url, open_dataset
from optimizer.store.file_sets import check_one_set

_UNTIDY_ID = r"^\s|\s$|^-?\d+[.,]0+$"  # an id with blanks around it, or a whole number written with '.0' (',0')
_WHOLE_TEXT_ID = r"^(-?\d+)[.,]0+$"
COMPRESSED = {".gz": "gzip", ".bz2": "bzip2", ".zip": "zip", ".xz": "xz"}  # after .csv: pandas reads them
_NOT_TEXT = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip (or Excel workbook)", b"BZh": "bzip2",
             b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd", b"PAR1": "parquet",
             b"\xd0\xcf\x11\xe0": "Excel 97-2003 workbook (.xls)"}  # a file's first bytes -> what it is
SEPARATORS = (";", "\t", "|")  # besides the comma, as spreadsheets and databases export
SHOWN_COLUMNS = 15  # columns a missing-column message lists, then how many more
SNIFFED_LINES = 1_000  # lines read to tell a decimal comma from a decimal point
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")
_DECIMAL_POINT = re.compile(r"^\s*-?\d+\.\d+\s*$")


def require_file(path: Path, what: str, fix: str | None = None, key: str | None = None) -> None:
    """Raise DataError when the ``what`` file is not there; ``key``: the scenario key that names
    it (None: a command-line option did)."""
    if not path.is_file():
        raise DataError(
            f"The {what} file {path} does not exist",
            where=f"looked in {path.parent}",
            fix=fix or (f"Check the '{key}' path in the scenario; it is relative to the scenario file" if key else
                        f"Check the path given for the {what}; it is relative to the folder the command runs in"),
        )


def read_table(path: Path | str, *, what: str, text_columns: tuple[str, ...] = (),
               storage_options: dict[str, Any] | None = None, key: str | None = None) -> pd.DataFrame:
    """Read a .parquet or .csv file (or .csv.gz, or another of the COMPRESSED suffixes), or a
    parquet dataset (a folder of part files, in the order of their paths, as ``cvo optimize
    --dask`` numbers the customers: optimizer/store/datasets.py), from a local path or an fsspec
    URL opened with ``storage_options``, with a clear error when it is missing, empty, not UTF-8,
    not text at all (a gzip file named .csv) or unreadable.

    ``text_columns`` are read from CSV as text, so ids such as '007' keep their zeros. ``key``: the
    scenario key that names the file (None: a command-line option did), for the message when it is
    missing. The table's ``attrs["source"]`` is the path, for later messages (``source_of``).
    """
    table = _read_table(path, what, text_columns, storage_options, key)
    table.attrs["source"] = str(path)
    return table


def source_of(table: pd.DataFrame, otherwise: str) -> str:
    """The file a table was read from (``read_table``), or ``otherwise`` for one built in memory."""
    return str(table.attrs.get("source", otherwise))


def _read_table(path: Path | str, what: str, text_columns: tuple[str, ...], storage_options: dict[str, Any] | None,
                key: str | None) -> pd.DataFrame:
    if is_url(path) or Path(path).is_dir():
        dataset = open_dataset(str(path), storage_options, what)
        if dataset is not None:
            return dataset.read_all()
    else:
        require_file(Path(path), what, key=key)
    suffix = PurePosixPath(str(path)).suffix.lower()
    if suffix != ".parquet" and not is_csv(path):
        raise DataError(f"The {what} file {path} has the suffix '{suffix}'",
                        fix="Use a .parquet or .csv file (or a compressed CSV: .csv.gz, .csv.zip, .csv.bz2, .csv.xz)")
    source = str(path) if is_url(path) else Path(path)
    storage_options = storage_options if is_url(path) else None  # pandas refuses them for a local file
    plain = suffix == ".csv" and not is_url(path)
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(source, storage_options=storage_options or None)
        else:
            if plain:
                _check_not_utf16(Path(path), what)  # read as UTF-8 it would give NUL-laced names, no error
            form = csv_format(path)
            table = pd.read_csv(source, sep=form.sep, decimal=form.decimal,
                                dtype={column: str for column in text_columns}, storage_options=storage_options or None)
    except Exception as error:  # pyarrow and the csv parser raise many types
        if plain:
            check_text_file(Path(path), what)  # an empty file, or bytes that are not UTF-8, named for what they are
        codec = COMPRESSED.get(suffix)
        raise DataError(
            f"The {what} file {path} could not be read{f' as {codec}-compressed CSV' if codec else ''}: {error}",
            fix="Check that the file is a complete, valid table" + (
                f"; unpack it ({codec}) and check the CSV inside: UTF-8 text with a header row" if codec else ""),
        ) from None
    if suffix == ".parquet" and not is_url(path):
        check_one_set(Path(path), what)  # a table of another run than its folder's record is refused
    return table


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV separates its columns and writes its decimals (pandas.read_csv's sep and decimal)."""

    sep: str = ","
    decimal: str = "."


def csv_format(path: Path | str) -> CsvFormat:
    """How a local CSV separates its columns and writes its decimals, from its first lines.

    The separator is the comma when the header has one, else whichever of SEPARATORS it holds
    most (a European Excel's ';', a database's tab or '|'); a file of one column has none. The
    decimal mark is ',' when the file is not comma-separated and, within its first SNIFFED_LINES
    lines, some field is a number written with a decimal comma ('47,65') and none with a point.
    A URL is read as comma-separated.
    """
    lines = [] if is_url(path) else _head(Path(path))
    header = lines[0] if lines else ""
    found = max(SEPARATORS, key=header.count)
    if "," in header or found not in header:
        return CsvFormat()
    fields = [field for line in lines[1:] for field in line.split(found)]
    commas = any(_DECIMAL_COMMA.match(field) for field in fields)
    points = any(_DECIMAL_POINT.match(field) for field in fields)
    return CsvFormat(found, "," if commas and not points else ".")


def _head(path: Path) -> list[str]:
    """The first SNIFFED_LINES lines of a CSV, unpacked as pandas unpacks it (a zip: its first
    member); none when it cannot be read (read_csv's own error then says why)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as member:
                return _lines(member)
        unpack = {".gz": gzip.GzipFile, ".bz2": bz2.BZ2File, ".xz": lzma.LZMAFile}.get(suffix)
        with open(path, "rb") if unpack is None else unpack(path, "rb") as stream:
            return _lines(stream)
    except (OSError, EOFError, IndexError, zipfile.BadZipFile, lzma.LZMAError):
        return []


def _lines(stream: Iterable[bytes]) -> list[str]:
    return [line.decode("utf-8", "replace").rstrip("\r\n") for _, line in zip(range(SNIFFED_LINES), stream)]


def is_csv(path: Path | str) -> bool:
    """Whether a table's name says CSV: .csv, or .csv and a compression suffix (COMPRESSED)."""
    suffixes = [suffix.lower() for suffix in PurePosixPath(str(path)).suffixes[-2:]]
    return suffixes[-1:] == [".csv"] or (suffixes[:1] == [".csv"] and suffixes[-1] in COMPRESSED)


def check_text_file(path: Path, what: str) -> None:
    """Raise DataError when a text table (.csv, .txt) has no text at all, or bytes that are not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError:
        return  # missing or unreadable: read_table's error says so
    if not data.strip():
        raise DataError(f"The {what} file {path} is empty",
                        fix="Export the table again, with its header row and one row per line")
    _check_is_text(path, data, what)
    _check_not_utf16(path, what)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(
            f"The {what} file is not UTF-8 text (it was probably saved as Latin-1 or Windows-1252)",
            where=f"{path}, {byte_position(data, error.start)}",
            fix="Save it as UTF-8 (in Excel: Save As 'CSV UTF-8'; or iconv -f latin1 -t utf-8)",
        ) from None


def _check_is_text(path: Path, data: bytes, what: str) -> None:
    """Raise DataError when a file named as text starts like a compressed archive, a parquet file or
    an Excel workbook, naming what it is and how cvo reads it."""
    kind = next((kind for magic, kind in _NOT_TEXT.items() if data.startswith(magic)), None)
    if kind is None:
        return
    suffix = next((suffix for suffix, codec in COMPRESSED.items() if codec == kind.split(" ")[0]), None)
    if kind == "parquet":
        fix = f"Name it {path.with_suffix('.parquet').name}"
    elif kind.startswith("Excel"):
        fix = "Save it from Excel as 'CSV UTF-8'"
    elif kind.startswith("zip"):
        fix = "Save an Excel workbook as 'CSV UTF-8'; " + (f"a zip of one CSV file is read as {path.name}.zip"
                                                           if is_csv(path) else "unpack a zip")
    elif suffix is not None and is_csv(path):
        fix = f"Name it {path.name}{suffix} (cvo reads it compressed), or unpack it"
    else:
        fix = "Unpack it"
    article = "an" if kind[0] in "aeiouxAEIOUX" else "a"
    raise DataError(f"The {what} file is {article} {kind} file, not text", where=str(path), fix=fix)


def _check_not_utf16(path: Path, what: str) -> None:
    """Raise DataError when a text table starts like UTF-16 (a byte-order mark, or NUL bytes
    between the letters of its header)."""
    with open(path, "rb") as stream:
        head = stream.read(512)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.count(b"\x00") > len(head) // 4:
        raise DataError(f"The {what} file is UTF-16 text (Excel's 'Unicode Text'), not UTF-8", where=str(path),
                        fix="Save it as UTF-8 (in Excel: Save As 'CSV UTF-8'; or iconv -f utf-16 -t utf-8)")


def id_text(ids: pd.Series) -> pd.Series:
    """Customer ids as text, the same however a table stored or an export wrote them: whole numbers
    without '.0' (12346.0, '12346.0', a decimal-comma export's '12346,0' and 12346 are one customer) and
    without surrounding blanks
    (' C1' is 'C1': an export pads ids, it never means another customer by a blank); other text as
    it is, zero padding and case included. Each id on its own, so parts of one table agree.

    >>> id_text(pd.Series([4.0, 12346.0])).tolist(), id_text(pd.Series([" C1", "12.0 ", "007", "5,0"])).tolist()
    (['4', '12346'], ['C1', '12', '007', '5'])
    """
    if pd.api.types.is_float_dtype(ids) and bool(np.all(np.mod(ids.dropna(), 1) == 0)):
        return ids.astype("Int64").astype("string")  # missing ids stay missing
    text = ids.astype(str)
    values = text.to_numpy(dtype=object)
    arrow = pa.array(values, type=pa.string(), from_pandas=True)  # a missing id (kept missing) is null
    if not pc.any(pc.match_substring_regex(arrow, _UNTIDY_ID)).as_py():
        return text  # the usual table: nothing to tidy (0.5 s for 10^7 ids, the tidying 2 s)
    tidy = pc.replace_substring_regex(pc.utf8_trim_whitespace(arrow), _WHOLE_TEXT_ID, r"\1")
    return pd.Series(np.where(pd.isna(values), values, tidy.to_numpy(zero_copy_only=False)), index=ids.index,
                     dtype=object)


def exported_ids(ids: pd.Series) -> pd.Series:
    """Customer ids as an export wrote them, as text the way ``id_text`` writes them (12346.0 and
    ' 12346 ' are '12346'), blank and missing ids as missing (NA)."""
    blank = (ids.isna() | ids.astype("string").str.strip().eq("").fillna(True)).to_numpy()
    text: pd.Series = id_text(ids).astype("string").mask(blank)
    return text


FLAGS = {"1": 1, "0": 0, "true": 1, "false": 0, "t": 1, "f": 0, "yes": 1, "no": 0, "y": 1, "n": 0}
"""The spellings of a 0/1 column (any case, surrounding blanks ignored) besides numbers and booleans."""


def flag_values(column: pd.Series) -> NDArray[np.float64]:
    """A 0/1 column as floats (1/0, true/false, yes/no, y/n, t/f in any case, booleans, 1.0), NaN
    where a value is none of these (2, blank, 'maybe') for the caller to name."""
    given = column.astype("object").replace({True: 1, False: 0})
    text = given.map(lambda value: FLAGS.get(value.strip().lower(), value) if isinstance(value, str) else value)
    values = pd.to_numeric(text, errors="coerce").to_numpy(float, na_value=np.nan)
    flags: NDArray[np.float64] = np.where(np.isin(values, (0.0, 1.0)), values, np.nan)
    return flags


def row_label(path: Path | str, position: int) -> str:
    """Row numbers as a user finds them: CSV line numbers, 1-based parquet rows."""
    if is_csv(path):
        return f"{path}, line {position + 2}"
    return f"{path}, row {position + 1}"


def require_columns(table: pd.DataFrame, columns: tuple[str, ...] | list[str], where: Path | str, what: str,
                    advice: str) -> None:
    """Raise DataError naming the first missing column, with a did-you-mean and the columns found."""
    for column in columns:
        if column not in table.columns:
            hint = did_you_mean(column, map(str, table.columns))
            shown = columns_found(table)
            separator = next((mark for mark in SEPARATORS if len(table.columns) == 1 and mark in str(table.columns[0])),
                             None)
            if separator is not None:  # read with commas, the header stays one column
                hint, advice = "", (f"The file separates its columns with {separator!r}, not commas: save it as a "
                          "comma-separated CSV (in Excel: Save As 'CSV UTF-8')")
            raise DataError(
                f"The {what} table has no column '{column}'",
                where=str(where),
                fix=f"{hint + ' ' if hint else ''}Columns found: {shown}. {advice}",
            )


def columns_found(table: pd.DataFrame) -> str:
    """The table's columns as a message lists them: the first SHOWN_COLUMNS, then how many more."""
    more = len(table.columns) - SHOWN_COLUMNS
    return ", ".join(map(str, table.columns[:SHOWN_COLUMNS])) + (f" and {more} more" if more > 0 else "")


def renamed_id(table: pd.DataFrame, id_column: str, name: str, clash: str, where: Path | str,
               fix: str) -> pd.DataFrame:
    """``table`` with its id column ``id_column`` named ``name``; a DataError (``clash``, ``fix``)
    when another of its columns has that name already: two columns of one name break every join."""
    if id_column == name:
        return table
    if name in table.columns:
        raise DataError(clash, where=str(where), fix=fix)
    return table.rename(columns={id_column: name})


def show(value: object) -> str:
    """A table value as a user wrote it: 1.5, 'high', or 'missing (NaN)'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "a missing value (NaN)"
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)

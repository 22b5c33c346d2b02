"""The days of a transaction log's lines: read as written, never guessed.

Dates are read as ISO 8601 or as YYYYMMDD; any other text needs a format (``'%d/%m/%Y %H:%M'``),
since 06/07/2011 can be either day: the error says which formats the data allows. Times of day are
dropped, and so is a time-zone offset: the day is the one the shop's clock showed. A year outside
YEARS is a placeholder for a missing date (0001-01-01, 9999-12-31), not a purchase.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError
from optimizer.store.tables import show

YEARS = (1900, 2200)  # the years a purchase day may have
ISO_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
_LOOSE = {"%Y": r"\d{4}", "%y": r"\d{2}", "%m": r"\d{1,2}", "%d": r"\d{1,2}", "%H": r"\d{1,2}", "%M": r"\d{1,2}",
          "%S": r"\d{1,2}", "%j": r"\d{1,3}"}  # a format's numeric fields, as digits of any value
_OFFSET = re.compile(r"\s*(?:Z|[+-]\d{2}:?\d{2})$")  # a time-zone offset after a time of day
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?:[ T](\d{1,2}:\d{2}(:\d{2})?))?\s*$")

RowName = Callable[[int], str]  # a row's position -> how a message names it (file line or index label)


def parse_days(dates: pd.Series, kept: NDArray[np.bool_], date_format: str | None,
               rows: RowName) -> NDArray[np.datetime64]:
    """Each kept line's day; DataError at the first kept line whose date does not parse."""
    given = date_format
    if pd.api.types.is_datetime64_any_dtype(dates):
        parsed, text = (dates.dt.tz_localize(None) if getattr(dates.dt, "tz", None) else dates), dates.astype("string")
    else:
        text = dates.astype("string").str.strip().str.replace(_OFFSET, "", regex=True)  # the shop's local day
        if date_format is None:
            date_format = _standard_format(text[kept], rows, np.flatnonzero(kept))
        _check_years(text, kept, rows)
        try:
            parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        except (ValueError, TypeError, OverflowError) as error:
            raise DataError(f"The dates cannot be read with the format '{date_format}': {error}", where=rows(0),
                            fix="Give the format of the dates with --date-format, e.g. '%d/%m/%Y %H:%M'") from None
    _check_years(parsed.dt.year.astype("string"), kept & parsed.notna().to_numpy(), rows, shown=dates)
    bad = np.flatnonzero(parsed.isna().to_numpy() & kept)
    if bad.size:
        first = int(bad[0])
        if bool(text.isna().iat[first]) or str(text.iat[first]) == "":
            raise DataError(f"A line has no date ({bad.size} bad date(s) in all)", where=rows(first),
                            fix="Give every line the day of its order, or remove the lines without one")
        shapes = _allowed_formats(text[kept]) if given is not None and bad.size > 1 else None
        raise _bad_date(str(text.iat[first]), date_format, given, rows(first), bad.size, shapes)
    days: NDArray[np.datetime64] = parsed.dt.normalize().to_numpy(dtype="datetime64[ns]")
    return days


def _bad_date(text: str, date_format: str | None, given: str | None, where: str, count: int,
              shapes: str | None = None) -> DataError:
    """Why ``text`` is not a day: written in the format but not a day of the calendar (1997-02-31,
    32/01/1997), not in the format the user gave, or not in a format read without one. ``shapes``:
    what the dates' fields allow (``_allowed_formats``), said when many fail a given format."""
    value = f"The date {show(text)}"
    reason = _out_of_range(text, date_format)
    if reason is not None:
        fix = "Correct the date, or remove the line" if shapes is None else (
            f"If the format '{given}' is not the dates' own, give theirs: {shapes}; else correct the dates, or "
            "remove the lines")
        return DataError(f"{value} is not a day of the calendar ({reason or 'a field is out of range'}; {count} bad "
                         "date(s) in all)", where=where, fix=fix)
    if given is not None:
        hint = " It is written YYYY-MM-DD: leave out --date-format if every date is." if ISO_SHAPE.fullmatch(text) \
            else ""
        return DataError(f"{value} does not match the format '{given}' the dates are read with ({count} such "
                         "date(s))", where=where,
                         fix=f"Give the format the dates are written in; a log with dates in two formats needs them "
                         f"written one way first.{hint}")
    return DataError(f"{value} is not a date ({count} bad date(s) in all)", where=where,
                     fix="Write dates as YYYY-MM-DD or YYYYMMDD, or give their format: --date-format '%d/%m/%Y' "
                     "on the command line, date_format='%d/%m/%Y' in Python")


def _out_of_range(text: str, date_format: str | None) -> str | None:
    """Why ``text``, written in ``date_format``, is no day ('day is out of range for month'; '' when
    Python does not say), or None when it is not written in the format (or there is none). For a
    strptime format, a text whose numeric fields are digits where the format has them counts as
    written in it (19971301 is %Y%m%d with month 13)."""
    if date_format is None:
        return None
    try:
        datetime.fromisoformat(text) if date_format == "ISO8601" else datetime.strptime(text, date_format)
        return None  # a day to Python, not to pandas: no reason to give
    except ValueError as error:
        if "range" in str(error) or "must be in" in str(error):
            return str(error)
    if date_format == "ISO8601":
        return None
    pattern = re.sub(r"%.", lambda field: _LOOSE.get(field.group(), ".+?"), re.escape(date_format))
    return "" if re.fullmatch(pattern, text) else None


def _check_years(text: pd.Series, kept: NDArray[np.bool_], rows: RowName, shown: pd.Series | None = None) -> None:
    """DataError at the first kept line whose date (``text``, shown as ``shown``) starts with a year
    outside YEARS: a placeholder (0001-01-01, 9999-12-31), not a purchase; pandas would wrap 9999
    round to 1816 unsaid."""
    year = pd.to_numeric(text.str.extract(r"^\s*(\d{4})", expand=False), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(kept & ((year < YEARS[0]) | (year > YEARS[1])))
    if bad.size:
        first, given = int(bad[0]), text if shown is None else shown
        serial = re.fullmatch(r"\s*(\d{5})(?:\.\d*)?\s*", str(given.iat[first]))
        if serial is not None:  # Excel's day number: days since 1899-12-30
            day = (pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(serial.group(1)))).date()
            raise DataError(f"The date {show(given.iat[first])} is a number, not a date ({bad.size} such row(s)): "
                            f"Excel's day number for {day}?", where=rows(first),
                            fix="Export the dates as text (format the column as a date in the spreadsheet before "
                                "saving it as CSV)")
        raise DataError(f"The date {show(given.iat[first])} lies outside the years {YEARS[0]}-{YEARS[1]} ({bad.size} "
                        "such row(s)): a placeholder for a missing date, not a purchase day", where=rows(first),
                        fix="Remove those rows, or give them the day the order was made")


def _standard_format(text: pd.Series, rows: RowName, positions: NDArray[np.intp]) -> str:
    """YYYYMMDD when every date has 8 digits, else ISO 8601; DataError for dates like 06/07/2011,
    naming the formats the data allows (never a guess between day-first and month-first)."""
    if len(text) and text.str.fullmatch(r"\d{8}").fillna(False).all():
        return "%Y%m%d"
    allowed = _allowed_formats(text)
    if allowed is None:
        return "ISO8601"
    first = int(np.flatnonzero(text.str.extract(_DAY_MONTH)[0].notna().to_numpy())[0])
    raise DataError(f"The date {show(text.iat[first])} is not ISO 8601 (YYYY-MM-DD), and such dates are never "
                    "guessed (06/07/2011 is 6 July or June 7)", where=rows(int(positions[first])),
                    fix=f"Give the format with --date-format (date_format= in Python): {allowed}")


def _allowed_formats(text: pd.Series) -> str | None:
    """What the fields of dates like 06/07/2011 allow ('the first field goes up to 31, the second to
    12, so the day comes first: '%d/%m/%Y''), or None when no date is written so."""
    parts = text.str.extract(_DAY_MONTH)
    shaped = parts[0].notna().to_numpy()
    if not shaped.any():
        return None
    fields = parts[shaped]
    high_first, high_second = (fields[k].astype(int).max() > 12 for k in (0, 2))
    separator, year = str(fields[1].iat[0]), "%Y" if len(str(fields[3].iat[0])) == 4 else "%y"
    clock = (" %H:%M:%S" if fields[5].notna().any() else " %H:%M") if fields[4].notna().any() else ""
    day_first, month_first = (f"%d{separator}%m{separator}{year}{clock}", f"%m{separator}%d{separator}{year}{clock}")
    tops = f"the first field goes up to {fields[0].astype(int).max()}, the second to {fields[2].astype(int).max()}"
    if high_first and high_second:
        allowed = f"{tops}, so the dates mix day-first and month-first: correct them, then give the format"
    elif high_first:
        allowed = f"{tops}, so the day comes first: '{day_first}'"
    elif high_second:
        allowed = f"{tops}, so the month comes first: '{month_first}'"
    else:
        allowed = f"{tops}, so both '{day_first}' (day first) and '{month_first}' (month first) read them; say which"
    return allowed

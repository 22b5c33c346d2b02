"""Dates in scenario expressions: customer columns of days, and days written 'YYYY-MM-DD'.

A customer column of dates (parquet date32 or timestamp, pandas datetime64, Python dates, or text
whose every value is a day written YYYY-MM-DD) is read as days, numpy datetime64[D]: a time of day
is dropped, so ``last_purchase_date <= '2026-10-01'`` holds for the whole of 1 October. Days
compare (< <= > >= == !=, in [...]) with days and with a day written 'YYYY-MM-DD'; a missing date
makes every comparison false, != and not in too, as SQL's NULL does. ``days_since(d)`` is the run date minus
``d`` in days (a missing date gives NaN, which compares false). Dates are not numbers: arithmetic
on them is refused by the evaluator (optimizer/scenario/expressions.py).
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from optimizer.errors import ExpressionError

DAY = "datetime64[D]"
DAY_TEXT = r"\d{4}-\d{2}-\d{2}(?:[T ].*)?"  # a day, maybe with a time of day after it (dropped)
LITERAL_DAY = r"\d{4}-\d{2}-\d{2}"
DAY_FIX = "Write the day as 'YYYY-MM-DD', a day of the calendar, e.g. '2026-10-01' (dates are compared by day)"
Operand = tuple[ast.AST, NDArray[Any]]


class Expression(Protocol):
    """What the date operations need of an expression (optimizer/scenario/expressions.py): the text
    of one of its nodes, and an error about it in the project's words."""

    def _segment(self, node: ast.AST) -> str: ...

    def _error(self, problem: str, fix: str = ...) -> ExpressionError: ...


def day_column(column: pd.Series) -> NDArray[np.datetime64] | None:
    """A customer column as days (a gap NaT), or None when it does not hold dates.

    >>> day_column(pd.Series(["2026-10-01", None, "2026-10-03T08:30:00"])).tolist()
    [datetime.date(2026, 10, 1), None, datetime.date(2026, 10, 3)]
    >>> day_column(pd.Series(["VIP", "2026-10-01"])) is None
    True
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        if getattr(column.dtype, "tz", None) is not None:
            column = column.dt.tz_localize(None)  # the day where the time was written, not in UTC
        return column.to_numpy().astype(DAY)
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return None
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind in ("date", "datetime"):
        return column.astype(object).where(column.notna(), None).to_numpy(dtype=object).astype(DAY)
    given = column.dropna()
    if kind != "string" or given.empty or not re.fullmatch(DAY_TEXT, str(given.iat[0])):
        return None  # most text columns: no day first
    days, bad = _text_days(column.to_numpy(dtype=object), DAY_TEXT)  # every value checked
    return days if bad is None else None


def _looks_like_days(text: pd.Series) -> bool:
    """Whether every value is written as a day."""
    return bool(text.astype(str).str.fullmatch(DAY_TEXT).all())


def day_text(values: NDArray[Any]) -> NDArray[Any]:
    """Days as text written YYYY-MM-DD (a gap None), anything else as it is.

    >>> day_text(np.array(['2026-10-01', 'NaT'], dtype=DAY)).tolist()
    ['2026-10-01', None]
    """
    values = np.asarray(values)
    if values.dtype.kind != "M":
        return values
    text = np.datetime_as_string(values.astype(DAY), unit="D").astype(object)
    text[np.isnat(values)] = None
    return text


def all_days(*values: NDArray[Any]) -> bool:
    """Whether every value given (text, a gap None) is written as a day, maybe with a time after it."""
    return all(_looks_like_days(pd.Series(np.asarray(value).ravel(), dtype=object).dropna()) for value in values)


def _text_days(values: NDArray[Any], pattern: str) -> tuple[NDArray[np.datetime64], object | None]:
    """Text as days (None and NaN as NaT), and the first value that is not a day written as
    ``pattern`` says, or is not a day of the calendar ('2026-02-30'); None when every value is one.
    In Arrow's string kernels: 10^7 days as text take about a second, not the 12 s of pandas' .str."""
    flat = np.asarray(values, dtype=object).ravel()
    text = pa.array(flat, type=pa.string(), from_pandas=True)  # a gap (None, NaN) is null
    given = text.is_valid().to_numpy(zero_copy_only=False)
    matched = given & pc.fill_null(pc.match_substring_regex(text, f"^(?:{pattern})$"), False).to_numpy(
        zero_copy_only=False)
    head = pc.if_else(pa.array(matched), pc.utf8_slice_codeunits(text, 0, 10), "1970-01-01")
    days = _calendar_days(head)
    days[~matched] = np.datetime64("NaT")
    bad = given & (~matched | np.isnat(days))
    first = flat[int(np.argmax(bad))] if bad.any() else None
    return days.reshape(np.shape(values)), first


def _calendar_days(text: pa.Array) -> NDArray[np.datetime64]:
    """Days written YYYY-MM-DD as datetime64[D], NaT where the day is not in the calendar
    ('2026-02-30', which strptime would roll over to 2 March). In Arrow's days, not pandas'
    nanoseconds, whose range (1677-2262) would make a '9999-12-31' placeholder (valid until
    further notice) a gap under pandas 2."""
    parsed = pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
    written_day = pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pa.int64())
    valid = pc.fill_null(pc.equal(pc.day(parsed), written_day), False).to_numpy(zero_copy_only=False)
    days = parsed.to_numpy(zero_copy_only=False).astype(DAY)
    return np.where(valid, days, np.datetime64("NaT", "D"))


def compare_dates(expression: Expression, test: Callable[[Any, Any], Any], left: Operand, right: Operand,
                  kinds: tuple[str, str]) -> NDArray[np.bool_]:
    """``test`` over two operands read as days; false wherever either date is missing."""
    days = []
    for (node, value), kind, (other, _), other_kind in ((left, kinds[0], right, kinds[1]),
                                                        (right, kinds[1], left, kinds[0])):
        named = expression._segment(other)
        problem = f"compares '{named}' ({'dates' if other_kind == 'text' else other_kind}) with"
        fix = (f"Compare a date with a day written 'YYYY-MM-DD', e.g. \"{named} < '2026-10-01'\", or count the days "
               f"since it, e.g. \"days_since({named}) > 90\"")
        days.append(_days(expression, (node, value), kind, problem, fix))
    return np.asarray(test(days[0], days[1]), dtype=bool) & ~np.isnat(days[0]) & ~np.isnat(days[1])


def days_since(expression: Expression, operand: Operand, kind: str, run_date: dt.date | None) -> NDArray[np.float64]:
    """The run date minus a date, in days, per customer (NaN where the date is missing)."""
    if run_date is None:
        raise expression._error("uses days_since(...), which counts the days to the run date, and there is no run "
                                "date here", "Use days_since() in a scenario: its run date is cvo optimize's --date")
    days = _days(expression, operand, kind, "applies days_since() to", "Give days_since() a column of dates (a "
                 "parquet date or timestamp, or text written YYYY-MM-DD), e.g. days_since(last_purchase_date)")
    counted = (np.datetime64(run_date, "D") - days).astype(np.int64).astype(np.float64)
    return np.where(np.isnat(days), np.nan, counted)


def _days(expression: Expression, operand: Operand, kind: str, problem: str, fix: str) -> NDArray[np.datetime64]:
    """An operand as days: dates as they are, a gap as NaT, text written as days; an error
    beginning with ``problem`` for anything else (with ``fix`` when it holds no text at all)."""
    node, value = operand
    segment = expression._segment(node)
    if value.dtype.kind == "M":
        return value.astype(DAY)
    if kind not in ("text", "only missing values"):  # the latter: expressions.MISSING_ONLY, a column of gaps
        raise expression._error(f"{problem} '{segment}', which holds {kind}, not dates", fix)
    days, bad = _text_days(value, DAY_TEXT if value.ndim else LITERAL_DAY)
    if bad is None:
        return days
    if not value.ndim:
        raise expression._error(f"{problem} '{bad}', which is not a day written YYYY-MM-DD", DAY_FIX)
    raise expression._error(f"{problem} '{segment}', which holds {bad!r}, not a day written YYYY-MM-DD",
                            "Write every date in the column as YYYY-MM-DD (a missing date left blank), or compare "
                            "the column as text with == or in [...]")

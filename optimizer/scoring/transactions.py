"""A transaction log as users have it: one row per order, or one per line item of a shop's export.

Each *role* is read from a column: ``customer_id``, ``date`` and ``amount`` always, ``order_id`` when
the rows are line items (``columns={'amount': 'dollar_value'}``; on the command line
``--column amount=dollar_value``). ``amount`` may instead be an expression of the scenario language
over the log's columns, e.g. ``amount='Quantity * UnitPrice'``.

The rules, applied in this order, every one counted in ``LogReading`` and stated to the user:

1. a line without a customer id is dropped: it cannot be attributed to anybody;
2. a line is a cancellation or return when its amount is negative, or its order id is a 'C'
   followed by digits while other order ids are digits alone (the retail export convention): it
   is netted, once lines are orders (rule 4; the lines of one cancelled order together), against
   its customer's orders on or before its day (optimizer/scoring/returns.py): the latest of exactly
   its amount within a month if there is one (the order it cancels), else the latest first; an
   order taken back in full is dropped (a purchase cancelled minutes later bought nothing), and
   what finds no purchase before it (one made before the log began) is dropped. A return's date
   must be read as an order's is.
   Values at a cut-off net only the returns made by then (``TransactionLog.orders_until``);
3. a line left that repeats an earlier line in every column is counted: an export that wrote it
   twice and two equal purchases on one day look alike, so it is kept unless ``drop_duplicates``;
   a log with REPEATED_SHARE or more of them is warned of (a log written twice doubles each
   customer's spend);
4. with an order id, the lines of one customer and order id form one order: its date is its first
   line's day, its amount the sum of its lines; a line without an order id, and every line when
   no order id is mapped, is an order of its own. Orders whose lines lie more than SPREAD_DAYS
   apart are warned of (a column mapped as order_id that is not the order's number: a stock code,
   a country, merges months of purchases).

Customer ids are text: a float id written by an export with missing ids (``12346.0``) loses its
``.0``; other ids are kept as written, zero padding included, and ids that differ only by it ('4'
and '00004') are warned of. An amount must be a number: a column of True/False is refused, not
read as 1/0 (inside an expression it may be a mask: 'Quantity * UnitPrice * Paid').
Dates are read by optimizer/scoring/log_dates.py: ISO 8601 or YYYYMMDD, any other text by a
format the user gives, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, ScenarioError, did_you_mean
from optimizer.scenario.expressions import Expression, parse
from optimizer.scoring.log_dates import parse_days
from optimizer.scoring.returns import netted
from optimizer.store.tables import (
    check_text_file,
    exported_ids,
    is_csv,
    read_table,
    require_columns,
    require_file,
    show,
)

ROLES = ("customer_id", "date", "amount", "order_id")
STANDARD_COLUMNS = ("customer_id", "date", "amount")
REPEATED_SHARE = 0.05  # a log with this share of lines repeating an earlier one is warned of
SPREAD_DAYS = 31  # an order whose lines lie further apart is warned of: the order id may not be one
CDNOW_COLUMNS = {"amount": "dollar_value"}
"""The column mapping for the CDNOW logs (Fader, Hardie & Lee 2005) read with read_transactions."""

_WHITESPACE_NAMES = {
    4: ["customer_id", "date", "number_of_cds", "dollar_value"],
    5: ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"],
}


@dataclass(frozen=True)
class LogReading:
    """What reading a log did: ``lines`` read; dropped ``without_customer``; ``cancellations`` netted
    against the orders before them, ``taken_back`` orders in full (dropped), ``unmatched`` of them
    with less to take back than their amount; the ``orders`` of ``customers`` kept; ``grouped``
    when lines were grouped by an order id;
    ``repeated`` lines that repeat an earlier one in every column (dropped when ``repeats_dropped``);
    ``padded_ids`` ids that differ from another only by leading zeros, ``padded_example`` one such pair;
    ``spread``: the orders whose lines are more than SPREAD_DAYS apart, and the first (id, first, last day)."""

    lines: int
    without_customer: int
    cancellations: int
    orders: int
    customers: int
    grouped: bool
    repeated: int = 0
    repeats_dropped: bool = False
    padded_ids: int = 0
    padded_example: tuple[str, str] | None = None
    taken_back: int = 0
    unmatched: int = 0
    spread: tuple[int, str, str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        """'541,909 lines: 135,080 without a customer id dropped; 9,288 cancellations or returns netted
        against the purchases before them (2,312 orders taken back in full; 1,220 found less to take
        back); 397,541 lines became 18,536 orders of 4,372 customers (grouped by order id).'"""
        kept = self.lines - self.without_customer - self.cancellations - self.repeated * self.repeats_dropped
        dropped = self.dropped(returns=False)
        head = f"{self.lines:,} lines" + (f": {dropped} dropped;" if dropped else ":") + self.netted()
        repeats = f" {_count(self.repeated, 'line repeats', 'lines repeat')} an earlier line exactly (kept)." \
            if self.repeated and not self.repeats_dropped else ""
        if self.grouped:
            return f"{head} {kept:,} lines became {self.orders:,} orders of {self.customers:,} customers " \
                   f"(grouped by order id).{repeats}"
        return f"{head} {self.orders:,} orders of {self.customers:,} customers, one per line (no order_id " \
               f"column mapped; map one when lines are items of orders).{repeats}"

    def netted(self) -> str:
        """' 9,288 cancellations or returns netted against the purchases before them (2,312 orders
        taken back in full; 1,220 found less to take back);', or '' without any."""
        if not self.cancellations:
            return ""
        parts = [_count(self.taken_back, "order taken back in full", "orders taken back in full")
                 if self.taken_back else "",
                 _count(self.unmatched, "return found less to take back, the rest dropped",
                        "returns found less to take back, the rest dropped") if self.unmatched else ""]
        detail = "; ".join(part for part in parts if part)  # returns counted as lines, orders as orders
        them = "it" if self.cancellations == 1 else "them"
        return (f" {_count(self.cancellations, 'cancellation or return', 'cancellations or returns')} netted against "
                f"the purchases before {them}{f' ({detail})' if detail else ''};")

    def dropped(self, repeats: bool = True, returns: bool = True) -> str:
        """The lines not read as orders, by rule ('135,080 without a customer id and 9,288
        cancellations or returns'; the repeats of an earlier line only if ``repeats``, the returns,
        netted against orders (``netted``), only if ``returns``), or '' when there is none."""
        parts = [_count(self.repeated, "repeat of an earlier line", "repeats of an earlier line")
                 if repeats and self.repeats_dropped and self.repeated else "",
                 f"{self.without_customer:,} without a customer id" if self.without_customer else "",
                 _count(self.cancellations, "cancellation or return", "cancellations or returns") + (
                     f", which took back {_count(self.taken_back, 'order', 'orders')} in full," if self.taken_back
                     else "") if returns and self.cancellations else ""]
        named = [part for part in parts if part]
        return ", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else "".join(named)

    @property
    def warnings(self) -> list[str]:
        """What may make the values wrong unsaid: many repeated lines kept, ids apart only by zeros."""
        found = []
        if self.repeated and not self.repeats_dropped and self.repeated >= REPEATED_SHARE * self.lines:
            counted = "spend is" if self.grouped else "orders and spend are"
            found.append(f"{self.repeated:,} of the {self.lines:,} lines ({self.repeated / self.lines:.0%}) repeat an "
                         f"earlier line in every column. If the export wrote them twice, those customers' {counted} "
                         "counted twice: drop them with --drop-duplicates (drop_duplicates=True in Python)")
        if self.spread is not None:
            count, order, first, last = self.spread
            found.append(f"{count:,} orders have lines more than {SPREAD_DAYS} days apart (order '{order}' runs from "
                         f"{first} to {last}, and is dated by its first): is the order_id column the order's number? "
                         "Map it with --column order_id=<the invoice number's column>")
        if self.padded_example is not None:
            short, padded = self.padded_example
            found.append(f"{self.padded_ids:,} customer ids differ from another only by leading zeros ('{short}' "
                         f"and '{padded}'): they are read as different customers. If they are one, write the ids "
                         "one way in the export (and in the customer table)")
        return found


def _count(count: int, one: str, many: str) -> str:
    """'1 repeat of an earlier line', '2,041 repeats of an earlier line'."""
    return f"{count:,} {one if count == 1 else many}"


@dataclass(frozen=True)
class TransactionLog:
    """The orders (``customer_id`` text, ``date`` day, ``amount`` >= 0; index 0..n-1), every return
    netted (rule 2), and how they were read; the ``purchases`` before netting and the ``returns``
    (customer_id, date, amount taken back), for ``orders_until``."""

    orders: pd.DataFrame
    reading: LogReading
    purchases: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None

    def orders_until(self, day: pd.Timestamp) -> pd.DataFrame:
        """The orders with only the returns made on or before ``day`` netted: what was known at a
        cut-off (a return after it does not reach back into the values or a holdout's calibration)."""
        if self.purchases is None or self.returns is None:
            return self.orders
        return netted(self.purchases, self.returns[self.returns["date"] <= day])[0]


def read_log(path: Path, *, columns: Mapping[str, str] | None = None, date_format: str | None = None,
             drop_duplicates: bool = False) -> TransactionLog:
    """Read a transaction log: .csv, .parquet, or whitespace-separated .txt (the CDNOW layout).

    A .txt file may start with a header line; without one, 4 or 5 fields per line are read as
    ``customer_id [sample_id] date number_of_cds dollar_value``. Errors name the file and line.
    """
    roles = _roles(columns, str(path))
    if path.suffix.lower() == ".txt":
        table, first_line = _read_whitespace(path)
    else:
        text = tuple(roles[role] for role in ("customer_id", "date", "order_id") if role in roles)
        table = read_table(path, what="transactions", text_columns=text)
        first_line = 2 if is_csv(path) else 1
    return clean_log(table, columns=columns, date_format=date_format, source=str(path), first_line=first_line,
                     drop_duplicates=drop_duplicates)


def read_transactions(path: Path, *, columns: Mapping[str, str] | None = None,
                      date_format: str | None = None, drop_duplicates: bool = False) -> pd.DataFrame:
    """The orders of ``read_log``."""
    return read_log(path, columns=columns, date_format=date_format, drop_duplicates=drop_duplicates).orders


def clean_transactions(log: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                       date_format: str | None = None, source: str = "the transaction log",
                       first_line: int | None = None, drop_duplicates: bool = False) -> pd.DataFrame:
    """The orders of ``clean_log``."""
    return clean_log(log, columns=columns, date_format=date_format, source=source, first_line=first_line,
                     drop_duplicates=drop_duplicates).orders


def clean_log(log: pd.DataFrame, *, columns: Mapping[str, str] | None = None, date_format: str | None = None,
              source: str = "the transaction log", first_line: int | None = None,
              drop_duplicates: bool = False) -> TransactionLog:
    """The orders of ``log`` by the rules of the module docstring.

    Raises DataError for a missing column (with a did-you-mean), an empty log, a date that does not
    parse (or text dates without ``date_format``), or an amount that is missing or not a number; the
    message names the row (``first_line`` given: the file line of row 0; otherwise the index label).
    """
    roles = _roles(columns, source)
    amount = _amount_expression(roles["amount"], log, source)
    named = [name for role, name in roles.items() if not (role == "amount" and amount is not None)]
    lacking = next((role for role, name in roles.items() if name in named and name not in log.columns), "amount")
    require_columns(log, [*named, *(amount.names if amount is not None else ())], Path(source), "transactions",
                    f"Rename the column, or map it: --column {lacking}=<the log's column> on the command line, "
                    f"columns={{'{lacking}': '<the log's column>'}} in Python")
    if len(log) == 0:
        raise DataError("The transaction log is empty", where=source, fix="Give at least one order")
    rows = _Rows(log, source, first_line)
    ids = exported_ids(log[roles["customer_id"]])
    attributed = ids.notna().to_numpy()
    values = _amounts(log, roles["amount"], amount, rows, attributed)
    order_ids = _order_ids(log[roles["order_id"]]) if "order_id" in roles else None
    returns = attributed & ((values < 0) | (_cancellation_ids(order_ids) if order_ids is not None else False))
    copies = _repeated(log) & attributed  # a copy has its first's customer and sign
    repeated = copies if drop_duplicates else copies & ~returns  # dropped, or (purchases) kept and counted
    cancelled = returns & ~(copies & drop_duplicates)  # a return written twice takes back once
    kept = attributed & ~returns & ~(repeated & drop_duplicates)
    dates = parse_days(log[roles["date"]], kept | cancelled, date_format, rows)
    bought, spread = _orders(ids, dates, values, order_ids, kept)
    taken, _ = _orders(ids, dates, np.abs(values), order_ids, cancelled)  # a cancelled invoice's lines together
    orders, taken_back, unmatched = netted(bought, taken)
    customers = pd.Series(orders["customer_id"].unique(), dtype="string")
    reading = LogReading(len(log), int((~attributed).sum()), int(cancelled.sum()), len(orders), len(customers),
                         order_ids is not None, int(repeated.sum()), drop_duplicates, *_padded_ids(customers),
                         taken_back=taken_back, unmatched=unmatched, spread=spread)
    if orders.empty:
        raise DataError(f"No order is left of the transaction log: {reading.sentence()}", where=source,
                        fix="Check the customer_id and amount columns the log is read with")
    return TransactionLog(orders, reading, bought, taken)


def _roles(columns: Mapping[str, str] | None, source: str) -> dict[str, str]:
    """Role -> column (or, for amount, expression); order_id only when mapped."""
    for key in columns or {}:
        if key not in ROLES:
            hint = did_you_mean(key, ROLES)
            raise ScenarioError(f"The column mapping has the key '{key}'", where=source,
                                fix=f"{hint + ' ' if hint else ''}Map only {', '.join(ROLES)}")
    given = dict(columns or {})
    return {role: given.get(role, role) for role in ROLES if role != "order_id" or role in given}


def _amount_expression(text: str, log: pd.DataFrame, source: str) -> Expression | None:
    """The amount as an expression over the log's columns, or None when ``text`` names a column
    (or is a plain name: then the missing column is reported as such)."""
    if text in log.columns or text.isidentifier():
        return None
    expression = parse(text, where=f"{source}, amount")
    expression.check_names(log.columns.astype(str), f"{source}, amount")
    return expression


class _Rows:
    """How a row of the log is named in messages: the file line, or the DataFrame's index label."""

    def __init__(self, log: pd.DataFrame, source: str, first_line: int | None) -> None:
        self.log, self.source, self.first_line = log, source, first_line

    def __call__(self, position: int) -> str:
        if self.first_line is None:
            return f"{self.source}, row {show(self.log.index[position])}"
        return f"{self.source}, line {position + self.first_line}"


def _repeated(log: pd.DataFrame) -> NDArray[np.bool_]:
    """The lines equal in every column to an earlier line (values that cannot be hashed, a list in a
    parquet column, compared as text)."""
    try:
        return log.duplicated(keep="first").to_numpy()
    except TypeError:
        return log.astype(str).duplicated(keep="first").to_numpy()


def _padded_ids(customers: pd.Series) -> tuple[int, tuple[str, str] | None]:
    """How many of the (distinct) ``customers`` are digits that another id equals but for leading
    zeros ('4', '004'), and one such pair, shortest first (0 and None when there are none)."""
    digits = customers[customers.str.fullmatch(r"\d+").fillna(False).to_numpy(dtype=bool)]
    number = digits.str.lstrip("0").replace("", "0")
    twins = number.duplicated(keep=False).to_numpy()
    if not twins.any():
        return 0, None
    first = digits[twins & (number == number[twins].iat[0]).to_numpy()]
    pair = sorted(first.astype(str), key=lambda text: (len(text), text))[:2]
    return int(twins.sum()), (pair[0], pair[1])


def _order_ids(ids: pd.Series) -> pd.Series:
    """Order ids as text, floats written without their '.0'; a line without one is an order of its own."""
    text = exported_ids(ids)
    missing = text.isna().to_numpy()
    return text.mask(missing, pd.Series([f"\x1fline {i}" for i in range(len(text))], index=text.index))


def _orders(ids: pd.Series, dates: NDArray[np.datetime64], values: NDArray[np.float64], order_ids: pd.Series | None,
            chosen: NDArray[np.bool_]) -> tuple[pd.DataFrame, tuple[int, str, str, str] | None]:
    """Rule 4: the ``chosen`` lines as orders (customer_id, date, amount): one per line, or the lines
    of one customer and order id summed, dated by the first; and how many of those orders have lines
    more than SPREAD_DAYS apart, with the first such (order id, first day, last day), or None."""
    lines = pd.DataFrame({"customer_id": ids[chosen].to_numpy(dtype=object), "date": dates[chosen],
                          "amount": values[chosen]})
    if order_ids is None:
        return lines, None
    lines["order_id"] = order_ids[chosen].to_numpy(dtype=object)
    grouped = lines.groupby(["customer_id", "order_id"], sort=False, dropna=False).agg(
        date=("date", "min"), last=("date", "max"), amount=("amount", "sum")).reset_index()
    wide = np.flatnonzero((grouped["last"] - grouped["date"]).to_numpy() > np.timedelta64(SPREAD_DAYS, "D"))
    first, last = (str(grouped[end].to_numpy()[wide[0]])[:10] if wide.size else "" for end in ("date", "last"))
    spread = None if wide.size == 0 else (int(wide.size), str(grouped["order_id"].iat[wide[0]]), first, last)
    return grouped[["customer_id", "date", "amount"]], spread


def _cancellation_ids(order_ids: pd.Series) -> NDArray[np.bool_]:
    """Order ids of the form 'C' + digits, when other order ids are digits alone."""
    if not order_ids.str.fullmatch(r"\d+").any():
        return np.zeros(len(order_ids), dtype=bool)
    return order_ids.str.fullmatch(r"C\d+").to_numpy(dtype=bool)


def _amounts(log: pd.DataFrame, name: str, expression: Expression | None, rows: _Rows,
             attributed: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Each line's amount (from the column, or the expression); DataError at the first line of a
    customer whose amount is not a number (lines without a customer are dropped whatever they hold)."""
    if expression is None and pd.api.types.infer_dtype(log[name], skipna=True) == "boolean":
        raise DataError(f"The column '{name}' the amount is read from holds True/False, not money",
                        where=rows.source, fix="Map amount to the column of the order's value: --column "
                        "amount=NAME, or an expression such as 'amount=Quantity * UnitPrice'")
    if expression is None:
        given = log[name]
        values = pd.to_numeric(given, errors="coerce").to_numpy(dtype=float)
    else:
        inputs = {str(column): pd.to_numeric(log[column], errors="coerce").to_numpy(dtype=float)
                  for column in expression.names}
        values = np.asarray(expression.evaluate(inputs, len(log)), dtype=float)
        given = pd.Series(values)
    bad = np.flatnonzero(~np.isfinite(values) & attributed)
    if bad.size:
        first = int(bad[0])
        columns = [name] if expression is None else list(expression.names)
        unread = [column for column in columns
                  if np.isnan(pd.to_numeric(log[column].iloc[[first]], errors="coerce").to_numpy(dtype=float)).all()]
        raw = log[unread[0]].iat[first] if unread else given.iat[first]
        what = f"'{name}'" if expression is None else f"amount '{expression.text}'"
        shown = show(given.iat[first]) if expression is None else f"{show(raw)} in it"
        comma = " The numbers are written with a decimal comma: write them with a point (2.5), or save the " \
            "export with a point as the decimal separator." if re.fullmatch(r"-?\d+,\d+", str(raw).strip()) else ""
        raise DataError(f"The {what}: {shown} is not a number ({bad.size} such row(s))", where=rows(first),
                        fix=f"Give every line an amount; negative amounts are read as returns.{comma}")
    return np.where(attributed, values, 0.0)


def _read_whitespace(path: Path) -> tuple[pd.DataFrame, int]:
    """The table and the file line of its first data row; DataError naming the file when it cannot be read."""
    require_file(path, "transactions", fix="Check the path")
    try:
        return _parse_whitespace(path)
    except (UnicodeDecodeError, pd.errors.ParserError) as error:
        check_text_file(path, "transactions")  # names the line and byte that are not UTF-8
        reason = str(error).removeprefix("Error tokenizing data. C error: ").strip()
        raise DataError(f"The transactions file {path} could not be read: {reason}",
                        fix="Give every line the same fields, separated by spaces") from None


def _parse_whitespace(path: Path) -> tuple[pd.DataFrame, int]:
    """The whitespace-separated log, with or without a header line, and the file line of its first row."""
    with path.open(encoding="utf-8") as handle:
        first = handle.readline().split()
    has_header = bool(first) and not re.fullmatch(r"[\d.+-]+", first[0])
    if not has_header and len(first) not in _WHITESPACE_NAMES:
        raise DataError(f"The transactions file {path} has {len(first)} fields on its first line",
                        where=f"{path}, line 1",
                        fix="Give 4 fields (customer_id date number_of_cds dollar_value), 5 with a sample id, "
                            "or a header line")
    names = None if has_header else _WHITESPACE_NAMES[len(first)]
    text = {"customer_id": str, "sample_id": str, "date": str}
    table = pd.read_csv(path, sep=r"\s+", header=0 if has_header else None, names=names, dtype=text)
    return table, 2 if has_header else 1

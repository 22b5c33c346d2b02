"""Customer features from a transaction log: RFM, the BG/NBD summary (x, t_x, T), scores and segments.

A transaction log has one row per order: ``customer_id, date, amount`` (other names are mapped with
``columns={'amount': 'dollar_value'}``; a shop's export of line items is read into orders by
optimizer/scoring/transactions.py). Features are taken at a cut-off date from the orders on or
before it. Two notions of "frequency" and "recency" live side by side:

- RFM: ``recency_days`` = cut-off − last purchase, ``n_orders`` = orders, ``monetary`` = mean order value.
- BG/NBD (Fader, Hardie & Lee 2005): ``frequency`` = x = distinct purchase days − 1 (repeat purchases),
  ``t_x`` = last − first purchase, ``T`` = cut-off − first purchase, in the chosen time unit;
  ``repeat_monetary`` = mean spend per repeat purchase day (what the Gamma-Gamma model is fitted on).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.typing import NaTType

from optimizer.errors import DataError, ScenarioError, did_you_mean
from optimizer.scoring.transactions import clean_transactions
from optimizer.store.files import MIGRATION_FILE, atomic_write
from optimizer.store.tables import require_columns, show

TIME_UNITS = {"days": 1.0, "weeks": 7.0}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?|\d{8}")  # a date option as text

SEGMENTS = ("Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention", "About to Sleep",
            "At Risk", "Can't Lose Them", "Hibernating", "Lost")
NOT_YET_CUSTOMER = "(not yet a customer)"

# Segment by (R score, F score); row R, column F = 1..5. See rfm_scores for the source.
_RF_GRID = {
    5: ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
}
_VALUE_TIERS = {1: "low value", 2: "low value", 3: "mid value", 4: "high value", 5: "high value"}


def to_timestamp(value: object, what: str) -> pd.Timestamp:
    """A date option (str, date or Timestamp) as a day; ScenarioError when it does not parse or, as
    text, is not YYYY-MM-DD or YYYYMMDD (03/04/1997 is never guessed). A time of day and a time-zone
    offset are dropped: the day is the one written, as for the log's dates."""
    if isinstance(value, str) and not ISO_DAY.fullmatch(value.strip()):
        raise ScenarioError(f"The {what} {show(value)} is not a date written YYYY-MM-DD (one like 03/04/1997 is "
                            "never guessed: 3 April or March 4)", fix="Write it as YYYY-MM-DD, e.g. 1997-09-30")
    try:
        given: Any = str(value) if isinstance(value, int | np.integer) else value  # pd.Timestamp checks what it is
        stamp: pd.Timestamp | NaTType = pd.Timestamp(given)
    except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ScenarioError(f"The {what} {show(value)} is not a date", fix="Write it as YYYY-MM-DD")
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def check_within_log(cut: pd.Timestamp, dates: pd.Series, where: str, dropped: str = "") -> None:
    """DataError when the cut-off ``cut`` lies outside the orders' ``dates``: before the first, or
    after the last (every customer would then look as if they had stopped buying). ``dropped``, the
    log's lines not read as orders, is said when given: they can move its ends."""
    first, last = dates.min(), dates.max()
    if not first <= cut <= last:
        side = "before the first order" if cut < first else "after the last order"
        after = f", once {dropped} were not read as orders" if dropped else ""
        why = ("no customer has bought yet before its first order" if cut < first else
               "a cut-off after its end would make every customer look as if they had stopped buying")
        raise DataError(f"The cut-off {cut.date()} is {side}: the log runs from {first.date()} to {last.date()}"
                        f"{after}", where=where, fix=f"Choose a cut-off within the log; {why}")


@dataclass(frozen=True)
class AfterCutoff:
    """What a cut-off leaves out of a log's orders: the ``orders`` after it, which the values or
    segments at it do not count, and the ``customers`` whose first order is after it, who have none."""

    cutoff: pd.Timestamp
    orders: int
    customers: int

    def sentence(self) -> str:
        """'1,802 orders after 1998-01-31 are not counted, and the 12 customers whose first order is
        after it are left out', or 'no order is after 1998-06-30'."""
        if not self.orders:
            return f"no order is after {self.cutoff.date()}"
        one_order, one_customer = self.orders == 1, self.customers == 1
        left = (f", and the {self.customers:,} customer{'' if one_customer else 's'} whose first order is after it "
                f"{'is' if one_customer else 'are'} left out" if self.customers else "")
        orders = f"{self.orders:,} order{'' if one_order else 's'} after {self.cutoff.date()}"
        return f"{orders} {'is' if one_order else 'are'} not counted{left}"


def after_cutoff(orders: pd.DataFrame, cut: pd.Timestamp) -> AfterCutoff:
    """The orders (``customer_id``, ``date``) after ``cut`` and the customers with none on or before it."""
    first = orders.groupby("customer_id")["date"].min()
    return AfterCutoff(cut, int((orders["date"] > cut).sum()), int((first > cut).sum()))


def unit_days(time_unit: str) -> float:
    """Days per time unit ('days' 1, 'weeks' 7); ScenarioError with a did-you-mean otherwise."""
    if time_unit not in TIME_UNITS:
        hint = did_you_mean(time_unit, TIME_UNITS)
        raise ScenarioError(f"The time unit '{time_unit}' is not known",
                            fix=f"{hint + ' ' if hint else ''}Use one of: {', '.join(TIME_UNITS)}")
    return TIME_UNITS[time_unit]


def customer_features(log: pd.DataFrame, cutoff: object, *, columns: Mapping[str, str] | None = None,
                      time_unit: str = "weeks", date_format: str | None = None) -> pd.DataFrame:
    """One row per customer who bought on or before ``cutoff`` (index ``customer_id``, sorted).

    Columns: first_purchase, last_purchase, recency_days, tenure_days, n_orders, total_spend,
    monetary (= total_spend / n_orders), frequency (x = distinct purchase days − 1), repeat_monetary
    (mean spend per purchase day after the first; NaN when x = 0), t_x and T in ``time_unit``.
    ``attrs['time_unit']`` records the unit.

    >>> log = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "amount": [10.0, 5.0, 20.0, 7.0],
    ...                     "date": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-10"]})
    >>> f = customer_features(log, "2024-01-29", time_unit="days")
    >>> columns = ["n_orders", "monetary", "frequency", "repeat_monetary", "t_x", "T"]
    >>> f[columns].round(2)  # doctest: +NORMALIZE_WHITESPACE
                 n_orders  monetary  frequency  repeat_monetary   t_x     T
    customer_id
    a                   3     11.67          1             20.0  14.0  28.0
    b                   1      7.00          0              NaN   0.0  19.0
    """
    days = unit_days(time_unit)
    cut = to_timestamp(cutoff, "cut-off")
    transactions = clean_transactions(log, columns=columns, date_format=date_format)
    transactions = transactions[transactions["date"] <= cut]
    if transactions.empty:
        raise DataError(f"No order is on or before the cut-off {cut.date()}", where="the transaction log",
                        fix="Choose a cut-off on or after the first order date")
    features = _purchase_days(transactions, cut)
    features["t_x"] = ((features["last_purchase"] - features["first_purchase"]).dt.days / days).round(10)
    features["T"] = (features["tenure_days"] / days).round(10)
    features.attrs["time_unit"] = time_unit
    return features


def _purchase_days(transactions: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """Per-customer order and purchase-day counts, spends and dates (orders on one day form one purchase)."""
    daily = transactions.groupby(["customer_id", "date"], sort=True)["amount"].sum().reset_index()
    first_day = daily.groupby("customer_id")["date"].transform("min")
    repeat = daily[daily["date"] > first_day].groupby("customer_id")["amount"].mean()
    features = daily.groupby("customer_id").agg(first_purchase=("date", "min"), last_purchase=("date", "max"),
                                                 purchase_days=("date", "size"))
    orders = transactions.groupby("customer_id")["amount"].agg(["size", "sum"])
    features["recency_days"] = (cut - features["last_purchase"]).dt.days
    features["tenure_days"] = (cut - features["first_purchase"]).dt.days
    features["n_orders"] = orders["size"]
    features["total_spend"] = orders["sum"]
    features["monetary"] = orders["sum"] / orders["size"]
    features["frequency"] = features.pop("purchase_days") - 1
    features["repeat_monetary"] = repeat.reindex(features.index)
    return features


def quintile_score(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Scores 1–5: 1 + the number of quintile cut points (20/40/60/80 %) the value is beyond.

    Equal values always share a score, so with many ties (most customers with one order) some
    scores are skipped rather than splitting the tie at random.

    >>> quintile_score(pd.Series([1, 1, 1, 2, 3, 4, 5, 6, 7, 8])).tolist()
    [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]
    """
    signed = values.to_numpy(dtype=float) * (1.0 if higher_is_better else -1.0)
    cuts = np.quantile(signed, [0.2, 0.4, 0.6, 0.8])
    return pd.Series(1 + (signed[:, None] > cuts[None, :]).sum(axis=1), index=values.index)


def rf_segment(r_score: int, f_score: int) -> str:
    """The named segment of an (R, F) score pair on the 5×5 grid documented in rfm_scores."""
    return _RF_GRID[int(r_score)][int(f_score) - 1]


def rfm_scores(features: pd.DataFrame) -> pd.DataFrame:
    """Features plus r_score, f_score, m_score, rfm_cell ('R-F-M'), segment, value_tier, micro_segment.

    R scores ``recency_days`` (fewer days is better), F ``n_orders``, M ``monetary``, by quintile_score
    over the customers given. Segments follow the recency × frequency grid widely used in practice
    (the ten-segment "RF score" map of practitioner RFM guides, e.g. ``[1-2][1-2]`` Hibernating …
    ``5[4-5]`` Champions), with cell R=1, F=1 split off as Lost, the eleventh segment of Putler's
    "RFM Analysis for Successful Customer Segmentation" list:

    ====  ==============  ==================  ==================  ===============  ===============
    R\\F   1               2                   3                   4                5
    ====  ==============  ==================  ==================  ===============  ===============
    5     New             Potential Loyalist  Potential Loyalist  Champions        Champions
    4     Promising       Potential Loyalist  Potential Loyalist  Loyal            Loyal
    3     About to Sleep  About to Sleep      Need Attention      Loyal            Loyal
    2     Hibernating     Hibernating         At Risk             At Risk          Can't Lose Them
    1     Lost            Hibernating         At Risk             At Risk          Can't Lose Them
    ====  ==============  ==================  ==================  ===============  ===============

    The micro-segment splits each segment by M: value tier low (M 1–2), mid (3), high (4–5).
    """
    require_columns(features, ["recency_days", "n_orders", "monetary"], Path("the customer features"),
                    "customer features", "Compute the features with customer_features")
    scored = features.copy()
    scored["r_score"] = quintile_score(features["recency_days"], higher_is_better=False)
    scored["f_score"] = quintile_score(features["n_orders"])
    scored["m_score"] = quintile_score(features["monetary"])
    scored["rfm_cell"] = [f"{r}-{f}-{m}" for r, f, m in scored[["r_score", "f_score", "m_score"]].itertuples(False)]
    scored["segment"] = [rf_segment(r, f) for r, f in scored[["r_score", "f_score"]].itertuples(False)]
    scored["value_tier"] = scored["m_score"].map(_VALUE_TIERS)
    scored["micro_segment"] = scored["segment"] + " / " + scored["value_tier"]
    return scored


@dataclass(frozen=True)
class Migration:
    """How customers moved between segments from ``start`` to ``end``.

    ``counts`` rows are the segment at ``start`` (plus NOT_YET_CUSTOMER for customers whose first
    order falls between the two dates), columns the segment at ``end``; every segment is listed.
    ``shares`` divides each row by its total (a row nobody started in is all zeros). ``after_end``:
    the orders after ``end`` and the customers who first bought after it, left out of both.
    """

    counts: pd.DataFrame
    shares: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    after_end: AfterCutoff

    def cutoffs_sentence(self) -> str:
        """What the cut-offs leave out, and who the NOT_YET_CUSTOMER row is, counted."""
        newcomers = int(self.counts.loc[NOT_YET_CUSTOMER].to_numpy().sum())
        between = (f"; the {newcomers:,} customer{'' if newcomers == 1 else 's'} who first bought between "
                   f"{self.start.date()} and {self.end.date()} {'is' if newcomers == 1 else 'are'} the "
                   f"'{NOT_YET_CUSTOMER}' row" if newcomers else "")
        return self.after_end.sentence() + between

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the cut-offs, the segments in order, counts and shares as row lists, and what
        the end cut-off leaves out."""
        return {"start": str(self.start.date()), "end": str(self.end.date()), "from": list(self.counts.index),
                "to": list(self.counts.columns), "counts": self.counts.to_numpy().tolist(),
                "shares": self.shares.to_numpy().round(6).tolist(),
                "after_end": {"orders": self.after_end.orders, "customers": self.after_end.customers}}


def write_migration(migration: Migration, out_dir: Path) -> Path:
    """migration.json in ``out_dir`` (created if missing), written whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MIGRATION_FILE
    atomic_write(path, lambda temp: temp.write_text(json.dumps(migration.to_dict(), indent=2) + "\n"))
    return path


def segment_migration(log: pd.DataFrame, start: object, end: object, *, columns: Mapping[str, str] | None = None,
                      date_format: str | None = None, source: str = "the transaction log",
                      dropped: str = "") -> Migration:
    """Cross-tabulate each customer's segment at ``start`` against their segment at ``end`` (> start).

    A cut-off outside the log is refused as ``cvo score`` refuses it, naming ``source`` (the log's
    file) and, when given, ``dropped``: the log's lines not read as orders (LogReading.dropped)."""
    first, second = to_timestamp(start, "start cut-off"), to_timestamp(end, "end cut-off")
    if second <= first:
        raise ScenarioError(f"The end cut-off {second.date()} is not after the start cut-off {first.date()}",
                            fix="Give the earlier date first")
    transactions = clean_transactions(log, columns=columns, date_format=date_format, source=source)
    for option, cut in (("--from", first), ("--to", second)):
        check_within_log(cut, transactions["date"], f"{source}, {option}", dropped)
    before = rfm_scores(customer_features(transactions, first))["segment"]
    after = rfm_scores(customer_features(transactions, second))["segment"]
    origin = before.reindex(after.index).fillna(NOT_YET_CUSTOMER)
    counts = pd.crosstab(origin, after).reindex(index=[*SEGMENTS, NOT_YET_CUSTOMER], columns=list(SEGMENTS),
                                                fill_value=0)
    counts.index.name, counts.columns.name = f"segment at {first.date()}", f"segment at {second.date()}"
    totals = counts.sum(axis=1).replace(0, 1)
    return Migration(counts=counts, shares=counts.div(totals, axis=0), start=first, end=second,
                     after_end=after_cutoff(transactions, second))

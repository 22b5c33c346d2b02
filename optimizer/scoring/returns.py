"""Returns and cancellations netted against the purchases they take back.

A return (customer i, day d, amount a > 0) takes a from i's orders dated on or before d: first the
latest order of exactly a (to 1e-9 of a) within MATCH_DAYS before d, the order a cancelled invoice
cancels; failing that, the latest orders first, each down to 0 before the next. An order left with
at most 1e-9 of what it was is taken back in full and is no order; what a return cannot take (its
purchase was made before the log began) is dropped. Returns are applied in order of day.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

MATCH_DAYS = 31  # an order of exactly a return's amount is the one it cancels when at most this much older


def netted(orders: pd.DataFrame, returns: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """``orders`` (customer_id, date, amount) with ``returns`` (the same columns, the amount taken
    back) netted as the module docstring says: the orders left, how many were taken back in full,
    and how many returns found less than their amount to take back."""
    if returns.empty:
        return orders, 0, 0
    dates, bought = orders["date"].to_numpy(), orders["amount"].to_numpy(dtype=float)
    left = bought.copy()
    mine: dict[Any, NDArray[np.intp]] = {
        customer: np.asarray(rows)[np.argsort(dates[rows], kind="stable")]
        for customer, rows in orders.groupby("customer_id", sort=False).indices.items()}
    unmatched = 0
    ordered = returns.sort_values("date", kind="stable")
    for customer, day, given in zip(ordered["customer_id"], ordered["date"].to_numpy(), ordered["amount"],
                                    strict=True):
        held = mine.get(customer, np.zeros(0, dtype=np.intp))
        rows, amount = held[:np.searchsorted(dates[held], day, side="right")][::-1], given
        recent = day - dates[rows] <= np.timedelta64(MATCH_DAYS, "D")
        same = (np.abs(left[rows] - amount) <= 1e-9 * amount) & recent
        for row in (rows[same][:1] if same.any() else rows):
            taken = min(amount, left[row])
            left[row], amount = left[row] - taken, amount - taken
            if amount <= 0:
                break
        unmatched += bool(amount > 1e-9 * given)
    gone = (bought > 0) & (left <= 1e-9 * bought)
    kept = orders.assign(amount=left).loc[~gone].reset_index(drop=True)
    return kept, int(gone.sum()), unmatched

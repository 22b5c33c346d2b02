"""optimizer/scoring/returns.py: returns netted against the purchases they take back."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.scoring.returns import netted


def frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [r[0] for r in rows], "date": pd.to_datetime([r[1] for r in rows]),
                         "amount": [r[2] for r in rows]})


ORDERS = frame([("a", "2024-01-01", 10.0), ("a", "2024-01-20", 20.0), ("a", "2024-02-01", 5.0),
                ("b", "2024-01-10", 7.0)])


@pytest.mark.parametrize(("returns", "amounts", "taken_back", "unmatched"), [
    ([("a", "2024-02-01", 20.0)], [10.0, 5.0, 7.0], 1, 0),  # the order of exactly its amount, within a month
    ([("a", "2024-02-01", 8.0)], [10.0, 17.0, 7.0], 1, 0),  # no such order: the latest first (5, then 3 of 20)
    ([("a", "2024-01-15", 12.0)], [20.0, 5.0, 7.0], 1, 1),  # only orders on or before its day; 2 left untaken
    ([("b", "2024-01-09", 7.0)], [10.0, 20.0, 5.0, 7.0], 0, 1),  # before b's order: nothing to take
    ([("c", "2024-03-01", 1.0)], [10.0, 20.0, 5.0, 7.0], 0, 1),  # a customer with no orders
    ([("a", "2024-02-01", 35.0)], [7.0], 3, 0),  # every order of a's taken back
])
def test_a_return_takes_back_what_the_docstring_says(returns, amounts, taken_back, unmatched):
    left, gone, short = netted(ORDERS, frame(returns))
    assert left["amount"].tolist() == pytest.approx(amounts)
    assert (gone, short) == (taken_back, unmatched)


def test_an_order_of_the_same_amount_older_than_a_month_is_not_the_one_cancelled():
    orders = frame([("a", "2023-01-01", 9.99), ("a", "2024-03-01", 50.0)])
    left, gone, short = netted(orders, frame([("a", "2024-03-08", 9.99)]))
    assert left["amount"].tolist() == pytest.approx([9.99, 40.01]) and (gone, short) == (0, 0)


def test_returns_are_applied_in_order_of_day_and_nothing_without_any():
    orders = frame([("a", "2024-01-01", 10.0), ("a", "2024-01-05", 10.0)])
    later_first = frame([("a", "2024-01-06", 10.0), ("a", "2024-01-02", 10.0)])
    left, gone, _ = netted(orders, later_first)  # 01-02 takes the first order, 01-06 the second
    assert left.empty and gone == 2
    assert netted(orders, frame([]))[0] is orders

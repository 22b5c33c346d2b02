"""Customer columns as the expression language reads them (optimizer/scenario/pairs.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.scenario.expressions import parse
from optimizer.scenario.pairs import Layered, TableColumns


def test_nullable_columns_read_with_their_gaps_as_none_or_nan():
    """pandas' NA makes every comparison an error ('boolean value of NA is ambiguous'): a gap in a
    text or yes/no column is None, in a nullable number column NaN, so expressions can compare them."""
    table = pd.DataFrame({
        "opt_in": pd.array([True, None, False], dtype="boolean"), "vip": pd.array([True, False, True], dtype="boolean"),
        "orders": pd.array([1, None, 3], dtype="Int64"), "segment": pd.array(["VIP", None, "New"], dtype="string"),
        "region": pd.Series(["North", None, np.nan], dtype=object),
    })
    columns = TableColumns(table)
    assert columns["opt_in"].tolist() == [True, None, False] and columns["vip"].dtype == bool
    assert columns["orders"].dtype == np.float64 and np.isnan(columns["orders"][1])
    assert columns["segment"].tolist() == ["VIP", None, "New"] and columns["region"].tolist() == ["North", None, None]
    chosen = parse("opt_in == True or segment == 'New' or region == 'North' or orders > 2", where="test")
    assert chosen.evaluate(columns, 3).tolist() == [True, False, True]
    assert table["segment"].isna().tolist() == [False, True, False]  # the table stays as read


def test_a_column_is_converted_when_first_read_and_once():
    """A text date column becomes days only when an expression reads it; rows() takes the read rows."""
    table = pd.DataFrame({"joined": ["2026-10-01", "2026-10-03", None], "ltv": [1.0, 2.0, 3.0], 7: ["x", "y", "z"]})
    columns = TableColumns(table)
    assert list(columns) == ["joined", "ltv", "7"] and len(columns) == 3
    assert columns.read == {}
    assert parse("ltv > 1", where="test").evaluate(columns, 3).tolist() == [False, True, True]
    assert list(columns.read) == ["ltv"] and "joined" in columns and "nothing" not in columns
    assert list(columns.read) == ["ltv"]
    assert columns["joined"].dtype == np.dtype("datetime64[D]") and columns["joined"] is columns["joined"]
    some = columns.rows(np.array([2, 0]))
    assert some["ltv"].tolist() == [3.0, 1.0] and some["7"].tolist() == ["z", "x"] and list(some) == list(columns)
    assert "7" in columns.read and np.isnat(some["joined"][0])


def test_pair_columns_are_read_before_a_customer_column_of_the_same_name():
    columns = TableColumns(pd.DataFrame({"ltv": [1.0, 2.0], "p_treat": [9.0, 9.0]}))
    layered = Layered({"p_treat": np.array([0.1, 0.2])}, columns)
    assert layered["p_treat"].tolist() == [0.1, 0.2] and layered["ltv"].tolist() == [1.0, 2.0]
    assert list(layered) == ["p_treat", "ltv"] and len(layered) == 2 and "ltv" in layered and "x" not in layered
    assert "p_treat" not in columns.read

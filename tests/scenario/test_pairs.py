"""Customer columns as the expression language reads them (optimizer/scenario/pairs.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.scenario.expressions import parse
from optimizer.scenario.pairs import table_columns


def test_nullable_columns_read_with_their_gaps_as_none_or_nan():
    """pandas' NA makes every comparison an error ('boolean value of NA is ambiguous'): a gap in a
    text or yes/no column is None, in a nullable number column NaN, so expressions can compare them."""
    table = pd.DataFrame({
        "opt_in": pd.array([True, None, False], dtype="boolean"), "vip": pd.array([True, False, True], dtype="boolean"),
        "orders": pd.array([1, None, 3], dtype="Int64"), "segment": pd.array(["VIP", None, "New"], dtype="string"),
        "region": pd.Series(["North", None, np.nan], dtype=object),
    })
    columns = table_columns(table)
    assert columns["opt_in"].tolist() == [True, None, False] and columns["vip"].dtype == bool
    assert columns["orders"].dtype == np.float64 and np.isnan(columns["orders"][1])
    assert columns["segment"].tolist() == ["VIP", None, "New"] and columns["region"].tolist() == ["North", None, None]
    chosen = parse("opt_in == True or segment == 'New' or region == 'North' or orders > 2", where="test")
    assert chosen.evaluate(columns, 3).tolist() == [True, False, True]
    assert table["segment"].isna().tolist() == [False, True, False]  # the table stays as read

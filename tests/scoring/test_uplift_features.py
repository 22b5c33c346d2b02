"""optimizer/scoring/uplift_features.py: a column a model cannot use is named for what it is, with the
file it came from."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.scoring.uplift_features import categories_of, check_feature, feature_frame
from optimizer.store.tables import read_table

DAYS = pd.Series(pd.date_range("2024-01-01", periods=300, freq="D")).astype("datetime64[ns]")


@pytest.mark.parametrize(("column", "said"), [
    (DAYS, "is a date-time column (datetime64[ns]) with 300 distinct values"),
    (DAYS.dt.strftime("%Y-%m-%d"), "is dates written as text (e.g. '2024-01-01') with 300 distinct values"),
    (DAYS.dt.strftime("id%j%Y"), "has 300 distinct text values"),
])
def test_too_many_levels_are_named_as_dates_or_text_of_their_file(column, said):
    with pytest.raises(DataError) as error:
        check_feature(column, "signup", "crm.parquet")
    assert str(error.value).startswith(f"The feature 'signup' {said}, more than the 255 a model can use (crm.parquet)")
    fix = "Turn it into a number" if "date" in said else "Leave it out of the features"
    assert fix in str(error.value)


def test_a_column_without_values_is_refused_and_few_dates_are_categories():
    with pytest.raises(DataError, match=r"'fax' has no value in any of its 3 rows \(crm.csv\)"):
        check_feature(pd.Series([None, None, None], dtype=object), "fax", "crm.csv")
    months = pd.DataFrame({"month": DAYS.dt.to_period("M").astype(str), "x": 1.0})
    check_feature(months["month"], "month", "crm.csv")
    assert categories_of(months, ("month", "x")) == {"month": [f"2024-{m:02d}" for m in range(1, 11)]}


def test_text_in_a_numeric_feature_of_the_scored_table_names_its_file_and_line(tmp_path):
    pd.DataFrame({"customer_id": ["a", "b", "c"], "recency": ["3", "ten", "5"]}).to_csv(tmp_path / "june.csv",
                                                                                        index=False)
    customers = read_table(tmp_path / "june.csv", what="customers", text_columns=("recency",))
    with pytest.raises(DataError) as error:
        feature_frame(customers, ("recency",), {})
    assert str(error.value) == (f"The feature 'recency' was numeric in the history but is 'ten' (1 such row(s)) "
                                f"({tmp_path / 'june.csv'}, line 3). Write 'recency' as numbers in the table that is "
                                "scored, as in the history.")

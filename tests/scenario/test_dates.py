"""optimizer/scenario/dates.py: date columns in expressions, compared by day with 'YYYY-MM-DD', a
missing date false in every comparison, days_since() to the run date, and the errors for the rest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import ExpressionError, ScenarioError, ScenarioInvalid
from optimizer.scenario.data import load_data
from optimizer.scenario.expressions import parse
from optimizer.scenario.formulation import formulate
from optimizer.scenario.pairs import TableColumns
from optimizer.scenario.schema import load_scenario

WHERE = "offers.yaml, campaigns[0].eligible"
RUN = dt.date(2026, 10, 20)


@pytest.fixture
def customers(tmp_path: Path) -> pd.DataFrame:
    """Four customers as a parquet file gives them: dates (date32), timestamps with a time of day,
    UTC timestamps, and days as text, each with a gap, read back by pandas."""
    day = dt.date
    table = pa.table({
        "customer_id": ["c1", "c2", "c3", "c4"],
        "signup": pa.array([day(2025, 1, 1), day(2026, 10, 1), None, day(2026, 10, 2)], pa.date32()),
        "last_purchase": pa.array([dt.datetime(2026, 9, 30, 23, 59), dt.datetime(2026, 10, 1, 8, 0), None,
                                   dt.datetime(2026, 10, 1, 0, 0)], pa.timestamp("us")),
        "seen_utc": pa.array([dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC), None, None, None],
                             pa.timestamp("us", tz="UTC")),
        "visit": ["2026-09-30", "2026-10-01", None, "2026-10-01T17:45:00"],
        "ltv": [1.0, 2.0, 3.0, 4.0],
        "segment": ["VIP", None, "New", "VIP"],
    })
    pq.write_table(table, tmp_path / "customers.parquet")
    return pd.read_parquet(tmp_path / "customers.parquet")


def holds(text: str, table: pd.DataFrame, run_date: dt.date | None = RUN) -> list[bool]:
    return parse(text, where=WHERE).evaluate(TableColumns(table), len(table), run_date).tolist()


def error_of(text: str, table: pd.DataFrame, run_date: dt.date | None = RUN) -> str:
    with pytest.raises(ExpressionError) as caught:
        parse(text, where=WHERE).evaluate(TableColumns(table), len(table), run_date)
    return str(caught.value)


def test_date_timestamp_and_day_text_columns_are_read_as_days_and_other_columns_are_not(customers):
    columns = TableColumns(customers)
    for name in ("signup", "last_purchase", "seen_utc", "visit"):
        assert columns[name].dtype == np.dtype("datetime64[D]"), name
    assert columns["last_purchase"].astype(str).tolist() == ["2026-09-30", "2026-10-01", "NaT", "2026-10-01"]
    assert columns["visit"].astype(str).tolist() == ["2026-09-30", "2026-10-01", "NaT", "2026-10-01"]
    assert columns["segment"].tolist() == ["VIP", None, "New", "VIP"] and columns["ltv"].dtype == np.float64
    mixed = pd.DataFrame({"code": ["2026-10-01", "n/a"], "when": ["2026-02-30", "2026-10-01"]})
    assert TableColumns(mixed)["code"].dtype == object and TableColumns(mixed)["when"].dtype == object


@pytest.mark.parametrize(("text", "expected"), [
    ("signup < '2026-10-01'", [True, False, False, False]),
    ("signup <= '2026-10-01'", [True, True, False, False]),
    ("signup > '2026-10-01'", [False, False, False, True]),
    ("signup >= '2026-10-01'", [False, True, False, True]),
    ("signup == '2026-10-01'", [False, True, False, False]),
    ("signup != '2026-10-01'", [True, False, False, True]),  # the missing date: false, as SQL's NULL
    ("not (signup >= '2026-10-01')", [True, False, True, False]),  # how to keep the missing ones
    ("signup in ['2025-01-01', '2026-10-02']", [True, False, False, True]),
    ("'2026-10-01' <= signup", [False, True, False, True]),
    ("last_purchase <= '2026-10-01'", [True, True, False, True]),  # the whole of 1 October
    ("last_purchase == '2026-10-01'", [False, True, False, True]),
    ("seen_utc == '2026-10-01'", [True, False, False, False]),
    ("visit < '2026-10-01' or visit > '2026-10-01'", [True, False, False, False]),
    ("visit != '2026-09-30'", [False, True, False, True]),
    ("visit == last_purchase", [True, True, False, True]),
    ("signup > last_purchase and ltv > 1", [False, False, False, True]),
])
def test_dates_compare_by_day_and_a_missing_date_is_false(customers, text, expected):
    assert holds(text, customers) == expected


def test_text_days_with_gaps_compare_as_dates_when_given_as_they_are():
    """Text passed without TableColumns (None gaps): '<' raised numpy's None-vs-str TypeError."""
    columns = {"visit": np.array(["2026-09-30", None, "2026-10-02"], dtype=object)}
    assert parse("visit < '2026-10-01'", WHERE).evaluate(columns, 3).tolist() == [True, False, False]
    assert parse("visit >= '2026-10-01'", WHERE).evaluate(columns, 3).tolist() == [False, False, True]


def test_days_since_counts_to_the_run_date_and_is_nan_for_a_missing_date(customers):
    values = parse("days_since(last_purchase)", WHERE).evaluate(TableColumns(customers), 4, RUN)
    np.testing.assert_array_equal(values, [20.0, 19.0, np.nan, 19.0])
    assert holds("days_since(visit) >= 20", customers) == [True, False, False, False]
    assert holds("days_since(signup) > 30", customers, dt.date(2026, 11, 1)) == [True, True, False, False]
    assert "there is no run date here" in error_of("days_since(signup) > 3", customers, run_date=None)


@pytest.mark.parametrize(("text", "message", "fix"), [
    ("signup < '2026-13-01'", "compares 'signup' (dates) with '2026-13-01', which is not a day written YYYY-MM-DD",
     "Write the day as 'YYYY-MM-DD', a day of the calendar, e.g. '2026-10-01'"),
    ("signup == '2026-02-30'", "with '2026-02-30', which is not a day", "a day of the calendar"),
    ("signup >= '01/10/2026'", "with '01/10/2026', which is not a day", "Write the day as 'YYYY-MM-DD'"),
    ("last_purchase < '2026-10-01 10:00'", "with '2026-10-01 10:00', which is not a day", "compared by day"),
    ("visit < '2026-13-01'", "compares 'visit' (dates) with '2026-13-01', which is not a day", "YYYY-MM-DD"),
    ("signup < 30", "compares 'signup' (dates) with '30', which holds numbers, not dates",
     "e.g. \"signup < '2026-10-01'\", or count the days since it, e.g. \"days_since(signup) > 90\""),
    ("segment < signup", "compares 'signup' (dates) with 'segment', which holds 'VIP', not a day",
     "Write every date in the column as YYYY-MM-DD"),
    ("last_purchase - signup > 3", "applies '-' to 'last_purchase', which holds dates, not numbers",
     "Dates are not numbers: compare them with a day, e.g. \"last_purchase < '2026-10-01'\", or count days with "
     "days_since(last_purchase)"),
    ("min(signup, 3) > 1", "applies 'min(...)' to 'signup', which holds dates, not numbers", "days_since(signup)"),
    ("signup and ltv > 1", "applies 'and' to 'signup', which holds dates, not true/false",
     "e.g. \"signup < '2026-10-01'\""),
    ("days_since(ltv) > 3", "applies days_since() to 'ltv', which holds numbers, not dates",
     "Give days_since() a column of dates"),
    ("days_since(signup, 3) > 3", "calls days_since() with 2 argument(s)", "Give days_since() 1 argument"),
])
def test_what_makes_no_sense_with_dates_is_named_with_its_fix(customers, text, message, fix):
    error = error_of(text, customers)
    assert message in error and fix in error and f"({WHERE})" in error, error


def scenario_file(folder: Path, **campaign: object) -> Path:
    """Four customers with a last purchase date (one missing) and one campaign with the keys ``campaign``."""
    pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "ltv": [10.0, 20.0, 30.0, 40.0],
                  "last_purchase": pd.to_datetime(["2026-06-01", "2026-09-25", None, "2026-10-10"])}
                 ).to_parquet(folder / "customers.parquet")
    path = folder / "offers.yaml"
    path.write_text(yaml.safe_dump({
        "name": "dates", "customers": "customers.parquet", "contact_policy": {"history": "history.duckdb"},
        "campaigns": [{"id": "winback", "channel": "email", "p_treat": 0.2, "p_control": 0.1,
                       "value_per_response": "ltv", **campaign}]}), encoding="utf-8")
    return path


def test_a_scenario_selects_by_date_on_its_run_date(tmp_path):
    path = scenario_file(tmp_path, eligible="days_since(last_purchase) > 30 or last_purchase >= '2026-10-10'")
    eligible = formulate(load_data(load_scenario(path), RUN)).problem.eligible[:, 0]
    assert eligible.tolist() == [True, False, False, True]
    later = formulate(load_data(load_scenario(path), dt.date(2026, 11, 30))).problem.eligible[:, 0]
    assert later.tolist() == [True, True, False, True]


@pytest.mark.parametrize(("keys", "message"), [
    ({"value_per_response": "last_purchase"}, "'campaigns[0].value_per_response' must be a number for each "
     "customer, but 'last_purchase' gives dates"),
    ({"eligible": "last_purchase"}, "'campaigns[0].eligible' must be true or false for each customer (a "
     "condition), but 'last_purchase' gives dates"),
])
def test_a_key_that_gives_dates_says_so(tmp_path, keys, message):
    path = scenario_file(tmp_path, **keys)
    with pytest.raises(ScenarioError) as caught:
        formulate(load_data(load_scenario(path), RUN))
    assert message in str(caught.value) and f"({path}, campaigns[0]." in str(caught.value)
    assert not isinstance(caught.value, ScenarioInvalid)


def test_cvo_validate_counts_on_its_date_and_names_a_bad_day_with_exit_code_2(tmp_path):
    path = scenario_file(tmp_path, eligible="days_since(last_purchase) > 30")
    runner = CliRunner(env={"COLUMNS": "300"})
    counted = [runner.invoke(app, ["validate", str(path), "--date", day]) for day in ("2026-10-20", "2026-11-30")]
    assert [result.exit_code for result in counted] == [0, 0], counted[0].output
    assert "1 eligible pairs" in counted[0].output and "3 eligible pairs" in counted[1].output
    bad = runner.invoke(app, ["validate", str(path), "--set", "campaigns.winback.eligible=last_purchase < '2026-9-1'"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "compares 'last_purchase' (dates) with '2026-9-1', which is not a day written YYYY-MM-DD" in bad.output
    assert "with --set campaigns.winback.eligible=last_purchase < '2026-9-1'). Write the day as 'YYYY-MM-DD'" in \
        " ".join(bad.output.split())


def test_placeholder_days_far_from_today_compare_and_a_day_off_the_calendar_is_named():
    """'9999-12-31' (valid until further notice) and '0001-01-01' are days: in pandas' nanoseconds
    (1677-2262) they were gaps under pandas 2, and the column then refused as not holding days."""
    table = pd.DataFrame({"valid_until": ["9999-12-31", "2026-09-30", None, "0001-01-01", "2024-02-29"]})
    assert holds("valid_until >= '2026-10-01'", table) == [True, False, False, False, False]
    bad = pd.DataFrame({"valid_until": ["9999-12-31", "2026-02-30"]})
    assert "2026-02-30" in error_of("valid_until >= '2026-10-01'", bad)


def test_a_missing_date_is_not_out_of_a_list_either(customers):
    """'not in' held for a missing date (True) where '!=' did not: both are false for it now."""
    assert holds("visit not in ['2026-10-01']", customers) == [True, False, False, False]
    assert holds("visit != '2026-10-01'", customers) == [True, False, False, False]


def test_days_beside_text_in_an_if_are_text():
    """'visit if ok else 'x'' (a breakdown level, say) failed with numpy's DType promotion error."""
    table = pd.DataFrame({"visit": ["2026-10-01", None, "2026-09-30"], "ok": [True, True, False]})
    values = parse("visit if ok else 'none'", where=WHERE).evaluate(TableColumns(table), 3, RUN).tolist()
    assert values == ["2026-10-01", None, "none"]


def test_a_date_column_without_any_date_is_false_under_equality_too():
    """A date column with no value at all skipped the date comparison: '!=' held for every customer."""
    table = pd.DataFrame({"signup": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]")})
    assert holds("signup != '2026-10-01'", table) == [False, False]
    assert holds("signup == '2026-10-01'", table) == [False, False]

"""optimizer/scoring/log_dates.py: a bad date is named for what is wrong with it, and the fix is
one that works (a day that is not in the calendar is not a format problem; a format the user gave
is not suggested back to them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.scoring.log_dates import parse_days


def days(dates: list[str], date_format: str | None = None) -> list[str]:
    parsed = parse_days(pd.Series(dates), np.ones(len(dates), dtype=bool), date_format, lambda i: f"line {i + 2}")
    return [str(day)[:10] for day in parsed]


def error_of(dates: list[str], date_format: str | None = None) -> DataError:
    with pytest.raises(DataError) as caught:
        days(dates, date_format)
    return caught.value


@pytest.mark.parametrize(("dates", "date_format", "reason"), [
    (["1997-01-05", "1997-02-31"], None, "day is out of range for month"),
    (["1997-01-05", "1997-13-01"], None, "month must be in 1..12"),
    (["19970105", "19970231"], None, "day is out of range for month"),
    (["19970105", "19971301"], None, "a field is out of range"),
    (["05/01/1997", "31/02/1997"], "%d/%m/%Y", "day is out of range for month"),
    (["05/01/1997", "32/01/1997"], "%d/%m/%Y", "a field is out of range"),
    (["1997-01-05", "1997-13-01"], "%Y-%m-%d", "a field is out of range"),
])
def test_a_day_not_in_the_calendar_is_named_as_such(dates, date_format, reason):
    """32/01/1997 read with %d/%m/%Y was said not to match the format, with a hint to leave it out."""
    error = error_of(dates, date_format)
    assert error.message.startswith(f"The date '{dates[1]}' is not a day of the calendar ({reason}; 1 bad date")
    assert error.where == "line 3" and error.fix == "Correct the date, or remove the line"


@pytest.mark.parametrize("date_format", [None, "%Y-%m-%d"])
def test_a_line_without_a_date_is_said_to_have_none(date_format):
    """It was shown as '<NA>' and, with a format given, said not to match it."""
    for dates in (pd.Series(["1997-01-05", None]), pd.Series(["1997-01-05", " "]),
                  pd.Series(pd.to_datetime(["1997-01-05", None]))):
        with pytest.raises(DataError) as caught:
            parse_days(dates, np.ones(2, dtype=bool), date_format, lambda i: f"line {i + 2}")
        assert caught.value.problem == "A line has no date (1 bad date(s) in all)" and caught.value.where == "line 3"


def test_many_dates_out_of_range_of_the_format_given_are_told_the_format_their_fields_allow():
    """A day-first log read with a month-first --date-format: 229 of 400 lines failed and the advice
    was to correct each date; reading without the option worked the day-first format out."""
    error = error_of(["05/01/2011 10:00", "13/01/2011 10:00", "28/02/2011 09:30"], "%m/%d/%Y %H:%M")
    assert error.message.startswith("The date '13/01/2011 10:00' is not a day of the calendar")
    assert error.fix.startswith("If the format '%m/%d/%Y %H:%M' is not the dates' own, give theirs: the first field "
                                "goes up to 28, the second to 2, so the day comes first: '%d/%m/%Y %H:%M'")


def test_dates_that_do_not_match_the_format_given_are_not_told_to_give_it():
    error = error_of(["1997-01-05", "1997-01-06"], "%d/%m/%Y")
    assert error.message.startswith("The date '1997-01-05' does not match the format '%d/%m/%Y' the dates are read "
                                    "with (2 such date(s))")
    assert "--date-format '%d/%m/%Y'" not in error.fix and "leave out --date-format" in error.fix


def test_the_same_days_whichever_way_they_are_written():
    assert days(["1997-01-05", "1997-01-06T10:00:00+02:00"]) == days(["19970105", "19970106"]) == \
        days(["05/01/1997 00:01", "06/01/1997 23:59"], "%d/%m/%Y %H:%M") == ["1997-01-05", "1997-01-06"]


def test_an_excel_day_number_is_said_to_be_one():
    """40847 was called 'a placeholder for a missing date'; it is Excel's day number for 2011-10-31."""
    error = error_of(["40847", "40848"])
    assert error.message.startswith("The date '40847' is a number, not a date (2 such row(s)): Excel's day number "
                                    "for 2011-10-31?")
    assert "Export the dates as text" in error.fix

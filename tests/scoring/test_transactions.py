"""optimizer/scoring/transactions.py: logs as users have them, read into orders by options alone:
column roles and a computed amount, line items grouped by order id, cancellations and rows without
a customer dropped and counted, float ids, and dates that are never guessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError, ExpressionError, ScenarioError
from optimizer.scoring.transactions import (
    CDNOW_COLUMNS,
    LogReading,
    clean_log,
    clean_transactions,
    read_log,
    read_transactions,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SCENARIO, DATA_ERROR = 2, 3
RETAIL = {"customer_id": "CustomerID", "date": "InvoiceDate", "amount": "Quantity * UnitPrice",
          "order_id": "InvoiceNo"}


def small_log() -> pd.DataFrame:
    """a: two orders on 1 Jan and one on 15 Jan; b: one order on 10 Jan; c: first order after the cut-off."""
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c", "a"],
        "date": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-10", "2024-02-10", "2024-02-20"],
        "amount": [10.0, 5.0, 20.0, 7.0, 3.0, 99.0],
    })


def error_from(call, *args, **kwargs):
    with pytest.raises((DataError, ScenarioError)) as info:
        call(*args, **kwargs)
    return info.value


def retail_export() -> pd.DataFrame:
    """A shop's export as it comes: one row per line item; invoice 536365 has three lines; 'C536379'
    cancels a line of 536370 (negative quantity); a line with no customer (the id column is float
    with gaps, as pandas writes it); dates month first with a time of day; the same stock item twice."""
    return pd.DataFrame({
        "InvoiceNo": ["536365", "536365", "536365", "536370", "536370", "C536379", "536381", "536390", "536401"],
        "StockCode": ["85123A", "71053", "84406B", "22728", "22727", "22728", "22086", "20725", "22086"],
        "Quantity": [6, 6, 8, 24, 24, -24, 2, 10, 1],
        "UnitPrice": [2.55, 3.39, 2.75, 3.75, 3.75, 3.75, 2.55, 1.65, 2.95],
        "InvoiceDate": ["12/1/2010 8:26", "12/1/2010 8:26", "12/1/2010 8:26", "12/1/2010 8:45", "12/1/2010 8:45",
                        "12/1/2010 9:41", "12/1/2010 9:57", "12/13/2010 10:19", "12/13/2010 11:21"],
        "CustomerID": [17850.0, 17850.0, 17850.0, 12583.0, 12583.0, 12583.0, np.nan, 17850.0, 12583.0],
    })


def test_a_retail_export_is_read_into_orders_by_options_alone(tmp_path):
    path = tmp_path / "online_retail.csv"
    retail_export().to_csv(path, index=False)  # the ids come out as '17850.0', and blank where missing
    read = read_log(path, columns=RETAIL, date_format="%m/%d/%Y %H:%M")
    orders = read.orders.sort_values(["customer_id", "date"]).reset_index(drop=True)
    assert orders["customer_id"].tolist() == ["12583", "12583", "17850", "17850"]
    assert orders["amount"].tolist() == pytest.approx([24 * 3.75, 2.95, 6 * 2.55 + 6 * 3.39 + 8 * 2.75, 16.5])
    assert orders["date"].tolist() == [pd.Timestamp("2010-12-01"), pd.Timestamp("2010-12-13")] * 2
    assert read.reading == LogReading(lines=9, without_customer=1, cancellations=1, orders=4, customers=2,
                                      grouped=True)
    assert read.reading.sentence() == ("9 lines: 1 without a customer id dropped; 1 cancellation or return netted "
                                       "against the purchases before it; 7 lines became 4 orders of 2 customers "
                                       "(grouped by order id).")


def test_a_european_excel_export_reads_as_the_same_orders(tmp_path):
    """';' between fields, decimal commas (prices 2,55 and ids 17850,0) and day-first dates: the
    same orders as the comma export. The ids came out as '17850,0'."""
    export = retail_export()
    export["InvoiceDate"] = pd.to_datetime(export["InvoiceDate"], format="%m/%d/%Y %H:%M").dt.strftime("%d.%m.%Y %H:%M")
    export.to_csv(tmp_path / "retail.csv", sep=";", decimal=",", index=False)
    retail_export().to_csv(tmp_path / "online_retail.csv", index=False)
    european = read_log(tmp_path / "retail.csv", columns=RETAIL, date_format="%d.%m.%Y %H:%M")
    plain = read_log(tmp_path / "online_retail.csv", columns=RETAIL, date_format="%m/%d/%Y %H:%M")
    pd.testing.assert_frame_equal(european.orders, plain.orders)
    assert european.reading == plain.reading


def test_month_first_dates_are_never_guessed_but_the_error_says_which_format(tmp_path):
    path = tmp_path / "online_retail.csv"
    retail_export().to_csv(path, index=False)
    error = error_from(read_log, path, columns=RETAIL)
    assert error.exit_code == DATA_ERROR and f"{path}, line 2" in error.message
    assert "'12/1/2010 8:26' is not ISO 8601" in error.message
    assert "the first field goes up to 12, the second to 13, so the month comes first: '%m/%d/%Y %H:%M'" \
        in error.message


def test_dates_either_way_round_are_ambiguous():
    log = small_log().assign(date=["06/07/2011"] * 6)
    error = error_from(clean_log, log)
    assert "'%d/%m/%Y' (day first) and '%m/%d/%Y' (month first)" in error.message and "row 0" in error.message
    day_first = clean_log(log, date_format="%d/%m/%Y").orders
    assert (day_first["date"] == pd.Timestamp("2011-07-06")).all()


def test_an_amount_expression_that_names_no_column_says_so():
    with pytest.raises(ExpressionError, match="names an unknown column 'Quantty'"):
        clean_log(retail_export(), columns={**RETAIL, "amount": "Quantty * UnitPrice"}, date_format="%m/%d/%Y %H:%M")


def test_order_ids_that_merely_start_with_c_are_not_cancellations():
    log = small_log().assign(order=["CA1", "CA1", "CB2", "CC3", "CD4", "CE5"])
    read = clean_log(log, columns={"order_id": "order"})
    assert read.reading.cancellations == 0 and read.reading.orders == 5


def test_float_ids_lose_their_point_zero_and_text_ids_keep_their_zeros(tmp_path):
    floats = small_log().assign(customer_id=[12346.0, 12346.0, 12346.0, 7.0, np.nan, 12346.0])
    floats.to_parquet(tmp_path / "log.parquet")
    read = read_log(tmp_path / "log.parquet")
    assert set(read.orders["customer_id"]) == {"12346", "7"} and read.reading.without_customer == 1
    padded = small_log().assign(customer_id=["007", "007", "007", "010", "011", "007"])
    padded.to_csv(tmp_path / "log.csv", index=False)
    assert set(read_transactions(tmp_path / "log.csv")["customer_id"]) == {"007", "010", "011"}


def test_a_mapping_of_an_unknown_role_suggests_the_right_one():
    mapping = error_from(clean_transactions, small_log(), columns={"ammount": "value"})
    assert mapping.exit_code == SCENARIO and "Did you mean 'amount'?" in mapping.message
    order = error_from(clean_transactions, small_log(), columns={"order": "value"})
    assert "Did you mean 'order_id'?" in order.message


def test_a_log_of_nothing_but_returns_is_refused():
    error = error_from(clean_log, small_log().assign(amount=-1.0))
    assert error.exit_code == DATA_ERROR and "No order is left" in error.message


def test_the_cdnow_sample_is_one_order_per_line():
    """Its 21 lines equal to an earlier one (0.3 %) are two equal purchases on one day, which are
    real: kept and said, with no warning."""
    read = read_log(DATA / "cdnow" / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)
    assert read.reading.sentence() == ("6,919 lines: 6,919 orders of 2,357 customers, one per line (no order_id "
                                       "column mapped; map one when lines are items of orders). 21 lines repeat "
                                       "an earlier line exactly (kept).")
    assert read.reading.warnings == []


def test_column_mapping_and_date_formats():
    log = pd.DataFrame({"cust": ["x", "x"], "when": ["05/01/2024", "20/01/2024"], "value": ["1.5", "2"]})
    clean = clean_transactions(log, columns={"customer_id": "cust", "date": "when", "amount": "value"},
                               date_format="%d/%m/%Y")
    assert list(clean.columns) == ["customer_id", "date", "amount"]
    assert list(clean["date"]) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-20")]
    assert list(clean["amount"]) == [1.5, 2.0]
    yyyymmdd = pd.DataFrame({"customer_id": [7, 7], "date": [19970101, 19970118], "amount": [1, 2]})
    clean = clean_transactions(yyyymmdd)
    assert list(clean["customer_id"]) == ["7", "7"] and clean["date"].iat[1] == pd.Timestamp("1997-01-18")


def test_cdnow_logs_read_as_published():
    sample = read_transactions(DATA / "cdnow" / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)
    master = read_transactions(DATA / "cdnow" / "CDNOW_master.txt", columns=CDNOW_COLUMNS)
    assert (len(sample), sample["customer_id"].nunique()) == (6919, 2357)
    assert (len(master), master["customer_id"].nunique()) == (69659, 23570)
    assert sample["date"].min() == pd.Timestamp("1997-01-01") and master["date"].max() == pd.Timestamp("1998-06-30")


def test_missing_column_suggests_the_close_name():
    log = small_log().rename(columns={"amount": "amout"})
    error = error_from(clean_transactions, log)
    assert error.exit_code == DATA_ERROR
    assert "no column 'amount'" in error.message and "Did you mean 'amout'?" in error.message
    assert "--column amount=<the log's column>" in error.message


def test_the_fix_for_a_missing_column_maps_that_column_not_the_amount():
    """A log without a customer id column is told to map customer_id (it used to say amount=dollar_value)."""
    error = error_from(clean_transactions, small_log().rename(columns={"customer_id": "member"}))
    assert "no column 'customer_id'" in error.message
    assert "--column customer_id=<the log's column>" in error.message and "amount=" not in error.message


def test_unparseable_date_names_the_row_and_value():
    log = small_log()
    log.loc[3, "date"] = "2024-13-45"
    error = error_from(clean_transactions, log)
    assert error.exit_code == DATA_ERROR
    assert "'2024-13-45' is not a day of the calendar (month must be in 1..12" in error.message
    assert "row 3" in error.message


def test_bad_date_in_a_csv_names_the_file_line(tmp_path):
    log = small_log()
    log.loc[2, "date"] = "soon"
    path = tmp_path / "orders.csv"
    log.to_csv(path, index=False)
    error = error_from(read_transactions, path)
    assert "'soon'" in error.message and f"{path}, line 4" in error.message  # header is line 1


def test_a_negative_amount_is_a_return_netted_against_the_purchases_before_it():
    """A return takes back its customer's latest purchases on or before its day; one with nothing
    before it (c's first line) is dropped and counted; an order taken back in full is no order."""
    log = small_log()
    log.loc[4, "amount"] = -3.0
    read = clean_log(log)
    assert read.reading.cancellations == 1 and len(read.orders) == 5 and "c" not in set(read.orders["customer_id"])
    assert read.reading.sentence().startswith("6 lines: 1 cancellation or return netted against the purchases before "
                                              "it (1 return found less to take back, the rest dropped); 5 orders of 2 "
                                              "customers")
    returns = pd.DataFrame({"customer_id": ["a", "a", "b"], "date": ["2024-01-15", "2024-01-16", "2024-01-09"],
                            "amount": [-22.0, -1.0, -7.0]})
    netted = clean_log(pd.concat([small_log(), returns], ignore_index=True))
    assert netted.orders["amount"].tolist() == pytest.approx([10.0, 2.0, 7.0, 3.0, 99.0])  # 20 + 2 of 5, then 1
    assert (netted.reading.taken_back, netted.reading.unmatched) == (1, 1)  # b's return is before b's order
    assert "1 return found less to take back, the rest dropped" in netted.reading.sentence()
    gone = clean_log(pd.concat([small_log(), returns.iloc[[0]].assign(amount=-35.0)], ignore_index=True))
    assert gone.orders["amount"].tolist() == pytest.approx([7.0, 3.0, 99.0]) and gone.reading.taken_back == 3


def test_amount_that_is_not_a_number():
    log = small_log().astype({"amount": object})
    log.loc[1, "amount"] = "ten"
    error = error_from(clean_transactions, log)
    assert "'ten' is not a number" in error.message and "row 1" in error.message


def test_a_line_without_a_customer_id_is_dropped_and_counted():
    log = small_log()
    log.loc[2, "customer_id"] = None
    log.loc[3, "customer_id"] = "  "
    read = clean_log(log)
    assert read.reading.without_customer == 2 and len(read.orders) == 4


def test_empty_log():
    error = error_from(clean_transactions, small_log().iloc[:0])
    assert error.exit_code == DATA_ERROR and "empty" in error.message


def test_whitespace_file_with_wrong_field_count(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("1 19970101 5.0 extra fields here\n")
    error = error_from(read_transactions, path)
    assert error.exit_code == DATA_ERROR and "6 fields" in error.message and "line 1" in error.message


def test_whitespace_file_with_a_ragged_line(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("00001 19970101 1 29.33\n00002 19970112 1 5 6 7 8\n")
    error = error_from(read_transactions, path)
    assert error.exit_code == DATA_ERROR
    assert f"The transactions file {path} could not be read: Expected 4 fields in line 2, saw 7" in error.message


@pytest.mark.parametrize(("name", "content"), [
    ("log.txt", b"00001 19970101 1 29.33\n00002 19970112 1 caf\xe9\n"),
    ("log.csv", b"customer_id,date,amount\n00001,1997-01-01,caf\xe9\n"),
])
def test_transactions_that_are_not_utf8_name_the_line_and_byte(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    error = error_from(read_transactions, path)
    assert error.exit_code == DATA_ERROR
    assert "The transactions file is not UTF-8 text" in error.message
    assert f"({path}, line 2, byte 21 (0xe9))" in error.message and "Save it as UTF-8" in error.message


def test_time_zone_offsets_are_dropped_the_shops_day_kept():
    """Offsets change with daylight saving inside one export: each date keeps the day its clock showed."""
    log = small_log().assign(date=["2011-01-01 00:30:00 +0100", "2011-01-01 23:30:00 -0500", "2011-03-27T10:00+02:00",
                                   "2011-03-26 10:00Z", "2011-03-28 09:00:00+0200", "2011-03-29"])
    days = clean_log(log).orders["date"].dt.strftime("%Y-%m-%d").tolist()
    assert days == ["2011-01-01", "2011-01-01", "2011-03-27", "2011-03-26", "2011-03-28", "2011-03-29"]


def test_lines_without_an_order_id_are_orders_of_their_own():
    log = small_log().assign(order=["5", None, None, "7", "8", None])
    read = clean_log(log, columns={"order_id": "order"})
    assert read.reading.orders == 6  # the two lines of 'a' without an order id are not one order


def test_a_line_without_customer_or_amount_is_dropped_not_refused():
    log = small_log().astype({"amount": object})
    log.loc[1, ["customer_id", "amount"]] = [None, "n/a"]
    assert clean_log(log).reading.without_customer == 1


def test_ids_written_both_ways_are_one_customer():
    log = small_log().assign(customer_id=["12346.0", "12346", "12346.0", "7", "8.0", "12346"])
    assert set(clean_log(log).orders["customer_id"]) == {"12346", "7", "8"}


@pytest.mark.parametrize("placeholder", ["0001-01-01", "9999-12-31", "1697-05-05"])
def test_a_placeholder_date_is_refused_not_wrapped_round_to_another_day(placeholder):
    """pandas reads 9999-12-31 as a day in 1816 and 1697 overflows: a year outside 1900-2200 is
    named with its row instead."""
    log = small_log()
    log.loc[3, "date"] = placeholder
    error = error_from(clean_transactions, log)
    assert error.exit_code == DATA_ERROR and "row 3" in error.message
    assert f"'{placeholder}' lies outside the years 1900-2200" in error.message


def test_lines_written_twice_are_counted_warned_of_and_dropped_on_request():
    """An export that wrote every line twice doubled each customer's spend, unsaid."""
    once = small_log()
    twice = pd.concat([once, once], ignore_index=True)
    kept = clean_log(twice)
    assert kept.reading.repeated == len(once) and not kept.reading.repeats_dropped
    assert kept.orders["amount"].sum() == 2 * once["amount"].sum()
    assert kept.reading.sentence().endswith("orders). 6 lines repeat an earlier line exactly (kept).")
    assert "6 of the 12 lines (50%) repeat an earlier line" in kept.reading.warnings[0]
    dropped = clean_log(twice, drop_duplicates=True)
    pd.testing.assert_frame_equal(dropped.orders, clean_log(once).orders)
    assert dropped.reading.sentence().startswith("12 lines: 6 repeats of an earlier line dropped; 6 orders")
    assert dropped.reading.warnings == [] and LogReading(0, 0, 0, 0, 0, False).warnings == []


def test_only_repeats_of_lines_that_are_kept_count_as_repeats():
    """Twenty equal lines without a customer, and twenty equal returns, were counted as repeats
    'kept' (and warned of) although every one of them was dropped."""
    log = small_log()
    blank = pd.DataFrame({"customer_id": [None] * 20, "date": ["2024-01-02"] * 20, "amount": [5.0] * 20})
    returns = pd.DataFrame({"customer_id": ["b"] * 20, "date": ["2024-01-03"] * 20, "amount": [-7.0] * 20})
    read = clean_log(pd.concat([log, blank, returns], ignore_index=True))
    assert (read.reading.repeated, read.reading.without_customer, read.reading.cancellations) == (0, 20, 20)
    assert read.reading.warnings == [] and "repeat" not in read.reading.sentence()
    pd.testing.assert_frame_equal(read.orders, clean_log(log).orders)
    one = clean_log(pd.concat([log, log.iloc[[0]], blank.iloc[:1], returns.iloc[:1]]), drop_duplicates=True)
    assert one.reading.sentence().startswith("9 lines: 1 repeat of an earlier line and 1 without a customer id "
                                             "dropped; 1 cancellation or return netted against the purchases before "
                                             "it (1 return found less to take back, the rest dropped); 6 orders")


def test_a_log_with_a_column_of_lists_is_read():
    """Finding repeats hashed every column: a parquet column of lists gave a TypeError traceback."""
    log = small_log().assign(tags=[["x"], ["x"], ["y"], ["x"], ["x"], ["x"]])
    read = clean_log(pd.concat([log, log.iloc[[2]]], ignore_index=True))
    assert read.reading.repeated == 1 and len(read.orders) == 7


def test_ids_apart_only_by_leading_zeros_are_warned_of():
    log = pd.DataFrame({"customer_id": ["4", "00004", "17", "017", "0", "000", "5"],
                        "date": ["2024-01-01"] * 7, "amount": [1.0] * 7})
    read = clean_log(log)
    assert read.orders["customer_id"].nunique() == 7  # as written: the warning says so, nothing is merged
    assert read.reading.padded_ids == 6 and read.reading.padded_example == ("4", "00004")
    assert "6 customer ids differ from another only by leading zeros ('4' and '00004')" in read.reading.warnings[0]
    assert clean_log(log.iloc[[0, 2, 6]]).reading.warnings == []


@pytest.mark.parametrize("paid", [[True, False, True, True, False, True], [True, False, None, True, False, True]])
def test_an_amount_of_true_and_false_is_refused_not_read_as_money(tmp_path, paid):
    """With a gap in it the column is of objects, and was read as 1/0 money."""
    log = small_log().assign(paid=paid)
    log.loc[2, "customer_id"] = None  # the gap, on a line that is dropped anyway
    log.to_parquet(tmp_path / "log.parquet")
    error = error_from(read_log, tmp_path / "log.parquet", columns={"amount": "paid"})
    assert error.message.startswith("The column 'paid' the amount is read from holds True/False, not money")
    assert error.where == str(tmp_path / "log.parquet")


def test_true_and_false_may_mask_an_amount_expression():
    log = small_log().assign(paid=[True, False, True, True, False, True])
    read = clean_log(log, columns={"amount": "amount * paid"})
    assert read.orders["amount"].tolist() == [10.0, 0.0, 20.0, 7.0, 0.0, 99.0]


def test_a_gzipped_log_is_read_like_the_plain_one(tmp_path):
    small_log().to_csv(tmp_path / "log.csv", index=False)
    small_log().to_csv(tmp_path / "log.csv.gz", index=False)
    pd.testing.assert_frame_equal(read_log(tmp_path / "log.csv.gz").orders, read_log(tmp_path / "log.csv").orders)


def test_a_cancelled_invoice_takes_back_the_order_of_its_amount_not_a_later_one():
    """UCI Online Retail's customer 12346 bought 74,215 jars and cancelled them 16 minutes later: it
    was kept as a 77,183.60 purchase. Here it buys a second order that day after the first; the 'C'
    invoice (its lines together) takes back the order of its amount, the later one stays whole."""
    log = pd.DataFrame({
        "InvoiceNo": ["541431", "541432", "541432", "C541433", "541500"],
        "Quantity": [74215, 2, 1, -74215, 3],
        "UnitPrice": [1.04, 2.5, 4.0, 1.04, 1.0],
        "InvoiceDate": ["01/18/2011 10:01", "01/18/2011 10:05", "01/18/2011 10:05", "01/18/2011 10:17",
                        "02/01/2011 09:00"],
        "CustomerID": [12346.0, 12346.0, 12346.0, 12346.0, 12347.0],
    })
    read = clean_log(log, columns=RETAIL, date_format="%m/%d/%Y %H:%M")
    assert read.orders["amount"].tolist() == pytest.approx([9.0, 3.0])
    assert (read.reading.cancellations, read.reading.taken_back, read.reading.unmatched) == (1, 1, 0)
    assert "1 cancellation or return netted against the purchases before it (1 order taken back in full)" \
        in read.reading.sentence()


def test_orders_whose_lines_lie_months_apart_are_warned_of():
    """order_id mapped to a stock code or country merged a customer's purchases of months into one
    order, dated by its first line, with no word."""
    log = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "order_id": ["UK", "UK", "FR", "UK"],
                        "date": ["2011-01-01", "2011-03-01", "2011-01-05", "2011-01-02"], "amount": [5.0, 7.0, 1, 2]})
    warned = clean_log(log, columns={"order_id": "order_id"})
    assert warned.reading.spread == (1, "UK", "2011-01-01", "2011-03-01")
    assert any(warning.startswith("1 orders have lines more than 31 days apart (order 'UK' runs from 2011-01-01 to "
                                  "2011-03-01") for warning in warned.reading.warnings)
    log.loc[1, "date"] = "2011-01-20"
    assert clean_log(log, columns={"order_id": "order_id"}).reading.spread is None


def test_an_amount_with_a_decimal_comma_is_told_so():
    """'2,5' in an expression's column was shown as 'a missing value (NaN) is not a number', with no
    word of the comma."""
    log = pd.DataFrame({"customer_id": ["12016.0", "12016.0"], "date": ["2011-01-01", "2011-02-01"],
                        "Quantity": [2, 1], "UnitPrice": ["2,5", "3,5"]})
    error = error_from(clean_log, log, columns={"amount": "Quantity * UnitPrice"})
    assert error.message.startswith("The amount 'Quantity * UnitPrice': '2,5' in it is not a number (2 such row(s))")
    assert "written with a decimal comma" in error.fix


def test_values_at_a_cut_off_net_only_the_returns_made_by_then():
    """Netting the whole log reached back from after a cut-off: a return in March erased a January
    purchase from the values at a February cut-off (and from a holdout check's calibration)."""
    log = pd.DataFrame({"customer_id": ["a", "a", "b"], "date": ["2024-01-05", "2024-03-01", "2024-01-07"],
                        "amount": [10.0, -10.0, 4.0]})
    read = clean_log(log)
    assert read.orders["customer_id"].tolist() == ["b"] and read.reading.taken_back == 1
    assert read.orders_until(pd.Timestamp("2024-02-15"))["amount"].tolist() == [10.0, 4.0]
    assert read.orders_until(pd.Timestamp("2024-03-01"))["customer_id"].tolist() == ["b"]


def test_a_return_takes_back_an_order_of_its_amount_only_within_a_month():
    """A 9.99 return took back a 9.99 order of years before, not the 50.00 order of the week."""
    log = pd.DataFrame({"customer_id": ["a", "a", "a"], "date": ["2022-01-05", "2024-03-01", "2024-03-08"],
                        "amount": [9.99, 50.0, -9.99]})
    assert clean_log(log).orders["amount"].tolist() == pytest.approx([9.99, 40.01])

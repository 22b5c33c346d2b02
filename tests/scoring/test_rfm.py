"""Tests of optimizer/scoring/rfm.py: reading a transaction log, customer features, RFM scores, segments, migration.

The hand-made log has ten customers c01..c10: customer k placed k orders on k distinct days, the last
one 10 − k days before the cut-off, each worth (11 − k) × 10. So R and F rise with k and M falls,
two customers per quintile: scores 1 for k = 1, 2; 2 for 3, 4; …; 5 for 9, 10.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError, ScenarioError
from optimizer.scoring.rfm import (
    NOT_YET_CUSTOMER,
    SEGMENTS,
    customer_features,
    quintile_score,
    rf_segment,
    rfm_scores,
    segment_migration,
    to_timestamp,
)
from optimizer.scoring.transactions import CDNOW_COLUMNS, read_transactions

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CUTOFF = pd.Timestamp("2024-03-31")
SCENARIO, DATA_ERROR = 2, 3


def ten_customers() -> pd.DataFrame:
    rows = []
    for k in range(1, 11):
        last = CUTOFF - pd.Timedelta(days=10 * (10 - k))
        for order in range(k):
            rows.append((f"c{k:02d}", last - pd.Timedelta(days=3 * order), (11 - k) * 10.0))
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def small_log() -> pd.DataFrame:
    """a: two orders on 1 Jan and one on 15 Jan; b: one order on 10 Jan; c: first order after the cut-off."""
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c", "a"],
        "date": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-10", "2024-02-10", "2024-02-20"],
        "amount": [10.0, 5.0, 20.0, 7.0, 3.0, 99.0],
    })


def test_features_count_orders_and_purchase_days_up_to_the_cutoff():
    features = customer_features(small_log(), "2024-01-29", time_unit="weeks")
    assert list(features.index) == ["a", "b"]
    a, b = features.loc["a"], features.loc["b"]
    assert (a["n_orders"], a["frequency"], a["total_spend"]) == (3, 1, 35.0)
    assert a["monetary"] == pytest.approx(35.0 / 3)
    assert a["repeat_monetary"] == 20.0  # the first day (10 + 5) is not a repeat purchase
    assert (a["recency_days"], a["tenure_days"]) == (14, 28)
    assert (a["t_x"], a["T"]) == (2.0, 4.0)
    assert (b["frequency"], b["t_x"], b["recency_days"]) == (0, 0.0, 19)
    assert np.isnan(b["repeat_monetary"])
    assert b["T"] == pytest.approx(19 / 7)
    assert features.attrs["time_unit"] == "weeks"


def test_features_in_days():
    features = customer_features(small_log(), "2024-01-29", time_unit="days")
    assert (features.loc["a", "t_x"], features.loc["a", "T"]) == (14.0, 28.0)


def test_quintile_scores_keep_ties_together():
    assert quintile_score(pd.Series(range(1, 11))).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_score(pd.Series(range(1, 11)), higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    tied = quintile_score(pd.Series([1] * 6 + [2, 2, 3, 4]))
    assert set(tied[:6]) == {1} and tied.tolist()[6:] == [4, 4, 5, 5]


def test_rf_grid_names_every_segment_once_per_region():
    grid = {(r, f): rf_segment(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert set(grid.values()) == set(SEGMENTS)
    assert (grid[5, 5], grid[5, 1], grid[4, 1], grid[3, 3], grid[1, 1]) == (
        "Champions", "New", "Promising", "Need Attention", "Lost")
    assert (grid[1, 5], grid[2, 3], grid[2, 2], grid[3, 1], grid[4, 4], grid[5, 2]) == (
        "Can't Lose Them", "At Risk", "Hibernating", "About to Sleep", "Loyal", "Potential Loyalist")


def test_rfm_scores_on_ten_customers():
    scored = rfm_scores(customer_features(ten_customers(), CUTOFF))
    expected = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scored["r_score"].tolist() == expected
    assert scored["f_score"].tolist() == expected
    assert scored["m_score"].tolist() == expected[::-1]
    assert scored["segment"].tolist() == ["Lost", "Lost", "Hibernating", "Hibernating", "Need Attention",
                                          "Need Attention", "Loyal", "Loyal", "Champions", "Champions"]
    assert scored.loc["c10", "rfm_cell"] == "5-5-1"
    assert scored.loc["c10", "micro_segment"] == "Champions / low value"
    assert scored.loc["c01", "micro_segment"] == "Lost / high value"


def test_migration_counts_and_shares():
    log = ten_customers()
    newcomer = pd.DataFrame({"customer_id": ["new"], "date": [CUTOFF + pd.Timedelta(days=5)], "amount": [1.0]})
    migration = segment_migration(pd.concat([log, newcomer]), CUTOFF, CUTOFF + pd.Timedelta(days=5))
    counts, shares = migration.counts, migration.shares
    assert counts.shape == (len(SEGMENTS) + 1, len(SEGMENTS)) == shares.shape
    assert list(counts.columns) == list(SEGMENTS) and counts.index[-1] == NOT_YET_CUSTOMER
    assert counts.to_numpy().sum() == 11 and counts.loc[NOT_YET_CUSTOMER].sum() == 1
    assert counts.loc["Champions"].sum() == 2 and counts.loc["Lost"].sum() == 2  # c09, c10 and c01, c02
    row_sums = shares.sum(axis=1)
    occupied = counts.sum(axis=1) > 0
    assert np.allclose(row_sums[occupied], 1.0) and np.allclose(row_sums[~occupied], 0.0)


def test_migration_cut_offs_outside_the_log_are_refused_as_cvo_score_refuses_them():
    log = ten_customers()
    last = log["date"].max()
    for start, end, option in ((last - pd.Timedelta(days=30), last + pd.Timedelta(days=1), "--to"),
                               (log["date"].min() - pd.Timedelta(days=1), last, "--from")):
        with pytest.raises(DataError, match=f"is (after the last|before the first) order.*\\(the transaction log, "
                                            f"{option}\\)"):
            segment_migration(log, start, end)
    with pytest.raises(DataError) as error:
        segment_migration(log, CUTOFF - pd.Timedelta(days=30), "2024-04-30", source="orders.csv",
                          dropped="2 cancellations or returns")
    assert str(error.value) == (
        "The cut-off 2024-04-30 is after the last order: the log runs from 2024-01-01 to 2024-03-31, once 2 "
        "cancellations or returns were not read as orders (orders.csv, --to). Choose a cut-off within the log; a "
        "cut-off after "
        "its end would make every customer look as if they had stopped buying.")


@pytest.mark.parametrize(("end", "said", "after_end"), [
    ("2024-02-15", "1 order after 2024-02-15 is not counted; the 1 customer who first bought between 2024-01-12 and "
     "2024-02-15 is the '(not yet a customer)' row", {"orders": 1, "customers": 0}),
    ("2024-02-05", "2 orders after 2024-02-05 are not counted, and the 1 customer whose first order is after it is "
     "left out", {"orders": 2, "customers": 1}),
    ("2024-02-20", "no order is after 2024-02-20; the 1 customer who first bought between 2024-01-12 and 2024-02-20 "
     "is the '(not yet a customer)' row", {"orders": 0, "customers": 0}),
])
def test_migration_says_what_its_cut_offs_leave_out(end, said, after_end):
    """small_log: a's order of 20 Feb, and c's of 10 Feb, fall after the end cut-off or not."""
    migration = segment_migration(small_log(), "2024-01-12", end)
    assert migration.cutoffs_sentence() == said and migration.to_dict()["after_end"] == after_end


def test_cdnow_segments_and_migration():
    sample = read_transactions(DATA / "cdnow" / "CDNOW_sample.txt", columns=CDNOW_COLUMNS)
    scored = rfm_scores(customer_features(sample, "1997-09-30"))
    assert set(scored["segment"]) <= set(SEGMENTS) and scored["r_score"].between(1, 5).all()
    migration = segment_migration(sample, "1997-09-30", "1998-06-30")
    assert migration.counts.to_numpy().sum() == 2357  # every customer had bought by the first cut-off
    assert migration.counts.loc[NOT_YET_CUSTOMER].sum() == 0


# ---- bad input: one case per failure mode, each naming the row and value, with its exit code ----

def error_from(call, *args, **kwargs):
    with pytest.raises((DataError, ScenarioError)) as info:
        call(*args, **kwargs)
    return info.value


def test_cutoff_before_the_first_order():
    error = error_from(customer_features, small_log(), "2023-12-31")
    assert error.exit_code == DATA_ERROR and "No order is on or before the cut-off 2023-12-31" in error.message


def test_bad_options_are_scenario_errors():
    assert "Did you mean 'weeks'?" in error_from(customer_features, small_log(), "2024-02-01", time_unit="week").message
    assert "'someday' is not a date" in error_from(customer_features, small_log(), "someday").message
    backwards = error_from(segment_migration, small_log(), "2024-02-01", "2024-01-20")
    assert backwards.exit_code == SCENARIO and "not after the start cut-off" in backwards.message


def test_cvo_segments_prints_and_writes_the_migration(tmp_path):
    """The CDNOW sample from 1997-09-30 to 1998-06-30: 2,357 customers, each row's shares summing to
    one; migration.json is what a plan's report shows."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    arguments = ["segments", "--transactions", str(DATA / "cdnow" / "CDNOW_sample.txt"), "--column",
                 "amount=dollar_value", "--from", "1997-09-30", "--to", "1998-06-30"]
    result = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "of 2,357 customers" in result.output and "Champions" in result.output
    assert result.output.startswith("Transactions: 6,919 lines: 6,919 orders of 2,357 customers, one per line")
    assert "\nCut-offs: no order is after 1998-06-30.\n" in result.output
    written = json.loads((tmp_path / "migration.json").read_text())
    assert (written["start"], written["end"]) == ("1997-09-30", "1998-06-30")
    assert sum(map(sum, written["counts"])) == 2357
    assert all(abs(sum(row) - 1) < 1e-5 for row, counts in zip(written["shares"], written["counts"]) if sum(counts))
    backwards = CliRunner().invoke(app, [*arguments[:-4], "--from", "1998-06-30", "--to", "1997-09-30"])
    assert backwards.exit_code == 2 and "is not after the start cut-off" in backwards.output


@pytest.mark.parametrize(("given", "day"), [("1997-09-30", "1997-09-30"), ("1997-09-30T23:00+05:00", "1997-09-30"),
                                            ("19970930", "1997-09-30"), (19970930, "1997-09-30")])
def test_a_date_option_is_the_day_written(given, day):
    """A time and a time-zone offset are dropped, as for the log's dates (an aware cut-off used to
    fail comparing with the naive log: TypeError)."""
    assert to_timestamp(given, "cut-off") == pd.Timestamp(day)


def test_a_date_option_that_is_not_iso_is_never_guessed():
    with pytest.raises(ScenarioError, match="'03/04/1997' is not a date written YYYY-MM-DD \\(one like 03/04/1997 is never guessed"):
        to_timestamp("03/04/1997", "cut-off")


def test_cvo_segments_says_what_the_log_and_its_cut_offs_drop_and_refuses_one_past_its_end(tmp_path):
    """A line without a customer and a return are dropped; an order after --to is not counted; a
    customer who first bought between the cut-offs is a newcomer: each said with its count, beside
    the JSON with --json, and a --to past the log refused as cvo score refuses it, with the file."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    log = small_log()
    log.loc[len(log)] = [None, "2024-01-05", 3.0]
    log.loc[len(log)] = ["b", "2024-01-20", -7.0]
    log.to_csv(tmp_path / "orders.csv", index=False)
    arguments = ["segments", "--transactions", str(tmp_path / "orders.csv"), "--from", "2024-01-12"]
    result = CliRunner().invoke(app, [*arguments, "--to", "2024-02-15", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Transactions: 8 lines: 1 without a customer id dropped; 1 cancellation or return netted against the "
        "purchases before it (1 order taken back in full); 5 orders of 2 customers, one per line (no order_id "
        "column mapped; map one when lines are items of orders).",
        "Cut-offs: 1 order after 2024-02-15 is not counted; the 1 customer who first bought between 2024-01-12 "
        "and 2024-02-15 is the '(not yet a customer)' row."]
    assert json.loads(result.stdout)["after_end"] == {"orders": 1, "customers": 0}
    past = CliRunner().invoke(app, [*arguments, "--to", "2024-03-01"])
    assert past.exit_code == DATA_ERROR
    assert (f"error: The cut-off 2024-03-01 is after the last order: the log runs from 2024-01-01 to 2024-02-20, "
            f"once 1 without a customer id and 1 cancellation or return, which took back 1 order in full, were not "
            f"read as orders "
            f"({tmp_path / 'orders.csv'}, "
            "--to)") in " ".join(past.output.split())

"""optimizer/scoring/workflow.py through `cvo score`: customer values from a log, scores from a history."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import DataError, RunFolderError
from optimizer.scenario.data import load_scores
from optimizer.scoring import clv
from optimizer.scoring.workflow import write_scores
from optimizer.store.file_sets import set_record, write_in_set
from optimizer.store.tables import read_table

ROOT = Path(__file__).resolve().parents[2]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
EXAMPLE = ROOT / "examples" / "data"


def invoke(*args: str):
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, ["score", *args])


def test_customer_values_from_the_cdnow_log(tmp_path):
    result = invoke("--transactions", str(CDNOW), "--cutoff", "1997-09-30", "--column", "amount=dollar_value",
                    "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "BG/NBD r=0.2426 alpha=4.414 a=0.7929 b=2.426" in result.output
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    assert len(customers) == 2357 and customers["customer_id"].is_unique
    assert {"segment", "p_alive", "ltv"} <= set(customers.columns)
    report = json.loads((tmp_path / "score_report.json").read_text())
    assert report["gamma_gamma"]["p"] == pytest.approx(6.25, abs=0.005)
    assert not (tmp_path / "scores.parquet").exists()
    assert report["bgnbd"]["dropout"]["identified"] and report["value_check"]["holdout_weeks"] == 13
    assert report["value_check"]["calibration_end"] == "1997-07-01" and "Holdout check: fitted to 1997-07-01" \
        in result.output


def test_scores_from_the_example_history_are_what_optimize_reads(tmp_path, example_scoring):
    """(tests/cli/test_chain.py runs the same through `cvo score --history --customers`.)"""
    write_scores(example_scoring[0], tmp_path)
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    campaigns = ["winback_coupon", "cross_sell_email", "vip_call", "sms_reminder"]
    scores = load_scores(tmp_path / "scores.parquet", pd.Index(customers["customer_id"]), campaigns)
    assert scores.scored.all()


def test_the_cells_model_scores_each_cell_alike(tmp_path):
    result = invoke("--history", str(EXAMPLE / "history.parquet"), "--customers", str(EXAMPLE / "customers.parquet"),
                    "--model", "cells", "--cells", "segment,region", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "cells segment x region, shrinkage 100" in result.output
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    scores = pd.read_parquet(tmp_path / "scores.parquet").merge(customers, on="customer_id")
    per_cell = scores.groupby(["campaign_id", "segment", "region"])[["p_treat", "p_control"]].nunique()
    assert (per_cell == 1).all().all()
    assert scores.groupby("campaign_id").p_treat.nunique().min() > 1


@pytest.mark.parametrize(("args", "message"), [
    (["--history", "h.parquet", "--model", "forest"], "--model 'forest' is not one of t-learner, cells"),
    (["--history", "h.parquet", "--model", "cells"], "--model cells needs --cells"),
    (["--history", "h.parquet", "--cells", "region"], "--cells was given but --model is t-learner"),
    (["--customers", "c.parquet", "--transactions", "t.csv", "--cutoff", "2020-01-01"], "Both --customers and"),
    (["--transactions", "t.csv"], "--transactions needs --cutoff"),
    (["--customers", "c.parquet"], "Nothing to score"),
    (["--transactions", "t.csv", "--cutoff", "2020-01-01", "--column", "amount"], "is not KEY=VALUE"),
    (["--transactions", "t.csv", "--cutoff", "2020-01-01", "--column", "amount=Quantity * UnitPrice", "--column",
      "amount=UnitPrice"], "'amount' is given twice: amount=Quantity * UnitPrice and amount=UnitPrice"),
    (["--history", "h.parquet", "--history-column", "treated=a", "--history-column", "treated=b"],
     "'treated' is given twice"),
    (["--history", "h.parquet", "--customers-column", "client_no"], "but no customer table (--customers) was given"),
])
def test_inputs_that_do_not_fit_together(tmp_path, args, message):
    result = invoke(*args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_min_responders_is_bounded_by_the_calibration_folds_as_its_help_says(tmp_path):
    """Fewer than 3 responders cannot be split over the 3 folds of the calibration: the option says so
    and refuses less (it allowed 1, and 3 to 5 crashed when the holdout took responders: tests/scoring/
    test_uplift.py)."""
    assert "at least 3, one per fold of the probability calibration" in " ".join(invoke("--help").output.split())
    result = invoke("--history", "h.parquet", "--min-responders", "2", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "--min-responders" in result.output


def test_customers_without_the_id_column(tmp_path):
    """The customer table is joined to the history on customer_id: name the file and the near column."""
    customers = tmp_path / "customers.parquet"
    pd.read_parquet(EXAMPLE / "customers.parquet").rename(columns={"customer_id": "customerid"}).to_parquet(customers)
    result = invoke("--history", str(EXAMPLE / "history.parquet"), "--customers", str(customers),
                    "--out", str(tmp_path / "out"))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 3, result.output
    output = " ".join(result.output.split())
    assert f"error: The customers table has no column 'customer_id' ({customers})" in output
    assert "Did you mean 'customerid'?" in output and "rename its id column" in output
    assert not (tmp_path / "out").exists()


def test_a_customer_table_with_its_own_id_name_is_written_keyed_customer_id(tmp_path):
    """History id 'cust', customer table id 'client_no': customers.parquet was written keyed 'cust'
    beside a scores.parquet keyed customer_id, so a default scenario read neither with the other.
    Both now say customer_id, and every customer is scored."""
    history = tmp_path / "history.parquet"
    pd.read_parquet(EXAMPLE / "history.parquet").rename(columns={"customer_id": "cust"}).to_parquet(history)
    given = pd.read_parquet(EXAMPLE / "customers.parquet").rename(columns={"customer_id": "client_no"})
    given.to_parquet(tmp_path / "customers.parquet")
    result = invoke("--history", str(history), "--history-column", "customer_id=cust", "--customers",
                    str(tmp_path / "customers.parquet"), "--customers-column", "client_no", "--model", "cells",
                    "--cells", "segment", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    customers = pd.read_parquet(tmp_path / "out" / "customers.parquet")
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert "customer_id" in customers.columns and not {"cust", "client_no"} & set(customers.columns)
    assert set(customers["customer_id"]) == set(scores["customer_id"]) == set(given["client_no"].astype(str))


@pytest.mark.parametrize(("history_id", "extra"), [("customer_id", "customer_id"), ("cust", "cust")])
def test_a_customer_table_column_its_id_would_take_is_named(tmp_path, history_id, extra):
    """A CRM table with its own 'customer_id' beside the 'client_no' the run keys it by (or a column
    named like the history's id) ended in a pyarrow traceback: two columns of one name."""
    history = tmp_path / "history.parquet"
    pd.read_parquet(EXAMPLE / "history.parquet").rename(columns={"customer_id": history_id}).to_parquet(history)
    customers = pd.read_parquet(EXAMPLE / "customers.parquet").rename(columns={"customer_id": "client_no"})
    customers[extra] = range(len(customers))
    customers.to_parquet(tmp_path / "customers.parquet")
    result = invoke("--history", str(history), "--history-column", f"customer_id={history_id}", "--customers",
                    str(tmp_path / "customers.parquet"), "--customers-column", "client_no", "--model", "cells",
                    "--cells", "segment", "--out", str(tmp_path / "out"))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 3, result.output
    output = " ".join(result.output.split())
    assert f"The customer table has a column '{extra}'" in output and "the two would clash" in output
    assert f"Rename or drop the column '{extra}' in the customer table" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda h: h.rename(columns={"customer_id": "cust"}), "The history table has no column 'customer_id'"),
    (lambda h: h.iloc[:0], "The history has no treated rows ('treated' 1), so there is no campaign to model "
     "({history}, column 'treated')"),
])
def test_a_history_the_customers_cannot_be_joined_to(tmp_path, edit, message):
    history = tmp_path / "history.parquet"
    edit(pd.read_parquet(EXAMPLE / "history.parquet")).to_parquet(history)
    result = invoke("--history", str(history), "--customers", str(EXAMPLE / "customers.parquet"),
                    "--out", str(tmp_path / "out"))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 3, result.output
    assert message.format(history=history) in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_each_long_step_of_scoring_is_announced_as_it_starts(example_scoring):
    """What `cvo score` shows on a terminal (a Rich status on stderr, never in --json output)."""
    from optimizer.scoring.workflow import score

    heard: list[str] = []
    score(transactions=CDNOW, cutoff="1997-09-30", transaction_columns={"amount": "dollar_value"},
          stage=heard.append)
    assert heard[0] == f"Reading {CDNOW}" and heard[1].startswith("Valuing the customers of ")
    heard = list(example_scoring[1])
    fits = [text for text in heard if text.startswith("Fitting ")]
    assert any(text.startswith("Fitting the treated arm of winback_coupon (") for text in fits)
    assert any(text.startswith("Fitting the control arm of ") for text in fits)
    assert heard[-1] == "Scoring 30,000 customers"


def shop_export(seed: int = 3, customers: int = 400) -> pd.DataFrame:
    """A line-item export as a shop's system writes it (the layout of the UCI Online Retail data):
    InvoiceNo, StockCode, Quantity, UnitPrice, InvoiceDate month first with a time, CustomerID a
    float with gaps; each invoice 1-4 lines; 3 % of invoices later cancelled in full by a 'C'
    invoice of negative quantities; 5 % of invoices without a customer."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows, number = [], 536365
    start = pd.Timestamp("2010-12-01 08:00")
    for customer in range(12346, 12346 + customers):
        rate = rng.gamma(0.8, 1 / 40)  # orders per day
        day = rng.exponential(60)
        while day < 373:
            when = start + pd.Timedelta(days=int(day), minutes=int(rng.integers(0, 600)))
            owner = np.nan if rng.random() < 0.05 else float(customer)
            lines = [(f"{rng.integers(10000, 99999)}", int(rng.integers(1, 13)), round(float(rng.gamma(2, 2)), 2))
                     for _ in range(int(rng.integers(1, 5)))]
            for stock, quantity, price in lines:
                rows.append((str(number), stock, quantity, price, when, owner))
            if rng.random() < 0.03:
                for stock, quantity, price in lines:
                    rows.append((f"C{number + 1}", stock, -quantity, price, when + pd.Timedelta(hours=2), owner))
                number += 1
            number += 1
            day += rng.exponential(1 / max(rate, 1e-3))
    table = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Quantity", "UnitPrice", "InvoiceDate",
                                        "CustomerID"])
    table["InvoiceDate"] = [f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}" for d in table["InvoiceDate"]]
    return table


RETAIL_OPTIONS = ["--column", "customer_id=CustomerID", "--column", "date=InvoiceDate", "--column",
                  "amount=Quantity * UnitPrice", "--column", "order_id=InvoiceNo", "--date-format", "%m/%d/%Y %H:%M"]


def test_a_line_item_export_is_scored_by_options_alone(tmp_path):
    """Orders, customers and what was dropped agree with the same rules applied by hand in pandas."""
    export = shop_export()
    export.to_csv(tmp_path / "online_retail.csv", index=False)
    result = invoke("--transactions", str(tmp_path / "online_retail.csv"), "--cutoff", "2011-09-30",
                    *RETAIL_OPTIONS, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    known = export[export["CustomerID"].notna()]
    cancelled = known["InvoiceNo"].str.startswith("C")
    taken_back = {str(int(invoice[1:]) - 1) for invoice in known.loc[cancelled, "InvoiceNo"].unique()}
    bought = known[~cancelled & ~known["InvoiceNo"].isin(taken_back)]
    orders = bought.groupby(["CustomerID", "InvoiceNo"]).size()
    summary = (f"Transactions: {len(export):,} lines: {export['CustomerID'].isna().sum():,} without a customer id "
               f"dropped; {cancelled.sum():,} cancellations or returns netted against the purchases before them "
               f"({len(taken_back):,} orders taken back in full); {(~cancelled).sum():,} lines became "
               f"{len(orders):,} orders of {bought['CustomerID'].nunique():,} customers (grouped by order id).")
    assert summary in " ".join(result.output.split())
    report = json.loads((tmp_path / "out" / "score_report.json").read_text())
    assert report["transactions"]["orders"] == len(orders) and report["transactions"]["summary"] in summary
    customers = pd.read_parquet(tmp_path / "out" / "customers.parquet")
    assert "p_alive" not in customers.columns and "ltv" in customers.columns  # the export has no dropout
    assert "p_alive is left out of the customers table: the log does not identify the dropout" \
        in " ".join(result.output.split())
    assert "does not identify the dropout" in " ".join(report["value_check"]["warnings"])
    day = pd.to_datetime(known["InvoiceDate"], format="%m/%d/%Y %H:%M").dt.floor("D")
    cut = pd.Timestamp("2011-09-30")  # the values net only the cancellations made by the cut-off
    known_then = {str(int(invoice[1:]) - 1) for invoice in known.loc[cancelled & (day <= cut), "InvoiceNo"]}
    at_cutoff = known[~cancelled & ~known["InvoiceNo"].isin(known_then)].assign(day=day)
    by_cutoff = at_cutoff[at_cutoff["day"] <= cut]
    assert set(customers["customer_id"]) == {str(int(c)) for c in by_cutoff["CustomerID"]}
    order_days = at_cutoff.groupby(["CustomerID", "InvoiceNo"])["day"].min()  # an order is dated by its first line
    later = order_days > cut
    left_out = at_cutoff["CustomerID"].nunique() - by_cutoff["CustomerID"].nunique()
    assert (f"Note: the customer values are at the cut-off: {later.sum():,} orders after 2011-09-30 are not counted, "
            f"and the {left_out:,} customers whose first order is after it are left out") \
        in " ".join(result.output.split())


@pytest.mark.parametrize(("cutoff", "side", "why"), [
    ("2012-01-31", "after the last order", "a cut-off after its end would make every customer look as if"),
    ("2010-11-30", "before the first order", "no customer has bought yet before its first order"),
])
def test_a_cutoff_outside_the_log_is_refused(tmp_path, cutoff, side, why):
    shop_export(customers=30).to_csv(tmp_path / "log.csv", index=False)
    result = invoke("--transactions", str(tmp_path / "log.csv"), "--cutoff", cutoff, *RETAIL_OPTIONS,
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 3 and f"The cut-off {cutoff} is {side}: the log runs from 2010-12-" in result.output
    assert f"Choose a cut-off within the log; {why}" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_text_dates_without_a_format_are_refused_with_the_format_to_give(tmp_path):
    shop_export(customers=30).to_csv(tmp_path / "log.csv", index=False)
    result = invoke("--transactions", str(tmp_path / "log.csv"), "--cutoff", "2011-06-30", *RETAIL_OPTIONS[:8],
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "so the month comes first: '%m/%d/%Y %H:%M'" in " ".join(result.output.split())


@pytest.mark.slow  # 8-14 s; the default suite stays under 10 minutes
def test_a_history_with_its_own_names_yes_no_flags_and_no_revenue(tmp_path):
    """Mapped columns, Yes/No flags and a conversion-only history: scored, with a note, and no value
    per response (the scenario gives it)."""
    history = pd.read_parquet(EXAMPLE / "history.parquet").drop(columns="revenue").rename(
        columns={"customer_id": "Customer", "campaign_id": "Offer", "treated": "Mailed", "converted": "Bought"})
    history["Mailed"] = history["Mailed"].map({1: "Yes", 0: "No"})
    history["Bought"] = history["Bought"].map({1: "TRUE", 0: "false"})
    history.to_csv(tmp_path / "history.csv", index=False)
    customers = pd.read_parquet(EXAMPLE / "customers.parquet").rename(columns={"customer_id": "id"})
    customers.to_parquet(tmp_path / "customers.parquet")
    result = invoke("--history", str(tmp_path / "history.csv"), "--customers", str(tmp_path / "customers.parquet"),
                    "--customers-column", "id", "--history-column", "customer_id=Customer", "--history-column",
                    "campaign_id=Offer", "--history-column", "treated=Mailed", "--history-column",
                    "converted=Bought", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "has no 'revenue' column: the models are fitted on conversions alone" in " ".join(result.output.split())
    report = json.loads((tmp_path / "out" / "score_report.json").read_text())
    assert set(report["value_per_response"].values()) == {None} and report["notes"]
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert scores["campaign_id"].nunique() == 4 and scores[["p_treat", "p_control"]].notna().all().all()


def test_an_unknown_history_role_suggests_the_right_one(tmp_path):
    result = invoke("--history", str(EXAMPLE / "history.parquet"), "--history-column", "treatment=Mailed",
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "Did you mean 'treated'?" in result.output


def test_the_cdnow_master_log_is_scored_as_shipped(tmp_path):
    """The master file (a header line, whitespace-separated, zero-padded ids), by one mapping."""
    master = CDNOW.with_name("CDNOW_master.txt")
    result = invoke("--transactions", str(master), "--cutoff", "1997-09-30", "--column", "amount=dollar_value",
                    "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert ("Transactions: 69,659 lines: 69,659 orders of 23,570 customers, one per line (no order_id column "
            "mapped; map one when lines are items of orders).") in " ".join(result.output.split())
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    assert len(customers) == 23570 and customers["customer_id"].str.fullmatch(r"\d{5}").all()


def test_no_holdout_check_when_asked(tmp_path):
    result = invoke("--transactions", str(CDNOW), "--cutoff", "1997-09-30", "--column", "amount=dollar_value",
                    "--holdout-weeks", "0", "--out", str(tmp_path))
    assert result.exit_code == 0 and "Holdout check" not in result.output
    assert "value_check" not in json.loads((tmp_path / "score_report.json").read_text())


def test_a_degenerate_value_fit_is_refused_before_anything_is_written(tmp_path):
    """Five orders of three customers cut off on the last day: the BG/NBD fit runs off (r ≈ 1.7e5, a ≈ 5600)
    and no value is finite; the error names the file, the cut-off and the fix, and writes nothing."""
    log = tmp_path / "tiny.csv"
    log.write_text("customer_id,date,amount\nA,2020-01-01,10\nB,2020-01-05,11\nA,2020-03-01,12\n"
                   "C,2020-04-01,13\nB,2020-06-01,14\n")
    result = invoke("--transactions", str(log), "--cutoff", "2020-06-01", "--out", str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    output = " ".join(result.output.split())
    assert "error: The BG/NBD fit is degenerate (r=" in output and "not converged): the expected purchases" in output
    assert ("the log has 21.7 weeks of history before the cut-off, in which 2 of the 3 customers bought again, "
            "too little to fit the model") in output
    assert f"({log}, cut-off 2020-06-01). Choose a later cut-off" in output
    assert not (tmp_path / "out").exists()


def test_a_fit_that_did_not_converge_is_said_on_the_console(tmp_path, monkeypatch):
    fit_bgnbd = clv.fit_bgnbd
    monkeypatch.setattr(clv, "fit_bgnbd", lambda features: replace(fit_bgnbd(features), converged=False))
    result = invoke("--transactions", str(CDNOW), "--cutoff", "1997-09-30", "--column", "amount=dollar_value",
                    "--holdout-weeks", "0", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Note: the BG/NBD fit did not converge" in result.output
    assert "Gamma-Gamma fit did not converge" not in result.output
    assert not json.loads((tmp_path / "score_report.json").read_text())["bgnbd"]["converged"]


def test_the_output_is_checked_before_the_fit_and_an_earlier_runs_other_table_goes(tmp_path):
    """--out naming a file is refused at once (it was a FileExistsError traceback after the fit);
    customer values scored into the folder of an earlier history run leave no scores.parquet of
    other customers beside them, while a file the earlier run did not write stays (a folder no score
    run wrote, or a table the user copied in)."""
    (tmp_path / "afile").write_text("")
    shop_export(customers=30).to_csv(tmp_path / "log.csv", index=False)
    args = ["--transactions", str(tmp_path / "log.csv"), "--cutoff", "2011-06-30", *RETAIL_OPTIONS]
    refused = invoke(*args, "--out", str(tmp_path / "afile"))
    assert refused.exit_code == 7 and "The output folder is a file" in refused.output
    scores = pa.Table.from_pandas(pd.DataFrame({"customer_id": ["a"], "campaign_id": ["x"], "p_treat": [0.2],
                                                "p_control": [0.1]}))
    for folder, earlier in (("scored", True), ("theirs", False), ("copied", False)):
        (tmp_path / folder).mkdir()
        write_in_set(scores, tmp_path / folder / "scores.parquet", "e" * 32, "score_report.json")
        if folder != "theirs":  # 'copied': another run's record beside the user's copy of a table
            (tmp_path / folder / "score_report.json").write_text(json.dumps(set_record("e" * 32 if earlier else
                                                                                       "f" * 32, ["scores.parquet"])))
        assert invoke(*args, "--out", str(tmp_path / folder)).exit_code == 0
        assert (tmp_path / folder / "scores.parquet").exists() is not earlier
        assert (tmp_path / folder / "customers.parquet").exists()


def test_an_export_that_wrote_every_line_twice_is_warned_of_and_undone_on_request(tmp_path):
    """Every line twice doubled each customer's spend and LTV with exit 0 and not a word."""
    export = shop_export(customers=60)
    export.to_csv(tmp_path / "once.csv", index=False)
    pd.concat([export, export]).to_csv(tmp_path / "twice.csv", index=False)
    runs = {name: invoke("--transactions", str(tmp_path / f"{name}.csv"), "--cutoff", "2011-09-30", *RETAIL_OPTIONS,
                         "--holdout-weeks", "0", "--out", str(tmp_path / name))
            for name in ("once", "twice")}
    runs["undone"] = invoke("--transactions", str(tmp_path / "twice.csv"), "--cutoff", "2011-09-30", *RETAIL_OPTIONS,
                            "--holdout-weeks", "0", "--drop-duplicates", "--out", str(tmp_path / "undone"))
    assert all(run.exit_code == 0 for run in runs.values()), [run.output for run in runs.values()]
    read = json.loads((tmp_path / "once" / "score_report.json").read_text())["transactions"]
    kept = read["lines"] - read["without_customer"] - read["cancellations"]  # the repeats: dropped lines are not
    assert f"Warning: {kept:,} of the {2 * read['lines']:,} lines ({kept / (2 * read['lines']):.0%}) repeat an " \
        "earlier line in every column. If the export wrote them twice, those customers' spend is counted twice" \
        in " ".join(runs["twice"].output.split())
    assert "Warning" not in runs["once"].output + runs["undone"].output
    values = {name: pd.read_parquet(tmp_path / name / "customers.parquet") for name in runs}
    pd.testing.assert_frame_equal(values["undone"], values["once"])
    assert values["twice"]["total_spend"].sum() == pytest.approx(2 * values["once"]["total_spend"].sum())
    report = json.loads((tmp_path / "twice" / "score_report.json").read_text())
    assert report["transactions"]["repeated"] == kept and len(report["transactions"]["warnings"]) == 1


def test_values_that_rest_on_two_repeat_buyers_say_so(tmp_path):
    """Two customers of 300 bought again: the spend model stood on them (p = 2.9e6, γ = 3e-5: the
    ridge where only pγ is pinned), with exit 0 and no note."""
    import numpy as np

    from optimizer.scoring.workflow import score

    rng = np.random.default_rng(5)
    days = pd.Timestamp("1997-01-01") + pd.to_timedelta(rng.integers(0, 80, 300), unit="D")
    log = pd.DataFrame({"customer_id": [f"c{i}" for i in range(300)], "date": days.strftime("%Y-%m-%d"),
                        "amount": rng.gamma(2, 10, 300).round(2)})
    again = log.iloc[:2].assign(date=["1997-03-25", "1997-03-26"], amount=[30.0, 12.0])
    path = tmp_path / "log.csv"
    pd.concat([log, again]).to_csv(path, index=False)
    run = score(transactions=path, cutoff="1997-03-26", holdout_weeks=0)
    notes = " ".join(run.notes)
    assert "the spend per purchase (Gamma-Gamma) rests on the 2 customer(s) who bought again" in notes


def test_a_cutoff_past_a_log_of_returns_says_what_was_dropped(tmp_path):
    log = pd.DataFrame({"customer_id": ["a", "b", "a", "b"], "date": ["2024-01-01", "2024-01-02", "2024-03-01",
                                                                        "2024-03-02"],
                        "amount": [10.0, 12.0, -4.0, -12.0]})
    log.to_csv(tmp_path / "log.csv", index=False)
    result = invoke("--transactions", str(tmp_path / "log.csv"), "--cutoff", "2024-02-15", "--out", str(tmp_path / "o"))
    assert result.exit_code == 3
    assert "the log runs from 2024-01-01 to 2024-01-01, once 2 cancellations or returns, which took back 1 order " \
        "in full, were not read as orders" in " ".join(result.output.split())


@pytest.mark.parametrize("renamed", [1, 2])
def test_a_score_run_killed_between_its_renames_leaves_no_mix_that_reads(tmp_path, monkeypatch, example_scoring,
                                                                         renamed):
    """An earlier run's files, then a run stopped after its first (or second) rename: the folder held
    customer values of one run beside scores of another, and both read."""
    import os

    from optimizer.store import files

    run, rename = example_scoring[0], os.replace
    write_scores(run, tmp_path)
    calls = []

    def stopped(source, target):
        calls.append(target)
        if len(calls) > renamed:
            raise KeyboardInterrupt
        rename(source, target)

    monkeypatch.setattr(files.os, "replace", stopped)
    with pytest.raises(KeyboardInterrupt):
        write_scores(replace(run, customers=run.customers.assign(ltv=0.0)), tmp_path)
    monkeypatch.undo()
    new = [Path(target).name for target in calls[:renamed]]
    with pytest.raises(DataError, match="written by another run than the one score_report.json beside it records"):
        read_table(tmp_path / new[0], what="customers")
    if renamed == 1:  # the old scores still go with the old report
        assert len(read_table(tmp_path / "scores.parquet", what="scores")) == len(run.scores)


def test_values_from_a_log_and_a_history_that_names_its_own_id_column(tmp_path):
    """--transactions with --history-column customer_id=Customer raised KeyError: 'Customer'."""
    import numpy as np

    export = shop_export(customers=80)
    export.to_csv(tmp_path / "log.csv", index=False)
    ids = [str(int(c)) for c in export["CustomerID"].dropna().unique()]
    rng = np.random.default_rng(2)
    history = pd.DataFrame({"Customer": ids, "campaign_id": "mail", "treated": rng.integers(0, 2, len(ids)),
                            "converted": rng.integers(0, 2, len(ids))})
    history["revenue"] = 10.0 * history["converted"]
    history.to_csv(tmp_path / "history.csv", index=False)
    result = invoke("--transactions", str(tmp_path / "log.csv"), "--cutoff", "2011-09-30", *RETAIL_OPTIONS,
                    "--holdout-weeks", "0", "--history", str(tmp_path / "history.csv"), "--history-column",
                    "customer_id=Customer", "--model", "cells", "--cells", "segment", "--min-responders", "3",
                    "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert set(scores["customer_id"]) == set(pd.read_parquet(tmp_path / "out" / "customers.parquet")["customer_id"])


def test_the_python_api_scores_dataframes_as_it_scores_files(tmp_path):
    """optimizer.score(history=DataFrame) ended in a TypeError: a notebook's tables had to be
    written to files first. Now a DataFrame gives what its file gives, and messages name it."""
    import numpy as np

    from optimizer.scoring.cells import CellOptions
    from optimizer.scoring.uplift import HistoryColumns
    from optimizer.scoring.workflow import score

    rng = np.random.default_rng(2)
    history = pd.DataFrame({"Customer": [f"{k}.0" for k in range(400)], "campaign_id": "mail",
                            "treated": rng.integers(0, 2, 400), "converted": rng.integers(0, 2, 400),
                            "segment": rng.choice(["a", "b"], 400)})
    history["revenue"] = 10.0 * history["converted"]
    history.to_csv(tmp_path / "history.csv", index=False)
    options = {"columns": HistoryColumns(customer_id="Customer"),
               "options": CellOptions(cells=("segment",), min_responders=3)}
    from_file, from_frame = score(history=tmp_path / "history.csv", **options), score(history=history, **options)
    assert from_file.scores is not None and from_frame.scores is not None
    pd.testing.assert_frame_equal(from_frame.scores, from_file.scores)  # ids tidied alike: '3.0' is '3'
    with pytest.raises(DataError, match=r"the history table, row 1"):
        score(history=history.assign(Customer=["", *history["Customer"][1:]]), **options)
    log = shop_export(customers=20)
    with pytest.raises(DataError, match=r"after the last order.*\(the transaction log\)"):
        score(transactions=log, cutoff="2030-01-01", date_format="%m/%d/%Y %H:%M",
              transaction_columns={"customer_id": "CustomerID", "date": "InvoiceDate",
                                   "amount": "Quantity * UnitPrice", "order_id": "InvoiceNo"})


def test_a_table_no_score_run_wrote_is_never_replaced(tmp_path, example_scoring):
    """A user's own customers.parquet in --out (here the example's) stays as it was; so does an input
    of the run that sits in --out, even one an earlier score run wrote."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "customers.parquet").write_bytes((EXAMPLE / "customers.parquet").read_bytes())
    before = (mine / "customers.parquet").read_bytes()
    result = invoke("--transactions", str(CDNOW), "--cutoff", "1997-09-30", "--column", "amount=dollar_value",
                    "--holdout-weeks", "0", "--out", str(mine))
    assert result.exit_code == 7, result.output
    assert "holds customers.parquet, not written by cvo score" in result.output
    assert (mine / "customers.parquet").read_bytes() == before
    with pytest.raises(RunFolderError, match="not written by cvo score"):
        write_scores(example_scoring[0], mine)
    assert (mine / "customers.parquet").read_bytes() == before

    scored = tmp_path / "scored"
    write_scores(example_scoring[0], scored)
    write_scores(example_scoring[0], scored)  # an earlier score run's files are replaced
    killed = tmp_path / "killed"  # a run stopped between its renames: its table beside the report of another
    write_scores(example_scoring[0], killed)
    write_in_set(pa.Table.from_pandas(example_scoring[0].customers), killed / "customers.parquet", "f" * 32,
                 "score_report.json")
    write_scores(example_scoring[0], killed)  # run again, as the reader's message says
    result = invoke("--history", str(EXAMPLE / "history.parquet"), "--customers", str(scored / "customers.parquet"),
                    "--out", str(scored))
    assert result.exit_code == 7, result.output
    assert "holds customers.parquet, which this run reads" in result.output

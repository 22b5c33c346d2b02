"""optimizer/scoring/workflow.py through `cvo score`: customer values from a log, scores from a history."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.scenario.data import load_scores

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


def test_scores_from_the_example_history_are_what_optimize_reads(tmp_path):
    result = invoke("--history", str(EXAMPLE / "history.parquet"), "--customers", str(EXAMPLE / "customers.parquet"),
                    "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
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
])
def test_inputs_that_do_not_fit_together(tmp_path, args, message):
    result = invoke(*args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


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


@pytest.mark.parametrize(("edit", "message"), [
    (lambda h: h.rename(columns={"customer_id": "cust"}), "The history table has no column 'customer_id'"),
    (lambda h: h.iloc[:0], "The history has no treated rows (treated 1), so there is no campaign to model"),
])
def test_a_history_the_customers_cannot_be_joined_to(tmp_path, edit, message):
    history = tmp_path / "history.parquet"
    edit(pd.read_parquet(EXAMPLE / "history.parquet")).to_parquet(history)
    result = invoke("--history", str(history), "--customers", str(EXAMPLE / "customers.parquet"),
                    "--out", str(tmp_path / "out"))
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 3, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_each_long_step_of_scoring_is_announced_as_it_starts():
    """What `cvo score` shows on a terminal (a Rich status on stderr, never in --json output)."""
    from optimizer.scoring.workflow import score

    heard: list[str] = []
    score(transactions=CDNOW, cutoff="1997-09-30", transaction_columns={"amount": "dollar_value"},
          stage=heard.append)
    assert heard[0] == f"Reading {CDNOW}" and heard[1].startswith("Valuing the customers of ")
    heard.clear()
    score(history=EXAMPLE / "history.parquet", customers=EXAMPLE / "customers.parquet", stage=heard.append)
    fits = [text for text in heard if text.startswith("Fitting ")]
    assert any(text.startswith("Fitting the treated arm of winback_coupon (") for text in fits)
    assert any(text.startswith("Fitting the control arm of ") for text in fits)
    assert heard[-1] == "Scoring 30,000 customers"

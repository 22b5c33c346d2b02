"""optimizer/scoring/uplift_inputs.py through `cvo score --history H --customers C`: ids matched however
a table stores them, columns without values left out with a note, histories the customers cannot be
joined to named with both files, and features checked before the first fit. Small generated tables,
models of a few boosting rounds: each test takes well under a second."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import DataError
from optimizer.scoring.uplift import HistoryColumns, UpliftOptions
from optimizer.scoring.workflow import score, score_report

FAST = UpliftOptions(max_iter=5, min_responders=5, refit=False)


def tables(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, customers): customers 1..n with a number and a text feature, each in one of a shared
    control and two campaigns, 30 % responding."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    customers = pd.DataFrame({"customer_id": ids, "x": rng.normal(size=n), "segment": rng.choice(["a", "b"], n)})
    arm = rng.integers(0, 3, n)
    converted = (rng.random(n) < 0.3).astype(int)
    history = pd.DataFrame({"customer_id": ids, "campaign_id": np.array([None, "email", "sms"], dtype=object)[arm],
                            "treated": (arm > 0).astype(int), "converted": converted, "revenue": 40.0 * converted})
    return history, customers


def written(tmp_path: Path, history: pd.DataFrame, customers: pd.DataFrame, suffix: str = ".parquet") -> dict[str, Path]:
    """The two tables as files, the history's and the customer table's paths by the names score() takes."""
    paths = {"history": tmp_path / f"history{suffix}", "customers": tmp_path / f"customers{suffix}"}
    for name, table in (("history", history), ("customers", customers)):
        if suffix == ".csv":
            table.to_csv(paths[name], index=False)
        else:
            table.to_parquet(paths[name], index=False)
    return paths


@pytest.mark.parametrize(("history_ids", "customer_ids"), [("int64", "int64"), ("float64", "int64"),
                                                           ("int64", "float64"), ("float64", "float64")])
def test_whole_number_ids_of_parquet_tables_match_however_stored(tmp_path, history_ids, customer_ids):
    """12346, 12346.0 and '12346' are one customer (id_text), in the join and in scores.parquet."""
    history, customers = tables()
    paths = written(tmp_path, history.astype({"customer_id": history_ids}),
                    customers.astype({"customer_id": customer_ids}))
    run = score(**paths, options=FAST)
    assert run.model is not None and run.scores is not None
    assert set(run.model.features) == {"x", "segment"} and not run.notes
    assert run.scores["customer_id"].iloc[::2].tolist() == [str(i) for i in range(1, 601)]


def test_a_column_without_values_is_left_out_with_a_note(tmp_path):
    """An empty CRM field (all NaN in the customer table) and an empty history column: left out of the
    features, each with a note naming its file, on the console and in score_report.json."""
    history, customers = tables()
    paths = written(tmp_path, history.assign(channel=np.nan), customers.assign(fax=np.nan), ".csv")
    run = score(**paths, options=FAST)
    assert run.model is not None and set(run.model.features) == {"x", "segment"}
    assert run.notes == (f"the column 'channel' of {paths['history']} has no value in any row: it is left out of "
                         "the features",
                         f"the column 'fax' of {paths['customers']} has no value in any row: it is left out of the "
                         "features")
    assert score_report(run)["notes"] == list(run.notes)


def test_a_history_none_of_whose_ids_is_a_customers_is_refused_with_ids_of_both(tmp_path):
    history, customers = tables()
    customers["customer_id"] = [f"C{i}" for i in customers["customer_id"]]
    history["customer_id"] = [f"c{i}" for i in history["customer_id"]]
    paths = written(tmp_path, history, customers, ".csv")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["score", "--history", str(paths["history"]), "--customers", str(paths["customers"]),
              "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert " ".join(result.output.split()) == (
        f"error: None of the 600 customer ids of the history is an id of the customers table ({paths['history']}; "
        f"{paths['customers']}). The history has e.g. 'c1', 'c2', 'c3', the customers table 'C1', 'C2', 'C3' (they "
        "differ in upper and lower case): write the ids the same way in both files, or name the customer table's id "
        "column with --customers-column.")
    assert not (tmp_path / "out").exists()


def test_ids_padded_with_blanks_match_and_ids_of_no_customer_are_noted(tmp_path):
    """Surrounding blanks are ignored (30 % of the history's ids have one); 60 ids that are no
    customer's are counted, with their share and examples, and fit with the features missing."""
    history, customers = tables()
    ids = history["customer_id"].astype(str)
    history["customer_id"] = np.where(np.arange(600) % 10 < 3, ids + " ", ids)
    history.loc[540:, "customer_id"] = [f"X{i}" for i in range(60)]
    paths = written(tmp_path, history, customers.astype({"customer_id": str}), ".csv")
    run = score(**paths, options=FAST)
    assert run.notes == (f"60 of the 600 rows of {paths['history']} (10.0%) name a customer that is not in "
                         f"{paths['customers']}, e.g. 'X0', 'X1', 'X2': they are fit with the customer table's "
                         "features missing",)


def test_a_history_feature_the_customers_lack_is_refused_before_any_fit(tmp_path):
    history, customers = (table.astype({"customer_id": str}) for table in tables())
    paths = written(tmp_path, history.assign(const=1.0), customers)
    heard: list[str] = []
    with pytest.raises(DataError) as error:
        score(**paths, options=FAST, stage=heard.append)
    assert str(error.value) == (
        f"The history's column 'const' is a feature, but the customers table, whose customers are scored on the "
        f"features, has no such column ({paths['history']}; {paths['customers']}). Add 'const' to the customers "
        "table, or leave it out of the features (cvo score --features: the columns to fit on).")
    assert not [stage for stage in heard if stage.startswith("Fitting")]


def test_a_date_column_is_named_as_dates_of_the_file_it_comes_from(tmp_path):
    history, customers = (table.astype({"customer_id": str}) for table in tables())
    customers["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(600) % 300, unit="D")
    paths = written(tmp_path, history, customers)
    with pytest.raises(DataError) as error:
        score(**paths, options=FAST)
    message = str(error.value)
    assert message.startswith("The feature 'signup' is a date-time column (datetime64[")
    assert message.split(")", 1)[1].startswith(f" with 300 distinct values, more than the 255 a model can use "
                                                f"({paths['customers']}). Turn it into a number")


def test_a_customer_table_that_repeats_an_id_is_refused():
    from optimizer.scoring.uplift_inputs import Table, model_inputs

    history, customers = tables(n=30)
    customers["customer_id"] = customers["customer_id"].astype(str)
    customers.loc[7, "customer_id"] = " 3"
    with pytest.raises(DataError, match=r"The customer id '3' appears more than once .*\(c.parquet, row 8\)"):
        model_inputs(Table(history, "h.parquet"), Table(customers, "c.parquet"), HistoryColumns())


@pytest.mark.parametrize("customer_columns", [None, ["customer_id", "fax"]])
def test_a_history_with_no_feature_to_fit_on_is_refused(tmp_path, customer_columns):
    """No feature at all (it was ValueError 'at least one array or dtype is required' from the
    booster), or only ones without values."""
    history, customers = (table.astype({"customer_id": str}) for table in tables())
    paths = written(tmp_path, history, customers.assign(fax=np.nan)[customer_columns or ["customer_id"]], ".csv")
    with pytest.raises(DataError) as error:
        score(history=paths["history"], customers=paths["customers"] if customer_columns else None, options=FAST)
    assert str(error.value) == (
        f"There are no features to fit the response models on: the only column besides the history's own ('fax') "
        f"has no values ({paths['customers']}). Fill it in, or give a customer table with the customers' features "
        "(--customers)." if customer_columns else
        "There are no features to fit the response models on: the history has only the columns customer_id, "
        f"campaign_id, treated, converted, revenue ({paths['history']}). Give a customer table with the customers' "
        "features (--customers), or add feature columns to the history.")


def test_no_id_match_is_refused_when_the_history_has_features_of_its_own(tmp_path):
    """A history with a column of its own, none of whose ids is a customer's, was fit on that column
    alone, with a note per missing feature and exit 0."""
    history, customers = tables()
    history["region"] = np.where(history.index % 2 == 0, "north", "south")
    customers["customer_id"] = [f"C{i}" for i in customers["customer_id"]]
    history["customer_id"] = [f"c{i}" for i in history["customer_id"]]
    paths = written(tmp_path, history, customers, ".csv")
    with pytest.raises(DataError, match="None of the 600 customer ids of the history is an id of the customers table"):
        score(history=paths["history"], customers=paths["customers"], options=FAST)


@pytest.mark.parametrize("table", ["history", "customers"])
def test_rows_without_a_customer_id_are_refused_with_their_line(tmp_path, table):
    """A history of blank ids was told its customer table's full columns 'have no values'; a customer
    table with blank ids was scored into rows without an id."""
    history, customers = tables()
    frame = history if table == "history" else customers
    frame["customer_id"] = frame["customer_id"].astype(object).where(frame.index != 4, None)
    paths = written(tmp_path, history, customers, ".csv")
    with pytest.raises(DataError, match=r"has 1 row\(s\) without a customer id in 'customer_id'") as caught:
        score(history=paths["history"], customers=paths["customers"], options=FAST)
    assert caught.value.where == f"{paths[table]}, line 6"


def test_features_chosen_on_the_command_line_are_the_ones_fitted_on(tmp_path):
    """The fixes said 'leave it out of the features', which only the Python API could do: 'const', a
    history column the customers lack, is refused as a feature, and chosen out the run scores."""
    history, customers = tables()
    paths = written(tmp_path, history.assign(const=1.0), customers)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["score", "--history", str(paths["history"]), "--customers", str(paths["customers"]), "--features",
              "x, segment", "--min-responders", "5", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    refused = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["score", "--history", str(paths["history"]), "--model", "cells", "--cells", "segment", "--features", "x",
              "--out", str(tmp_path / "cells")])
    assert refused.exit_code == 2 and "--features was given but --model is cells" in refused.output

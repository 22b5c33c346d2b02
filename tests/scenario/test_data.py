"""Tests of optimizer/scenario/data.py: reading the customer and score tables, and their row-level checks.

Rows are named as a user finds them: CSV by line number (the header is line 1, so the first
customer is line 2), parquet by 1-based row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.errors import DataError, HistoryError, Problems
from optimizer.scenario.data import SCORE_COLUMNS, findings, load_customers, load_data, load_scores
from optimizer.scenario.formulation import LIMITS_UNCHECKED, formulate
from optimizer.scenario.schema import load_scenario
from optimizer.store.tables import read_table

CAMPAIGNS = ["email_offer", "sms_offer"]


def save(table: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    return path


def customers_table(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"c{k}" for k in range(1, n + 1)], "ltv": np.arange(n) * 10.0})


def scores_table() -> pd.DataFrame:
    """c1..c3 scored for both campaigns, c4 only for sms_offer, c5 not at all; rows not in customer order."""
    rows = [
        ("c3", "sms_offer", 0.3, 0.1), ("c1", "email_offer", 0.2, 0.1), ("c2", "email_offer", 0.25, 0.05),
        ("c1", "sms_offer", 0.15, 0.1), ("c3", "email_offer", 0.4, 0.2), ("c2", "sms_offer", 0.1, 0.0),
        ("c4", "sms_offer", 0.5, 0.5),
    ]
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))


def ids(n: int = 5) -> pd.Index:
    return pd.Index([f"c{k}" for k in range(1, n + 1)])


def data_error(call, *args) -> DataError:
    with pytest.raises(DataError) as caught:
        call(*args)
    assert caught.value.exit_code == 3
    return caught.value


# --- read_table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "T.CSV", "T.PARQUET"])
def test_read_table_reads_csv_and_parquet(tmp_path, name):
    path = tmp_path / name
    table = customers_table()
    if name.lower().endswith(".csv"):
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    read = read_table(path, what="customers")
    assert list(read.columns) == ["customer_id", "ltv"]
    assert read["ltv"].tolist() == table["ltv"].tolist()


def test_read_table_missing_file(tmp_path):
    with pytest.raises(DataError) as caught:
        read_table(tmp_path / "data" / "customers.csv", what="customers", key="customers")
    assert caught.value.message == (
        f"The customers file {tmp_path / 'data' / 'customers.csv'} does not exist (looked in {tmp_path / 'data'}). "
        "Check the 'customers' path in the scenario; it is relative to the scenario file."
    )
    with pytest.raises(DataError, match="Check the path given for the outcomes; it is relative to the folder the "
                                        "command runs in"):  # named by a command-line option, not the scenario
        read_table(tmp_path / "outcomes.csv", what="outcomes")


@pytest.mark.parametrize("suffix", [".xlsx", ".json", ""])
def test_read_table_unsupported_suffix(tmp_path, suffix):
    path = tmp_path / f"scores{suffix}"
    path.write_text("customer_id\nc1\n")
    with pytest.raises(DataError) as caught:
        read_table(path, what="scores")
    assert f"has the suffix '{suffix}'" in caught.value.message
    assert caught.value.message.endswith("Use a .parquet or .csv file (or a compressed CSV: .csv.gz, .csv.zip, "
                                         ".csv.bz2, .csv.xz).")


def test_read_table_unreadable_parquet(tmp_path):
    path = tmp_path / "customers.parquet"
    path.write_bytes(b"not a parquet file")
    with pytest.raises(DataError) as caught:
        read_table(path, what="customers")
    assert f"The customers file {path} could not be read" in caught.value.message
    assert "complete, valid table" in caught.value.message


# --- load_customers ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_customers_gives_string_ids_in_file_order(tmp_path, suffix):
    table = load_customers(save(customers_table(), tmp_path / f"c{suffix}"), "customer_id")
    assert table["customer_id"].tolist() == ["c1", "c2", "c3", "c4", "c5"]
    assert list(table.index) == [0, 1, 2, 3, 4]


def test_integer_ids_become_strings(tmp_path):
    path = save(pd.DataFrame({"customer_id": [10, 20, 30], "x": [1, 2, 3]}), tmp_path / "c.parquet")
    assert load_customers(path, "customer_id")["customer_id"].tolist() == ["10", "20", "30"]


def test_csv_ids_keep_their_leading_zeros(tmp_path):
    """'007' in a CSV is an id, not the number 7: the scores (or a later join) spell it '007'."""
    path = tmp_path / "c.csv"
    path.write_text("customer_id,x\n007,1\n010,2\n")
    assert load_customers(path, "customer_id")["customer_id"].tolist() == ["007", "010"]


def test_a_custom_id_column(tmp_path):
    path = save(customers_table().rename(columns={"customer_id": "cust_no"}), tmp_path / "c.csv")
    assert load_customers(path, "cust_no")["cust_no"].tolist()[:2] == ["c1", "c2"]


@pytest.mark.parametrize(("suffix", "label"), [(".csv", "line 4"), (".parquet", "row 3")])
def test_missing_id_names_the_row(tmp_path, suffix, label):
    table = customers_table().astype({"customer_id": object})
    table.loc[2, "customer_id"] = None
    table.loc[4, "customer_id"] = None
    path = save(table, tmp_path / f"c{suffix}")
    error = data_error(load_customers, path, "customer_id")
    assert error.message == (
        f"The customers table has 2 row(s) with no 'customer_id' ({path}, {label}). "
        "Give every customer an id or drop those rows."
    )


@pytest.mark.parametrize(("suffix", "label"), [(".csv", "line 5"), (".parquet", "row 4")])
def test_duplicate_id_names_the_repeating_row(tmp_path, suffix, label):
    table = customers_table()
    table.loc[3, "customer_id"] = "c1"
    path = save(table, tmp_path / f"c{suffix}")
    error = data_error(load_customers, path, "customer_id")
    assert error.message == (
        f"The customer id 'c1' appears more than once (1 duplicate row(s) in all) ({path}, {label}). "
        "Keep one row per customer (deduplicate before running)."
    )


def test_id_column_missing_suggests_a_near_name(tmp_path):
    path = save(customers_table().rename(columns={"customer_id": "customer_ID"}), tmp_path / "c.csv")
    error = data_error(load_customers, path, "customer_id")
    assert f"The customers table has no column 'customer_id' ({path})" in error.message
    assert "Did you mean 'customer_ID'? Columns found: customer_ID, ltv." in error.message


def test_a_wide_table_missing_its_id_says_how_many_columns_were_not_listed(tmp_path):
    table = customers_table().rename(columns={"customer_id": "id"}).assign(**{f"f{k}": 0.0 for k in range(20)})
    error = data_error(load_customers, save(table, tmp_path / "c.csv"), "customer_id")
    assert "Columns found: id, ltv, f0, f1," in error.message and "f12 and 7 more." in error.message


def test_empty_customer_table(tmp_path):
    path = save(customers_table().iloc[:0], tmp_path / "c.parquet")
    assert "The customers table is empty" in data_error(load_customers, path, "customer_id").message


# --- load_scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_scores_are_laid_out_by_customer_and_campaign(tmp_path, suffix):
    scores = load_scores(save(scores_table(), tmp_path / f"s{suffix}"), ids(), CAMPAIGNS)
    np.testing.assert_allclose(scores.p_treat, [[0.2, 0.15], [0.25, 0.1], [0.4, 0.3], [np.nan, 0.5],
                                                [np.nan, np.nan]])
    np.testing.assert_allclose(scores.p_control, [[0.1, 0.1], [0.05, 0.0], [0.2, 0.1], [np.nan, 0.5],
                                                  [np.nan, np.nan]])
    assert scores.scored.tolist() == [[True, True], [True, True], [True, True], [False, True], [False, False]]


def test_rows_for_campaigns_not_in_the_scenario_are_ignored(tmp_path):
    """One score table can serve several scenarios."""
    path = save(scores_table(), tmp_path / "s.parquet")
    scores = load_scores(path, ids(), ["sms_offer"])
    assert scores.p_treat.shape == (5, 1)
    assert scores.scored[:, 0].tolist() == [True, True, True, True, False]


def test_integer_ids_in_scores_match_the_customers(tmp_path):
    customers = load_customers(save(pd.DataFrame({"customer_id": [1, 2]}), tmp_path / "c.parquet"), "customer_id")
    scores = pd.DataFrame({"customer_id": [2, 1], "campaign_id": ["a", "a"], "p_treat": [0.2, 0.1],
                           "p_control": [0.0, 0.0]})
    loaded = load_scores(save(scores, tmp_path / "s.parquet"), pd.Index(customers["customer_id"]), ["a"])
    assert loaded.p_treat[:, 0].tolist() == [0.1, 0.2]


def test_scores_missing_a_column(tmp_path):
    path = save(scores_table().drop(columns=["p_treat"]), tmp_path / "s.parquet")
    error = data_error(load_scores, path, ids(), CAMPAIGNS)
    assert f"The scores table has no column 'p_treat' ({path})" in error.message
    assert "Columns found: customer_id, campaign_id, p_control" in error.message


@pytest.mark.parametrize(("suffix", "label"), [(".csv", "line 3"), (".parquet", "row 2")])
@pytest.mark.parametrize(("column", "value", "shown"),
                         [("p_treat", np.nan, "a missing value (NaN)"), ("p_control", 1.5, "1.5"), ("p_treat", -0.1, "-0.1")])
def test_probability_out_of_range_names_the_row(tmp_path, suffix, label, column, value, shown):
    table = scores_table()
    table.loc[1, column] = value
    table.loc[5, column] = value
    path = save(table, tmp_path / f"s{suffix}")
    message = data_error(load_scores, path, ids(), CAMPAIGNS).message
    assert f"'{column}' must be a probability in [0, 1] but is" in message
    assert f"is {shown} for customer" in message  # the value as the user wrote it, not numpy's repr
    assert "for customer 'c1', campaign 'email_offer' (2 bad row(s) in all)" in message
    assert f"({path}, {label})" in message
    assert message.endswith("a customer without a score is simply not targeted.")


def test_probability_that_is_text(tmp_path):
    table = scores_table().astype({"p_control": object})
    table.loc[3, "p_control"] = "high"
    path = save(table, tmp_path / "s.csv")
    message = data_error(load_scores, path, ids(), CAMPAIGNS).message
    assert "'p_control' must be a probability in [0, 1] but is 'high' for customer 'c1', campaign 'sms_offer'" in message
    assert f"({path}, line 5)" in message


@pytest.mark.parametrize(("suffix", "label"), [(".csv", "line 8"), (".parquet", "row 7")])
def test_unknown_customer_names_the_row(tmp_path, suffix, label):
    table = scores_table()
    table.loc[6, "customer_id"] = "c99"
    path = save(table, tmp_path / f"s{suffix}")
    message = data_error(load_scores, path, ids(), CAMPAIGNS).message
    assert message == (
        f"The scores name customer 'c99', who is not in the customers table (1 such row(s)) ({path}, {label}). "
        "Score the same customers as the customers table, or add the missing customers."
    )


def test_an_unknown_customer_apart_only_by_leading_zeros_is_told_so(tmp_path):
    """Scores '10000' against customers '00010000': 'not in the customers table', no word of the zeros."""
    table = scores_table()
    table["customer_id"] = table["customer_id"].str.replace("c", "", regex=False)
    path = save(table, tmp_path / "s.parquet")
    customers = pd.Index([f"000{i}" for i in ids().str.replace("c", "", regex=False)])
    error = data_error(load_scores, path, customers, CAMPAIGNS)
    assert "who is not in the customers table" in error.message
    assert f"the customers table has '000{table['customer_id'].iat[0]}': ids apart only by leading zeros" in error.fix


@pytest.mark.parametrize(("suffix", "label"), [(".csv", "line 9"), (".parquet", "row 8")])
def test_duplicate_pair_names_the_repeating_row(tmp_path, suffix, label):
    table = scores_table()
    path = save(pd.concat([table, table.iloc[[4]]], ignore_index=True), tmp_path / f"s{suffix}")
    message = data_error(load_scores, path, ids(), CAMPAIGNS).message
    assert message == (
        f"The scores hold more than one row for customer 'c3' and campaign 'email_offer' ({path}, {label}). "
        "Keep one score row per (customer, campaign)."
    )


def test_the_same_customer_in_two_campaigns_is_not_a_duplicate(tmp_path):
    table = pd.DataFrame({"customer_id": ["c1", "c1"], "campaign_id": CAMPAIGNS, "p_treat": [0.1, 0.2],
                          "p_control": [0.0, 0.0]})
    assert load_scores(save(table, tmp_path / "s.parquet"), ids(), CAMPAIGNS).scored[0].tolist() == [True, True]


def test_a_misspelt_campaign_id_is_named_with_its_row(tmp_path):
    table = scores_table()
    table["campaign_id"] = table["campaign_id"].replace("email_offer", "emial_offer")  # rows 2, 3 and 5
    path = save(table, tmp_path / "s.csv")
    message = data_error(load_scores, path, ids(), CAMPAIGNS).message
    assert message == (
        "The scores name campaign 'emial_offer', which is not a campaign of this scenario, and campaign "
        f"'email_offer' has no score rows ({path}, line 3). Did you mean 'email_offer'? Correct the campaign id "
        "in the scores table or the scenario (campaigns: email_offer, sms_offer)."
    )


def test_a_campaign_with_no_score_rows(tmp_path):
    path = save(scores_table(), tmp_path / "s.parquet")
    message = data_error(load_scores, path, ids(), [*CAMPAIGNS, "vip_call"]).message
    assert message == (
        f"The scores table has no rows for campaign 'vip_call' (it holds sms_offer, email_offer) ({path}). "
        "Score campaign 'vip_call', remove it from the scenario, or give it 'p_treat' and 'p_control' expressions."
    )


def test_only_the_campaigns_that_read_the_scores_need_rows(tmp_path):
    path = save(scores_table(), tmp_path / "s.parquet")
    scores = load_scores(path, ids(), [*CAMPAIGNS, "vip_call"], needed=CAMPAIGNS)
    assert not scores.scored[:, 2].any()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The customers file {path} is empty. Export the table again"),
    (b"customer_id,ltv\nc1,1\nc\xe92,2\n", "The customers file is not UTF-8 text (it was probably saved as "
     "Latin-1 or Windows-1252) ({path}, line 3, byte 2 (0xe9)). Save it as UTF-8"),
])
def test_a_csv_that_is_empty_or_not_utf8(tmp_path, content, message):
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    assert message.format(path=path) in data_error(load_customers, path, "customer_id").message


# --- unscored pairs ------------------------------------------------------------------------------


def test_unscored_pairs_are_simply_not_eligible(tmp_path):
    save(customers_table(), tmp_path / "customers.csv")
    save(scores_table(), tmp_path / "scores.parquet")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "name": "unscored", "customers": "customers.csv", "scores": "scores.parquet",
        "campaigns": [{"id": "email_offer", "channel": "email", "value_per_response": "ltv"},
                      {"id": "sms_offer", "channel": "sms", "value_per_response": "ltv"}],
    }))
    formulation = formulate(load_data(load_scenario(path)))
    expected = [[True, True], [True, True], [True, True], [False, True], [False, False]]
    assert formulation.scored.tolist() == expected
    assert formulation.problem.eligible.tolist() == expected


def test_customer_ids_apart_only_by_blanks_are_one_customer_refused_twice(tmp_path):
    """'C4' and 'C4 ' were two customers: validate said valid, and the plan e-mailed C4 twice."""
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,ltv\nC3,1\nC4,2\nC4 ,3\n")
    with pytest.raises(DataError, match="The customer id 'C4' appears more than once"):
        load_customers(path, "customer_id")


@pytest.mark.parametrize(("written", "fix"), [
    (lambda p: (p * 100).round(2), "looks like percentages (every value between 0 and 100): divide it by 100"),
    (lambda p: p.map(lambda v: f"{v:.3f}".replace(".", ",")), "decimal comma ('0,072'): write 0.072"),
])
def test_probabilities_as_percentages_or_with_decimal_commas_get_their_fix(tmp_path, written, fix):
    """'Fix or drop those rows' on a column of percentages left the rows below 1 (0.35 % read as 35 %)."""
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"customer_id": [f"c{i}" for i in range(50)], "campaign_id": "mail",
                          "p_treat": rng.uniform(0.002, 0.3, 50), "p_control": rng.uniform(0.001, 0.2, 50)})
    table["p_treat"] = written(table["p_treat"])
    with pytest.raises(DataError) as caught:
        load_scores(tmp_path / "scores.csv", pd.Index(table["customer_id"]), ["mail"], table=table)
    assert fix in caught.value.fix


# --- problems of several inputs at once ----------------------------------------------------------


def broken_inputs(folder: Path, **keys) -> Path:
    """A score row of 1.5, a contact history that is a folder, an excluded list that is not there."""
    save(customers_table(), folder / "customers.csv")
    scores = scores_table()
    scores.loc[2, "p_treat"] = 1.5
    save(scores, folder / "scores.parquet")
    (folder / "history").mkdir()
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "name": "inputs", "customers": "customers.csv", "scores": "scores.parquet", "excluded": ["dnc.csv"],
        "contact_policy": {"history": "history"},
        "campaigns": [{"id": "email_offer", "channel": "email", "value_per_response": "ltv"},
                      {"id": "sms_offer", "channel": "sms", "value_per_response": "ltv"}], **keys}))
    return path


def test_the_scores_the_lists_and_the_history_are_read_apart_and_their_problems_listed_together(tmp_path):
    """Each is read against the customers alone: three runs found them one by one."""
    path = broken_inputs(tmp_path)
    with pytest.raises(Problems) as caught:
        load_data(load_scenario(path))
    error = caught.value
    assert [type(problem) for problem in error.errors] == [DataError, HistoryError, DataError]
    assert "'p_treat' must be a probability in [0, 1] but is 1.5" in error.errors[0].message
    assert "The contact history path is a folder" in error.errors[1].message
    assert "dnc.csv does not exist" in error.errors[2].message
    assert error.exit_code == 3 and error.message.startswith(f"The scenario {path} has 3 problems:")
    assert error.__notes__ == ["Not checked: the expressions, the minimum audiences and the limits, which read "
                               "the scores."]


def test_an_unreadable_history_is_listed_with_the_expressions_and_leaves_minimum_audiences_unchecked(tmp_path):
    """With the caller's findings (cvo validate's), the data come back without the history: the
    expressions are still checked, and no minimum audience is told out of reach on no contacts."""
    path = broken_inputs(tmp_path, excluded=[])
    scores = scores_table()
    save(scores, tmp_path / "scores.parquet")
    raw = yaml.safe_load(path.read_text())
    raw["campaigns"][0].update(eligible="ltvv > 0")
    raw["campaigns"][1].update(min_audience=5)  # 4 customers are scored for it
    path.write_text(yaml.safe_dump(raw))
    scenario = load_scenario(path)
    found = findings(scenario)
    data = load_data(scenario, found=found)
    assert data.contacts.empty
    with pytest.raises(Problems) as caught:
        formulate(data, found=found)
    assert [problem.where for problem in caught.value.errors] == [
        str(tmp_path / "history"), f"{path}, campaigns[0].eligible"]
    assert caught.value.__notes__ == ["Not checked: the minimum audiences, which need the contact history.",
                                      LIMITS_UNCHECKED]

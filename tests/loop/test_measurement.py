"""The measure workflow: a committed run and an outcomes file, found by folder or by run id."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.errors import DataError, HistoryError, RunFolderError, ScenarioError
from optimizer.loop.commits import commit
from optimizer.loop.measurement import measure_run, resolve_run, run_held, write_measurement
from optimizer.store.files import MEASUREMENT_FILE
from optimizer.store.ledger import void


@pytest.fixture
def sent(tmp_path):
    """A 600-customer run, committed, with outcomes where treated customers buy twice as often."""
    scenario = write_scenario(tmp_path, n=600, budget=200.0)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    commit(tmp_path / "w1", tmp_path / "history.duckdb")
    plan = pd.read_parquet(tmp_path / "w1" / "plan.parquet").dropna(subset=["campaign_id"])
    rng = np.random.default_rng(5)
    converted = rng.random(len(plan)) < np.where(plan["group"] == "treatment", 0.4, 0.2)
    outcomes = pd.DataFrame({"customer_id": plan["customer_id"], "converted": converted.astype(int),
                             "revenue": converted * 50.0})
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    return tmp_path, summary


def test_a_folder_and_its_run_id_measure_the_same(sent):
    folder, summary = sent
    by_folder = measure_run(folder / "w1", folder / "outcomes.csv")
    by_id = measure_run(summary["run_id"][:10], folder / "outcomes.csv", history=folder / "history.duckdb")
    assert by_folder.to_dict() == by_id.to_dict()
    assert by_folder.run_id == summary["run_id"]
    counts = {c.campaign_id: (c.n_treatment, c.n_control) for c in by_folder.measurement.campaigns}
    assert counts == {c["id"]: (c["treatment"], c["control"]) for c in summary["campaigns"]}
    total = by_folder.measurement.total.response_uplift
    assert total.ci_low <= 0.2 <= total.ci_high


def test_costs_come_from_the_history(sent):
    folder, summary = sent
    result = measure_run(folder / "w1", folder / "outcomes.csv")
    mail = next(c for c in result.measurement.campaigns if c.campaign_id == "mail")
    treated = next(c["treatment"] for c in summary["campaigns"] if c["id"] == "mail")
    assert mail.cost == pytest.approx(0.5 * treated)


def test_personas_use_the_scenario_customers_and_the_result_is_written(sent):
    folder, _ = sent
    heard: list[str] = []
    result = measure_run(folder / "w1", folder / "outcomes.csv", stage=heard.append)
    assert result.personas_note is None
    assert [text.split()[0] for text in heard] == ["Reading", "Reading", "Measuring", "Searching"]
    assert "outcomes.csv" in heard[1] and f"{sum(c.n_treatment + c.n_control for c in result.measurement.campaigns):,}" \
        in heard[2]
    path = write_measurement(result, folder / "w1")
    written = json.loads(path.read_text())
    assert path.name == MEASUREMENT_FILE and written["run_id"] == result.run_id and "personas" in written


def test_a_customer_table_of_another_id_name_is_read_by_its_column(sent):
    """measure --customers read the table by 'customer_id' alone, and told the user to set the
    scenario's customer_id, which names the scenario's table, not this one."""
    folder, _ = sent
    run = pd.read_parquet(folder / "w1" / "plan.parquet")[["customer_id"]].drop_duplicates()
    given = run.rename(columns={"customer_id": "client_no"}).assign(tier=np.arange(len(run)) % 3)
    given.to_csv(folder / "crm.csv", index=False)
    with pytest.raises(DataError, match="name it with --customers-column NAME"):
        measure_run(folder / "w1", folder / "outcomes.csv", customers=folder / "crm.csv")
    result = measure_run(folder / "w1", folder / "outcomes.csv", customers=folder / "crm.csv",
                         customers_column="client_no")
    assert result.personas_note is None
    with pytest.raises(ScenarioError, match="--customers-column names the id column"):
        measure_run(folder / "w1", folder / "outcomes.csv", customers_column="client_no")
    given.assign(customer_id=1).to_csv(folder / "crm.csv", index=False)  # a CRM's own id beside it
    with pytest.raises(DataError, match="has a column 'customer_id' besides its id column 'client_no'"):
        measure_run(folder / "w1", folder / "outcomes.csv", customers=folder / "crm.csv", customers_column="client_no")


def test_a_customer_table_is_read_by_the_scenarios_id_column_by_default(tmp_path):
    """A scenario whose customers are keyed 'client_no': measure --customers given that very table
    reads it by 'client_no' without --customers-column (the run's scenario names it)."""
    scenario = write_scenario(tmp_path, n=600, budget=200.0)
    customers = pd.read_parquet(tmp_path / "customers.parquet").rename(columns={"customer_id": "client_no"})
    customers.assign(tier=np.arange(len(customers)) % 3).to_parquet(tmp_path / "customers.parquet")
    scenario.write_text(yaml.safe_dump(yaml.safe_load(scenario.read_text()) | {"customer_id": "client_no"}))
    run_week(scenario, tmp_path / "w1", MONDAY)
    commit(tmp_path / "w1", tmp_path / "history.duckdb")
    plan = pd.read_parquet(tmp_path / "w1" / "plan.parquet").dropna(subset=["campaign_id"])
    pd.DataFrame({"customer_id": plan["customer_id"], "converted": 1}).to_csv(tmp_path / "outcomes.csv", index=False)
    result = measure_run(tmp_path / "w1", tmp_path / "outcomes.csv", customers=tmp_path / "customers.parquet")
    assert result.personas_note is None


def test_a_measurement_is_not_written_beside_a_run_that_replaced_the_measured_one(sent):
    """measure read run w1; meanwhile a new run was written into w1: its measurement would be taken
    for the new run's, so it is refused, and nothing is written."""
    folder, summary = sent
    result = measure_run(folder / "w1", folder / "outcomes.csv")
    run_week(summary["scenario_file"], folder / "w1", MONDAY)  # the same scenario again: a new run id
    with pytest.raises(RunFolderError, match=f"not the measured run {result.run_id}"):
        write_measurement(result, folder / "w1")
    assert not (folder / "w1" / MEASUREMENT_FILE).exists()


def test_out_onto_another_runs_folder_says_so_not_that_a_run_came_in_meanwhile(sent):
    """--out naming another run's folder was told 'a run was written into it while this one was
    measured', with a fix (measure again) that failed the same way."""
    folder, summary = sent
    result = measure_run(folder / "w1", folder / "outcomes.csv")
    run_week(summary["scenario_file"], folder / "w2", MONDAY)
    held = run_held(folder / "w2")
    with pytest.raises(RunFolderError, match=f"The folder holds run {held}, not the measured run") as caught:
        write_measurement(result, folder / "w2", held)
    assert "the measured run's own folder" in caught.value.fix and not (folder / "w2" / MEASUREMENT_FILE).exists()


def test_a_voided_run_is_measured_with_a_warning_and_a_live_one_without(sent):
    """A run `cvo void` took back may never have been sent: its measurement says so, with the reason."""
    folder, summary = sent
    live = measure_run(folder / "w1", folder / "outcomes.csv")
    void(folder / "history.duckdb", summary["run_id"], "sent twice")
    voided = measure_run(folder / "w1", folder / "outcomes.csv")
    assert live.voided is None and live.to_dict()["voided"] is None
    assert voided.voided is not None and "was voided on" in voided.voided and "(sent twice)" in voided.voided
    assert voided.to_dict()["voided"] == voided.voided
    assert voided.measurement == live.measurement


def test_a_run_id_without_a_history_is_refused():
    with pytest.raises(HistoryError, match="no history was given"):
        resolve_run("abc123", None)


def test_an_uncommitted_run_is_refused(sent, tmp_path):
    folder, _ = sent
    run_week(folder / "loop.yaml", folder / "w2", MONDAY)
    with pytest.raises(HistoryError, match="the run was not committed to it"):
        measure_run(folder / "w2", folder / "outcomes.csv")


def test_outcomes_from_another_file_kind_are_refused(sent):
    folder, _ = sent
    (folder / "outcomes.txt").write_text("customer_id,revenue\n")
    with pytest.raises(DataError, match="suffix"):
        measure_run(folder / "w1", folder / "outcomes.txt")


def test_roi_is_measured_on_the_value_the_plan_optimised_with_revenue_beside_it(sent):
    """The committed contacts carry each customer's value of one response (w, the plan's margin);
    measure values the observed responses at w, and its ROI is (n_T × value uplift - cost) / cost."""
    from optimizer.loop.lift_text import format_measurement
    from optimizer.store.history_file import run_record

    folder, summary = sent
    plan = pd.read_parquet(folder / "w1" / "plan.parquet").dropna(subset=["campaign_id"])
    customers = pd.read_parquet(folder / "customers.parquet").set_index("customer_id")
    rate = {"mail": 0.1, "text": 0.08}  # the scenario's value_per_response: ltv × rate
    expected = customers.loc[plan["customer_id"], "ltv"].to_numpy() * plan["campaign_id"].map(rate).to_numpy()
    assert plan["value_per_response"].to_numpy() == pytest.approx(expected)
    _, _, contacts = run_record(folder / "history.duckdb", summary["run_id"])
    assert contacts["value_per_response"].notna().all()

    result = measure_run(folder / "w1", folder / "outcomes.csv").measurement
    outcomes = pd.read_csv(folder / "outcomes.csv").set_index("customer_id")
    mail = plan[plan["campaign_id"] == "mail"]
    value = outcomes.loc[mail["customer_id"], "converted"].to_numpy() * mail["value_per_response"].to_numpy()
    treated = (mail["group"] == "treatment").to_numpy()
    uplift = value[treated].mean() - value[~treated].mean()
    measured = next(c for c in result.campaigns if c.campaign_id == "mail")
    assert result.has_value
    assert measured.incremental_value.estimate == pytest.approx(treated.sum() * uplift)
    assert measured.value_roi.estimate == pytest.approx((treated.sum() * uplift - measured.cost) / measured.cost)
    assert measured.roi.estimate != pytest.approx(measured.value_roi.estimate)  # revenue is another basis
    text = format_measurement(result)
    assert "value_per_response (the basis the plan optimised)" in text and "ROI on revenue" in text

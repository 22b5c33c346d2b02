"""Partitioned data as users have it, on a LocalCluster: Spark and Hive layouts behind a file://
URL, empty parts, and scores partitioned unlike the customers, each giving the in-memory plan."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("distributed")

from partitioned import (  # noqa: E402
    WRITTEN,
    distributed_plan,
    rounds_not_cut_by_time,  # noqa: F401 (an autouse fixture)
    write_scenario,
)

from optimizer.errors import DataError  # noqa: E402
from optimizer.plan.distributed import optimize_distributed  # noqa: E402
from optimizer.plan.workflow import optimize  # noqa: E402
from optimizer.scenario.schema import load_scenario  # noqa: E402
from optimizer.solve.options import Method  # noqa: E402
from optimizer.store.files import PLAN_FOLDER  # noqa: E402


def spark_name(number: int) -> str:
    return f"part-{number:05d}-{uuid.UUID(int=number + 1)}.c000.snappy.parquet"


def write_spark_layout(folder: Path) -> tuple[int, pd.DataFrame]:
    """The example customers as a Spark job writes them partitioned by segment (the column lives in
    the folder names: segment=VIP/part-…), two parts in the largest segment, with _SUCCESS, .crc
    files, a part of no rows and a file of no bytes; returns the parts with rows and the scores."""
    customers = pd.read_parquet(folder / "whole" / "customers.parquet")
    scores = pd.read_parquet(folder / "whole" / "scores.parquet")
    root = folder / "spark"
    parts = 0
    for segment, rows in customers.groupby("segment", sort=True):
        target = root / f"segment={segment}"
        target.mkdir(parents=True)
        halves = [rows.iloc[: len(rows) // 2], rows.iloc[len(rows) // 2:]] if len(rows) > 4_000 else [rows]
        for half in halves:
            half.drop(columns="segment").to_parquet(target / spark_name(parts))
            (target / f".{spark_name(parts)}.crc").write_bytes(b"crc")
            parts += 1
    customers.head(0).drop(columns="segment").to_parquet(root / "segment=VIP" / spark_name(90))
    (root / "segment=VIP" / spark_name(91)).write_bytes(b"")
    (root / "_SUCCESS").write_bytes(b"")
    return parts, scores


def run_both(client, scenario_path: Path, out: Path | str) -> tuple:
    """The plan of the cluster and the in-memory plan of one scenario."""
    run = optimize_distributed(load_scenario(scenario_path), client, out)
    in_memory = optimize(load_scenario(scenario_path), Method.DECOMPOSE)
    return run, in_memory


def assert_same_plan(run, in_memory, plan_folder: Path) -> None:
    assert run.result.objective == pytest.approx(in_memory.result.objective, rel=1e-12)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(distributed_plan(plan_folder), expected, check_dtype=False)


@pytest.mark.slow  # 9-12 s; tests/store/test_datasets.py reads Spark/Hive datasets behind URLs in the default run
def test_a_spark_hive_dataset_behind_a_url_with_scores_split_otherwise_gives_the_in_memory_plan(client, tmp_path):
    """Customers by a file:// URL in segment=… folders (the eligibility rules read the segment from
    the folder names), scores as three files split by campaign: routed by id, the same plan."""
    write_scenario(tmp_path, 1)
    parts, scores = write_spark_layout(tmp_path)
    (tmp_path / "by_campaign").mkdir()
    for number, (_, rows) in enumerate(scores.groupby(pd.factorize(scores["campaign_id"])[0] % 3)):
        rows.sample(frac=1.0, random_state=number).to_parquet(tmp_path / "by_campaign" / f"chunk-{number}.parquet")
    scenario = yaml.safe_load((tmp_path / "partitioned.yaml").read_text())
    scenario.update(customers=f"file://{tmp_path}/spark", scores="by_campaign", storage_options={"auto_mkdir": True})
    path = tmp_path / "spark.yaml"
    path.write_text(yaml.safe_dump(scenario))
    run, in_memory = run_both(client, path, f"file://{tmp_path}/out")
    assert_same_plan(run, in_memory, tmp_path / "out")
    assert in_memory.summary["customers"] == 15_000
    assert sum(e["removed"] for e in in_memory.summary["eligibility"]) > 0
    written = sorted(path.name for path in (tmp_path / "out" / PLAN_FOLDER).glob("*.parquet"))
    assert written == [f"part-{n:05d}.parquet" for n in range(parts)]  # the empty part has none
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["partitions"] == parts


@pytest.mark.slow  # 5-7 s; the default suite stays under 10 minutes (the next routing test covers it)
def test_score_parts_named_like_the_customers_but_holding_others_are_routed(client, tmp_path):
    """Two score files with the customer files' names, each holding the other's customers: the
    first load finds it out, the scores are routed by id, and the plan is the in-memory one."""
    scenario_path = write_scenario(tmp_path, 2)
    first, second = (tmp_path / "scores" / f"part-00{n}.parquet" for n in (0, 1))
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    run, in_memory = run_both(client, scenario_path, tmp_path / "out")
    assert_same_plan(run, in_memory, tmp_path / "out")


def test_scores_of_a_customer_in_no_part_are_named(client, tmp_path):
    scenario_path = write_scenario(tmp_path, 2)
    stray = pd.read_parquet(tmp_path / "scores" / "part-000.parquet").head(1).assign(customer_id="nobody")
    stray.to_parquet(tmp_path / "scores" / "part-002.parquet")
    with pytest.raises(DataError) as caught:
        optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    assert "The scores name customer 'nobody', who is in no part of the customers dataset (1 such row(s))" \
        in caught.value.message
    assert not (tmp_path / "out" / PLAN_FOLDER).exists()


def same_error(kind: type, client, scenario_path: Path, out: Path) -> str:
    """The message of the error ``cvo validate`` (in memory) and a --dask run both stop with."""
    from optimizer.plan.workflow import validate

    with pytest.raises(kind) as in_memory:
        validate(load_scenario(scenario_path))
    with pytest.raises(kind) as distributed:
        optimize_distributed(load_scenario(scenario_path), client, out)
    assert distributed.value.message == in_memory.value.message
    return distributed.value.message


def test_minimum_audiences_that_break_a_limit_stop_the_run_as_validate_does(client, tmp_path):
    """Minimum audiences that need more of the e-mail capacity than it has, even with their cheapest
    customers: the partitions' cheapest uses, added up, give validate's own message before any pass."""
    from optimizer.errors import InfeasibleError

    scenario = yaml.safe_load(write_scenario(tmp_path, 2).read_text())
    scenario["channels"]["email"]["capacity"] = 1_000
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(scenario))
    message = same_error(InfeasibleError, client, path, tmp_path / "out")
    assert "need at least 2,000 of capacity[email] (<= 1,000, channels.email.capacity)" in message
    assert not (tmp_path / "out").exists()


def test_an_infeasible_scenario_the_check_cannot_see_ends_with_exit_4_and_the_way_to_find_why(client, tmp_path):
    """Two campaigns each need 2 of the same 2 eligible customers: no single limit shows it, the
    decomposition proves it, and the message says how to see which limits conflict."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    (tmp_path / "customers").mkdir()
    for number, ids in enumerate([[0, 1, 2], [3, 4, 5]]):
        pd.DataFrame({"customer_id": [f"c{i}" for i in ids], "vip": [i < 2 for i in ids]}).to_parquet(
            tmp_path / "customers" / f"part-{number}.parquet")
    (tmp_path / "overlap.yaml").write_text(yaml.safe_dump({"name": "overlap", "customers": "customers", "campaigns": [
        {"id": campaign, "channel": "email", "p_treat": 0.3, "p_control": 0.1, "value_per_response": 10,
         "cost_per_contact": 1, "eligible": "vip", "min_audience": 2} for campaign in ("a", "b")]}))
    result = CliRunner().invoke(app, ["optimize", str(tmp_path / "overlap.yaml"), "--dask", client.scheduler.address,
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 4, result.output
    text = " ".join(result.output.split())
    assert "No plan satisfies every constraint of scenario 'overlap': the decomposition proved it" in text
    assert "--sample 0.01 names them" in text and not (tmp_path / "out" / PLAN_FOLDER).exists()


def move_rows(tmp_path: Path, campaign: str, source: str, target: str | None) -> None:
    """Move the score rows of ``campaign`` from score part ``source`` to ``target`` (None: drop them)."""
    rows = pd.read_parquet(tmp_path / "scores" / source)
    moving = rows["campaign_id"] == campaign
    rows[~moving].to_parquet(tmp_path / "scores" / source)
    if target is not None:
        other = pd.read_parquet(tmp_path / "scores" / target)
        pd.concat([other, rows[moving]]).to_parquet(tmp_path / "scores" / target)


def test_a_score_part_holding_rows_of_another_part_is_found_before_loading_and_routed(client, tmp_path):
    """part-000's sms rows sit in part-001: the id columns show it before any partition loads (which
    would find part-000 without sms rows), so the scores are joined by id and the plan is memory's."""
    scenario_path = write_scenario(tmp_path, 2)
    move_rows(tmp_path, "sms_reminder", "part-000.parquet", "part-001.parquet")
    run, in_memory = run_both(client, scenario_path, tmp_path / "out")
    assert_same_plan(run, in_memory, tmp_path / "out")


def test_a_campaign_scored_in_some_partitions_only_is_planned_and_one_scored_nowhere_is_named(client, tmp_path):
    """The rule that a campaign reading the scores has rows there holds for the whole table, not for
    each partition: without part-000's sms rows the run plans as in memory; without any, both stop
    with the same message."""

    scenario_path = write_scenario(tmp_path, 2)
    move_rows(tmp_path, "sms_reminder", "part-000.parquet", None)
    run, in_memory = run_both(client, scenario_path, tmp_path / "out")
    assert_same_plan(run, in_memory, tmp_path / "out")
    move_rows(tmp_path, "sms_reminder", "part-001.parquet", None)
    message = same_error(DataError, client, scenario_path, tmp_path / "out2")
    assert "The scores table has no rows for campaign 'sms_reminder'" in message


def test_a_scheduler_file_that_is_not_there_is_named_at_once(tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app

    result = CliRunner().invoke(app, ["optimize", str(write_scenario(tmp_path, 2)), "--scheduler-file",
                                      str(tmp_path / "scheduler.json"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "scheduler.json does not exist" in " ".join(result.output.split())


def test_a_customer_in_two_parts_is_named_as_a_duplicate_is_in_memory(client, tmp_path):
    scenario_path = write_scenario(tmp_path, 2)
    first = pd.read_parquet(tmp_path / "customers" / "part-000.parquet")
    second = pd.read_parquet(tmp_path / "customers" / "part-001.parquet")
    pd.concat([second, first.head(1)]).to_parquet(tmp_path / "customers" / "part-001.parquet")
    with pytest.raises(DataError) as caught:
        optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    assert caught.value.message.startswith(f"The customer id '{first['customer_id'].iat[0]}' appears in more than "
                                           "one part of the customers dataset (1 duplicate row(s) in all)")
    assert caught.value.exit_code == 3 and not (tmp_path / "out" / PLAN_FOLDER).exists()


def test_routed_score_rows_are_not_held_through_the_passes(client, tmp_path):
    """Scores split by campaign are routed to the partitions to load them, then let go: once loaded,
    the cluster holds no data frame (the passes need the compact arrays only); the plan routes
    them again to write."""
    import datetime as dt
    import gc
    import time

    from optimizer.plan.distributed import anchored
    from optimizer.plan.partitioned_data import loaded_data

    write_scenario(tmp_path, 2)
    scores = pd.read_parquet(tmp_path / "whole" / "scores.parquet")
    (tmp_path / "by_campaign").mkdir()
    for number, (_, rows) in enumerate(scores.groupby("campaign_id")):
        rows.to_parquet(tmp_path / "by_campaign" / f"chunk-{number}.parquet")
    scenario = yaml.safe_load((tmp_path / "partitioned.yaml").read_text())
    path = tmp_path / "routed.yaml"
    path.write_text(yaml.safe_dump({**scenario, "scores": "by_campaign"}))
    data = loaded_data(client, anchored(load_scenario(path)), dt.date(2026, 1, 5))

    def held_frames(dask_scheduler):
        return [str(task.key) for task in dask_scheduler.tasks.values()
                if task.state == "memory" and "DataFrame" in str(task.type)]

    assert data.routing is not None
    # A future let go reaches the scheduler a moment later, and later still on a loaded machine (a
    # full-suite run once found three shuffle partitions held after 10 s that passed alone): collect
    # the client's garbage (futures in reference cycles) and allow 30 s.
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(held_frames) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.1)
    assert not client.run_on_scheduler(held_frames)
    routed = client.gather(data.routed())
    assert sum(len(frame) for frame in routed) == len(scores)

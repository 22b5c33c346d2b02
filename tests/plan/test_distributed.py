"""The decomposition on a dask.distributed LocalCluster against the in-memory run.

The example customers and scores are split into co-partitioned parquet files; the plan the
cluster writes (one file per partition) must match the in-memory plan exactly: the same
campaign and the same control/treatment group for every customer, whatever the number of
partitions.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

distributed = pytest.importorskip("distributed")

from instances import Standings  # noqa: E402
from partitioned import (  # noqa: E402
    CUSTOMERS,
    WRITTEN,
    assert_same_summary,
    distributed_plan,
    rounds_not_cut_by_time,  # noqa: F401 (an autouse fixture)
    write_scenario,
)

from optimizer.errors import DataError, ScenarioError  # noqa: E402
from optimizer.plan.distributed import optimize_distributed  # noqa: E402
from optimizer.plan.workflow import optimize  # noqa: E402
from optimizer.scenario.schema import load_scenario  # noqa: E402
from optimizer.solve.options import Method, Precision  # noqa: E402
from optimizer.solve.results import gap_allowed  # noqa: E402
from optimizer.store.files import PLAN_FOLDER  # noqa: E402


@pytest.mark.parametrize("partitions", [pytest.param(1, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow), 4])
def test_the_cluster_writes_the_in_memory_plan(client, tmp_path, partitions):
    scenario_path = write_scenario(tmp_path, partitions)
    run = optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    assert run.result.objective == pytest.approx(in_memory.result.objective, rel=1e-12)
    assert run.result.termination == in_memory.result.termination
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id")
    got = distributed_plan(tmp_path / "out")
    assert len(list((tmp_path / "out" / PLAN_FOLDER).glob("*.parquet"))) == partitions
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_dtype=False)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["partitions"] == partitions and summary["method"] == "decompose"
    assert summary["gap"] <= 1e-6 and summary["load_seconds"] > 0
    assert_same_summary(summary, json.loads(json.dumps(in_memory.summary)))
    assert_same_contact_lists(tmp_path / "out", in_memory)
    if partitions == 1:
        from optimizer.reporting.report import write_report

        assert write_report(tmp_path / "out").name == "report.html"


def assert_same_contact_lists(out: Path, in_memory) -> None:
    """Each channel's contact list, its partitions' CSV parts read together, is the in-memory run's."""
    from optimizer.plan.outputs import contact_lists

    summary = json.loads((out / "summary.json").read_text())
    expected = contact_lists(in_memory.assignments, summary["run_date"], in_memory.formulation.problem.channels)
    assert sorted(summary["contact_lists"]) == sorted(expected)
    for channel, (name, rows) in expected.items():
        folder = out / summary["contact_lists"][channel]
        assert folder.name == name.removesuffix(".csv")
        parts = sorted(folder.glob("part-*.csv"))
        assert len(parts) == summary["partitions"]
        got = pd.concat([pd.read_csv(part, dtype=str) for part in parts]).sort_values("customer_id")
        written = pd.read_csv(io.StringIO(rows.to_csv(index=False)), dtype=str).sort_values("customer_id")
        pd.testing.assert_frame_equal(got.reset_index(drop=True), written.reset_index(drop=True))


def test_a_distributed_run_reports_loading_passes_and_its_standing(client, tmp_path):
    """The partitions' loading and every map are heard partition by partition, in whole-customer
    counts that end at n; the last standing is the plan and bound the run states."""
    heard = Standings()
    run = optimize_distributed(load_scenario(write_scenario(tmp_path, 4)), client, tmp_path / "out", progress=heard)
    n = heard.passes[0][2]
    loads = [done for stage, done, _ in heard.passes if stage == "load"]
    assert loads == sorted(loads) and loads[-1] == n and len(loads) == 4
    assert {stage for stage, _, _ in heard.passes} >= {"load", "balance", "pass", "plan"}
    _, objective, bound = heard.told[-1]
    assert objective == pytest.approx(run.result.objective) and bound == pytest.approx(run.result.bound)


@pytest.mark.slow  # 8-14 s; the default suite stays under 10 minutes
def test_the_nested_balancing_samples_are_drawn_alike_on_the_cluster(client, tmp_path, monkeypatch):
    """With sample levels small enough to run on 15,000 customers, the cluster (3 partitions, the
    samples drawn on the workers) still writes the in-memory plan, and the levels did run."""
    from optimizer.solve import balancing

    monkeypatch.setattr(balancing, "COARSE", (1_000, 5_000))
    drawn = []
    subsample = balancing.parts.subsample
    monkeypatch.setattr(balancing.parts, "subsample", lambda *a: drawn.append(a[0].n_customers) or subsample(*a))
    scenario_path = write_scenario(tmp_path, 3)
    run = optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    # each run: the 5,000 sample drawn once, and from it the warm start's, the two levels' and the margins'
    assert len(drawn) == 8 and len(set(drawn)) == 1 and 4_000 < drawn[0] < 6_000
    assert run.result.objective == pytest.approx(in_memory.result.objective, rel=1e-12)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id")
    pd.testing.assert_frame_equal(distributed_plan(tmp_path / "out"), expected.reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.slow  # 8-14 s; the default suite stays under 10 minutes
def test_screening_on_the_cluster_writes_the_in_memory_plan(client, tmp_path, monkeypatch):
    """With screening from 10,000 customers (sample levels of 1,000 and 7,000) and budgets of one
    cost per contact, the cluster's one screening pass and the gathered candidates give the
    in-memory plan, customer for customer, and neither run needed the passes over everyone."""
    from optimizer.solve import balancing, decompose, screening

    monkeypatch.setattr(balancing, "COARSE", (1_000, 7_000))
    monkeypatch.setattr(screening, "SCREEN_ABOVE", 10_000)
    monkeypatch.setattr(screening, "SCREEN_SHARE", 0.2)  # a sample of 7,000 leaves prices far from the optimum
    screens = []
    screen = screening.screen
    monkeypatch.setattr(screening, "screen", lambda *a: screens.append(screen(*a)) or screens[-1])
    solved = []
    solve_all = decompose._decompose_all
    monkeypatch.setattr(decompose, "_decompose_all", lambda *a, **kw: solved.append(a[0].n) or solve_all(*a, **kw))
    scenario_path = write_scenario(tmp_path, 3, per_contact=True)
    run = optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    assert len(screens) == 2 and np.array_equal(screens[0].candidates, screens[1].candidates)
    assert 0 < screens[0].candidates.size < CUSTOMERS / 3
    assert solved == [screens[0].candidates.size] * 2, "each run solved the candidates only"
    assert run.result.objective == pytest.approx(in_memory.result.objective, rel=1e-12)
    assert run.result.termination == in_memory.result.termination
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id")
    pd.testing.assert_frame_equal(distributed_plan(tmp_path / "out"), expected.reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.slow  # 8-14 s; the default suite stays under 10 minutes
def test_a_second_run_replaces_the_whole_plan_folder(client, tmp_path):
    scenario = load_scenario(write_scenario(tmp_path, 3))
    optimize_distributed(scenario, client, tmp_path / "out")
    (tmp_path / "out" / PLAN_FOLDER / "part-999.parquet").write_text("left over from an older run")
    optimize_distributed(scenario, client, tmp_path / "out")
    files = sorted((tmp_path / "out" / PLAN_FOLDER).iterdir())
    assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    run_id = json.loads((tmp_path / "out" / "summary.json").read_text())["run_id"]
    assert {pq.read_schema(f).metadata[b"cvo_run_id"].decode() for f in files} == {run_id}
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_a_single_file_is_not_a_partitioned_dataset(client, tmp_path):
    write_scenario(tmp_path, 1)
    with pytest.raises(DataError, match="not a folder of .parquet partitions"):
        optimize_distributed(load_scenario(tmp_path / "whole.yaml"), client, tmp_path / "out")


def test_cvo_optimize_dask_writes_the_partitioned_plan(client, tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app

    scenario = write_scenario(tmp_path, 2)
    result = CliRunner().invoke(app, ["optimize", str(scenario), "--dask", client.scheduler.address,
                                      "--out", str(tmp_path / "cli"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # the dashboard's link goes to stderr, never into the JSON
    assert summary["status"] == "optimal" and summary["partitions"] == 2
    assert f"Dask dashboard: {client.dashboard_link}" in result.stderr
    assert len(distributed_plan(tmp_path / "cli")) == CUSTOMERS
    again = CliRunner().invoke(app, ["optimize", str(scenario), "--dask", client.scheduler.address,
                                     "--out", str(tmp_path / "cli")])
    assert again.exit_code == 0 and f"Wrote {tmp_path / 'cli'}/: plan/ (one file per partition), contacts/" in \
        " ".join(again.output.split())
    assert sorted(path.name for path in (tmp_path / "cli" / "contacts").iterdir()) == [
        "contacts_email", "contacts_phone", "contacts_sms"]


def test_a_dask_run_onto_a_folder_of_the_users_files_is_refused_before_a_cluster_starts(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import optimizer.cli.plan as cli_plan
    from optimizer.cli import app

    def no_cluster(*args: object) -> None:
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(cli_plan, "_cluster", no_cluster)
    scenario = write_scenario(tmp_path, 2)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "scenario.yaml").write_text("# the user's own\n")
    result = CliRunner().invoke(app, ["optimize", str(scenario), "--dask", "local", "--out", str(tmp_path / "mine")])
    assert result.exit_code == 7 and "holds scenario.yaml, not the files of a cvo run" in " ".join(result.output.split())
    assert (tmp_path / "mine" / "scenario.yaml").read_text() == "# the user's own\n"


def test_a_partitioned_plan_is_committed_like_the_in_memory_one(client, tmp_path):
    """cvo commit reads plan/ (one file per partition) straight into the history; same contacts."""
    from optimizer.plan.outputs import write_plan
    from optimizer.store.history_file import run_record
    from optimizer.store.ledger import commit
    from optimizer.store.runs import read_run

    monday = dt.date(2026, 1, 5)
    scenario = load_scenario(write_scenario(tmp_path, 3))
    run = optimize_distributed(scenario, client, tmp_path / "out", monday)
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE, run_date=monday)
    write_plan(in_memory, tmp_path / "whole_out")
    histories = [tmp_path / f"{folder}.duckdb" for folder in ("out", "whole_out")]  # same customers, same day
    committed = [commit(read_run(tmp_path / folder), history)
                 for folder, history in zip(("out", "whole_out"), histories)]
    assert committed[0].contacts == committed[1].contacts == sum(c["audience"] for c in run.summary["campaigns"])
    contacts = [run_record(history, c.run_id)[2].sort_values("customer_id").reset_index(drop=True)
                for history, c in zip(histories, committed)]
    pd.testing.assert_frame_equal(contacts[0], contacts[1])
    assert (contacts[0]["sent_on"].dt.date == monday).all()


def test_relative_paths_mean_on_the_workers_what_they_mean_on_the_client(client, tmp_path, monkeypatch):
    """From a working folder the workers do not share: the scenario, --out and the contact history
    are relative, and the history holds last week's contacts. The cluster's plan respects them,
    customer for customer as the in-memory plan does, and is written under the client's --out."""
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.loop.commits import commit as commit_run
    from optimizer.plan.outputs import write_plan
    from optimizer.reporting.console import POLICY_KINDS

    monday = dt.date(2026, 1, 5)
    write_scenario(tmp_path, 2)
    write_plan(optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE, run_date=monday), tmp_path / "w1")
    commit_run(tmp_path / "w1")  # the history, contact_history.duckdb beside the scenarios
    assert (tmp_path / "contact_history.duckdb").is_file()
    later = monday + dt.timedelta(days=7)
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE, run_date=later)
    monkeypatch.chdir(tmp_path)  # the workers were started elsewhere
    result = CliRunner().invoke(app, ["optimize", "partitioned.yaml", "--dask", client.scheduler.address,
                                      "--out", "relative_out", "--date", str(later), "--json"])
    assert result.exit_code == 0, result.output
    got = distributed_plan(tmp_path / "relative_out")
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    removed = sum(e["removed"] for e in in_memory.summary["eligibility"] if e["kind"] in POLICY_KINDS)
    assert removed > 0  # last week's contacts did keep customers out


def test_a_history_the_client_reads_but_a_worker_cannot_is_an_error(tmp_path):
    from optimizer.errors import HistoryError
    from optimizer.plan.distributed import anchored
    from optimizer.plan.partitioned_data import datasets, load_partition, sources

    scenario = anchored(load_scenario(write_scenario(tmp_path, 2)))
    assert Path(scenario.contact_policy.history).is_absolute() and Path(scenario.customers).is_absolute()
    first = sources(*datasets(scenario))[0]
    assert first.part.name == first.score_part.name == "part-000.parquet"
    with pytest.raises(HistoryError, match="is read by the client but a worker cannot see it"):
        load_partition(scenario, first, dt.date(2026, 1, 5), history_expected=True)
    loaded = load_partition(scenario, first, dt.date(2026, 1, 5))
    assert loaded.partition.size == CUSTOMERS // 2 and loaded.uses.shortfalls() == []


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--dask", "localhost:8786x"], 1, "The Dask scheduler at 'localhost:8786x' cannot be reached"),
    (["--dask", "local", "--method", "exact"], 2, "--dask runs the decomposition, but the exact solver was asked"),
])
def test_a_cluster_that_cannot_run_the_scenario_is_a_clear_error(tmp_path, args, code, message):
    from typer.testing import CliRunner

    from optimizer.cli import app

    scenario = write_scenario(tmp_path, 2)
    result = CliRunner().invoke(app, ["optimize", str(scenario), *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == code and message in " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit) and not (tmp_path / "out" / "plan").exists()


def test_a_scheduler_without_workers_is_named_not_waited_on_forever(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from optimizer.cli import app, plan as plan_command

    monkeypatch.setattr(plan_command, "WORKER_TIMEOUT_S", 1)
    scenario = write_scenario(tmp_path, 2)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty:
        result = CliRunner().invoke(app, ["optimize", str(scenario), "--dask", empty.scheduler_address,
                                          "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"The Dask scheduler at {empty.scheduler_address} has no workers (waited 1 s)" in result.output
    assert "dask worker" in result.output


def test_a_partitioned_scenario_validates_and_runs_without_a_cluster(tmp_path):
    """The folders of partitions read as one table, in the order of the files' names: the partitioned
    scenario in memory is the whole table's problem, row for row, and its plan is proven as well.
    (Not the same plan bit for bit: the search's rounds are limited by time, and under load a round
    can end sooner and the plan differ within the gap; a customer of 15,000 did once.)"""
    from typer.testing import CliRunner

    from optimizer.cli import app

    scenario = write_scenario(tmp_path, 3)
    partitioned = optimize(load_scenario(scenario), Method.DECOMPOSE)
    whole = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    one, other = partitioned.formulation.problem, whole.formulation.problem
    np.testing.assert_array_equal(one.customer_ids, other.customer_ids)
    for name in ("pair_value", "spend", "eligible", "treated_share"):
        np.testing.assert_array_equal(getattr(one, name), getattr(other, name), err_msg=name)
    assert [(r.name, r.sense, r.rhs, r.weight) for r in one.rows] == [(r.name, r.sense, r.rhs, r.weight)
                                                                      for r in other.rows]
    for run in (partitioned, whole):
        assert run.result.status.value == "optimal" and not one.violations(run.result.choice)
        assert run.result.bound - run.result.objective <= gap_allowed(1e-6, run.result.bound) + 1e-9
    assert abs(partitioned.result.objective - whole.result.objective) <= max(
        gap_allowed(1e-6, run.result.bound) for run in (partitioned, whole)) + 1e-9
    checked = CliRunner().invoke(app, ["validate", str(scenario)])
    assert checked.exit_code == 0 and f"is valid: {CUSTOMERS:,} customers" in checked.output
    (tmp_path / "empty").mkdir()
    empty = CliRunner().invoke(app, ["validate", str(write_scenario_with(tmp_path, customers="empty"))])
    assert empty.exit_code == 3 and "holds no .parquet files" in " ".join(empty.output.split())


def write_scenario_with(folder: Path, **changes: str) -> Path:
    """partitioned.yaml of ``folder`` with some keys changed, written beside it."""
    scenario = {**yaml.safe_load((folder / "partitioned.yaml").read_text()), **changes}
    path = folder / "changed.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.mark.parametrize("keys", [{"forced": [{"file": "vips.csv", "campaign": "a"}]}])
def test_lists_are_refused_before_any_worker_is_asked(tmp_path: Path, keys: dict) -> None:
    """Partitioned runs do not read forced lists yet: a ScenarioError (exit 2) naming the key,
    raised before the client is used (None here)."""
    path = tmp_path / "lists.yaml"
    path.write_text(yaml.safe_dump({"name": "lists", "customers": "parts", "campaigns": [
        {"id": "a", "channel": "email", "p_treat": 0.2, "p_control": 0.1, "value_per_response": 5}], **keys}))
    scenario = load_scenario(path)
    with pytest.raises(ScenarioError) as caught:
        optimize_distributed(scenario, None, tmp_path / "out")
    assert "does not read" in caught.value.message and caught.value.where.endswith(next(iter(keys)))
    assert caught.value.exit_code == 2 and not (tmp_path / "out").exists()


def test_offer_variants_on_the_cluster_give_the_in_memory_plan_and_summary(client, tmp_path):
    """Two levels of the win-back coupon, each its own column of the one-of-k choice with its own
    controls: plan files with the variant column and the summary's per-variant figures, as in memory."""
    write_scenario(tmp_path, 3)
    for name in ("partitioned", "whole"):
        scenario = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())
        scenario["campaigns"][0]["variants"] = [
            {"id": "off12", "description": "12 off"},
            {"id": "off20", "cost_per_response": 20.0, "p_treat": "min(1, 1.25 * p_treat)", "max_audience": 400}]
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(scenario))
    run = optimize_distributed(load_scenario(tmp_path / "partitioned.yaml"), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    assert run.result.objective == pytest.approx(in_memory.result.objective, rel=1e-12)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    got = distributed_plan(tmp_path / "out")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert set(got["variant"].dropna()) == {"off12", "off20"} and (got["group"] == "control").any()
    assert_same_summary(run.summary, json.loads(json.dumps(in_memory.summary)))
    assert [v["id"] for v in run.summary["campaigns"][0]["variants"]] == ["off12", "off20"]


@pytest.mark.slow  # 4-6 s; the default suite stays under 10 minutes (the in-memory strata are tested there)
def test_controls_drawn_within_strata_on_the_cluster_are_the_in_memory_ones(client, tmp_path):
    """control_strata by segment and region tier: each (offer, stratum) holds out its own share,
    found in two rounds over the partitions; the same customers as the in-memory draw."""
    write_scenario(tmp_path, 3)
    for name in ("partitioned", "whole"):
        scenario = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())
        scenario["control_strata"] = ["segment", "region"]
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(scenario))
    run = optimize_distributed(load_scenario(tmp_path / "partitioned.yaml"), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(distributed_plan(tmp_path / "out"), expected, check_dtype=False)
    assert in_memory.summary["strata"] > 10 and (expected["group"] == "control").sum() > 100
    assert_same_summary(run.summary, json.loads(json.dumps(in_memory.summary)))


def test_an_excluded_list_on_the_cluster_keeps_the_same_customers_out_as_in_memory(client, tmp_path):
    """A do-not-contact list whose ids fall in every partition, and some in none: the plan, the
    counts of the list and the customers it kept out are those of the in-memory run; a list of no
    customer at all stops both with the same message."""
    write_scenario(tmp_path, 3)
    ids = pd.read_parquet(tmp_path / "whole" / "customers.parquet")["customer_id"].astype(str)
    pd.DataFrame({"customer_id": [*ids.iloc[::40], "not-a-customer"]}).to_csv(tmp_path / "dnc.csv", index=False)
    pd.DataFrame({"customer_id": ["x1", "x2", "x1"]}).to_csv(tmp_path / "nobody.csv", index=False)
    for name in ("partitioned", "whole"):
        scenario = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**scenario, "excluded": ["dnc.csv"]}))
        (tmp_path / f"{name}_nobody.yaml").write_text(yaml.safe_dump({**scenario, "excluded": ["nobody.csv"]}))
    run = optimize_distributed(load_scenario(tmp_path / "partitioned.yaml"), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(distributed_plan(tmp_path / "out"), expected, check_dtype=False)
    assert_same_summary(run.summary, json.loads(json.dumps(in_memory.summary)))
    assert run.summary["customer_lists"][0]["not_in_customers"] == 1 and run.summary["excluded"] == len(ids[::40])
    with pytest.raises(DataError) as memory_error:
        optimize(load_scenario(tmp_path / "whole_nobody.yaml"), Method.DECOMPOSE)
    with pytest.raises(DataError) as cluster_error:
        optimize_distributed(load_scenario(tmp_path / "partitioned_nobody.yaml"), client, tmp_path / "out2")
    assert cluster_error.value.message.split(" (")[0] == memory_error.value.message.split(" (")[0]
    assert "None of the 3 ids of the excluded list is a customer" in cluster_error.value.message


def test_a_killed_writers_temporary_is_not_part_of_the_run_and_no_channel_name_escapes(tmp_path):
    """A worker killed in mid-write left a temporary beside the file its rerun wrote: the swap drops
    it, and the manifest names only the run's files. A channel named '..' gets a folder of its own."""
    from optimizer.plan.distributed import _list_folder, _swapped_in
    from optimizer.plan.outputs import list_names

    staged = tmp_path / ".plan.pid1.x.tmp"
    staged.mkdir()
    (staged / "part-00000.parquet").write_bytes(b"plan")
    (staged / ".part-00000.parquet.pid99.y.tmp").write_bytes(b"half")
    assert _swapped_in(tmp_path, "plan", staged) == ["plan/part-00000.parquet"]
    assert sorted(path.name for path in (tmp_path / "plan").iterdir()) == ["part-00000.parquet"]
    folders = [_list_folder(name) for name in list_names(["..", ".", "", "email"]).values()]
    assert len(set(folders)) == 4 and not any(folder.strip(".") == "" for folder in folders)


def test_an_in_memory_run_into_a_dask_runs_folder_removes_its_contact_lists_and_plan_parts(tmp_path):
    from optimizer.plan.outputs import write_plan
    from optimizer.store.files import write_run

    write_scenario(tmp_path, 1)
    out = tmp_path / "out"
    write_run(out, "earlier", {"summary.json": lambda temp: temp.write_text('{"run_id": "earlier"}')})
    for part in ("contacts/contacts_email/part-00000.csv", "plan/part-00000.parquet"):  # an earlier --dask run's
        (out / part).parent.mkdir(parents=True, exist_ok=True)
        (out / part).write_text("customer_id\n")
    write_plan(optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE), out)
    assert not (out / "contacts").exists() and not (out / "plan").exists() and (out / "contacts_email.csv").is_file()


@pytest.mark.slow  # 6 s; the default run reads a history from an object store on the workers
def test_a_run_onto_an_object_store_is_the_local_run_and_commits_from_there(tmp_path):
    """Workers write their plan and list parts straight to the run's prefix (memory://, shared by a
    cluster of threads as a bucket is by machines); the copy a reader fetches passes the manifest's
    check of every part, holds the plan the local folder run holds, and commits from the URL."""
    import fsspec

    from optimizer.loop.commits import commit
    from optimizer.store.object_runs import fetched_run
    from optimizer.store.runs import read_run

    scenario = load_scenario(write_scenario(tmp_path, 3))
    url = "memory://cvo-dask-object-store/weekly"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as threads:
        run = optimize_distributed(scenario, threads, url)
        optimize_distributed(scenario, threads, tmp_path / "local")
    try:
        assert run.out_dir == f"{url}/runs/{run.summary['run_id']}"
        with fetched_run(url) as (copy, origin):
            checked = read_run(copy, origin)
            assert len(checked.plan) == 3 and origin == run.out_dir
            pd.testing.assert_frame_equal(distributed_plan(copy), distributed_plan(tmp_path / "local"))
            assert sorted(p.relative_to(copy).as_posix() for p in (copy / "contacts").rglob("*.csv")) == sorted(
                p.relative_to(tmp_path / "local").as_posix() for p in (tmp_path / "local/contacts").rglob("*.csv"))
        done = commit(url, tmp_path / "history.duckdb")
        assert done.recorded and done.run_id == run.summary["run_id"]
    finally:
        fsspec.filesystem("memory").rm("/cvo-dask-object-store", recursive=True)


@pytest.mark.slow  # 6-8 s; the default suite stays under 10 minutes (float32 in memory is tested there)
def test_float32_kept_arrays_give_the_in_memory_float32_plan(client, tmp_path):
    """solver.precision float32 halves what the workers keep; the plan is the in-memory run's with
    the same precision, customer for customer, and within the gap of the float64 plan's value."""
    scenario_path = write_scenario(tmp_path, 2)
    for name in ("partitioned.yaml", "whole.yaml"):
        scenario = yaml.safe_load((tmp_path / name).read_text())
        scenario["solver"]["precision"] = "float32"
        (tmp_path / name).write_text(yaml.safe_dump(scenario))
    run = optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    whole = load_scenario(tmp_path / "whole.yaml")
    assert str(whole.solver.precision) == "float32"
    in_memory = optimize(whole, Method.DECOMPOSE)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(distributed_plan(tmp_path / "out"), expected, check_dtype=False)
    exact = optimize(whole.model_copy(update={"solver": whole.solver.model_copy(update={"precision": Precision.FLOAT64})}),
                     Method.DECOMPOSE)
    assert run.result.objective == pytest.approx(exact.result.objective, rel=2e-6)
    assert in_memory.formulation.problem.violations(in_memory.result.choice) == []


def test_weights_one_partition_shares_and_another_does_not_are_not_taken_as_shared(client, tmp_path):
    """A custom row over the South's customers only, who are all in the last partition: the first
    partitions' weights are one row for everybody (all zero), the last's differ per customer. The
    cluster must keep every customer's own weight, as in memory, where the whole table decides."""
    scenario_path = write_scenario(tmp_path, 3, per_contact=True)
    customers = pd.read_parquet(tmp_path / "whole/customers.parquet")
    customers = customers.iloc[np.argsort((customers["region"] == "South").to_numpy(), kind="stable")]
    scores = pd.read_parquet(tmp_path / "whole/scores.parquet")
    bounds = np.linspace(0, len(customers), 4).astype(int)
    assert (customers.iloc[bounds[2]:]["region"] == "South").any()
    assert not (customers.iloc[:bounds[2]]["region"] == "South").any()
    for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = customers.iloc[lo:hi]
        part.to_parquet(tmp_path / "customers" / f"part-{p:03d}.parquet")
        scores[scores["customer_id"].isin(part["customer_id"])].to_parquet(tmp_path / "scores" / f"part-{p:03d}.parquet")
    south = {"name": "south_cap", "expression": "1", "where": "region == 'South'", "sense": "<=", "rhs": 300}
    for name in ("partitioned.yaml", "whole.yaml"):
        scenario = yaml.safe_load((tmp_path / name).read_text())
        scenario["constraints"] = [south]
        (tmp_path / name).write_text(yaml.safe_dump(scenario))
    run = optimize_distributed(load_scenario(scenario_path), client, tmp_path / "out")
    in_memory = optimize(load_scenario(tmp_path / "whole.yaml"), Method.DECOMPOSE)
    assert run.result.objective == pytest.approx(in_memory.result.objective, rel=1e-9)
    plan = distributed_plan(tmp_path / "out").merge(customers[["customer_id", "region"]].astype({"customer_id": str}),
                                                    on="customer_id")
    assert ((plan["region"] == "South") & (plan["group"] == "treatment")).sum() <= 300


def test_a_history_on_an_object_store_is_read_by_the_workers_as_the_client_read_it(tmp_path):
    """Last week's run committed to a memory:// history (shared by a cluster of threads as a bucket
    is by machines): the workers read the version the client read (pinned), and the plan keeps last
    week's contacts out, customer for customer as the in-memory plan does; the run's summary and
    scenario.yaml name the history, not the version."""
    import fsspec

    from optimizer.loop.commits import commit as commit_run
    from optimizer.plan.distributed import anchored
    from optimizer.plan.outputs import write_plan
    from optimizer.reporting.console import POLICY_KINDS
    from optimizer.store.history_versions import version_url

    url = "memory://cvo-dask-history/contact_history.duckdb"
    monday, change = dt.date(2026, 1, 5), {"contact_policy.history": url}
    write_scenario(tmp_path, 3)
    whole = load_scenario(tmp_path / "whole.yaml").with_changes(change)
    partitioned = load_scenario(tmp_path / "partitioned.yaml").with_changes(change)
    try:
        write_plan(optimize(whole, Method.DECOMPOSE, run_date=monday), tmp_path / "w1")
        assert commit_run(tmp_path / "w1").history == url
        assert anchored(partitioned).contact_policy.history == version_url(url, 1)
        later = monday + dt.timedelta(days=7)
        in_memory = optimize(whole, Method.DECOMPOSE, run_date=later)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                                      worker_dashboard_address=None) as cluster, distributed.Client(cluster) as threads:
            run = optimize_distributed(partitioned, threads, tmp_path / "out", later)
    finally:
        fsspec.filesystem("memory").rm("/cvo-dask-history", recursive=True)
    expected = in_memory.assignments[WRITTEN].sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(distributed_plan(tmp_path / "out"), expected, check_dtype=False)
    assert sum(e["removed"] for e in in_memory.summary["eligibility"] if e["kind"] in POLICY_KINDS) > 0
    assert run.summary["contact_history"] == url and run.summary["history_seq"] == 1
    assert yaml.safe_load((tmp_path / "out" / "scenario.yaml").read_text())["contact_policy"]["history"] == url

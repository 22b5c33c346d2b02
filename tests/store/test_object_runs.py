"""optimizer/store/object_runs.py: a run on an object store (fsspec's memory:// here) is a prefix
per run and a pointer written last, read back through a checked local copy; and the commands that
write and read run folders (cvo optimize, commit, report) take such a location."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import fsspec.implementations.memory
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import RunFolderError
from optimizer.scoring.evaluate_run import evaluate_files
from optimizer.store.files import MANIFEST_FILE, SUMMARY_FILE, write_run
from optimizer.store.history_file import runs
from optimizer.store.object_runs import (
    POINTER_FILE,
    current_run,
    fetched_run,
    object_store_url,
    publish,
    readable_run,
)
from optimizer.store.runs import read_run

ROOT = Path(__file__).resolve().parents[2]


def local_run(folder: Path, run_id: str, text: str) -> Path:
    write_run(folder, run_id, {SUMMARY_FILE: lambda temp: temp.write_text(json.dumps({"run_id": run_id})),
                               "plan.parquet": lambda temp: temp.write_text(text)})
    return folder


@pytest.mark.parametrize(("location", "url"), [
    ("s3://bucket/out/", "s3://bucket/out"), (Path("s3://bucket/out"), "s3://bucket/out"),
    ("gs://b/x/y", "gs://b/x/y"), ("memory://cvo/out", "memory://cvo/out"),
    ("out/weekly", None), ("/tmp/out", None), ("file:///tmp/out", None), (Path("file:///tmp/out"), None),
])
def test_an_object_store_is_told_from_a_local_location(location, url):
    assert object_store_url(location) == url


def test_a_run_is_read_through_the_pointer_written_last(tmp_path, bucket):
    first = publish(local_run(tmp_path / "a", "run-a", "plan a"), bucket, "run-a")
    assert first == f"{bucket}/runs/run-a"
    with fetched_run(bucket) as (folder, origin):
        run = read_run(folder, origin)
        assert run.run_id == "run-a" and run.plan[0].read_text() == "plan a"
        assert origin == f"{bucket}/runs/run-a" and run.shown == origin
    publish(local_run(tmp_path / "b", "run-b", "plan b"), bucket, "run-b")
    with fetched_run(bucket) as (folder, _):
        assert read_run(folder).run_id == "run-b"
    with fetched_run(first) as (folder, _):  # an earlier run stays readable by its folder
        assert read_run(folder).run_id == "run-a"


def test_a_run_killed_before_its_pointer_leaves_the_previous_run_current(tmp_path, bucket):
    publish(local_run(tmp_path / "a", "run-a", "plan a"), bucket, "run-a")
    fs = fsspec.filesystem("memory")
    killed = tmp_path / "b"
    local_run(killed, "run-b", "plan b")
    for file in killed.iterdir():  # the killed run's files, all but its pointer
        fs.put_file(str(file), f"{bucket.removeprefix('memory://')}/runs/run-b/{file.name}")
    assert current_run(bucket)[1] == f"{bucket}/runs/run-a"
    with readable_run(bucket) as (folder, origin):
        assert read_run(folder, origin).run_id == "run-a"


def test_a_copy_that_does_not_match_its_manifest_is_refused(tmp_path, bucket):
    url = publish(local_run(tmp_path / "a", "run-a", "plan a"), bucket, "run-a")
    fsspec.filesystem("memory").pipe_file(f"{url.removeprefix('memory://')}/plan.parquet", b"changed")
    with fetched_run(bucket) as (folder, _), pytest.raises(RunFolderError, match="not the file run run-a wrote"):
        read_run(folder)


def test_a_location_with_no_finished_run_is_named(bucket):
    with pytest.raises(RunFolderError, match=f"{POINTER_FILE} is missing") as caught:
        current_run(bucket)
    assert bucket in caught.value.message


def test_optimize_commit_report_and_rules_on_an_object_store(tmp_path, bucket):
    """The weekly example planned into memory://, committed from there into a local history,
    reported and exported as rules: the history records the run's URL; the page and the rules land
    beside the run's files."""
    history = tmp_path / "history.duckdb"
    planned = CliRunner().invoke(app, ["optimize", str(ROOT / "scenarios" / "weekly.yaml"), "--out", bucket,
                                       "--set", f"contact_policy.history={history}", "--json", "--quiet"])
    assert planned.exit_code == 0, planned.output
    run_id = json.loads(planned.stdout)["run_id"]
    fs = fsspec.filesystem("memory")
    prefix = f"{bucket.removeprefix('memory://')}/runs/{run_id}"
    assert {Path(p).name for p in fs.ls(prefix, detail=False)} >= {"plan.parquet", SUMMARY_FILE, MANIFEST_FILE,
                                                                  "scenario.yaml"}
    committed = CliRunner().invoke(app, ["commit", bucket])
    assert committed.exit_code == 0, committed.output
    assert f"Recorded run {run_id}" in committed.output
    assert runs(history)[0]["out_dir"] == f"{bucket}/runs/{run_id}"
    again = CliRunner().invoke(app, ["commit", f"{bucket}/runs/{run_id}"])
    assert "Already recorded" in again.output
    reported = CliRunner().invoke(app, ["report", bucket])
    assert reported.exit_code == 0, reported.output
    assert fs.exists(f"{prefix}/report.html") and f"runs/{run_id}/report.html" in reported.output
    exported = CliRunner().invoke(app, ["rules", bucket, "--depth", "2"])
    assert exported.exit_code == 0, exported.output
    assert fs.exists(f"{prefix}/rules.json") and fs.exists(f"{prefix}/rules.txt")
    with fetched_run(bucket) as (folder, origin):  # the added files are beside the run's, which stay as written
        assert read_run(folder, origin).run_id == run_id
        local = evaluate_files(folder / "plan.parquet", ROOT / "examples/data/history.parquet")
    evaluated = CliRunner().invoke(app, ["evaluate", bucket, "--history", str(ROOT / "examples/data/history.parquet"),
                                         "--json", "--quiet"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["plan"]["value"] == pytest.approx(local.plan.value, rel=1e-12)
    assert local.costs_source.startswith("the scenario's cost per contact")


@pytest.mark.parametrize(("out", "code", "message"), [
    ("nosuchprotocol://bucket/out", 3, "cannot be opened"),
    ("memory://", 7, "names no bucket or folder"),
    ("s3://", 7, "names no bucket or folder"),
    ("memory://cvo-unwritable/out", 7, "cannot be written"),
])
def test_an_object_store_that_cannot_take_the_run_stops_before_the_solve(monkeypatch, out, code, message):
    import optimizer.plan.workflow

    def no_solve(*args, **kwargs):
        raise AssertionError("the scenario was solved before the output location was checked")

    def refused(*args, **kwargs):
        raise PermissionError("Access Denied")

    monkeypatch.setattr(optimizer.plan.workflow, "optimize", no_solve)
    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "pipe_file", refused)
    result = CliRunner().invoke(app, ["optimize", str(ROOT / "scenarios" / "weekly.yaml"), "--out", out])
    assert result.exit_code == code and message in result.output, result.output
    assert "Traceback" not in result.output and not Path("memory:").exists()


def test_a_runs_own_folder_is_not_an_output_location(tmp_path, bucket):
    url = publish(local_run(tmp_path / "a", "run-a", "plan a"), bucket, "run-a")
    result = CliRunner().invoke(app, ["optimize", str(ROOT / "scenarios" / "weekly.yaml"), "--out", url])
    assert result.exit_code == 7 and "one run's folder" in result.output and f"--out {bucket}" in result.output


def test_a_store_that_refuses_a_reader_is_a_clean_error_naming_the_run(tmp_path, bucket, monkeypatch):
    publish(local_run(tmp_path / "a", "run-a", "plan a"), bucket, "run-a")

    def refused(*args, **kwargs):
        raise PermissionError("Access Denied")

    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "cat_file", refused)
    result = CliRunner().invoke(app, ["commit", bucket])
    assert result.exit_code == 7 and "Access Denied" in result.output and bucket in result.output
    assert "Traceback" not in result.output


def test_a_damaged_copy_is_named_by_its_url_and_the_advice_names_out(tmp_path, bucket):
    url = publish(local_run(tmp_path / "a", "run-a", "plan a"), bucket, "run-a")
    fsspec.filesystem("memory").pipe_file(f"{url.removeprefix('memory://')}/plan.parquet", b"changed")
    with fetched_run(bucket) as (folder, origin), pytest.raises(RunFolderError) as caught:
        read_run(folder, origin)
    assert caught.value.where == url and f"--out {bucket}` again" in caught.value.message
    assert str(folder) not in caught.value.message


def test_write_only_credentials_pass_the_check_and_a_file_url_reads_a_local_run(tmp_path, bucket, monkeypatch):
    from optimizer.store.object_runs import check_object_location

    def refused(*args, **kwargs):
        raise PermissionError("Access Denied")

    monkeypatch.setattr(fsspec.implementations.memory.MemoryFileSystem, "rm_file", refused)
    check_object_location(bucket, None)  # a run only writes: no delete permission is needed
    with readable_run(f"file://{local_run(tmp_path / 'a', 'run-a', 'plan a')}") as (folder, origin):
        assert folder == tmp_path / "a" and origin == "" and read_run(folder).run_id == "run-a"

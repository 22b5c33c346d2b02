"""A run's folder is one unit: the manifest written last names every file with its hash, readers
refuse a folder whose files are not of one run, a dead writer's temporary files go with the next
run, two runs never write one folder at once, and an unwritable folder is refused before work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from locks import held_by_another_process

from optimizer.errors import RunFolderError
from optimizer.store.files import (
    MANIFEST_FILE,
    PLAN_FILE,
    RUN_ID_KEY,
    SCENARIO_FILE,
    check_output_folder,
    check_run_folder,
    read_run,
    remove_dead_temporaries,
    write_run,
)


def write_text_run(folder: Path, run_id: str, plan: str = "plan rows") -> None:
    """A run of two small files: a 'plan' and its summary, with the run id in the summary."""
    write_run(folder, run_id, {
        "plan.parquet": lambda temp: temp.write_text(plan),
        "summary.json": lambda temp: temp.write_text(json.dumps({"run_id": run_id})),
    })


def test_a_run_reads_back_whole_with_its_manifest(tmp_path):
    write_text_run(tmp_path, "r1")
    run = read_run(tmp_path)
    assert run.run_id == "r1" and run.plan == [tmp_path / "plan.parquet"]
    assert set(json.loads((tmp_path / MANIFEST_FILE).read_text())["files"]) == {"plan.parquet", "summary.json"}
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "plan.parquet", "summary.json"]


@pytest.mark.parametrize("swapped", ["plan.parquet", "summary.json"])
def test_a_file_of_another_run_is_refused(tmp_path, swapped):
    """What a run killed between its renames leaves: one file new, the manifest old."""
    write_text_run(tmp_path / "a", "r1", "plan of r1")
    write_text_run(tmp_path / "b", "r2", "plan of r2")
    (tmp_path / "a" / swapped).write_bytes((tmp_path / "b" / swapped).read_bytes())
    with pytest.raises(RunFolderError, match=f"{swapped} is not the file run r1 wrote: the folder holds files of "
                       "different runs") as error:
        read_run(tmp_path / "a")
    assert "cvo optimize SCENARIO --out" in error.value.message


def test_a_folder_without_a_manifest_is_refused(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"run_id": "r1"}))
    with pytest.raises(RunFolderError, match="manifest.json is missing"):
        read_run(tmp_path)
    with pytest.raises(RunFolderError, match="summary.json is missing"):
        read_run(tmp_path / "nothing")


def test_a_listed_file_that_is_gone_is_refused(tmp_path):
    write_text_run(tmp_path, "r1")
    (tmp_path / "plan.parquet").unlink()
    with pytest.raises(RunFolderError, match="plan.parquet, listed in manifest.json, is missing"):
        read_run(tmp_path)


def test_a_broken_manifest_is_refused(tmp_path):
    write_text_run(tmp_path, "r1")
    (tmp_path / MANIFEST_FILE).write_text("{half")
    with pytest.raises(RunFolderError, match="manifest.json cannot be read"):
        read_run(tmp_path)


def test_a_dead_writers_temporary_files_go_with_the_next_run(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    leftovers = [tmp_path / f".plan.parquet.pid{pid}.x1.tmp", tmp_path / f".summary.json.pid{pid}.x2.tmp"]
    for path in leftovers:
        path.write_text("half")
    (tmp_path / f".plan.pid{pid}.x3.tmp").mkdir()
    live = tmp_path / f".plan.parquet.pid{os.getpid()}.x4.tmp"  # a live writer's: kept
    live.write_text("being written")
    write_text_run(tmp_path, "r1")
    assert sorted(os.listdir(tmp_path)) == sorted(["manifest.json", "plan.parquet", "summary.json", live.name])
    assert remove_dead_temporaries(tmp_path) == []


def test_a_second_run_into_a_busy_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    with held_by_another_process(tmp_path / "out", tmp_path / "marker"):
        with pytest.raises(RunFolderError, match="Another cvo command is writing to this folder"):
            write_text_run(tmp_path / "out", "r1")
        assert os.listdir(tmp_path / "out") == []
    write_text_run(tmp_path / "out", "r1")  # the lock went with the process
    assert read_run(tmp_path / "out").run_id == "r1"


def test_an_output_path_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(RunFolderError, match="The output folder is a file"):
        check_output_folder(tmp_path / "taken")
    with pytest.raises(RunFolderError, match="cannot be created: .*taken is a file"):
        check_output_folder(tmp_path / "taken" / "below")


def test_an_unwritable_output_folder_is_refused(tmp_path, monkeypatch):
    """As root every folder is writable, so the permission the check reads is denied here instead."""
    monkeypatch.setattr("optimizer.store.files.os.access", lambda path, mode: Path(path) != tmp_path / "locked")
    (tmp_path / "locked").mkdir()
    with pytest.raises(RunFolderError, match=f"no write permission on {tmp_path / 'locked'}"):
        check_output_folder(tmp_path / "locked" / "out")


def test_a_write_that_fails_keeps_the_previous_run_readable(tmp_path):
    write_text_run(tmp_path, "r1")

    def disk_full(temp: Path) -> None:
        temp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(RunFolderError, match="could not be written: No space left on device"):
        write_run(tmp_path, "r2", {"plan.parquet": disk_full})
    assert read_run(tmp_path).run_id == "r1"
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "plan.parquet", "summary.json"]


def test_a_claimed_folder_is_locked_for_the_whole_run_and_gone_if_nothing_was_written(tmp_path):
    from optimizer.store.files import claimed_output_folder

    with pytest.raises(RuntimeError, match="solve failed"), claimed_output_folder(tmp_path / "new"):
        assert (tmp_path / "new").is_dir()
        raise RuntimeError("solve failed")
    assert not (tmp_path / "new").exists()
    with claimed_output_folder(tmp_path / "new"):
        write_text_run(tmp_path / "new", "r1")  # the run's own write shares the lock it holds
    assert read_run(tmp_path / "new").run_id == "r1"


def test_a_folder_a_first_run_left_half_written_is_taken_as_a_run_folder(tmp_path: Path):
    """A first run killed after its plan.parquet was in place but before its manifest: the plan
    carries the run's id, so the next run may write there; a plan.parquet without one is the user's."""
    table = pa.table({"customer_id": ["a"]})
    pq.write_table(table.replace_schema_metadata({RUN_ID_KEY: b"cut-short"}), tmp_path / PLAN_FILE)
    (tmp_path / SCENARIO_FILE).write_text("name: as run\n")
    check_run_folder(tmp_path)
    pq.write_table(table, tmp_path / PLAN_FILE)
    with pytest.raises(RunFolderError, match="holds plan.parquet, scenario.yaml, not the files of a cvo run"):
        check_run_folder(tmp_path)


@pytest.mark.parametrize("theirs", [
    {"manifest.json": '{"name": "my app"}', "scenario.yaml": "mine"},  # another tool's manifest
    {"manifest.json": '{"name": "my app"}'},
    {"summary.json": '{"run_id": "abc"}', "scenario.yaml": "mine"},  # another tool's summary with a run id
])
def test_files_that_only_look_like_a_runs_do_not_make_the_folder_one(tmp_path: Path, theirs: dict[str, str]):
    for name, text in theirs.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RunFolderError, match="not the files of a cvo run"):
        check_run_folder(tmp_path)


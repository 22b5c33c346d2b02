"""A run's folder is one unit: the manifest written last names every file with its hash, readers
refuse a folder whose files are not of one run, a dead writer's temporary files go with the next
run, two runs never write one folder at once, and an unwritable folder is refused before work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from locks import held_by_another_process

from optimizer.errors import RunFolderError
from optimizer.store.files import MANIFEST_FILE, write_run
from optimizer.store.folders import remove_dead_temporaries
from optimizer.store.runs import read_run


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


def test_a_write_that_fails_keeps_the_previous_run_readable(tmp_path):
    write_text_run(tmp_path, "r1")

    def disk_full(temp: Path) -> None:
        temp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(RunFolderError, match="could not be written: No space left on device"):
        write_run(tmp_path, "r2", {"plan.parquet": disk_full})
    assert read_run(tmp_path).run_id == "r1"
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "plan.parquet", "summary.json"]


KILLED_AT = """
import os, sys
from pathlib import Path
from optimizer.store import files
renames, real = [0], os.replace

def replace(source, target):
    if renames[0] == int(sys.argv[2]):
        os._exit(9)  # killed: no handler runs
    renames[0] += 1
    real(source, target)

files.os.replace = replace
files.replace_run_files(Path(sys.argv[1]), "r1", {
    "plan.parquet": lambda temp: temp.write_text("cut plan"),
    "summary.json": lambda temp: temp.write_text('{"run_id": "r1", "cut": true}'),
})
"""


@pytest.mark.parametrize("renames", range(7))
def test_a_rewrite_killed_at_any_rename_leaves_the_run_readable_old_or_new(tmp_path, renames):
    """replace_run_files makes 6 renames (2 files aside, its decision, the 2 files, the manifest):
    killed before any of them, the folder reads as the old run before the decision and as the new
    one from it on, finished by the next reader, with no file of the rewrite left."""
    write_text_run(tmp_path, "r1")
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, str(tmp_path), str(renames)], capture_output=True,
                            text=True)
    assert killed.returncode == (9 if renames < 6 else 0), killed.stderr
    run = read_run(tmp_path)
    decided = renames >= 3
    assert run.summary == ({"run_id": "r1", "cut": True} if decided else {"run_id": "r1"})
    assert (tmp_path / "plan.parquet").read_text() == ("cut plan" if decided else "plan rows")
    write_text_run(tmp_path, "r2")  # the next run finds nothing of the rewrite either
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "plan.parquet", "summary.json"]


def stopped_rewrite(folder: Path, renames: int) -> None:
    """Run r1's rewrite of its two files in a child process killed before rename ``renames``."""
    killed = subprocess.run([sys.executable, "-c", KILLED_AT, str(folder), str(renames)], capture_output=True,
                            text=True)
    assert killed.returncode == 9, killed.stderr


def test_a_run_written_around_another_run_folder_leaves_its_stopped_rewrite_alone(tmp_path):
    """`--out out` while out/weekly holds a run whose rewrite was stopped after it decided: writing
    out touches nothing of out/weekly, which its next reader finishes."""
    write_text_run(tmp_path / "weekly", "r1")
    stopped_rewrite(tmp_path / "weekly", 4)
    before = sorted(os.listdir(tmp_path / "weekly"))
    write_text_run(tmp_path, "outer")
    assert sorted(os.listdir(tmp_path / "weekly")) == before
    assert read_run(tmp_path / "weekly").summary == {"run_id": "r1", "cut": True}


def test_a_rewrite_that_cannot_be_finished_is_named_and_a_new_run_replaces_it(tmp_path):
    """A file the rewrite's .replacing.json lists is gone (removed by hand): readers say so and how
    to mend it; the next optimize run into the folder replaces everything and drops the rewrite."""
    write_text_run(tmp_path, "r1")
    stopped_rewrite(tmp_path, 4)
    (tmp_path / "plan.parquet").unlink()
    (tmp_path / ".plan.parquet.replacing").unlink(missing_ok=True)
    with pytest.raises(RunFolderError) as error:
        read_run(tmp_path)
    assert "plan.parquet, which its .replacing.json lists, is missing" in error.value.message
    assert "drops .replacing.json" in error.value.message
    write_text_run(tmp_path, "r2")
    assert read_run(tmp_path).run_id == "r2"
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "plan.parquet", "summary.json"]

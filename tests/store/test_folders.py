"""An output folder before and while a run writes into it (optimizer/store/folders.py): whether it can
take a run, and the lock a run holds on it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from optimizer.errors import RunFolderError
from optimizer.store.files import write_run
from optimizer.store.folders import check_output_folder, check_run_folder, claimed_output_folder
from optimizer.store.names import PLAN_FILE, RUN_ID_KEY, SCENARIO_FILE


def test_an_output_path_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(RunFolderError, match="The output folder is a file"):
        check_output_folder(tmp_path / "taken")
    with pytest.raises(RunFolderError, match="cannot be created: .*taken is a file"):
        check_output_folder(tmp_path / "taken" / "below")


def test_an_unwritable_output_folder_is_refused(tmp_path, monkeypatch):
    """As root every folder is writable, so the permission the check reads is denied here instead."""
    monkeypatch.setattr("optimizer.store.folders.os.access", lambda path, mode: Path(path) != tmp_path / "locked")
    (tmp_path / "locked").mkdir()
    with pytest.raises(RunFolderError, match=f"no write permission on {tmp_path / 'locked'}"):
        check_output_folder(tmp_path / "locked" / "out")


def test_a_claimed_folder_is_locked_for_the_whole_run_and_gone_if_nothing_was_written(tmp_path):
    with pytest.raises(RuntimeError, match="solve failed"), claimed_output_folder(tmp_path / "new"):
        assert (tmp_path / "new").is_dir()
        raise RuntimeError("solve failed")
    assert not (tmp_path / "new").exists()
    with claimed_output_folder(tmp_path / "new"):
        # the run's own write shares the lock it holds
        write_run(tmp_path / "new", "r1", {"summary.json": lambda temp: temp.write_text("{}")})
    assert (tmp_path / "new" / "manifest.json").is_file()


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


def test_a_folder_on_a_file_system_without_locks_still_takes_a_run(tmp_path: Path, monkeypatch):
    """Some NFS and CIFS mounts refuse flock (ENOLCK): the run is written there, unserialised, rather
    than refused or crashed."""
    import errno
    import fcntl

    def no_locks(descriptor: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with claimed_output_folder(tmp_path / "nfs"):
        write_run(tmp_path / "nfs", "r1", {"summary.json": lambda temp: temp.write_text("{}")})
    assert (tmp_path / "nfs" / "manifest.json").is_file()

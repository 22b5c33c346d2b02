"""A run's folder as read: refused, with what to do, when its files are not all of one run, its
manifest is missing or broken, or a file is given for the folder."""

from __future__ import annotations

import json

import pytest
from test_files import write_text_run

from optimizer.errors import RunFolderError, ScenarioError
from optimizer.store.files import MANIFEST_FILE
from optimizer.store.runs import read_run


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
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match="summary.json is missing"):
        read_run(tmp_path / "empty")
    with pytest.raises(ScenarioError, match="There is no such folder") as error:  # exit 2: a value given wrong
        read_run(tmp_path / "nothing")
    assert error.value.exit_code == 2 and "run that command with --out" in error.value.message


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


@pytest.mark.parametrize(("name", "said"), [("weekly.yaml", "`cvo optimize"), ("notes.txt", "SCENARIO --out OUT_DIR")])
def test_a_file_given_for_a_run_folder_is_named_as_a_file(tmp_path, name, said):
    """`cvo report scenarios/weekly.yaml` said 'Run cvo optimize SCENARIO --out scenarios/weekly.yaml'."""
    (tmp_path / name).write_text("name: weekly\n")
    with pytest.raises(RunFolderError) as error:
        read_run(tmp_path / name)
    assert f"{name} is a file; a run folder is expected" in error.value.message and said in error.value.message
    assert "--out " + str(tmp_path / name) not in error.value.message

"""optimizer/store/file_sets.py: a table of one run beside the record of another (a run killed
between two renames) is refused; a table copied on its own, or written by anything else, is read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from optimizer.errors import DataError
from optimizer.store.file_sets import SET_KEY, set_record, write_in_set
from optimizer.store.tables import read_table

TABLE = pd.DataFrame({"customer_id": ["a", "b"], "ltv": [1.0, 2.0]})


def written(folder: Path, table_set: str, record_set: str | None) -> Path:
    folder.mkdir(exist_ok=True)
    write_in_set(pa.Table.from_pandas(TABLE, preserve_index=False), folder / "customers.parquet", table_set,
                 "report.json")
    if record_set is not None:
        (folder / "report.json").write_text(json.dumps(set_record(record_set, ["customers.parquet"])))
    return folder / "customers.parquet"


def test_a_table_of_another_run_than_its_record_is_refused(tmp_path: Path):
    path = written(tmp_path, "b" * 32, "a" * 32)
    with pytest.raises(DataError, match="written by another run than the one report.json beside it records "
                                        r"\(bbbbbbbbbbbb against aaaaaaaaaaaa\)") as caught:
        read_table(path, what="customers")
    assert f"cvo score --out {tmp_path}" in caught.value.fix and "another name than customers.parquet" \
        in caught.value.fix


def test_a_table_copied_in_under_another_name_is_read(tmp_path: Path):
    """It carried its run's id and its record's name, and the folder's record named another run."""
    renamed = written(tmp_path, "b" * 32, "a" * 32).rename(tmp_path / "last_week.parquet")
    pd.testing.assert_frame_equal(read_table(renamed, what="customers"), TABLE)


@pytest.mark.parametrize("record", ["a" * 32, None])
def test_a_table_of_its_records_run_or_copied_on_its_own_is_read(tmp_path: Path, record: str | None):
    pd.testing.assert_frame_equal(read_table(written(tmp_path, "a" * 32, record), what="customers"), TABLE)


def test_a_table_written_by_anything_else_is_read_beside_any_record(tmp_path: Path):
    TABLE.to_parquet(tmp_path / "customers.parquet")
    (tmp_path / "report.json").write_text(json.dumps({SET_KEY: "c" * 32}))
    pd.testing.assert_frame_equal(read_table(tmp_path / "customers.parquet", what="customers"), TABLE)

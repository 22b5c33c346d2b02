"""Parquet datasets as Spark, Hive and Dask write them, on disk and behind fsspec URLs."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.store.datasets import HIVE_NULL, local_path, open_dataset
from optimizer.store.tables import read_table


def spark_name(number: int) -> str:
    return f"part-{number:05d}-{uuid.UUID(int=number)}.c000.snappy.parquet"


def write_hive(root: Path) -> pd.DataFrame:
    """A dataset as a Spark job leaves it: region=…/ folders, long part names, _SUCCESS, a .crc
    beside a part, an empty file and a part of no rows, a folder for the missing region; returns
    the rows it holds, in the order of their parts' paths, with the region as a column."""
    rows = {"north": [1, 2], "south": [3], HIVE_NULL: [4]}
    for number, (region, ids) in enumerate(rows.items()):
        folder = root / f"region={region}"
        folder.mkdir(parents=True)
        pd.DataFrame({"customer_id": [str(i) for i in ids], "x": [float(i) for i in ids]}).to_parquet(
            folder / spark_name(number))
        (folder / f".{spark_name(number)}.crc").write_bytes(b"crc")
    pd.DataFrame({"customer_id": pd.Series([], dtype=str), "x": pd.Series([], dtype=float)}).to_parquet(
        root / "region=south" / spark_name(9))
    (root / "region=south" / spark_name(8)).write_bytes(b"")
    (root / "_SUCCESS").write_bytes(b"")
    (root / "_temporary").mkdir()
    pd.DataFrame({"customer_id": ["99"]}).to_parquet(root / "_temporary" / spark_name(7))
    return pd.DataFrame({"customer_id": ["4", "1", "2", "3"], "x": [4.0, 1.0, 2.0, 3.0],
                         "region": pd.array([None, "north", "north", "south"], dtype="string")})


def test_a_spark_hive_dataset_reads_as_its_parts_with_their_keys(tmp_path):
    expected = write_hive(tmp_path / "customers")
    dataset = open_dataset(str(tmp_path / "customers"), None, "customers")
    assert dataset.names == [f"region={HIVE_NULL}/{spark_name(2)}", f"region=north/{spark_name(0)}",
                             f"region=south/{spark_name(1)}", f"region=south/{spark_name(9)}"]
    table = read_table(tmp_path / "customers", what="customers")
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert table["region"].dtype == "string"


def test_a_hive_key_has_one_type_in_every_part_even_an_empty_one(tmp_path):
    """Whole numbers are int64 in every part, a part of no rows included; with Hive's missing value
    among them, float64 with NaN; a value that is no number makes the key text."""
    for key, values in (("year", ["2024", "2025"]), ("tier", ["1", HIVE_NULL]), ("code", ["7", "x"])):
        for number, value in enumerate(values):
            folder = tmp_path / key / f"{key}={value}"
            folder.mkdir(parents=True)
            rows = [f"{key}{number}"] if number == 0 or key != "year" else []
            pd.DataFrame({"customer_id": pd.Series(rows, dtype=str)}).to_parquet(folder / "part-0.parquet")
    dataset = open_dataset(str(tmp_path / "year"), None, "customers")
    assert dataset.key_types == {"year": "int64"}
    assert [str(dataset.read(part)["year"].dtype) for part in dataset.parts] == ["int64", "int64"]
    tier = read_table(tmp_path / "tier", what="customers")["tier"]
    assert str(tier.dtype) == "float64" and tier.iloc[0] == 1.0 and tier.isna().iloc[1]
    assert read_table(tmp_path / "code", what="customers")["code"].tolist() == ["7", "x"]


def test_storage_options_are_for_urls_only(tmp_path):
    """A scenario's options for its s3:// customers do not break its local scores file."""
    pd.DataFrame({"customer_id": ["1"]}).to_csv(tmp_path / "scores.csv", index=False)
    assert read_table(tmp_path / "scores.csv", what="scores", storage_options={"anon": True}).shape == (1, 1)


def test_hive_keys_that_are_all_numbers_are_numbers_and_a_files_own_column_wins(tmp_path):
    for year in (2024, 2025):
        (tmp_path / f"year={year}").mkdir()
        pd.DataFrame({"customer_id": [str(year)], "region": ["from the file"]}).to_parquet(
            tmp_path / f"year={year}" / "part-0.parquet")
    (tmp_path / "region=ignored").mkdir()
    table = read_table(tmp_path, what="customers")
    assert table["year"].tolist()[:2] == [2024, 2025] and pd.api.types.is_integer_dtype(table["year"].iloc[:2])
    assert table["region"].tolist() == ["from the file", "from the file"]


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_urls_read_like_paths(tmp_path, scheme):
    expected = write_hive(tmp_path / "customers")
    if scheme == "memory":
        fs = fsspec.filesystem("memory")
        for path in (tmp_path / "customers").rglob("*"):
            if path.is_file():
                fs.pipe(f"/cvo-test/customers/{path.relative_to(tmp_path / 'customers')}", path.read_bytes())
        fs.pipe("/cvo-test/one.parquet", (tmp_path / "customers/region=north" / spark_name(0)).read_bytes())
        root = "memory://cvo-test"
    else:
        (tmp_path / "one.parquet").write_bytes((tmp_path / "customers/region=north" / spark_name(0)).read_bytes())
        root = f"file://{tmp_path}"
    table = read_table(f"{root}/customers", what="customers", storage_options={})
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert read_table(f"{root}/one.parquet", what="customers")["customer_id"].tolist() == ["1", "2"]


@pytest.mark.parametrize(("location", "message"), [
    ("nosuchprotocol://bucket/customers", "cannot be opened"),
    ("memory://cvo-test-missing/customers", "does not exist"),
])
def test_a_location_that_cannot_be_read_is_named(location, message):
    with pytest.raises(DataError) as caught:
        read_table(location, what="customers")
    assert message in caught.value.message and location in caught.value.message


def test_a_folder_of_no_parts_and_a_broken_part_are_named(tmp_path):
    (tmp_path / "_SUCCESS").write_bytes(b"")
    with pytest.raises(DataError, match="holds no .parquet files"):
        read_table(tmp_path, what="customers")
    (tmp_path / "part-0.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="The part part-0.parquet of .* could not be read"):
        read_table(tmp_path, what="customers")


def test_outputs_go_to_local_paths_and_file_urls_only(tmp_path):
    assert local_path(tmp_path / "out") == tmp_path / "out"
    assert local_path(f"file://{tmp_path}/out") == tmp_path / "out"
    assert local_path(Path(f"file://{tmp_path}/out")) == tmp_path / "out"  # as Typer hands --out over
    assert local_path(f"file://localhost{tmp_path}/out") == tmp_path / "out"
    with pytest.raises(DataError, match="is not on a local or shared file system"):
        local_path(Path("s3://bucket/out"))

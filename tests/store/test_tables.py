"""The tables users hand cvo (optimizer/store/tables.py): files that are not what they seem are
named for what they are, with the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.store.tables import read_table, require_columns, row_label


@pytest.mark.parametrize(("separator", "decimal"), [(";", ","), (";", "."), ("\t", "."), ("|", ".")])
def test_a_csv_of_another_separator_reads_as_its_columns(tmp_path: Path, separator: str, decimal: str):
    """A European Excel's CSV (';' and decimal commas), a pandas one with ';' and decimal points, a
    tab- or '|'-separated export: each read as the table it holds (they were read as one column,
    and refused)."""
    table = pd.DataFrame({"customer_id": ["007", "8", "9"], "ltv": [47.65, 1.0, -2.5], "segment": ["a b", "c", "d"]})
    path = tmp_path / "customers.csv"
    table.to_csv(path, sep=separator, decimal=decimal, index=False)
    pd.testing.assert_frame_equal(read_table(path, what="customers", text_columns=("customer_id",)), table)


def test_a_compressed_csv_of_semicolons_and_decimal_commas_reads(tmp_path: Path):
    table = pd.DataFrame({"customer_id": ["1", "2"], "ltv": [0.5, 12.25]})
    path = tmp_path / "customers.csv.gz"
    table.to_csv(path, sep=";", decimal=",", index=False, compression="gzip")
    pd.testing.assert_frame_equal(read_table(path, what="customers", text_columns=("customer_id",)), table)


def test_a_one_column_csv_and_comma_text_keep_their_commas(tmp_path: Path):
    """Commas inside a ';' file's text are text; a one-column file has no separator to find."""
    path = tmp_path / "list.csv"
    path.write_text('customer_id\n1\n2\n')
    assert read_table(path, what="list", text_columns=("customer_id",))["customer_id"].tolist() == ["1", "2"]
    path.write_text('customer_id;note;ltv\n1;"a, b";2.5\n2;c,d;3\n')
    read = read_table(path, what="customers", text_columns=("customer_id",))
    assert read["note"].tolist() == ["a, b", "c,d"] and read["ltv"].tolist() == [2.5, 3.0]


def test_a_header_of_one_column_with_a_separator_is_named(tmp_path: Path):
    """What a file the separator was not found in reads as (here a header and rows that disagree)."""
    table = pd.DataFrame({"customer_id;ltv": ["A;1"]})
    with pytest.raises(DataError, match=re.escape("separates its columns with ';', not commas")) as caught:
        require_columns(table, ["customer_id"], tmp_path / "customers.csv", "customers", "Name the id column")
    assert "Did you mean" not in caught.value.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_a_utf16_csv_is_named_for_what_it_is(tmp_path: Path, encoding: str):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,ltv\nA,1\nB,2\n".encode(encoding))
    with pytest.raises(DataError, match="is UTF-16 text .*iconv -f utf-16 -t utf-8"):
        read_table(path, what="customers")


@pytest.mark.parametrize(("suffix", "compression"), [(".csv.gz", "gzip"), (".csv.zip", "zip"), (".csv.bz2", "bz2")])
def test_a_compressed_csv_reads_as_the_csv_it_holds(tmp_path: Path, suffix: str, compression: str):
    plain = pd.DataFrame({"customer_id": ["007", "8"], "ltv": [1.5, 2.0]})
    path = tmp_path / f"customers{suffix}"
    plain.to_csv(path, index=False, compression=compression)
    read = read_table(path, what="customers", text_columns=("customer_id",))
    pd.testing.assert_frame_equal(read, plain)
    assert row_label(path, 0) == f"{path}, line 2"


@pytest.mark.parametrize(("kind", "fix"), [("gzip", "Name it customers.csv.gz"), ("parquet", "Name it customers.parquet"),
                                           ("zip", "is read as customers.csv.zip"), ("xz", "Name it customers.csv.xz")])
def test_a_file_named_csv_that_is_not_text_is_named_for_what_it_is(tmp_path: Path, kind: str, fix: str):
    """A gzip file named .csv was called Latin-1 text, with iconv as the fix; the name the fix
    gives is read."""
    table, path = pd.DataFrame({"customer_id": ["a"], "ltv": [1.0]}), tmp_path / "customers.csv"
    if kind == "parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False, compression=kind)
    with pytest.raises(DataError, match=f"is an? {kind}") as caught:
        read_table(path, what="customers")
    assert fix in caught.value.fix and "Latin-1" not in caught.value.message
    renamed = path.rename(tmp_path / fix.split()[-1])
    assert read_table(renamed, what="customers")["ltv"].tolist() == [1.0]


def test_a_compressed_csv_that_is_not_what_its_name_says_is_named_so(tmp_path: Path):
    path = tmp_path / "customers.csv.gz"
    path.write_text("customer_id,ltv\na,1\n")
    with pytest.raises(DataError, match="could not be read as gzip-compressed CSV") as caught:
        read_table(path, what="customers")
    assert "unpack it (gzip)" in caught.value.fix

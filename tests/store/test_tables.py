"""The tables users hand cvo (optimizer/store/tables.py): files that are not what they seem are
named for what they are, with the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from optimizer.errors import DataError
from optimizer.store.tables import read_table, require_columns


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_csv_of_another_separator_is_named_for_it(tmp_path: Path, separator: str):
    path = tmp_path / "customers.csv"
    path.write_text(f"customer_id{separator}ltv\nA{separator}1\n")
    table = read_table(path, what="customers")
    with pytest.raises(DataError, match=re.escape(f"separates its columns with {separator!r}, not commas")) as caught:
        require_columns(table, ["customer_id"], path, "customers", "Name the id column customer_id")
    assert "Did you mean" not in caught.value.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_a_utf16_csv_is_named_for_what_it_is(tmp_path: Path, encoding: str):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,ltv\nA,1\nB,2\n".encode(encoding))
    with pytest.raises(DataError, match="is UTF-16 text .*iconv -f utf-16 -t utf-8"):
        read_table(path, what="customers")

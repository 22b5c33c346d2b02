"""Files written as one set, told apart from a mix of two sets.

A command that writes several tables into a folder (``cvo score``: customers.parquet,
scores.parquet, score_report.json) renames them into place one by one: a run killed between two
renames leaves files of two runs side by side, each whole. So each parquet file of a set carries
the set's id and the name of its record (the JSON file written last, which carries the id too) in
its metadata, and a reader of such a file refuses it when the record beside it names another set.
A file without the id (written by anything else), or with no record beside it (copied elsewhere),
is read as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from optimizer.errors import DataError

SET_KEY, RECORD_KEY = "cvo_set", "cvo_set_record"  # parquet metadata keys; SET_KEY is also the record's


def set_metadata(set_id: str, record: str) -> dict[bytes, bytes]:
    """The parquet metadata of a file of set ``set_id`` whose record is the file named ``record``."""
    return {SET_KEY.encode(): set_id.encode(), RECORD_KEY.encode(): record.encode()}


def write_in_set(table: pa.Table, path: Path, set_id: str, record: str) -> None:
    """Write ``table`` to ``path`` as parquet (zstd), marked as a file of set ``set_id``."""
    schema_metadata = {**(table.schema.metadata or {}), **set_metadata(set_id, record)}
    pq.write_table(table.replace_schema_metadata(schema_metadata), path, compression="zstd")


def check_one_set(path: Path, what: str) -> None:
    """DataError when the parquet file ``path`` belongs to a set whose record beside it names
    another set: the two were written by different runs."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return  # not parquet, or unreadable: the reader says so
    set_id, record = metadata.get(SET_KEY.encode()), metadata.get(RECORD_KEY.encode())
    if set_id is None or record is None:
        return
    record_path = path.parent / record.decode()
    try:
        recorded = json.loads(record_path.read_text(encoding="utf-8")).get(SET_KEY)
    except FileNotFoundError:
        return  # copied on its own
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != set_id.decode():
        raise DataError(
            f"The {what} file {path.name} was written by another run than the one {record_path.name} beside it "
            f"records ({set_id.decode()[:12]} against {str(recorded)[:12]}): a run stopped between writing its "
            "files, or the file was copied in from another folder", where=str(path.parent),
            fix=f"Run the command that wrote the folder again (cvo score --out {path.parent}); if the file was "
            f"copied in on purpose, remove {record_path.name} from the folder")

"""Files written as one set, told apart from a mix of two sets.

A command that writes several tables into a folder (``cvo score``: customers.parquet,
scores.parquet, score_report.json) renames them into place one by one: a run killed between two
renames leaves files of two runs side by side, each whole. So each parquet file of a set carries
the set's id and the name of its record (the JSON file written last, which carries the id too) in
its metadata, and a reader of such a file refuses it when the record beside it names another set.
A file without the id (written by anything else), with no record beside it (copied elsewhere), or
one the record does not list (copied in under another name) is read as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from optimizer.errors import DataError

SET_KEY, RECORD_KEY = "cvo_set", "cvo_set_record"  # parquet metadata keys; SET_KEY is also the record's
FILES_KEY = "cvo_set_files"  # the record's list of the set's files


def set_metadata(set_id: str, record: str) -> dict[bytes, bytes]:
    """The parquet metadata of a file of set ``set_id`` whose record is the file named ``record``."""
    return {SET_KEY.encode(): set_id.encode(), RECORD_KEY.encode(): record.encode()}


def write_in_set(table: pa.Table, path: Path, set_id: str, record: str) -> None:
    """Write ``table`` to ``path`` as parquet (zstd), marked as a file of set ``set_id``."""
    schema_metadata = {**(table.schema.metadata or {}), **set_metadata(set_id, record)}
    pq.write_table(table.replace_schema_metadata(schema_metadata), path, compression="zstd")


def set_record(set_id: str, files: list[str]) -> dict[str, object]:
    """The keys a set's record (its JSON file) carries: the set's id and the names of its files."""
    return {SET_KEY: set_id, FILES_KEY: files}


def check_one_set(path: Path, what: str) -> None:
    """DataError when the parquet file ``path`` is one of a set whose record beside it names another
    set: the two were written by different runs (a run killed between its renames, or a table
    copied over one of the set's). A file the record does not list (copied in under another name)
    is read as it is."""
    marked = _marks(path)
    if marked is None:
        return
    set_id, record_path = marked
    record = _record(record_path)
    if record is None or path.name not in record.get(FILES_KEY, [path.name]):
        return  # no record beside it (copied elsewhere), or not one of the set's files
    recorded = record.get(SET_KEY)
    if recorded != set_id:
        raise DataError(
            f"The {what} file {path.name} was written by another run than the one {record_path.name} beside it "
            f"records ({set_id[:12]} against {str(recorded)[:12]}): a run stopped between writing its "
            "files, or the file was copied over one of them", where=str(path.parent),
            fix=f"Run the command that wrote the folder again (cvo score --out {path.parent}); a table copied in on "
            f"purpose needs another name than {path.name}, or the folder no {record_path.name}")


def written_in_a_set(path: Path, record: str) -> bool:
    """Whether the parquet file ``path`` carries a set id and names ``record`` as its record: written
    by the command whose record that is, whether or not the record beside it is still its set's (a
    run killed between its renames, or before its record)."""
    marked = _marks(path)
    return marked is not None and marked[1].name == record


def written_with_record(path: Path) -> bool:
    """Whether the parquet file ``path`` belongs to the set its record beside it records."""
    marked = _marks(path)
    record = None if marked is None else _record(marked[1])
    return marked is not None and record is not None and record.get(SET_KEY) == marked[0]


def _marks(path: Path) -> tuple[str, Path] | None:
    """The set id a parquet file carries and the path of its record, or None for a file without them."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return None  # not parquet, or unreadable: the reader says so
    set_id, record = metadata.get(SET_KEY.encode()), metadata.get(RECORD_KEY.encode())
    if set_id is None or record is None:
        return None
    return set_id.decode(), path.parent / record.decode()


def _record(path: Path) -> dict[str, Any] | None:
    """The record's JSON object; None when there is none; {} when it cannot be read."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}

"""Atomic output files: write to a temporary file in the same folder, fsync, then rename.

A crash or an error before the rename leaves the previous file as it was; a reader never
sees a half-written plan. Both files of a run carry the same ``run_id``.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from optimizer.plan import Plan

PLAN_FILE, PLAN_FOLDER, SUMMARY_FILE = "plan.parquet", "plan", "summary.json"  # plan/: a --dask run's


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temp_path)`` and move the result over ``path`` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        write(temp_path)
        with open(temp_path, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(temp_path, path)
    finally:
        temp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_outputs(plan: Plan, out_dir: Path) -> dict[str, Any]:
    """Write plan.parquet and summary.json into ``out_dir``; return the summary written."""
    run_id = uuid.uuid4().hex
    summary = {"run_id": run_id, **plan.summary}
    table = pa.Table.from_pandas(plan.assignments, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"cvo_run_id": run_id.encode()})
    atomic_write(out_dir / PLAN_FILE, lambda temp: pq.write_table(table, temp, compression="zstd"))
    atomic_write(out_dir / SUMMARY_FILE, lambda temp: temp.write_text(json.dumps(summary, indent=2) + "\n"))
    return summary

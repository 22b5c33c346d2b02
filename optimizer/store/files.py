"""A run's folder on disk: the names of the files cvo writes there, atomic writes, and reading back
a run's summary and plan files.

A write goes to a temporary file in the same folder, is fsynced, then renamed over the target:
a crash or an error before the rename leaves the previous file as it was, and a reader never
sees a half-written file. Every file of one optimize run carries the same ``run_id``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from optimizer.errors import DataError

PLAN_FILE, PLAN_FOLDER, SUMMARY_FILE = "plan.parquet", "plan", "summary.json"  # plan/: a --dask run's
MEASUREMENT_FILE = "measurement.json"
SWEEP_FILE, SWEEP_CSV, FRONTIER_FILE = "sweep.json", "sweep.csv", "frontier.png"
REPORT_FILE = "report.html"
RUN_ID_KEY = b"cvo_run_id"  # the plan's parquet metadata key holding its run's id


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temp_path)`` (what it returns is ignored) and move the result over ``path`` in one rename."""
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


def read_summary(out_dir: Path) -> dict[str, Any]:
    """summary.json of an optimize output folder (DataError when there is none)."""
    path = Path(out_dir) / SUMMARY_FILE
    if not path.is_file():
        raise DataError(f"{SUMMARY_FILE} is missing", where=str(out_dir),
                        fix="Give a folder written by `cvo optimize SCENARIO --out FOLDER`")
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


def plan_files(out_dir: Path) -> list[Path]:
    """plan.parquet, else the partition files of plan/ (a --dask run); [] when there is neither."""
    if (out_dir / PLAN_FILE).is_file():
        return [out_dir / PLAN_FILE]
    return sorted((out_dir / PLAN_FOLDER).glob("*.parquet"))


def read_plan(out_dir: Path) -> pd.DataFrame:
    """The plan of an optimize output folder, one row per customer (every partition of a --dask
    run's plan/ in order); DataError when there is none or a file cannot be read."""
    files = plan_files(Path(out_dir))
    if not files:
        raise DataError(f"{PLAN_FILE} is missing", where=str(out_dir),
                        fix="Give a folder written by `cvo optimize SCENARIO --out FOLDER`")
    try:
        plan: pd.DataFrame = pd.concat([pq.read_table(file).to_pandas() for file in files], ignore_index=True)
        return plan
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise DataError(f"The plan in {out_dir} could not be read: {error}",
                        fix="Run `cvo optimize` again into this folder") from None

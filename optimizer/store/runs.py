"""A run's folder as read: checked against its manifest (optimizer/store/files.py writes both), so
a folder whose files come from two runs is refused instead of read; its summary, its plan and the
storage options its scenario gave.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.errors import DataError, RunFolderError, ScenarioError
from optimizer.store.files import REPLACING, RERUN, file_digest, finish_replacement, read_manifest
from optimizer.store.folders import folder_lock
from optimizer.store.names import (
    MANIFEST_FILE,
    NOT_KEPT,
    PLAN_FILE,
    PLAN_FOLDER,
    RUNS_FOLDER,
    SCENARIO_FILE,
    SUMMARY_FILE,
)

if TYPE_CHECKING:  # pandas and pyarrow load when a plan is read: cvo history and --help never need them
    import pandas as pd


@dataclass(frozen=True)
class RunFolder:
    """One optimize run's folder, checked: its summary and its plan file(s), all of one run."""

    path: Path
    summary: dict[str, Any]
    plan: list[Path]
    origin: str = ""  # where the run lives when ``path`` is a local copy of it (an object store's URL)

    @property
    def run_id(self) -> str:
        return str(self.summary["run_id"])

    @property
    def shown(self) -> str:
        """The run as the user named it: its URL, or its folder as given."""
        return self.origin or str(self.path)

    @property
    def out(self) -> str:
        """What ``cvo optimize --out`` wrote the run to: its folder, or OUT of an object store's OUT/runs/<run_id>."""
        return run_out(self.origin) if self.origin else str(self.path)

    @property
    def where(self) -> str:
        """Where the run lives, as a user names it: its URL, or its folder's absolute path."""
        return self.origin or str(self.path.resolve())


def run_out(origin: str) -> str:
    """OUT of a run at OUT/runs/<run_id> on an object store (``origin`` itself otherwise)."""
    head, _, _ = origin.rstrip("/").rpartition(f"/{RUNS_FOLDER}/")
    return head or origin


def read_run(out_dir: Path, origin: str = "") -> RunFolder:
    """An optimize run's folder, checked against its manifest: every file it names is there and
    unchanged, and summary.json carries the manifest's run id (RunFolderError otherwise).
    ``origin``: the run's URL when ``out_dir`` is a local copy of it (optimizer/store/object_runs.py),
    which the messages then name."""
    out_dir = Path(out_dir)
    where = origin or str(out_dir)
    if out_dir.is_file():
        scenario = out_dir.suffix in (".yaml", ".yml")
        fix = (f"Give the folder `cvo optimize` wrote, e.g. `cvo optimize {out_dir} --out out/{out_dir.stem}`, "
               f"then give out/{out_dir.stem}" if scenario else "Give the folder `cvo optimize SCENARIO --out "
               "OUT_DIR` wrote")
        raise RunFolderError(f"{out_dir.name} is a file; a run folder is expected", where=where, fix=fix)
    if not origin and not out_dir.exists():  # a command-line value naming nothing: a typo, or optimize not run yet
        raise ScenarioError("There is no such folder", where=where,
                            fix=f"Give the folder `cvo optimize SCENARIO --out OUT_DIR` wrote, or run that command "
                            f"with --out {out_dir} first")
    fix = RERUN.format(folder=run_out(origin) if origin else out_dir)
    if (out_dir / REPLACING).is_file():  # a rewrite of the run's files stopped after it decided
        _finish_for_reader(out_dir, where)
    manifest = read_manifest(out_dir, where, fix)
    files: dict[str, str] = manifest["files"]
    for name, digest in files.items():
        path = out_dir / name
        if not path.is_file():
            raise RunFolderError(f"{name}, listed in {MANIFEST_FILE}, is missing", where=where, fix=fix)
        if file_digest(path) != digest:
            raise RunFolderError(
                f"{name} is not the file run {manifest['run_id']} wrote: the folder holds files of different runs "
                "(a run was interrupted while writing, is writing into it right now, or a file was changed by hand)",
                where=where, fix=f"If no cvo command is writing there, {fix[0].lower()}{fix[1:]}")
    summary = _read_summary_file(out_dir, where, fix)
    if summary.get("run_id") != manifest["run_id"]:
        raise RunFolderError(f"{SUMMARY_FILE} is of run {summary.get('run_id')}, {MANIFEST_FILE} of run "
                             f"{manifest['run_id']}", where=where, fix=fix)
    plan = [out_dir / name for name in files if name == PLAN_FILE or name.startswith(f"{PLAN_FOLDER}/")]
    return RunFolder(out_dir, summary, sorted(plan), origin)


def _finish_for_reader(out_dir: Path, where: str) -> None:
    """``finish_replacement`` for a reader, under the folder's lock."""
    try:
        with folder_lock(out_dir):
            finish_replacement(out_dir)
    except OSError as error:
        if not (out_dir / REPLACING).exists():  # another reader finished it (a file system without locks)
            return
        raise RunFolderError(f"A rewrite of the run's files (a forced commit cutting its send lists) was stopped "
                             f"midway and cannot be finished: {error.strerror or error}", where=where,
                             fix="Give write permission on the folder and run the command again") from None


def _read_summary_file(out_dir: Path, where: str, fix: str) -> dict[str, Any]:
    try:
        summary = json.loads((out_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise RunFolderError(f"{SUMMARY_FILE} cannot be read ({error})", where=where, fix=fix) from None
    if not isinstance(summary, dict):
        raise RunFolderError(f"{SUMMARY_FILE} does not hold a run's summary", where=where, fix=fix)
    return summary


def run_storage_options(out_dir: Path) -> dict[str, Any]:
    """The fsspec options the run's scenario gave (scenario.yaml's ``storage_options``), for the
    contact history it names, without the secrets it does not keep (NOT_KEPT): those come from the
    environment, as they did for the run; {} for a folder without scenario.yaml (written by an
    older cvo) or with none."""
    import yaml

    try:
        saved = yaml.safe_load((Path(out_dir) / SCENARIO_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    options = saved.get("storage_options") if isinstance(saved, dict) else None
    return _kept(options) if isinstance(options, dict) else {}


def _kept(options: dict[str, Any]) -> dict[str, Any]:
    return {name: _kept(value) if isinstance(value, dict) else value for name, value in options.items()
            if value != NOT_KEPT}


def read_summary(out_dir: Path) -> dict[str, Any]:
    """summary.json of an optimize output folder, checked to be of one run with its plan."""
    return read_run(out_dir).summary


def read_plan(out_dir: Path) -> pd.DataFrame:
    """The plan of an optimize output folder, one row per customer (every partition of a --dask
    run's plan/ in order); the folder is checked first (``read_run``)."""
    import pandas as pd
    import pyarrow.parquet as pq

    run = read_run(Path(out_dir))
    if not run.plan:
        raise RunFolderError(f"{PLAN_FILE} is missing", where=str(out_dir), fix=RERUN.format(folder=out_dir))
    try:
        plan: pd.DataFrame = pd.concat([pq.read_table(file).to_pandas() for file in run.plan], ignore_index=True)
        return plan
    except Exception as error:  # pyarrow raises many types for a damaged file
        raise DataError(f"The plan in {out_dir} could not be read: {error}",
                        fix=RERUN.format(folder=out_dir)) from None

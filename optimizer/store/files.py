"""A run's folder on disk: atomic writes, and the manifest that makes a run's files one unit (the
files' names: optimizer/store/names.py; the folder's checks and lock: optimizer/store/folders.py).

A write goes to a temporary file in the same folder (named after the writing process), is
fsynced, then renamed over the target: a crash before the rename leaves the previous file as it
was, and a reader never sees a half-written file. A run (``write_run``) writes all its files aside
first, then renames them into place, then writes ``manifest.json`` last: the run's id and the
SHA-256 of every file. Readers (optimizer/store/runs.py ``read_run``) hash the files again, so a
folder whose files come from two runs (a run killed between two renames) is refused instead of
read. While a run writes (``cvo optimize``: while it solves, too), it holds an exclusive lock on
the folder, and it first removes the temporary files of writers that died.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from optimizer.errors import RunFolderError
from optimizer.store.folders import (
    check_output_folder,
    check_run_folder,
    earlier_run_files,
    folder_lock,
    remove_dead_temporaries,
)
from optimizer.store.names import (  # re-exported: every reader of a run imports them from here
    ABOUT_RUN as ABOUT_RUN,
    CONTACTS_FOLDER as CONTACTS_FOLDER,
    FRONTIER_FILE as FRONTIER_FILE,
    MANIFEST_FILE as MANIFEST_FILE,
    MEASUREMENT_FILE as MEASUREMENT_FILE,
    MIGRATION_FILE as MIGRATION_FILE,
    NOT_KEPT as NOT_KEPT,
    PLAN_FILE as PLAN_FILE,
    PLAN_FOLDER as PLAN_FOLDER,
    REPORT_FILE as REPORT_FILE,
    RULES_FILE as RULES_FILE,
    RULES_TEXT as RULES_TEXT,
    RUN_FILES as RUN_FILES,
    RUN_ID_KEY as RUN_ID_KEY,
    RUNS_FOLDER as RUNS_FOLDER,
    SCENARIO_FILE as SCENARIO_FILE,
    SUMMARY_FILE as SUMMARY_FILE,
    SWEEP_CSV as SWEEP_CSV,
    SWEEP_FILE as SWEEP_FILE,
    SWEEP_FOLDER as SWEEP_FOLDER,
)

RERUN = "Run `cvo optimize SCENARIO --out {folder}` again"
REPLACING, ASIDE = ".replacing.json", ".replacing"  # replace_run_files's decision, and its files aside

Writer = Callable[[Path], object]


def atomic_write(path: Path, write: Writer) -> None:
    """Call ``write(temp_path)`` (what it returns is ignored) and move the result over ``path`` in one rename."""
    temp = written_aside(path, write)
    try:
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def written_aside(path: Path, write: Writer) -> Path:
    """``write`` called on a fresh temporary file beside ``path``, fsynced, with the usual mode; its path.
    The temporary file is removed when ``write`` fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        write(temp_path)
        with open(temp_path, "rb+") as stream:
            os.fsync(stream.fileno())
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return temp_path


def staging_folder(out_dir: Path, name: str) -> Path:
    """A fresh hidden folder in ``out_dir`` to build ``name`` in before renaming it into place;
    named after this process, so that a later run can tell it from a live writer's."""
    folder = Path(tempfile.mkdtemp(prefix=f".{name}.pid{os.getpid()}.", suffix=".tmp", dir=out_dir))
    os.chmod(folder, 0o777 & ~_umask())  # mkdtemp makes 0700; the folder becomes OUT/plan
    return folder


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_run(out_dir: Path, run_id: str, files: Mapping[str, Writer],
              stage: Callable[[Path], Sequence[str]] | None = None, listed: Mapping[str, str] | None = None) -> None:
    """Write ``files`` (name → writer) into ``out_dir`` atomically, then manifest.json naming
    them with their SHA-256. ``stage(out_dir)``, if given, runs first and returns the names of
    the files it moved into place itself (a --dask run's plan/ partitions), which the manifest
    lists too; ``listed`` (name → SHA-256) are files of the run written elsewhere (its workers'
    parts on an object store: optimizer/store/object_runs.py). Holds the folder's lock throughout;
    removes dead writers' temporary files first and, once the manifest is written, the earlier
    run's files this one does not have and what was written about it (``ABOUT_RUN``)."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    check_run_folder(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with folder_lock(out_dir):
            try:  # the earlier run's rewrite, so that it cannot be finished over this run's files
                finish_replacement(out_dir)
            except RunFolderError:  # one that cannot be finished: this run replaces every file anyway
                drop_replacement(out_dir)
            remove_dead_temporaries(out_dir)
            earlier = earlier_run_files(out_dir)
            written = list(stage(out_dir)) if stage is not None else []
            write_all(out_dir, files)
            digests = {**(listed or {}), **{name: file_digest(out_dir / name) for name in [*written, *files]}}
            _remove(out_dir, (earlier - digests.keys()) | set(ABOUT_RUN))  # before the manifest: a kill here
            _write_manifest(out_dir, {"run_id": run_id, "files": digests})  # leaves the old one, which lists them
    except OSError as error:  # a full disk, a folder made read-only meanwhile: the previous run's files stay
        raise RunFolderError(f"The run's files could not be written: {error.strerror or error}", where=str(out_dir),
                             fix="Free space or fix the folder's permissions, then run again") from None


def replace_run_files(out_dir: Path, run_id: str, files: Mapping[str, Writer]) -> None:
    """Write ``files`` (name → writer), files run ``run_id``'s manifest lists already, over them
    in ``out_dir``; the run's other files stay as they are. Under the folder's lock (RunFolderError
    when the folder holds another run now, or a file cannot be written).

    The run is already recorded when its files are replaced (a forced commit cuts its send lists),
    so a kill midway must not leave a folder no command reads. Each file is written aside to
    ``.NAME.replacing``, then REPLACING (the new files' SHA-256) in one rename: from there the
    replacement is decided, and the next reader or writer of the folder finishes it
    (``finish_replacement``) if this process does not: the files renamed into place, the
    manifest updated, REPLACING removed. A kill before REPLACING leaves the run as it was."""
    out_dir = Path(out_dir)
    where, fix = str(out_dir), "Run the command again"
    try:
        with folder_lock(out_dir):
            finish_replacement(out_dir)
            manifest = read_manifest(out_dir, where, fix)
            unknown = sorted(set(files) - set(manifest["files"]))
            if manifest["run_id"] != run_id or unknown:
                raise RunFolderError(f"The folder no longer holds run {run_id} as it was read", where=where,
                                     fix="Check what wrote to the folder since, and run the command again")
            digests = _set_aside(out_dir, files)
            atomic_write(out_dir / REPLACING, lambda temp: temp.write_text(json.dumps(
                {"run_id": run_id, "files": digests}, indent=2) + "\n"))
            finish_replacement(out_dir)
    except OSError as error:
        raise RunFolderError(f"The run's files could not be rewritten: {error.strerror or error}", where=where,
                             fix="Free space or fix the folder's permissions, then run again") from None


def finish_replacement(out_dir: Path) -> None:
    """Finish a ``replace_run_files`` that decided (wrote REPLACING) and was stopped: each file
    still aside renamed into place, the manifest given the new SHA-256, REPLACING removed; the
    files aside of one that did not decide (beside the run's own files only) are removed.
    Idempotent; the caller holds the lock. RunFolderError, naming REPLACING, when a file it lists
    is neither aside nor in place as it lists it."""
    journal, where = out_dir / REPLACING, str(out_dir)
    replacing = _read_replacing(journal, where)
    if replacing is not None:
        manifest = read_manifest(out_dir, where, RERUN.format(folder=out_dir))
        if manifest["run_id"] == replacing["run_id"]:  # else a later run's files are there: nothing to finish
            for name, digest in replacing["files"].items():
                _put_in_place(out_dir, name, digest, replacing["run_id"])
            _write_manifest(out_dir, {**manifest, "files": {**manifest["files"], **replacing["files"]}})
        journal.unlink(missing_ok=True)
    for name in _run_file_names(out_dir):
        _aside(out_dir / name).unlink(missing_ok=True)


def drop_replacement(out_dir: Path) -> None:
    """REPLACING and the files it set aside, removed unfinished: for a run that replaces every file."""
    with suppress(RunFolderError):
        for name in (_read_replacing(out_dir / REPLACING, str(out_dir)) or {"files": {}})["files"]:
            _aside(out_dir / name).unlink(missing_ok=True)
    (out_dir / REPLACING).unlink(missing_ok=True)


def _put_in_place(out_dir: Path, name: str, digest: str, run_id: str) -> None:
    """The file ``name`` a stopped rewrite set aside, renamed into place if it is still aside, and
    checked to be the one it wrote."""
    if _aside(out_dir / name).is_file():
        os.replace(_aside(out_dir / name), out_dir / name)
    if not (out_dir / name).is_file() or file_digest(out_dir / name) != digest:
        problem = "is missing" if not (out_dir / name).is_file() else "is not the file it wrote"
        raise RunFolderError(
            f"A rewrite of run {run_id}'s files (a forced commit cutting its send lists) was stopped midway, and "
            f"{name}, which its {REPLACING} lists, {problem}", where=str(out_dir),
            fix=f"{RERUN.format(folder=out_dir)}: the new run replaces every file and drops {REPLACING}")


def _run_file_names(out_dir: Path) -> list[str]:
    """The files the folder's manifest lists (none when it has none, or one that cannot be read)."""
    try:
        listed = json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return [name for name in listed if isinstance(name, str)] if isinstance(listed, dict) else []


def _read_replacing(journal: Path, where: str) -> dict[str, Any] | None:
    """REPLACING: the run's id and the new files' SHA-256 by name; None when there is none (or
    another reader finished it meanwhile); RunFolderError when damaged."""
    fix = f"{RERUN.format(folder=journal.parent)}: the new run replaces every file and drops {REPLACING}"
    try:
        replacing = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise RunFolderError(f"{REPLACING} cannot be read ({error})", where=where, fix=fix) from None
    if not isinstance(replacing, dict) or not isinstance(replacing.get("files"), dict) or "run_id" not in replacing:
        raise RunFolderError(f"{REPLACING} does not list a rewrite's files", where=where, fix=fix)
    return replacing


def _set_aside(out_dir: Path, files: Mapping[str, Writer]) -> dict[str, str]:
    """Each of ``files`` written to its place aside (``_aside``); their SHA-256 by name. A write
    that fails removes what was set aside."""
    digests: dict[str, str] = {}
    try:
        for name, write in files.items():
            os.replace(written_aside(out_dir / name, write), _aside(out_dir / name))
            digests[name] = file_digest(_aside(out_dir / name))
    except BaseException:
        for name in files:
            _aside(out_dir / name).unlink(missing_ok=True)
        raise
    return digests


def _aside(path: Path) -> Path:
    return path.with_name(f".{path.name}{ASIDE}")


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """manifest.json, last and in one rename: it makes the files it names one run."""
    atomic_write(out_dir / MANIFEST_FILE, lambda temp: temp.write_text(json.dumps(manifest, indent=2) + "\n"))


def _remove(out_dir: Path, names: set[str]) -> None:
    """The files ``names`` in ``out_dir``, where there (one that cannot be removed stays)."""
    for name in sorted(names):
        with suppress(OSError):
            (out_dir / name).unlink(missing_ok=True)


def write_all(out_dir: Path, files: Mapping[str, Writer], removed: Iterable[str] = ()) -> None:
    """Every file written aside first, then the files ``removed`` removed, then all renamed into
    place: a write that fails (a full disk) leaves the previous files as they were."""
    temps: dict[str, Path] = {}
    try:
        for name, write in files.items():
            temps[name] = written_aside(out_dir / name, write)
        for name in removed:
            (out_dir / name).unlink(missing_ok=True)
        for name, temp in temps.items():
            os.replace(temp, out_dir / name)
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, as hex (RunFolderError when it cannot be read)."""
    try:
        with open(path, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError as error:
        raise RunFolderError(f"{path.name} cannot be read: {error.strerror or error}", where=str(path.parent),
                             fix="Check the file's permissions") from None


def read_manifest(out_dir: Path, where: str, fix: str) -> dict[str, Any]:
    """manifest.json of a run's folder: its run id and the SHA-256 of every file (RunFolderError naming
    what is wrong, with ``fix``)."""
    path = out_dir / MANIFEST_FILE
    if not path.is_file():
        problem = (f"{SUMMARY_FILE} is missing" if not (out_dir / SUMMARY_FILE).is_file() else
                   f"{MANIFEST_FILE} is missing, so these files cannot be shown to be of one run (written by an "
                   "older cvo, or a run interrupted before it finished)")
        raise RunFolderError(problem, where=where,
                             fix=f"Give a folder written by `cvo optimize`, or {fix[0].lower()}{fix[1:]}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunFolderError(f"{MANIFEST_FILE} cannot be read ({error})", where=where, fix=fix) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or "run_id" not in manifest:
        raise RunFolderError(f"{MANIFEST_FILE} does not list a run's files", where=where, fix=fix)
    return manifest

"""An output folder before and while a run writes into it: whether it can take a run (it is a
folder, writable, and holds no files of the user's a run would replace), the lock one run holds
on it, and the temporary files of writers that died.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from optimizer.errors import RunFolderError
from optimizer.store.names import (
    ABOUT_RUN,
    COMPARE_FILE,
    COMPARE_PAGE,
    COMPARE_PLOT,
    CONTACTS_FOLDER,
    MANIFEST_FILE,
    PLAN_FILE,
    PLAN_FOLDER,
    RUN_FILES,
    RUN_ID_KEY,
    SUMMARY_FILE,
)

TEMPORARY = re.compile(r"^\.(?:.+\.)?pid(\d+)\..*\.tmp$")  # what atomic_write and staged folders are named


def check_output_folder(out_dir: Path) -> None:
    """Fail now, before any long work, when ``out_dir`` cannot receive a run's files: it is a
    file, sits under a file, or the nearest existing folder is not writable."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink() and not out_dir.exists():
        raise RunFolderError(f"The output folder is a link to {os.readlink(out_dir)}, which does not exist",
                             where=str(out_dir), fix="Create the folder it points to, or give --out another folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError("The output folder is a file", where=str(out_dir),
                             fix="Give --out a folder (it is created if missing), not a file")
    existing = next(folder for folder in (out_dir, *out_dir.parents) if folder.exists())
    if not existing.is_dir():
        raise RunFolderError(f"The output folder cannot be created: {existing} is a file", where=str(out_dir),
                             fix="Give --out a path under a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"The output folder cannot be written: no write permission on {existing}",
                             where=str(out_dir), fix="Give --out a folder you may write to, or change its permissions")


def check_run_folder(out_dir: Path) -> None:
    """Fail now when ``out_dir`` holds files a run would write over or remove (``RUN_FILES``,
    contacts_*.csv, manifest.json, ``ABOUT_RUN``) and no run left it: neither a cvo manifest nor,
    from a run stopped before its manifest, a run's summary.json or plan file with its id. A
    user's own scenario.yaml or contact list is never replaced, nor is a comparison mixed with a run
    (``check_not_comparison``)."""
    out_dir = Path(out_dir)
    check_not_comparison(out_dir)
    if not out_dir.is_dir() or is_run_folder(out_dir):
        return
    theirs = _run_named(out_dir)
    if theirs:
        raise RunFolderError(f"The output folder holds {', '.join(theirs)}, not the files of a cvo run (no run's "
                             "manifest): a run would replace or remove them", where=str(out_dir),
                             fix="Give --out a new or empty folder (or the folder of an earlier run), or move "
                                 "those files elsewhere")


def check_not_comparison(out_dir: Path) -> None:
    """Fail now when ``out_dir`` holds a comparison (cvo compare's files): a run written beside it
    would sit with figures and plans of other scenarios, and a later compare would remove its plans."""
    out_dir = Path(out_dir)
    theirs = [name for name in (COMPARE_FILE, COMPARE_PAGE, COMPARE_PLOT) if (out_dir / name).exists()]
    if theirs:
        raise RunFolderError(f"The output folder holds a comparison ({', '.join(theirs)}), not a run's files",
                             where=str(out_dir), fix="Give --out a folder of its own for the run (the default is "
                             "out/<scenario name>), or move the comparison elsewhere")


def check_comparison_folder(out_dir: Path) -> None:
    """Fail now when ``out_dir`` holds a run (a manifest, or a run's summary or plan) or files of
    the names a run writes: compare.json and plans/ beside them would read as that run's."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return
    what = "a cvo run" if is_run_folder(out_dir) else ", ".join(_run_named(out_dir))
    if what:
        raise RunFolderError(f"The output folder holds {what}, not a comparison: compare.json and plans/ beside "
                             "it would read as that run's", where=str(out_dir),
                             fix="Give cvo compare a folder of its own with --out (the default is out/compare)")


def _run_named(out_dir: Path) -> list[str]:
    """The files in ``out_dir`` named as a run names its own (``_of_a_run``, manifest.json), sorted."""
    return sorted(path.name for path in out_dir.iterdir() if path.name == MANIFEST_FILE or _of_a_run(path.name))


def run_id_of(out_dir: Path) -> str | None:
    """The id of the run in ``out_dir``: its manifest's, else (a run stopped before its manifest)
    its summary's; None when no run left the folder."""
    for found, name in ((_run_manifest(out_dir), MANIFEST_FILE), (_run_summary(out_dir), SUMMARY_FILE)):
        if found:
            return str(_json(out_dir / name)["run_id"])
    return None


def committed_to(out_dir: Path) -> tuple[str, ...]:
    """The contact histories the run in ``out_dir`` was committed to that are not the one its
    summary names (``committed_places``); () otherwise."""
    summary = _json(out_dir / SUMMARY_FILE) if _run_summary(out_dir) else None
    return committed_places(summary) if isinstance(summary, dict) else ()


def committed_places(summary: dict[str, Any]) -> tuple[str, ...]:
    """The histories a run's summary says it was committed to (``committed_to``, which cvo commit
    writes once one went elsewhere than the history the summary names), oldest first; a string in
    the summaries of an earlier cvo."""
    place = summary.get("committed_to")
    if isinstance(place, str):
        return (place,)
    return tuple(item for item in place if isinstance(item, str)) if isinstance(place, list) else ()


def is_run_folder(out_dir: Path) -> bool:
    """Whether a run left ``out_dir``: a cvo manifest or, from a run stopped before its manifest,
    a run's summary.json or plan file with its id."""
    return _run_manifest(out_dir) or _run_summary(out_dir) or _run_plan(out_dir)


def _of_a_run(name: str) -> bool:
    return name in RUN_FILES or name in ABOUT_RUN or (name.startswith("contacts_") and name.endswith(".csv"))


def _json(path: Path) -> Any:
    """The JSON in ``path`` (None when it is missing or not JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _run_manifest(out_dir: Path) -> bool:
    manifest = _json(out_dir / MANIFEST_FILE)
    return isinstance(manifest, dict) and isinstance(manifest.get("run_id"), str) and \
        isinstance(manifest.get("files"), dict) and all(isinstance(name, str) for name in manifest["files"])


def _run_summary(out_dir: Path) -> bool:
    summary = _json(out_dir / SUMMARY_FILE)
    return isinstance(summary, dict) and isinstance(summary.get("run_id"), str) and \
        {"status", "objective", "campaigns"} <= summary.keys()


def _run_plan(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds a plan.parquet, or a --dask run's plan/ part, carrying a run's id."""
    import pyarrow.parquet as pq

    for plan in [out_dir / PLAN_FILE, *sorted((out_dir / PLAN_FOLDER).glob("*.parquet"))[:1]]:
        try:
            if RUN_ID_KEY in (pq.read_schema(plan).metadata or {}):
                return True
        except (OSError, ValueError):  # missing, or not a parquet file
            continue
    return False


def earlier_run_files(out_dir: Path) -> set[str]:
    """The files an earlier run's manifest lists directly in ``out_dir`` (none without a cvo manifest)."""
    if not _run_manifest(out_dir):
        return set()
    listed = _json(out_dir / MANIFEST_FILE)["files"]
    return {name for name in listed if "/" not in name and _of_a_run(name)}


_HELD: dict[Path, int] = {}  # folders whose lock this process holds, with how many holders nest in it


@contextmanager
def folder_lock(out_dir: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``out_dir`` (flock on the folder itself, no lock file);
    RunFolderError when another process holds it. Nested holds in one process share the lock; a
    folder that is not there holds no run and is not locked (its reader says what is missing)."""
    if not Path(out_dir).is_dir():
        yield
        return
    key = Path(out_dir).resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs into one folder are then not serialised
        yield
        return
    descriptor = os.open(out_dir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderError("Another cvo command is writing to this folder", where=str(out_dir),
                                 fix="Wait for it to finish, or give --out another folder") from None
        except OSError:  # a file system without locks (some NFS, CIFS): runs into it are not serialised
            pass
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(descriptor)  # closing releases the lock


@contextmanager
def claimed_output_folder(out_dir: Path) -> Iterator[Path]:
    """``out_dir`` checked, created if missing and locked for a whole run (solve and writes), so
    that a second run into it stops at once; a folder this created stays only if the run wrote
    into it."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a folder the system will not have made there (/proc, a read-only mount)
        raise RunFolderError(f"The output folder cannot be created: {error.strerror or error}", where=str(out_dir),
                             fix="Give --out a folder you may write to") from None
    try:
        with folder_lock(out_dir):
            yield out_dir
    finally:
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()


def remove_dead_temporaries(out_dir: Path) -> list[Path]:
    """Remove the temporary files and staging folders in ``out_dir`` (and its plan/ and the
    folders of contacts/) left by writers that are no longer running; return what was removed."""
    removed = []
    lists = sorted(path for path in (out_dir / CONTACTS_FOLDER).glob("*") if path.is_dir())
    for folder in (out_dir, out_dir / PLAN_FOLDER, *lists):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = TEMPORARY.match(path.name)
            if match is None or _alive(int(match.group(1))):
                continue
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True

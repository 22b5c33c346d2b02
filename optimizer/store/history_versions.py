"""A contact history on an object store (``s3://``, ``gs://``, ``abfs://``, ``memory://``): a
folder of numbered versions, each a whole DuckDB file, because DuckDB writes a file in place under
a lock and an object store has neither in-place writes nor locks.

What an object store does promise is that an object is written whole or not at all, and that it
can be created only if absent (fsspec's ``put_file(..., mode="create")``: S3's ``If-None-Match``,
GCS's generation match, Azure's no-overwrite; EXCLUSIVE lists the file systems that do). So the
history ``s3://bucket/cvo/contact_history.duckdb`` is the folder of objects
``000000000001.duckdb``, ``000000000002.duckdb``, ..., and the newest is the history. A reader
copies the newest to a local file and reads it as a local history. A writer (``cvo commit``,
``cvo void``) copies version n, changes the copy in one DuckDB transaction exactly as a local
history is changed (optimizer/store/ledger.py), and creates version n + 1 only if no other writer
has: when one has, its change is kept and this one is made again on top of it, from the start
(optimistic concurrency, as Delta Lake and Iceberg commit to object stores), so a plan made stale
by the other commit is refused as it would be locally. A change that changes nothing (a run
already recorded) writes no version. The newest KEEP versions stay whole; each write empties the
one KEEP before it (PRUNED) and leaves its object, so that its number stays taken: were it freed,
a writer that read a version long ago could create it again, and its change would sit unseen
under newer versions.

A version is never changed once written (only emptied), so a run on a Dask cluster pins the one
its client read (``pinned``) and every worker reads that one, once per worker process.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from optimizer.errors import CvoError, HistoryError, RunFolderError
from optimizer.store.datasets import filesystem, local_path
from optimizer.store.files import file_digest
from optimizer.store.object_runs import ACCESS_FIX, object_store_url

VERSION = re.compile(r"^(\d{12})\.duckdb$")  # one version's object name below the history's folder
KEEP = 5  # versions kept whole after a write: the newest and the four before it
ATTEMPTS = 5  # a change made again at most this many times while other writers keep landing first
EXCLUSIVE = {  # the file systems that create an object only if it is absent, from these versions on
    "s3fs": (2025, 7, 0),  # S3's If-None-Match (s3fs#917; small files from 2025.7, s3fs#974)
    "gcsfs": (2024, 12, 0),  # GCS's ifGenerationMatch=0 (gcsfs#651)
    "adlfs": (2024, 12, 0),  # Azure's no-overwrite (adlfs#491)
    "fsspec": (2024, 12, 0),  # its memory:// alone (one process: the tests)
}
PRUNED = b"cvo: an emptied contact history version (only the newest are kept)\n"
T = TypeVar("T")


def history_url(location: str | Path) -> str | None:
    """The object-store URL a contact history location names, or None for a local file (also a
    file:// URL); HistoryError for a URL that names no bucket."""
    try:
        return object_store_url(location)
    except RunFolderError as error:
        raise HistoryError(error.problem, where=error.where, fix=error.fix) from None


def pinned_version(url: str) -> bool:
    """Whether ``url`` names one version of a history (…/000000000042.duckdb), not its folder."""
    return VERSION.match(url.rsplit("/", 1)[-1]) is not None


def history_of(location: str) -> str:
    """The history a location names: the folder of a version URL (``pinned_version``), else itself."""
    return location.rsplit("/", 1)[0] if history_url(location) and pinned_version(location) else location


def pinned(location: str, storage_options: dict[str, Any] | None = None) -> str:
    """The history at ``location`` as it is now, for good: for an object store's, the URL of its
    newest version, which never changes (version 0 when none is written yet: no contacts, whatever
    is committed meanwhile); a local file as it is."""
    url = history_url(location)
    if url is None or pinned_version(url):
        return location
    return version_url(url, latest_version(url, storage_options))


def version_url(url: str, version: int) -> str:
    """The URL of version ``version`` of the history at ``url``."""
    return f"{url}/{version:012d}.duckdb"


def latest_version(url: str, storage_options: dict[str, Any] | None = None) -> int:
    """The newest version's number of the history at ``url`` (0: none written yet)."""
    fs, root = filesystem(url, storage_options)
    try:
        fs.invalidate_cache(root)  # s3fs and gcsfs cache listings: another process may have written since
        names = [str(name).rstrip("/").rsplit("/", 1)[-1] for name in fs.ls(root, detail=False)]
    except FileNotFoundError:
        return 0
    except Exception as error:  # each file system raises its own: PermissionError, ClientError, ...
        raise HistoryError(f"The contact history cannot be listed: {error}", where=url, fix=ACCESS_FIX) from None
    versions = [int(found.group(1)) for found in map(VERSION.match, names) if found is not None]
    if not versions and names:
        raise HistoryError("The location holds files but no contact history versions (000000000001.duckdb, ...)",
                           where=url, fix="Give the folder `cvo commit` writes the history to, or an empty one")
    return max(versions, default=0)


@contextmanager
def readable_history(history: str | Path, storage_options: dict[str, Any] | None = None) -> Iterator[Path]:
    """The local file to read the contact history ``history`` from: itself, or for an object-store
    URL a copy of its newest version (``read_copy``), or of the version it names (``pinned_copy``)."""
    url = history_url(history)
    if url is None:
        yield local_path(history)
    elif pinned_version(url):
        with pinned_copy(url, storage_options) as local, _named(local, url):
            yield local
    else:
        with read_copy(url, storage_options) as (local, _):
            yield local


@contextmanager
def read_copy(url: str, storage_options: dict[str, Any] | None = None) -> Iterator[tuple[Path, int]]:
    """A local copy of the history at ``url`` (a path that does not exist when no version is
    written yet) and its version, for as long as the block runs; a version URL (``pinned_version``)
    is read as it is. Errors about the copy name ``url``."""
    with tempfile.TemporaryDirectory(prefix="cvo-history-") as temp:
        local = Path(temp) / "contact_history.duckdb"
        version = _fetch(url, local, storage_options)
        with _named(local, url):
            yield local, version


def change(url: str, apply: Callable[[Path], T], storage_options: dict[str, Any] | None = None) -> T:
    """``apply(local)`` run on a local copy of the newest version (a path that does not exist when
    there is none: ``apply`` creates it), then the copy written as the next version unless ``apply``
    changed nothing; made again from the new newest when another writer wrote that version first."""
    _check_writable(url, storage_options)
    for _ in range(ATTEMPTS):
        with tempfile.TemporaryDirectory(prefix="cvo-history-") as temp:
            local = Path(temp) / "contact_history.duckdb"
            version = _fetch(url, local, storage_options)
            before = file_digest(local) if local.exists() else None
            with _named(local, url):
                result = apply(local)
            if not local.exists() or _checkpointed(local, url) == before:
                return result
            if _create(url, version + 1, local, storage_options):
                _prune(url, version + 1, storage_options)
                return result
    raise HistoryError(f"Other commands wrote the contact history first {ATTEMPTS} times in a row; nothing was "
                       "recorded by this one", where=url, fix="Run the command again once they are done")


def _check_writable(url: str, storage_options: dict[str, Any] | None) -> None:
    """HistoryError, before anything is changed, for a version URL (a version is never changed)
    and for a file system that cannot create an object only if it is absent (EXCLUSIVE: another
    writer's version would be overwritten), or whose package is too old to."""
    from importlib.metadata import PackageNotFoundError, version

    if pinned_version(url):
        raise HistoryError("The location names one version of a contact history, which is never changed",
                           where=url, fix=f"Give the history's folder, {url.rsplit('/', 1)[0]}")
    fs, _ = filesystem(url, storage_options)
    module = type(fs).__module__
    package = module.split(".")[0]
    if package not in EXCLUSIVE or package == "fsspec" and module != "fsspec.implementations.memory":
        raise HistoryError(f"A contact history cannot be written with {type(fs).__name__}: it cannot create a "
                           "file only if it is absent, so two commits at once could overwrite each other",
                           where=url, fix="Keep the history on S3, GCS or Azure (s3://, gs://, abfs://), or as a "
                           "DuckDB file on a local or shared file system")
    needed = EXCLUSIVE[package]
    with suppress(PackageNotFoundError):
        found = tuple(int(part) for part in re.findall(r"\d+", version(package))[:3])
        if found >= needed:
            return
    raise HistoryError(f"{package} {'.'.join(map(str, needed))} or later is needed to write a contact history on "
                       "an object store: earlier ones may write over another commit's version", where=url,
                       fix=f"pip install -U '{package}>={'.'.join(map(str, needed))}'")


def _fetch(url: str, local: Path, storage_options: dict[str, Any] | None) -> int:
    """Copy the newest version (or the version ``url`` names) to ``local``; its number (0: none;
    a pinned version 0 is the history as it was before its first commit: none)."""
    if pinned_version(url):
        source, version = url, int(url.rsplit("/", 1)[-1].split(".")[0])
    else:
        version = latest_version(url, storage_options)
        source = version_url(url, version)
    if version == 0:
        return 0
    fs, path = filesystem(source, storage_options)
    try:
        fs.get_file(path, str(local))
    except FileNotFoundError:
        raise HistoryError(f"Version {version} of the contact history is gone (removed since it was listed)",
                           where=source, fix="Run the command again: it reads the newest version") from None
    except Exception as error:  # each file system raises its own
        raise HistoryError(f"The contact history cannot be read: {error}", where=source, fix=ACCESS_FIX) from None
    if local.stat().st_size == len(PRUNED) and local.read_bytes() == PRUNED:
        raise HistoryError(f"Version {version} of the contact history was emptied: only the {KEEP} newest are "
                           "kept", where=source, fix="Run the command again: it reads the newest version")
    return version


def _checkpointed(local: Path, url: str) -> str:
    """The SHA-256 of ``local`` with everything DuckDB wrote in it: a write-ahead log left beside it
    (a connection closed without its checkpoint) is checkpointed into the file first."""
    wal = local.with_name(local.name + ".wal")
    if wal.exists():
        import duckdb

        duckdb.connect(str(local)).execute("CHECKPOINT").close()
    if wal.exists():
        raise HistoryError("The change to the contact history could not be checkpointed into its file, so nothing "
                           "was recorded", where=url, fix="Run the command again")
    return file_digest(local)


def _create(url: str, version: int, local: Path, storage_options: dict[str, Any] | None) -> bool:
    """Write ``local`` as version ``version`` in one upload (an object whole or absent), only if no
    writer has: False when one has. An object there already that is ``local`` itself (an upload the
    file system retried after it had landed) is this write."""
    fs, path = filesystem(version_url(url, version), storage_options)
    try:
        fs.put_file(str(local), path, mode="create")
    except FileExistsError:
        return _same_file(fs, path, local)
    except Exception as error:  # each file system raises its own
        raise HistoryError(f"The contact history could not be written, and nothing was recorded: {error}",
                           where=url, fix=ACCESS_FIX + " (the history's folder needs write access)") from None
    return True


def _same_file(fs: Any, path: str, local: Path) -> bool:
    """Whether the object at ``path`` holds what ``local`` does (read past the file system's cached
    listing, which predates the object; False when it cannot be read: the change is made again)."""
    try:
        fs.invalidate_cache(path)
        if fs.info(path).get("size") != local.stat().st_size:
            return False
        with tempfile.TemporaryDirectory(prefix="cvo-history-") as temp:
            fs.get_file(path, f"{temp}/landed")
            return file_digest(Path(temp) / "landed") == file_digest(local)
    except Exception:  # noqa: BLE001  # each file system raises its own; made again, it meets the object anew
        return False


def _prune(url: str, newest: int, storage_options: dict[str, Any] | None) -> None:
    """Empty the version KEEP before ``newest`` (each write empties one): its object stays, a few
    bytes, so that its number stays taken: a commit that read an older version cannot create it
    again (and leave its change under a newer one). Removing it is left to nobody."""
    if newest > KEEP:
        fs, path = filesystem(version_url(url, newest - KEEP), storage_options)
        with suppress(Exception):  # credentials that may create but not replace: the version stays whole
            fs.pipe_file(path, PRUNED)


@contextmanager
def _named(local: Path, url: str) -> Iterator[None]:
    """Errors raised about the local copy name the history's URL instead."""
    try:
        yield
    except CvoError as error:
        error.problem = error.problem.replace(str(local), url)
        error.where = None if error.where is None else error.where.replace(str(local), url)
        error.fix = None if error.fix is None else error.fix.replace(str(local), url)
        raise


_PINNED: dict[str, Path] = {}  # a worker process's copies of pinned versions, by URL, oldest first
_READING: dict[str, int] = {}  # how many readers each copy has now
_PINNED_FOLDER: list[Path] = []
_PINNING = threading.Lock()  # a Dask worker loads partitions on several threads
PINNED_KEPT = 2  # copies a process keeps when nobody reads them: a run's, and one run's more


@contextmanager
def pinned_copy(url: str, storage_options: dict[str, Any] | None = None) -> Iterator[Path]:
    """A local copy of the version ``url`` names (a version never changes), made once per process
    and read as long as the block runs: every partition a Dask worker loads reads the same one. A
    copy nobody reads is removed when more than PINNED_KEPT are kept (a copy being read never is);
    the rest are removed when the process exits."""
    with _PINNING:
        if url not in _PINNED:
            if not _PINNED_FOLDER:
                _PINNED_FOLDER.append(Path(tempfile.mkdtemp(prefix="cvo-pinned-history-")))
                atexit.register(shutil.rmtree, _PINNED_FOLDER[0], True)
            local = _PINNED_FOLDER[0] / f"{uuid.uuid4().hex}.duckdb"
            _fetch(url, local, storage_options)
            _PINNED[url] = local
        _READING[url] = _READING.get(url, 0) + 1
        local = _PINNED[url]
        for unread in [kept for kept in _PINNED if not _READING.get(kept)][:max(0, len(_PINNED) - PINNED_KEPT)]:
            _PINNED.pop(unread).unlink(missing_ok=True)
    try:
        yield local
    finally:
        with _PINNING:
            _READING[url] -= 1

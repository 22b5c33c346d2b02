"""A run's folder on an object store (``s3://``, ``gs://``, ``abfs://``, ``memory://``): a prefix
per run and a pointer, because object stores have neither renames nor locks.

What an object store does promise is that one object's write is atomic: a reader sees the whole
new object or the previous one. So a run into OUT (``cvo optimize --out s3://bucket/weekly``)
writes every file under its own prefix, ``OUT/runs/<run_id>/`` (the plan, the contact lists,
summary.json, scenario.yaml, and manifest.json with every file's SHA-256, as in a local folder:
optimizer/store/files.py), and only then replaces the one object ``OUT/current.json``, which names
that prefix. A reader given OUT follows current.json to the last run that finished; given
``OUT/runs/<run_id>`` it reads that run. A run killed before its pointer leaves the previous run
current; two runs at once write two prefixes, and current.json ends naming the one that finished
last: a reader never sees one run's plan beside another's summary. Every run's prefix is kept
(an earlier run stays readable by its id; an unfinished one is named by no pointer): with no lock,
cvo cannot tell a dead writer's prefix from a live one's, so removing old prefixes is left to the
bucket's lifecycle rules.

Readers copy the run to a local temporary folder (``fetched_run``) and check it against its
manifest there, so every command that reads a run folder reads one from an object store alike.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.errors import RunFolderError
from optimizer.store.datasets import OUTPUT_URL, filesystem, local_path
from optimizer.store.files import MANIFEST_FILE, RUNS_FOLDER, Writer, atomic_write, file_digest
from optimizer.store.folders import check_run_folder, claimed_output_folder
from optimizer.store.runs import run_out

POINTER_FILE = "current.json"
LOCAL = ("file", "local")
BARE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/*$")  # 's3://' with nothing after it, also as a Path folds it
ACCESS_FIX = "Check the URL, the credentials in the environment or the scenario's 'storage_options', and the bucket"


def object_store_url(location: str | Path) -> str | None:
    """The URL ``location`` names on an object store ('s3://bucket/out', also folded into a Path as
    's3:/bucket/out'), or None for a local path or a file:// URL; RunFolderError for a URL that
    names no bucket ('s3://', as an unset variable in 's3://$BUCKET' leaves it)."""
    text = str(location)
    found = OUTPUT_URL.match(text)
    bare = BARE.match(text)
    if bare is not None and bare.group(1).lower() not in LOCAL and _known_protocol(bare.group(1)):
        raise RunFolderError(f"The location {text} names no bucket or folder", where=text,
                             fix="Give the whole URL, e.g. s3://bucket/runs/weekly (is a variable in it unset?)")
    if found is None or found.group(1).lower() in LOCAL:
        return None
    return f"{found.group(1)}://{text[found.end():]}".rstrip("/")


def _known_protocol(name: str) -> bool:
    import fsspec

    return name.lower() in fsspec.available_protocols()


def check_object_location(url: str, storage_options: dict[str, Any] | None) -> None:
    """Fail now, before any long work, when a run cannot be written at ``url``: no package for its
    protocol, no credentials, no bucket, no permission to write (a probe object is written under
    OUT/runs/ and removed, if the credentials may remove: a run itself only writes), or ``url`` is a
    run's own folder, OUT/runs/<run_id> (RunFolderError naming it)."""
    fs, path = filesystem(url, storage_options)
    probe = f"{path}/{RUNS_FOLDER}/.cvo-probe-{uuid.uuid4().hex}"
    try:
        is_run = fs.exists(f"{path}/{MANIFEST_FILE}")
        if not is_run:
            fs.pipe_file(probe, b"")
    except Exception as error:  # each file system raises its own: PermissionError, ClientError, ...
        raise RunFolderError(f"The output location cannot be written: {error}", where=url, fix=ACCESS_FIX) from None
    if is_run:
        raise RunFolderError("The output location is one run's folder, not where runs go", where=url,
                             fix=f"Give --out {run_out(url)}: each run goes under OUT/{RUNS_FOLDER}/<run_id>/")
    with suppress(Exception):  # write-only credentials: the empty probe stays
        fs.rm_file(probe)


@contextmanager
def output_folder(location: Path, url: str | None, storage_options: dict[str, Any] | None) -> Iterator[Path]:
    """The local folder a run writes its files into: ``location`` itself, claimed for the whole run
    (optimizer/store/folders.py ``claimed_output_folder``), or, for the object store at ``url``
    (checked first), a temporary folder whose files ``publish`` then copies there."""
    if url is None:
        check_run_folder(location)
        with claimed_output_folder(location) as folder:
            yield folder
        return
    check_object_location(url, storage_options)
    with tempfile.TemporaryDirectory(prefix="cvo-run-") as temp:
        yield Path(temp)


@dataclass(frozen=True)
class PartFolder:
    """A folder a run's workers write files into, from any process: a local (staged) folder,
    each file by an atomic rename, or a run's prefix on an object store (``run_url``), each file
    one whole object."""

    location: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    def write(self, name: str, write: Writer) -> tuple[str, str]:
        """FOLDER/name as ``write(temp_path)`` makes it; (name, its SHA-256 for the run's manifest:
        '' in a local folder, which the manifest hashes itself once the folder is in place)."""
        url = object_store_url(self.location)
        if url is None:
            target = Path(self.location) / name
            target.parent.mkdir(parents=True, exist_ok=True)  # every worker makes it, whichever is first
            atomic_write(target, write)
            return name, ""
        fs, root = filesystem(url, self.storage_options)
        with tempfile.TemporaryDirectory(prefix="cvo-part-") as temp:
            made = Path(temp) / Path(name).name
            write(made)
            try:
                fs.put_file(str(made), f"{root}/{name}")  # one PUT: the object is whole or absent
            except Exception as error:  # each file system raises its own
                raise RunFolderError(f"{name} could not be written: {error}", where=url, fix=ACCESS_FIX) from None
            return name, file_digest(made)


def run_url(url: str, run_id: str) -> str:
    """The prefix run ``run_id`` writes its files under: OUT/runs/<run_id>."""
    return f"{url}/{RUNS_FOLDER}/{run_id}"


def publish(folder: Path, url: str, run_id: str, storage_options: dict[str, Any] | None = None) -> str:
    """Copy the run folder ``folder`` to OUT/runs/<run_id>/, manifest.json last, then point
    OUT/current.json at it; return the run's URL."""
    fs, path = filesystem(url, storage_options)
    target = run_url(path, run_id)
    try:
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE):
            fs.put_file(str(file), f"{target}/{file.relative_to(folder).as_posix()}")
        fs.put_file(str(folder / MANIFEST_FILE), f"{target}/{MANIFEST_FILE}")  # the run's own files first
        _point(fs, path, run_id)
    except Exception as error:  # each file system raises its own
        raise RunFolderError(f"The run's files could not be written: {error}", where=url, fix=ACCESS_FIX) from None
    return run_url(url, run_id)


def _point(fs: Any, path: str, run_id: str) -> None:
    """OUT/current.json replaced by one naming run ``run_id`` (one object written whole)."""
    pointer = {"run_id": run_id, "folder": f"{RUNS_FOLDER}/{run_id}"}
    fs.pipe_file(f"{path}/{POINTER_FILE}", (json.dumps(pointer, indent=2) + "\n").encode())


def current_run(url: str, storage_options: dict[str, Any] | None = None) -> tuple[str, str]:
    """The run folder ``url`` names, as a path on its file system and as a URL: itself when it
    holds a manifest (OUT/runs/<run_id>), else the run OUT/current.json points at
    (RunFolderError when neither is there)."""
    fs, path = filesystem(url, storage_options)
    try:
        if fs.exists(f"{path}/{MANIFEST_FILE}"):
            return path, url
        pointer = json.loads(fs.cat_file(f"{path}/{POINTER_FILE}"))
        return f"{path}/{pointer['folder']}", f"{url}/{pointer['folder']}"
    except FileNotFoundError:
        raise RunFolderError(f"No finished run: {POINTER_FILE} is missing", where=url,
                             fix=f"Give the location cvo optimize --out wrote to, after it finished "
                             f"(it writes {POINTER_FILE} last)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise RunFolderError(f"{POINTER_FILE} does not name a run ({error})", where=url,
                             fix="Run cvo optimize into this location again") from None
    except Exception as error:  # each file system raises its own: PermissionError, ClientError, ...
        raise RunFolderError(f"The run cannot be read: {error}", where=url, fix=ACCESS_FIX) from None


@contextmanager
def readable_run(location: Path | str) -> Iterator[tuple[Path, str]]:
    """A run's local folder and where it lives: ``location`` itself and '' for a local folder, or
    a copy of the object-store run it names (``fetched_run``, with the environment's credentials)
    and its URL."""
    url = object_store_url(location)
    if url is None:
        yield local_path(location), ""  # a path, or a file:// URL
        return
    with fetched_run(url) as (folder, origin):
        yield folder, origin


@contextmanager
def fetched_run(url: str, storage_options: dict[str, Any] | None = None) -> Iterator[tuple[Path, str]]:
    """The run folder ``url`` names (``current_run``), copied to a local temporary folder for as
    long as the block runs, and its URL; readers then check the copy against its manifest as any
    local folder."""
    fs, _ = filesystem(url, storage_options)
    source, origin = current_run(url, storage_options)
    with tempfile.TemporaryDirectory(prefix="cvo-run-") as temp:
        local = Path(temp) / source.rstrip("/").rsplit("/", 1)[-1]
        try:
            for remote in fs.find(source):
                relative = remote[len(source.rstrip("/")) + 1:]
                (local / relative).parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(remote, str(local / relative))
        except Exception as error:  # each file system raises its own
            raise RunFolderError(f"The run could not be read: {error}", where=origin, fix=ACCESS_FIX) from None
        yield local, origin


def put_file(folder_url: str, file: Path, storage_options: dict[str, Any] | None = None) -> str:
    """``file`` copied into the run folder at ``folder_url`` under its own name; its URL there."""
    fs, path = filesystem(folder_url, storage_options)
    try:
        fs.put_file(str(file), f"{path}/{file.name}")
    except Exception as error:  # each file system raises its own
        raise RunFolderError(f"{file.name} could not be written: {error}", where=folder_url, fix=ACCESS_FIX) from None
    return f"{folder_url}/{file.name}"


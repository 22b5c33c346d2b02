"""Tables where users keep them: a file or a parquet dataset, on local disk or behind an fsspec URL.

A *location* is a local path or a URL of any file system fsspec knows (``s3://bucket/customers``,
``gs://…``, ``abfs://…``, ``file:///data/customers``, ``memory://…``), opened with the scenario's
``storage_options`` as dask.dataframe and pandas take them (``{"anon": true}``, credentials, an
endpoint). A *dataset* is a folder of parquet part files, as Spark, Hive, Dask and pyarrow write
them:

- its parts are the ``.parquet`` files under the folder at any depth, in the order of their paths
  below it (the order ``cvo optimize --dask`` numbers the customers in); a name starting with
  ``_`` or ``.`` (``_SUCCESS``, ``_metadata``, ``.part-0.parquet.crc``, ``_temporary/``) is not a
  part, as in pyarrow.dataset and Spark; a file of no bytes is skipped, and a part of no rows adds
  none;
- a sub-folder named ``key=value`` (Hive style: ``region=north/part-0.parquet``) gives the rows of
  the files below it the column ``key`` with that value, unless the file holds the column itself:
  whole numbers (int64) when every value of that key in the dataset is one, numbers (float64,
  NaN for Hive's missing value) when every value reads as a number, text otherwise; one type for
  the whole dataset, so every part reads alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from optimizer.errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # loaded when a table is read: the scenario's schema imports this module

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
PART_SUFFIX = ".parquet"
OUTPUT_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+")  # a URL, also as a Path folds it ('s3:/bucket')
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # Hive's folder name for a missing value


def is_url(location: str | Path) -> bool:
    """Whether ``location`` names a file system by its protocol (``s3://…``) rather than a local path."""
    return bool(URL.match(str(location)))


def local_path(location: str | Path) -> Path:
    """The local path an output location names: a path, or a file:// URL (also as a Path made of
    one: 'file:/tmp/out'). DataError for other file systems: a local run folder is written by
    atomic renames, which object stores do not have; the commands that take an object store
    (optimize, commit, report, rules, evaluate) go through optimizer/store/object_runs.py first."""
    text = str(location)
    found = OUTPUT_URL.match(text)
    if found is None:
        return Path(text)
    if found.group(1).lower() in ("file", "local"):
        rest = unquote(text[found.end() - 1:])  # from the path's first '/'
        if text[found.start(1) + len(found.group(1)):].startswith("://localhost/"):
            rest = rest.removeprefix("/localhost")
        return Path(rest)
    raise DataError(f"The output location {text} is not on a local or shared file system", where=text,
                    fix="Give a local or shared path here; cvo optimize --out, commit, report, rules and evaluate "
                    "take an object-store URL (docs/scaling.md)")


def filesystem(location: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec file system of ``location`` and the path on it (DataError when fsspec lacks the
    protocol's package, e.g. s3fs for s3://)."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(str(location), **(storage_options or {}))
    except Exception as error:  # a missing package (ImportError), an unknown protocol, bad options
        raise DataError(f"The location {location} cannot be opened: {error}", where=str(location),
                        fix="Install the file system's package (s3fs for s3://, gcsfs for gs://, adlfs for "
                        "abfs://), or check the URL and the scenario's 'storage_options'") from None
    return fs, path


@dataclass(frozen=True)
class Part:
    """One part file of a dataset: ``name`` its path below the dataset's folder ('/'-separated),
    ``path`` the file system's path of it, ``keys`` the Hive keys of the folders above it."""

    name: str
    path: str
    keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Dataset:
    """A folder of parquet parts at ``location`` (read with ``storage_options``), with the type of
    each Hive key's column."""

    location: str
    parts: tuple[Part, ...]
    storage_options: dict[str, Any] = field(default_factory=dict)
    key_types: dict[str, str] = field(default_factory=dict)  # Hive key → "int64", "float64" or "string"

    @property
    def names(self) -> list[str]:
        return [part.name for part in self.parts]

    def read(self, part: Part, columns: list[str] | None = None) -> pd.DataFrame:
        """One part as a table, its Hive keys added as columns (``columns``: only these)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        fs, _ = filesystem(self.location, self.storage_options)
        wanted = None if columns is None else [c for c in columns if c not in dict(part.keys)]
        try:
            table = pq.read_table(part.path, filesystem=fs, columns=wanted)
        except Exception as error:  # pyarrow raises many types for a broken file
            raise DataError(f"The part {part.name} of {self.location} could not be read: {error}",
                            where=f"{self.location}, {part.name}",
                            fix="Check that it is a complete parquet file; remove it if it was left over") from None
        for key, value in part.keys:
            if key not in table.column_names and (columns is None or key in columns):
                kind, text = self.key_types[key], _key_value(value)
                typed = text if kind == "string" or text is None else int(text) if kind == "int64" else float(text)
                table = table.append_column(key, pa.array([typed] * table.num_rows, getattr(pa, kind)()))
        frame: pd.DataFrame = table.to_pandas()  # a key's text reads as the file's own text columns do
        return frame

    def read_all(self) -> pd.DataFrame:
        """Every part as one table, in the order of the parts."""
        import pandas as pd

        return pd.concat([self.read(part) for part in self.parts], ignore_index=True)


def open_dataset(location: str, storage_options: dict[str, Any] | None, what: str) -> Dataset | None:
    """The dataset at ``location``, or None when it is a single file (DataError when it is neither,
    or a folder with no parts)."""
    fs, root = filesystem(location, storage_options)
    try:
        if not fs.isdir(root):
            if fs.isfile(root):
                return None
            raise DataError(f"The {what} location {location} does not exist", where=str(location),
                            fix=f"Check the '{what}' path or URL in the scenario; a path is relative to the scenario "
                            "file")
        found = fs.find(root, detail=True)
    except DataError:
        raise
    except Exception as error:  # no permission, no credentials, no such bucket: each file system its own type
        raise DataError(f"The {what} location {location} could not be listed: {error}", where=str(location),
                        fix="Check the credentials and the scenario's 'storage_options', and that the location "
                        "exists") from None
    parts = tuple(_part(root, path) for path, info in sorted(found.items())
                  if _is_part(root, path) and int(info.get("size") or 0) > 0)
    if not parts:
        raise DataError(f"The {what} folder {location} holds no .parquet files", where=str(location),
                        fix="Point at a .parquet or .csv file, or at a folder of .parquet part files")
    return Dataset(str(location), parts, dict(storage_options or {}), _key_types(parts))


def _relative(root: str, path: str) -> str:
    return path[len(root.rstrip("/")):].lstrip("/")


def _is_part(root: str, path: str) -> bool:
    names = _relative(root, path).split("/")
    return names[-1].lower().endswith(PART_SUFFIX) and not any(name.startswith(("_", ".")) for name in names)


def _part(root: str, path: str) -> Part:
    name = _relative(root, path)
    keys = tuple(tuple(folder.split("=", 1)) for folder in name.split("/")[:-1] if "=" in folder)
    return Part(name, path, keys)  # type: ignore[arg-type]  # each a (key, value) pair


def _key_value(value: str) -> str | None:
    """A Hive folder's value as text (percent-decoded; None for Hive's missing value)."""
    return None if value == HIVE_NULL else unquote(value)


def _key_types(parts: tuple[Part, ...]) -> dict[str, str]:
    """Each Hive key's column type: int64 when every value is a whole number in range, float64 when
    every value present reads as a number, string otherwise."""
    values: dict[str, list[str | None]] = {}
    for part in parts:
        for key, value in part.keys:
            values.setdefault(key, []).append(_key_value(value))
    return {key: _kind([text for text in texts if text is not None], None in texts) for key, texts in values.items()}


def _kind(texts: list[str], missing: bool) -> str:
    try:
        numbers = [float(text) for text in texts]
    except ValueError:
        return "string"
    whole = all(text.lstrip("+-").isdigit() for text in texts) and all(abs(n) < 2**63 for n in numbers)
    return "int64" if whole and not missing and texts else "float64"

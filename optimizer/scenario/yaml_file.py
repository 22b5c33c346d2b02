"""A scenario file as YAML: UTF-8 text holding one mapping whose keys are names, each given once.

Every fault is a ScenarioError naming the file, the line and the fix; pydantic (schema.py) then
checks what the mapping holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from optimizer.errors import ScenarioError, byte_position


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping a scenario file holds; ScenarioError naming the file, line and fix otherwise."""
    if path.is_dir():
        found = sorted(file.name for file in path.glob("*.y*ml"))
        listed = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise ScenarioError(
            f"The scenario path {path} is a folder, not a scenario file",
            where=f"it holds {listed}" if found else "it holds no .yaml file",
            fix="Give the YAML file itself, e.g. scenarios/weekly.yaml",
        )
    if not path.is_file():
        raise ScenarioError(
            f"The scenario file {path} does not exist",
            where=f"looked in {path.resolve().parent}",
            fix="Check the path; scenario files usually live under scenarios/",
        )
    try:
        raw = yaml.load(_read_text(path), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        reason = getattr(error, "problem", None) or str(error)
        raise ScenarioError(
            f"The scenario file is not valid YAML: {reason}",
            where=f"{path}, {line}",
            fix=getattr(error, "note", None) or "Fix the YAML syntax there (indentation, a missing ':' or an "
            "unclosed quote)",
        ) from None
    if not isinstance(raw, dict):
        raise ScenarioError(
            "The scenario file must hold a mapping of keys (name, customers, campaigns, ...), "
            f"not {_held(raw)}",
            where=str(path),
            fix="Start from one of the files under scenarios/",
        )
    if "path" in raw:
        raise ScenarioError("'path' is not a scenario key", where=f"{path}, path", fix="Remove it")
    return raw


def _read_text(path: Path) -> str:
    """The file's text; a ScenarioError naming the line and byte when it is not UTF-8 (and saying so
    when it is UTF-16, which a Latin-1 guess would turn to garbage)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(f"The scenario file could not be read: {error.strerror}", where=str(path),
                            fix="Check the file's permissions") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:512].count(b"\x00") > len(data[:512]) // 4:
        raise ScenarioError("The scenario file is UTF-16 text (a byte-order mark, or NUL bytes between its "
                            "letters), not UTF-8", where=str(path),
                            fix="Save the file as UTF-8 (your editor's 'Save with encoding' or "
                                "'iconv -f utf-16 -t utf-8')")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(
            "The scenario file is not UTF-8 text (it was probably saved as Latin-1 or Windows-1252)",
            where=f"{path}, {byte_position(data, error.start)}",
            fix="Save the file as UTF-8 (your editor's 'Save with encoding' or 'iconv -f latin1 -t utf-8')",
        ) from None


def _held(raw: Any) -> str:
    """What a YAML document that is not a mapping holds, in words."""
    if raw is None:
        return "nothing (the file is empty, or holds only comments)"
    return {list: "a list", str: "a single text", int: "a single number", float: "a single number",
            bool: "a single true/false"}.get(type(raw), f"a {type(raw).__name__}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML SafeLoader whose keys are names, each given once per mapping (YAML would keep the last).

    A bad key raises a ConstructorError whose ``note`` is the fix. Merge keys (``<<: *defaults``)
    are left to SafeLoader, which lets the mapping's own keys override the merged ones.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{_written(key_node)}' is {_key_kind(key_node, key)}, not a name; "
                    "keys must be plain names", key_node.start_mark,
                    note="Write the key as a plain name, e.g. 'budget: 100', quoted if it looks like a number",
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{key}' is given twice", key_node.start_mark,
                    note="Keep one of the two (YAML would silently use the last)",
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _key_kind(node: yaml.Node, key: object) -> str:
    """What a key that is not a name is: 'a list', 'a number', 'true/false', ..."""
    if not isinstance(node, yaml.ScalarNode):
        return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
    kinds = {bool: "true/false", int: "a number", float: "a number", type(None): "empty (null)"}
    return kinds.get(type(key), f"a {type(key).__name__}")


def _written(node: yaml.Node) -> str:
    """A node as written in the file (its first line)."""
    start, end = node.start_mark, node.end_mark
    return str(start.buffer[start.index:end.index]).split("\n")[0].strip() if start.buffer else "?"

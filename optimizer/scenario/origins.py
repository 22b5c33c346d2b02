"""Where each key of a scenario built from layers was written: the file that extends another, one
of its bases, or a ``--set``, so that a problem is located where the user can fix it.

A scenario that extends others is checked as one merged mapping (optimizer/scenario/inheritance.py)
whose campaigns are in the base's order with the added ones after, so the merged key
``campaigns[4].channel`` may be ``campaigns[0].channel`` of the extending file, and an unknown key
of a base is not in the file that was run. ``Origins.locate`` turns a merged key into the place
that writes it: the nearest layer that writes the whole key, else (a key that is missing) the
nearest that writes most of its path. Campaigns are matched by id, other lists by position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.scenario.inheritance import find_campaign, parse_override

Step = str | int


@dataclass(frozen=True)
class Layer:
    """What one layer writes: a file's mapping, or one --set's key and value as a mapping (``sets``:
    the steps of its key, ``override`` its text; it is named by the --set itself for a key at or
    under its own, and beside the file for a key above it, such as its campaign)."""

    label: str
    written: dict[str, Any]
    sets: int = 0
    override: str = ""


@dataclass(frozen=True)
class Origins:
    """The merged mapping of a scenario and its layers, nearest first (the --set values, the file
    run, then its bases)."""

    merged: dict[str, Any]
    layers: tuple[Layer, ...]

    @classmethod
    def of(cls, merged: dict[str, Any], files: tuple[tuple[Path, dict[str, Any]], ...],
           overrides: tuple[str, ...], path: Path) -> Origins:
        """The origins of ``merged``, built from ``files`` (nearest first) under ``overrides``."""
        settings = [Layer(f"{path} with --set {override}", *_setting(merged, override, str(path)), override)
                    for override in reversed(overrides)]
        return cls(merged, (*settings, *(Layer(str(file), written) for file, written in files)))

    def locate(self, key: str | tuple[Step, ...]) -> str | None:
        """Where the merged ``key`` ('campaigns[4].channel', or pydantic's location tuple) is written,
        as messages name it ('child.yaml, campaigns[0].channel'); None when no layer writes any of it."""
        steps = _steps(key) if isinstance(key, str) else key
        best: tuple[int, Layer, str] | None = None
        inside: list[Layer] = []  # the --set values under the key (a campaign's, when the key is the campaign)
        for layer in self.layers:
            depth, shown = _written(steps, self.merged, layer.written)
            if layer.sets and depth == len(steps) < layer.sets:
                inside.append(layer)
            elif depth and depth >= layer.sets and (best is None or depth > best[0]):
                best = (depth, layer, shown)
        if inside and (best is None or best[0] < len(steps)):
            return inside[0].label  # no file writes the key: the --set made it
        if best is None:
            return None
        depth, layer, shown = best
        sets = " ".join(f"--set {layer.override}" for layer in reversed(inside))
        return layer.label if layer.sets else f"{layer.label}, {shown}" + (f", under {sets}" if sets else "")


def _steps(key: str) -> tuple[Step, ...]:
    """'campaigns[4].channel' as ('campaigns', 4, 'channel')."""
    return tuple(int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key))


def _written(steps: tuple[Step, ...], merged: Any, written: Any) -> tuple[int, str]:
    """How many of ``steps`` a layer's ``written`` mapping holds, and the key as that layer writes
    it (the steps it lacks appended as they are)."""
    shown, node, given = "", merged, written
    for depth, step in enumerate(steps):
        if isinstance(step, int):
            index = _campaign_index(node, given, step) if steps[:depth] == ("campaigns",) else step
            if index is None or not isinstance(given, list) or index >= len(given):
                return depth, shown + _shown(steps[depth:])
            node = node[step] if isinstance(node, list) and step < len(node) else None
            shown, given = shown + f"[{index}]", given[index]
        else:
            if not isinstance(given, dict) or step not in given:
                return depth, shown + _shown(steps[depth:], after=bool(shown))
            node = node.get(step) if isinstance(node, dict) else None
            shown, given = shown + (f".{step}" if shown else step), given[step]
    return len(steps), shown


def _campaign_index(merged: Any, given: Any, position: int) -> int | None:
    """Where a layer's campaigns list holds the merged campaign at ``position``: the entry with its id."""
    if not isinstance(merged, list) or position >= len(merged) or not isinstance(given, list):
        return None
    campaign = merged[position]
    campaign_id = campaign.get("id") if isinstance(campaign, dict) else None
    for index, entry in enumerate(given):
        if (entry.get("id") == campaign_id if isinstance(entry, dict) and campaign_id is not None
                else entry == campaign):
            return index
    return None


def _shown(steps: tuple[Step, ...], after: bool = True) -> str:
    """Steps written as a key: ('channel',) as '.channel', (0, 'id') as '[0].id'."""
    text = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps)
    return text if after else text.removeprefix(".")


def _setting(merged: dict[str, Any], override: str, source: str) -> tuple[dict[str, Any], int]:
    """One --set as the mapping it writes, a campaign by its id ('campaigns.vip_call.channel=fax'
    as {'campaigns': [{'id': 'vip_call', 'channel': 'fax'}]}), and how many steps its key has."""
    key, value = parse_override(override)
    steps = [step.strip() for step in key.split(".")]
    if steps[0] == "campaigns" and len(steps) > 2 and isinstance(merged.get("campaigns"), list):
        campaign, taken = find_campaign(merged["campaigns"], steps[1:], f"--set {key}", source)
        own = steps[1 + taken:]
        return {"campaigns": [{"id": campaign.get("id"), **_nested(own, value)}]}, 2 + len(own)
    return _nested(steps, value), len(steps)


def _nested(steps: list[str], value: Any) -> dict[str, Any]:
    """['channels', 'email', 'capacity'] and 5 as {'channels': {'email': {'capacity': 5}}}."""
    for step in reversed(steps[1:]):
        value = {step: value}
    return {steps[0]: value} if steps else {}

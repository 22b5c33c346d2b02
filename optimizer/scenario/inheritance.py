"""Scenarios built on others: ``extends: weekly.yaml`` with only the keys that change, and
``--set KEY=VALUE`` overrides from the command line.

``extends`` names a scenario file (relative to the file that names it), which may extend another;
the file's keys are laid over it:

- mappings merge key by key, the extending file's value winning (``channels.email.capacity``);
- ``campaigns`` merge by ``id``: an entry changes the keys it names of the campaign with its id,
  and an id the base lacks adds a campaign (in the base's order, new ones after);
- every other list (cool-downs, caps, constraints, KPIs, forced and excluded lists) is replaced whole.

Paths (``customers``, ``scores``, ``contact_policy.history``, the files of ``forced`` and
``excluded``) are relative to the file that
writes them, so a base's are rebased onto the extending file's folder before the merge.

``--set KEY=VALUE`` then changes one value: KEY is a dotted path whose steps are mapping keys or,
in ``campaigns``, a campaign's id (``campaigns.vip_call.max_audience``; an id may hold dots); VALUE
is read as YAML (``500``, ``0.5``, ``true``, ``[email, sms]``, ``'text'``, ``null`` to remove an
optional value; no value at all is refused). The scenario schema checks the result as it checks
any file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from optimizer.errors import ScenarioError, did_you_mean
from optimizer.scenario.yaml_file import read_yaml
from optimizer.store.datasets import is_url

PATH_KEYS = (("customers",), ("scores",), ("contact_policy", "history"))


def read_layers(path: Path) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """The mapping of ``path`` laid over the scenarios it extends, and those files (base last)."""
    chain: list[Path] = []
    raw = _read_extending(path, chain)
    return raw, tuple(chain[1:])


def _read_extending(path: Path, chain: list[Path]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in [*chain[chain.index(resolved):], resolved])
        raise ScenarioError(f"The scenarios extend each other in a circle: {cycle}", where=f"{path}, extends",
                            fix="Let one of them stop extending the other")
    chain.append(resolved)
    raw = read_yaml(path)
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str) or not base_name.strip():
        raise ScenarioError(f"'extends' must name a scenario file, not {base_name!r}", where=f"{path}, extends",
                            fix="Write e.g. extends: weekly.yaml (relative to this file)")
    base_path = path.parent / base_name
    base = _rebased(_read_extending(base_path, chain), base_path.parent, path.parent)
    return merge(base, raw)


def _rebased(raw: dict[str, Any], source: Path, target: Path) -> dict[str, Any]:
    """``raw`` with its relative paths (PATH_KEYS, the forced and excluded lists' files) written
    relative to ``target`` instead of ``source``."""
    for keys in PATH_KEYS:
        holder: dict[str, Any] = raw
        for key in keys[:-1]:
            inner = holder.get(key)
            holder = inner if isinstance(inner, dict) else {}
        holder[keys[-1]] = _moved(holder.get(keys[-1]), source, target)
    for listed in raw["forced"] if isinstance(raw.get("forced"), list) else []:  # any other value: the schema's
        if isinstance(listed, dict):
            listed["file"] = _moved(listed.get("file"), source, target)
    if isinstance(raw.get("excluded"), list):
        raw["excluded"] = [_moved(file, source, target) for file in raw["excluded"]]
    return raw


def _moved(value: Any, source: Path, target: Path) -> Any:
    """A relative path of a file in ``source`` as seen from ``target``; anything else (an absolute
    path, an fsspec URL such as s3://bucket/customers) as it is."""
    if isinstance(value, str) and not Path(value).is_absolute() and not is_url(value):
        return os.path.relpath((source / value).resolve(), target.resolve())
    return value


def merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """``layer`` laid over ``base`` (module docstring): mappings by key, campaigns by id, other lists whole."""
    merged = dict(base)
    for key, value in layer.items():
        if key == "campaigns" and isinstance(value, list) and isinstance(base.get(key), list):
            merged[key] = _merge_campaigns(base[key], value)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge(base[key], value)
        else:
            merged[key] = value
    return merged


def _merge_campaigns(base: list[Any], layer: list[Any]) -> list[Any]:
    merged = [dict(c) if isinstance(c, dict) else c for c in base]
    index = {_id(c): i for i, c in enumerate(merged) if _id(c) is not None}
    for campaign in layer:
        position = index.get(_id(campaign))
        if position is None:
            merged.append(campaign)
        else:
            merged[position] = merge(merged[position], campaign)
    return merged


def _id(campaign: Any) -> str | None:
    """A campaign entry's id when it is text (any other entry is added as it is, and the schema
    names what is wrong with it)."""
    return campaign.get("id") if isinstance(campaign, dict) and isinstance(campaign.get("id"), str) else None


def apply_overrides(raw: dict[str, Any], overrides: tuple[str, ...], source: str) -> dict[str, Any]:
    """``raw`` with each ``KEY=VALUE`` of ``overrides`` set (module docstring)."""
    for override in overrides:
        key, separator, text = override.partition("=")
        if not separator or not key.strip():
            raise ScenarioError(f"--set '{override}' is not KEY=VALUE", where="--set",
                                fix="Write e.g. --set budget=12000 or --set campaigns.vip_call.max_audience=500")
        if not text.strip():
            raise ScenarioError(f"--set '{override}' gives no value", where="--set",
                                fix=f"Give one, e.g. --set {key.strip()}=500; to remove an optional value, "
                                f"write --set {key.strip()}=null")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        set_key(raw, key, value, f"--set {key.strip()}", source)
    return raw


def set_key(raw: dict[str, Any], key: str, value: Any, where: str, source: str) -> None:
    """raw[key] = value for a dotted KEY (module docstring), stepping into campaigns by id."""
    _set(raw, [step.strip() for step in key.split(".")], value, where, source)


def _set(raw: dict[str, Any], steps: list[str], value: Any, where: str, source: str) -> None:
    """raw[steps...] = value, stepping into campaigns by id; mappings on the way are created."""
    holder, remaining = raw, list(steps)
    while len(remaining) > 1:
        step = remaining.pop(0)
        child = holder.get(step)
        if step == "campaigns" and isinstance(child, list):
            holder, taken = _campaign(child, remaining, where, source)
            del remaining[:taken]
            if not remaining:
                raise ScenarioError(f"{where} names a campaign, not one of its keys", where=source,
                                    fix=f"Set one key, e.g. --set {'.'.join(steps)}.max_audience=500")
            continue
        if child is None:
            child = holder[step] = {}
        if not isinstance(child, dict):
            done = ".".join(steps[:len(steps) - len(remaining)])
            raise ScenarioError(f"{where}: '{step}' holds {type(child).__name__}, not keys to set", where=source,
                                fix=f"Set the whole value instead: --set {done}=...")
        holder = child
    holder[remaining[0]] = value


def _campaign(campaigns: list[Any], steps: list[str], where: str, source: str) -> tuple[dict[str, Any], int]:
    """The campaign whose id is the longest run of the next ``steps`` (an id may hold dots:
    ``campaigns.phone.vip.max_audience``) and how many steps its id took; ScenarioError with a
    did-you-mean otherwise."""
    known = {str(c.get("id")): c for c in campaigns if isinstance(c, dict)}
    for count in range(len(steps), 0, -1):
        campaign = known.get(".".join(steps[:count]))
        if campaign is not None:
            return campaign, count
    named = ".".join(steps[:-1]) or steps[0]  # all but the key, the campaign's id as far as it can tell
    hint = did_you_mean(named, list(known)) or did_you_mean(steps[0], list(known))
    raise ScenarioError(f"{where}: the scenario has no campaign '{named}'", where=source,
                        fix=f"{hint + ' ' if hint else ''}Campaigns: {', '.join(known)}")

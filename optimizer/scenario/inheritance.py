"""Scenarios built on others: ``extends: weekly.yaml`` with only the keys that change, and
``--set KEY=VALUE`` overrides from the command line.

``extends`` names a scenario file (relative to the file that names it), which may extend another;
the file's keys are laid over it:

- mappings merge key by key, the extending file's value winning (``channels.email.capacity``);
- ``campaigns`` merge by ``id``: an entry changes the keys it names of the campaign with its id,
  and an id the base lacks adds a campaign (in the base's order, new ones after). A file of a chain
  that gives one id twice is refused, naming both entries (the second would silently undo the
  first), and so is an entry whose id the base lacks, close to one it has, and which has no
  channel (a misspelt id would add a campaign instead of changing one);
- every other list (cool-downs, caps, constraints, KPIs, forced and excluded lists) is replaced whole.

Paths (``customers``, ``scores``, ``contact_policy.history``, the files of ``forced`` and
``excluded``) are relative to the file that
writes them, so a base's are rebased onto the extending file's folder before the merge.

``--set KEY=VALUE`` then changes one value: KEY is a dotted path whose steps are mapping keys or,
in ``campaigns``, a campaign's id (``campaigns.vip_call.max_audience``; an id may hold dots); VALUE
is read as YAML (``500``, ``0.5``, ``true``, ``[email, sms]``, ``'text'``, ``null`` to remove an
optional value; no value at all is refused; ``path`` and ``extends`` are not values to set). The
scenario schema checks the result as it checks any file, and locates each problem in the file (or
the --set) that wrote it (optimizer/scenario/origins.py).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from optimizer.errors import ScenarioError, did_you_mean
from optimizer.scenario.yaml_file import read_yaml
from optimizer.store.datasets import is_url

PATH_KEYS = (("customers",), ("scores",), ("contact_policy", "history"))


class Layers(NamedTuple):
    """A scenario file laid over the scenarios it extends: the merged mapping, the files it extends
    (base last), and each file of the chain with the mapping it writes itself (``path`` first)."""

    raw: dict[str, Any]
    bases: tuple[Path, ...]
    files: tuple[tuple[Path, dict[str, Any]], ...]


def read_layers(path: Path) -> Layers:
    """The mapping of ``path`` laid over the scenarios it extends, those files, and what each writes."""
    chain: list[Path] = []
    files: list[tuple[Path, dict[str, Any]]] = []
    raw = _read_extending(path, chain, files)
    return Layers(raw, tuple(chain[1:]), tuple(files))


def _read_extending(path: Path, chain: list[Path], files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in [*chain[chain.index(resolved):], resolved])
        raise ScenarioError(f"The scenarios extend each other in a circle: {cycle}", where=f"{path}, extends",
                            fix="Let one of them stop extending the other")
    chain.append(resolved)
    raw = read_yaml(path)
    base_name = raw.pop("extends", None)
    files.append((path, copy.deepcopy(raw)))
    if base_name is not None or len(chain) > 1:  # a lone file's ids are the schema's to check, with its others
        _check_campaign_ids(raw, path)
    if base_name is None:
        return raw
    if not isinstance(base_name, str) or not base_name.strip():
        raise ScenarioError(f"'extends' must name a scenario file, not {base_name!r}", where=f"{path}, extends",
                            fix="Write e.g. extends: weekly.yaml (relative to this file)")
    base_path = path.parent / base_name
    if not base_path.is_file():
        raise ScenarioError(f"The scenario it extends, {base_name}, does not exist ({base_path.resolve()})",
                            where=f"{path}, extends", fix="Name the base scenario's file relative to this file's "
                            f"folder ({path.parent}), e.g. extends: weekly.yaml")
    base = _rebased(_read_extending(base_path, chain, files), base_path.parent, path.parent)
    _check_added_campaigns(raw, base, path, base_path)
    return merge(base, raw)


def _check_campaign_ids(raw: dict[str, Any], path: Path) -> None:
    """A file of a chain gives each campaign id once: the second of two entries would silently
    change the campaign the first changed (or added), after it."""
    ids = [_id(campaign) for campaign in _campaigns(raw)]
    for index, campaign_id in enumerate(ids):
        if campaign_id is not None and ids.index(campaign_id) != index:
            raise ScenarioError(
                f"The campaign id '{campaign_id}' is given twice in one file, at campaigns[{ids.index(campaign_id)}] "
                f"and campaigns[{index}]", where=f"{path}, campaigns[{index}].id",
                fix="Merge the two entries into one: in a chain of scenarios an entry changes the campaign with its "
                "id, so the second would silently override the first")


def _check_added_campaigns(raw: dict[str, Any], base: dict[str, Any], path: Path, base_path: Path) -> None:
    """An entry whose id the base lacks adds a campaign; without a channel, and with an id close to
    one of the base's, it was meant to change that one."""
    ids = [name for name in map(_id, _campaigns(base)) if name is not None]
    for index, campaign in enumerate(_campaigns(raw)):
        campaign_id = _id(campaign)
        if campaign_id is None or campaign_id in ids or "channel" in campaign or not did_you_mean(campaign_id, ids):
            continue
        raise ScenarioError(
            f"The campaign '{campaign_id}' is not in {base_path}, which this file extends, so its entry adds a new "
            "campaign, and it has no channel", where=f"{path}, campaigns[{index}].id",
            fix=f"{did_you_mean(campaign_id, ids)} To add a campaign, give it a channel. Campaigns there: "
            f"{', '.join(ids)}")


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


def _campaigns(raw: dict[str, Any]) -> list[Any]:
    """The entries of a mapping's campaigns list (none when it has another value: the schema's to name)."""
    campaigns = raw.get("campaigns")
    return campaigns if isinstance(campaigns, list) else []


def _id(campaign: Any) -> str | None:
    """A campaign entry's id when it is text (any other entry is added as it is, and the schema
    names what is wrong with it)."""
    return campaign.get("id") if isinstance(campaign, dict) and isinstance(campaign.get("id"), str) else None


def apply_overrides(raw: dict[str, Any], overrides: tuple[str, ...], source: str) -> dict[str, Any]:
    """``raw`` with each ``KEY=VALUE`` of ``overrides`` set (module docstring)."""
    for override in overrides:
        key, value = parse_override(override)
        set_key(raw, key, value, f"--set {key.strip()}", source)
    return raw


def parse_override(override: str) -> tuple[str, Any]:
    """The KEY and the value (read as YAML) of one ``--set KEY=VALUE``; ScenarioError when it is not one."""
    key, separator, text = override.partition("=")
    if not separator or not key.strip():
        raise ScenarioError(f"--set '{override}' is not KEY=VALUE", where="--set",
                            fix="Write e.g. --set budget=12000 or --set campaigns.vip_call.max_audience=500")
    if not text.strip():
        raise ScenarioError(f"--set '{override}' gives no value", where="--set",
                            fix=f"Give one, e.g. --set {key.strip()}=500; to remove an optional value, "
                            f"write --set {key.strip()}=null")
    top = key.split(".")[0].strip()
    if top in ("path", "extends"):
        what = ("the file's place, not a scenario key" if top == "path" else
                "read before any --set is laid over the files")
        raise ScenarioError(f"--set '{override}' sets '{top}', which is {what}", where="--set",
                            fix="Run the scenario file you mean, or write 'extends' in a file of its own"
                            if top == "extends" else "Give the scenario file as the command's argument")
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError:
        return key, text


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
            holder, taken = find_campaign(child, remaining, where, source)
            del remaining[:taken]
            if not remaining:
                raise ScenarioError(f"{where} names a campaign, not one of its keys", where=source,
                                    fix=f"Set one key, e.g. --set {'.'.join(steps)}.max_audience=500")
            continue
        done = ".".join(steps[:len(steps) - len(remaining)])
        if child is None and remaining[0].isdigit():
            raise ScenarioError(f"{where}: the scenario has no '{done}', so there is no entry {remaining[0]} of it to "
                                "change", where=source, fix=f"Set the whole list: --set '{done}=[{{...}}]'")
        if child is None:
            child = holder[step] = {}
        if isinstance(child, list) and remaining[0].isdigit():  # an entry of a list by its number: cooldowns.0.days
            index = int(remaining.pop(0))
            if index >= len(child):
                entries = "1 entry" if len(child) == 1 else f"{len(child)} entries"
                raise ScenarioError(f"{where}: '{done}' has {entries}, numbered from 0; there is no entry {index}",
                                    where=source,
                                    fix=f"Number an entry from 0 to {len(child) - 1}, or set the whole list: "
                                        f"--set {done}=[...]")
            if not remaining:
                child[index] = value
                return
            child = child[index]
            done = f"{done}.{index}"
        if not isinstance(child, dict):
            entry = f", or one entry by its number: --set {done}.0.<key>=..." if isinstance(child, list) else ""
            raise ScenarioError(f"{where}: '{done}' holds {_held(child)}, not keys to set", where=source,
                                fix=f"Set the whole value instead: --set {done}=<its value as YAML>{entry}")
        holder = child
    holder[remaining[0]] = value


def _held(value: Any) -> str:
    """What a scenario key that is not a mapping holds, in words."""
    return "a list" if isinstance(value, list) else f"the single value {value!r}"


def find_campaign(campaigns: list[Any], steps: list[str], where: str, source: str) -> tuple[dict[str, Any], int]:
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

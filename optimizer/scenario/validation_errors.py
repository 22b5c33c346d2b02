"""Pydantic's validation errors told as cvo's: where (a dotted location in the file), what was
given, and how to fix it, with a did-you-mean and the allowed keys for an unknown key."""

from __future__ import annotations

from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from optimizer.errors import ScenarioError, did_you_mean


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _untagged(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A location without the tag pydantic adds for the form an objective was written in."""
    if loc[:1] == ("objective",) and loc[1:2] in (("named",), ("expression",)):
        return ("objective", *loc[2:])
    return loc


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel]:
    """The pydantic model that owns the key at ``loc`` under ``root`` (for did-you-mean on unknown keys).

    Walks the annotations: a field's type, a list's item, a dict's value, X | None's X.
    """
    kind: Any = root
    for part in loc[:-1]:
        kind = _strip(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            kind = field.annotation if field else None
        else:
            kind = (get_args(kind) or (None,))[-1]
    kind = _strip(kind)
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else root


def _strip(kind: Any) -> Any:
    """Annotated[X, ...] and X | None as X."""
    while get_origin(kind) is Annotated or get_origin(kind) in (Union, UnionType):
        args = [arg for arg in get_args(kind) if arg is not type(None)]
        if get_origin(kind) is not Annotated and len(args) != 1:
            return kind
        kind = args[0]
    return kind


def scenario_error(error: ErrorDetails, label: str, root: type[BaseModel],
                   locate: Callable[[tuple[Any, ...]], str | None] | None = None) -> ScenarioError:
    """One pydantic error as a ScenarioError located in ``label`` (a file, or a changed scenario), or
    where ``locate`` finds its key written (a scenario built from layers: optimizer/scenario/origins.py)."""
    loc = tuple(error["loc"])
    where = (locate(_untagged(loc)) if locate else None) or f"{label}, {_location(_untagged(loc))}"
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = [name for name in _model_at(loc, root).model_fields if name != "path"]
        hint = did_you_mean(key, allowed)
        return ScenarioError(
            f"Unknown key '{key}'",
            where=where,
            fix=f"{hint + ' ' if hint else ''}Allowed keys here: {', '.join(allowed)}",
        )
    if error["type"] == "missing":
        return ScenarioError(f"The required key '{loc[-1]}' is missing", where=where, fix="Add it")
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) else f" (given: {given!r})"
    if error["type"] == "string_pattern_mismatch" and loc[-1] == "id":
        return ScenarioError(f"Invalid id{shown}: an id may hold only the letters A-Z and a-z, digits, '_', '.' and "
                             "'-' (it names the plan's columns and the send lists' files)", where=where,
                             fix="Write it in those characters, e.g. 'ete_promo'; a campaign's description may say "
                                 "anything")
    message = error["msg"].removeprefix("Value error, ")
    return ScenarioError(f"Invalid value{shown}: {message}", where=where, fix=_fix_for(error))


def _fix_for(error: ErrorDetails) -> str:
    kind = error["type"]
    if tuple(error["loc"]) == ("name",):
        return "Give the scenario a plain name such as 'weekly' (use --out to write elsewhere)"
    if tuple(error["loc"]) == ("objective", "named"):
        return ("Use incremental_value, expected_revenue or responses, or write your own as "
                "objective: {expression: uplift * value_per_response - spend}")
    if kind.startswith(("greater_than", "less_than")):
        return "Use a value in the allowed range"
    if kind == "literal_error" or kind == "enum":
        return "Use one of the values listed"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "Use a value of the expected type"
    return "Correct the value"

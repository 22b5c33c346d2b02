"""Every expression a scenario holds, found by walking its models, parsed when the file is read.

A syntax error is then listed with the file's other problems by ``cvo validate`` (and every
command that reads the scenario), not found only after the customers and scores were read;
names that are not columns can only be checked against the data (optimizer/scenario/pairs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from optimizer.errors import ExpressionError, ScenarioError


def expression_problems(model: BaseModel, where: Callable[[str], str], kinds: Collection[Any]) -> list[ScenarioError]:
    """The syntax errors of every expression in ``model`` (a field annotated as one of ``kinds``),
    each located by ``where(key)`` (the scenario's file and the key, ``Scenario.where``)."""
    from optimizer.scenario.expressions import parse  # numpy: not for the commands that only name a scenario

    problems: list[ScenarioError] = []
    for key, text in expressions(model, kinds):
        try:
            parse(text, where=where(key))
        except ExpressionError as error:
            problems.append(error)
    return problems


def expressions(model: BaseModel, kinds: Collection[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(key, value) of each field annotated as one of ``kinds`` that holds a value, in nested models
    and lists of them too: ``campaigns[0].variants[1].p_treat``."""
    for name, field in type(model).model_fields.items():
        value, key = getattr(model, name), f"{prefix}{name}"
        if field.annotation in kinds and value is not None:
            yield key, value
        elif isinstance(value, BaseModel):
            yield from expressions(value, kinds, f"{key}.")
        elif isinstance(value, list | tuple):
            listed = get_origin(field.annotation) is list and get_args(field.annotation)[0] in kinds  # breakdown
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from expressions(item, kinds, f"{key}[{index}].")
                elif listed:
                    yield f"{key}[{index}]", item

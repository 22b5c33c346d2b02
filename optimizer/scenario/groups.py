"""Groups of customers a scenario names: the control strata and the report's breakdowns.

Each is a list of expressions over customer columns (``control_strata: [segment, "'high' if ltv >
500 else 'low'"]``, ``breakdown: [region]``), evaluated per customer as text (whole numbers
without '.0'); a customer's stratum is the combination of its control_strata values, and the
controls are drawn within each (optimizer/plan/controls.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import ScenarioError
from optimizer.scenario.data import ScenarioData
from optimizer.scenario.pairs import customer_columns, evaluate
from optimizer.scenario.schema import Scenario


def breakdown_levels(data: ScenarioData) -> list[tuple[str, NDArray[np.object_]]]:
    """Each ``breakdown`` expression with its value per customer, as text (a segment, a region, a tier)."""
    sources = data.scenario.breakdown
    return list(zip(map(str, sources), _labels(data, "breakdown", sources, customer_columns(data))))


def _labels(data: ScenarioData, key: str, sources: list[Any], columns: Mapping[str, Any]) -> list[NDArray[Any]]:
    """The value per customer of each expression at ``key`` (control_strata, breakdown), as text."""
    n = len(data.customers)
    return [as_text(evaluate(data, f"{key}[{i}]", source, columns, n)) for i, source in enumerate(sources)]


def as_text(values: NDArray[Any]) -> NDArray[np.object_]:
    """Values as labels: whole numbers without '.0' (the expression language computes in float64,
    so a tier column of 1, 2, 3 arrives as 1.0, 2.0, 3.0), everything else as ``str`` gives it.
    Not optimizer/store/tables.py's ``id_text``: that one reads ids, trimming blanks and decimal
    commas out of text, which in a label would be the label changed.

    >>> as_text(np.array([1.0, 2.5, -3.0, np.nan])).tolist()
    ['1', '2.5', '-3', 'nan']
    """
    text: NDArray[np.object_] = values.astype(str).astype(object)
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (np.round(values) == values) & (np.abs(values) < 1e15)
        text[whole] = values[whole].astype(np.int64).astype(str)
    return text


MAX_STRATA = 200  # control strata are groups (segments, tiers), not one per customer


def stratum_labels(data: ScenarioData, columns: Mapping[str, Any] | None = None) -> NDArray[np.object_] | None:
    """Each customer's control stratum as a label: the ``control_strata`` expressions' values, joined
    (None without control_strata)."""
    scenario = data.scenario
    if not scenario.control_strata:
        return None
    values = _labels(data, "control_strata", scenario.control_strata,
                     customer_columns(data) if columns is None else columns)
    return np.array(["\x1f".join(parts) for parts in zip(*values)], dtype=object)


def stratum_codes(data: ScenarioData, columns: Mapping[str, Any]) -> NDArray[np.intp] | None:
    """Each customer's control stratum as a number: the combination of the ``control_strata``
    expressions' values (ScenarioError above MAX_STRATA of them; None without control_strata)."""
    labels = stratum_labels(data, columns)
    if labels is None:
        return None
    codes, levels = pd.factorize(pd.Series(labels, dtype=object))
    check_strata(data.scenario, len(levels))
    return np.asarray(codes, dtype=np.intp)


def check_strata(scenario: Scenario, strata: int) -> None:
    """ScenarioError when control_strata make more than MAX_STRATA strata."""
    if strata > MAX_STRATA:
        raise ScenarioError(
            f"control_strata make {strata:,} strata; the controls are drawn within each, so a stratum needs "
            f"customers by the dozen (at most {MAX_STRATA} strata)", where=scenario.where("control_strata"),
            fix="Stratify by groups: a segment column, or a tier such as \"'high' if ltv > 800 else 'low'\"")

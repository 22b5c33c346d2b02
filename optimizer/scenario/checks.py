"""What a scenario's expressions give, checked customer by customer before any solve.

Money and probabilities must be numbers, probabilities in [0, 1], and every value a selected
customer contributes finite. Each error names the scenario key, the expression, the first customer
it fails for with the row of the customer table, and the values the expression read there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, ScenarioError
from optimizer.scenario.data import ScenarioData
from optimizer.scenario.expressions import parse
from optimizer.store.tables import row_label, show


def require_numbers(data: ScenarioData, key: str, source: Any, values: NDArray[Any]) -> NDArray[np.float64]:
    """The values of the expression at ``key`` as numbers (missing as NaN); ScenarioError when it gives text."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    if values.dtype.kind == "M":
        column = source if isinstance(source, str) and source.isidentifier() else "last_purchase_date"
        raise ScenarioError(f"'{key}' must be a number for each customer, but {source!r} gives dates",
                            where=data.scenario.where(key),
                            fix=f"Count the days from a date to the run date, e.g. \"days_since({column})\"")
    converted = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    text = np.isnan(converted) & ~pd.isna(values)  # given, but not a number
    if values.dtype.kind == "O" and not text.any():
        return converted  # numbers in an object column, e.g. pandas' nullable integers
    first = int(np.argmax(text))
    raise ScenarioError(
        f"'{key}' must be a number for each customer, but {source!r} gives text, e.g. {show(values[first])} for "
        f"customer '{data.customer_ids[first]}'",
        where=data.scenario.where(key),
        fix="Write arithmetic over numeric columns, e.g. \"ltv * 0.2\" or \"0.3 if segment == 'VIP' else 0.1\"",
    )


def check_probabilities(
    data: ScenarioData, key: str, source: Any, values: NDArray[Any], columns: Mapping[str, Any]
) -> None:
    """Raise DataError naming the first customer for whom the p_treat / p_control expression leaves [0, 1]."""
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        first = int(bad[0])
        raise DataError(
            f"'{key}' gives {show(values[first])} for {_customer_row(data, first, _inputs(source, columns, first))}, "
            f"not a probability in [0, 1] ({bad.size} customer(s) in all); the expression is {source!r}",
            where=data.scenario.where(key),
            fix="Change the expression so it stays within [0, 1], e.g. clip(..., 0, 1)",
        )


LARGEST, LARGEST_TEXT = 1e12, "10^12"  # the largest value, cost or amount per customer a scenario may give


def check_finite(
    data: ScenarioData, key: str, source: Any, values: NDArray[Any], selected: NDArray[np.bool_],
    context: Mapping[str, Any],
) -> None:
    """Raise DataError naming the first selected customer for whom the expression at ``key`` gives inf or NaN,
    or a number larger than LARGEST in size (a unit error: a plan of such values has no meaningful gap)."""
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(values) & (np.abs(values) > LARGEST)
    bad = np.flatnonzero((~np.isfinite(values) | huge) & selected)
    if not bad.size:
        return
    first = int(bad[0])
    inputs = _inputs(source, context, first)
    if huge[first]:
        raise DataError(
            f"'{key}' gives {float(values[first]):.3g} for {_customer_row(data, first, inputs)}, larger than "
            f"{LARGEST_TEXT} in size, which no plan's value or cost can be ({bad.size} eligible customer(s) in all); "
            f"the expression is {source!r}",
            where=data.scenario.where(key),
            fix="Check the units (cents for currency?) and the expression's numbers",
        )
    missing = any(pd.isna(value) for value in inputs.values())
    fix = ("Fill the missing values in the customers table" if missing else
           "Change the expression so it gives a finite number for every customer")
    raise DataError(
        f"'{key}' gives {_non_finite(float(values[first]), str(source), missing)} for "
        f"{_customer_row(data, first, inputs)}; the expression is {source!r} ({bad.size} eligible customer(s) in all)",
        where=data.scenario.where(key),
        fix=f"{fix}, or exclude those customers in 'eligible'",
    )


def _inputs(source: Any, context: Mapping[str, Any], row: int) -> dict[str, Any]:
    """The values the expression ``source`` reads on one row, by column name."""
    names = sorted(parse(source, where="").names & context.keys())
    return {name: context[name][row] if np.ndim(context[name]) else context[name] for name in names}


def _customer_row(data: ScenarioData, row: int, inputs: dict[str, Any]) -> str:
    """The customer an expression went wrong for, the row and the values it read there:
    "customer 'c02' (customers.csv, line 3), where days_since_last_purchase = 5"."""
    values = ", ".join(f"{name} is missing" if pd.isna(value) else f"{name} = {show(value)}"
                       for name, value in inputs.items())
    return (f"customer '{data.customer_ids[row]}' ({row_label(data.customers_file, row)})"
            + (f", where {values}" if values else ""))


def _non_finite(value: float, text: str, missing: bool) -> str:
    """inf, -inf or NaN in words, with its likely cause: 'inf (division by zero?)'."""
    if np.isnan(value):
        return "a missing value (NaN)" if missing else "NaN, not a number (0/0, or log or sqrt of a negative number?)"
    causes = [cause for token, cause in (("/", "division by zero"), ("log(", "log of 0"), ("exp(", "overflow"),
                                         ("**", "overflow")) if token in text]
    return f"{value}" + (f" ({' or '.join(dict.fromkeys(causes))}?)" if causes else "")

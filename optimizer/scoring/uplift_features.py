"""The feature columns of the response models (optimizer/scoring/uplift.py, cells.py): whether a model
can use each, and the model inputs built from them.

A feature is a number, a boolean (used as 0/1) or text, whose distinct values are the levels of a
category: at most MAX_CATEGORIES, as HistGradientBoosting bins one level per bin. A column with no
value in any row carries nothing to fit on (and HistGradientBoosting cannot bin it), so it is refused
here; ``cvo score`` leaves such a column out with a note instead (optimizer/scoring/uplift_inputs.py).
A date column (or dates written as text) has a level per day, too many to be a category: it is named
as such, with the fix of turning it into a number.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError
from optimizer.store.tables import row_label, show, source_of

MAX_CATEGORIES = 255  # HistGradientBoosting bins one category per bin
ISO_DAY = r"\d{4}-\d{2}-\d{2}([ T].*)?"  # a date written as text: 2026-10-18, 2026-10-18 09:30


def is_number(column: pd.Series) -> bool:
    """Whether a model reads the column as numbers (booleans as 0/1), not as the levels of a category."""
    return bool(pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column))


def has_no_value(column: pd.Series) -> bool:
    """Whether the column has rows and each is missing."""
    return len(column) > 0 and not column.notna().any()


def check_features(table: pd.DataFrame, features: Iterable[str], where: str) -> None:
    """``check_feature`` for each feature, every one named as coming from ``where``."""
    for name in features:
        check_feature(table[name], name, where)


def check_feature(column: pd.Series, name: str, where: str) -> None:
    """DataError naming ``where`` (the file the column is from) when a model cannot use the column: it has
    no value in any row, or it is text or dates of more than MAX_CATEGORIES distinct values."""
    if has_no_value(column):
        raise DataError(f"The feature '{name}' has no value in any of its {len(column):,} rows", where=where,
                        fix="Leave it out of the features (cvo score --features: the columns to fit on), or fill "
                        "it in")
    if is_number(column):
        return
    levels = int(column.dropna().astype(str).nunique())
    if levels > MAX_CATEGORIES:
        dates = _dates(column)
        raise DataError(
            f"The feature '{name}' {dates or 'has'} {levels:,} distinct {'values' if dates else 'text values'}, "
            f"more than the {MAX_CATEGORIES} a model can use", where=where,
            fix="Turn it into a number (e.g. the days from it to the campaign), or leave it out of the features "
            "(cvo score --features: the columns to fit on)" if dates else
            "Leave it out of the features (an id or free text; cvo score --features: the columns to fit on), or group "
            "its values")


def _dates(column: pd.Series) -> str:
    """How a column of dates is described ('is a date-time column (datetime64[us]) with', 'is dates
    written as text (e.g. '2026-10-18') with'), or '' when it is not dates."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return f"is a date-time column ({column.dtype}) with"
    sample = column.dropna().astype(str).head(50)
    if sample.str.fullmatch(ISO_DAY).all():
        return f"is dates written as text (e.g. {show(sample.iat[0])}) with"
    return ""


def categories_of(table: pd.DataFrame, features: tuple[str, ...]) -> dict[str, list[str]]:
    """The levels of each text feature (booleans and numbers are used as numbers)."""
    return {name: sorted(table[name].dropna().astype(str).unique()) for name in features
            if not is_number(table[name])}


def feature_frame(table: pd.DataFrame, features: tuple[str, ...], categories: dict[str, list[str]]) -> pd.DataFrame:
    """Model inputs: text features as categoricals with the fitted levels (unknown -> missing)."""
    frame: dict[str, pd.Categorical | NDArray[np.float64]] = {}
    for name in features:
        column = table[name]
        if name in categories:
            frame[name] = pd.Categorical(column.astype("object").where(column.isna(), column.astype(str)),
                                         categories=categories[name])
            continue
        values = pd.to_numeric(column.astype("object").replace({True: 1, False: 0}), errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() & column.notna().to_numpy())
        if bad.size:
            raise DataError(
                f"The feature '{name}' was numeric in the history but is {show(column.iat[bad[0]])} "
                f"({bad.size:,} such row(s))", where=row_label(source_of(table, "the customers table"), int(bad[0])),
                fix=f"Write '{name}' as numbers in the table that is scored, as in the history",
            )
        frame[name] = values.to_numpy(float)
    return pd.DataFrame(frame, index=table.index)

"""A stratified ("cells") uplift model: mean revenue per cell of a few features, per arm, shrunk to the arm mean.

When responders are few and the uplift is small beside the noise, a T-learner's difference of two
flexible models ranks customers little better than chance (examples/hillstrom). Cell means over a
handful of coarse features have far less variance. Per arm a (campaign j's treated rows, or j's
controls: the shared ones plus its own) and cell c, on the fitting rows,

    m_a(c) = (n_a(c) mean_a(c) + k mean_a) / (n_a(c) + k)

the cell's mean revenue shrunk toward the arm's mean revenue with strength k (``shrinkage``): k
acts as k extra customers at the arm mean, so cells of thousands barely move and cells of tens are
pulled most of the way (an empirical-Bayes estimate with prior weight k). A cell unseen in the
fitting rows (n = 0) gets the arm mean.

The scores are **revenue-equivalent response rates**, not conversion probabilities: with
w_j = value_per_response_j (revenue per converter among j's treated converters),

    p_treat_j(c) = m_treated_j(c) / w_j,   p_control_j(c) = m_control_j(c) / w_j,   both clipped to [0, 1]

so cvo's incremental value (p_treat - p_control) w_j is the predicted revenue uplift of campaign j
in the customer's cell and p_treat w_j its predicted revenue. The held-out report
(optimizer/scoring/uplift_report.py) ranks the held-out customers by p_treat - p_control (revenue uplift)
and measures that ranking on **conversion** (Qini, AUUC, uplift at the top shares), like the
T-learner's; its "calibration" compares the mean revenue-equivalent rate with the conversion rate,
equal in the treated arm when all revenue comes from converters, not in the control arm, whose
spend per converter differs from w_j.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError
from optimizer.scoring.uplift import (
    HistoryColumns,
    UpliftModel,
    arm_rows,
    binary_column,
    campaign_arms,
    check_arms,
    check_history,
    history_source,
    value_per_response,
)
from optimizer.scoring.uplift_features import categories_of, feature_frame
from optimizer.scoring.uplift_report import build_report

SEPARATOR = "\x1f"  # joins a cell's feature values into one key
COLUMNS = HistoryColumns()


@dataclass(frozen=True)
class CellOptions:
    """The cell features, the shrinkage strength k (customers at the arm mean), holdout share, seed."""

    cells: tuple[str, ...] = ("mens", "womens", "newbie")
    shrinkage: float = 100.0
    holdout: float = 0.3
    refit: bool = True
    min_responders: int = 30
    seed: int = 0


def cell_keys(x: pd.DataFrame, cells: tuple[str, ...]) -> pd.Series:
    """One text key per row from the cell features of a feature frame (missing values form their own cell)."""
    return reduce(lambda a, b: a + SEPARATOR + b, (x[name].astype(str) for name in cells))


@dataclass(frozen=True)
class CellMeans:
    """Shrunk mean revenue per cell of one arm, divided by w: a scorer with predict_proba like a classifier."""

    cells: tuple[str, ...]
    rate: dict[str, float] = field(repr=False)
    default: float

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        p = cell_keys(x, self.cells).map(self.rate).fillna(self.default).to_numpy(float)
        return np.column_stack([1.0 - p, p])


def fit_cell_means(keys: pd.Series, revenue: NDArray[np.float64], rows: NDArray[np.bool_], shrinkage: float, w: float,
                   cells: tuple[str, ...]) -> CellMeans:
    """m(c) = (n(c) mean(c) + k mean) / (n(c) + k) over ``rows``, as revenue-equivalent rates m / w in [0, 1]."""
    arm_mean = float(revenue[rows].mean())
    stats = pd.DataFrame({"key": keys[rows].to_numpy(), "revenue": revenue[rows]}).groupby("key")["revenue"]
    n, total = stats.size(), stats.sum()
    shrunk = (total + shrinkage * arm_mean) / (n + shrinkage)
    rate = (shrunk / w).clip(0.0, 1.0)
    return CellMeans(cells, {str(k): float(v) for k, v in rate.items()}, float(np.clip(arm_mean / w, 0.0, 1.0)))


def fit_cells(keys: pd.Series, revenue: NDArray[np.float64], masks: dict[str, NDArray[np.bool_]],
              rows: NDArray[np.bool_], values: dict[str, float], options: CellOptions) -> dict[str, CellMeans]:
    """One CellMeans per campaign j on ``masks[j] & rows``, scaled by j's value per response."""
    return {j: fit_cell_means(keys, revenue, mask & rows, options.shrinkage, values[j], options.cells)
            for j, mask in masks.items()}


def check_revenue(columns: HistoryColumns, values: dict[str, float], source: str) -> None:
    """DataError naming ``source`` (the history's file) when there is no revenue to divide by: no
    revenue column, or a campaign whose converters brought none."""
    if not columns.revenue:
        raise DataError(
            "The cells model needs the revenue of each response, but the history has no revenue column",
            where=source, fix="Add a 'revenue' column (or name yours: --history-column revenue=NAME, "
            "HistoryColumns(revenue=NAME) in Python), or fit on conversions alone with --model t-learner")
    for j, w in values.items():
        if not np.isfinite(w) or w <= 0:
            raise DataError(
                f"The converted customers of campaign '{j}' have a mean '{columns.revenue}' of {w:g}; the cells "
                "model divides by this revenue per converter", where=f"{source}, column '{columns.revenue}'",
                fix="Record the revenue of the converted customers of every campaign, or fit on conversions "
                "alone with --model t-learner")


def fit_cell_uplift(history: pd.DataFrame, columns: HistoryColumns = COLUMNS,
                    options: CellOptions = CellOptions()) -> UpliftModel:
    """Fit the cells model, report it on the held-out rows (on conversion), then refit on everything (``refit``)."""
    cells, source = tuple(options.cells), history_source(history)
    check_history(history, columns, cells)
    labels, treated = campaign_arms(history, columns)
    y = binary_column(history, columns.outcome, "Code customers who responded 1 and the others 0")
    arms = arm_rows(labels, treated)
    check_arms(arms, y, options.min_responders, columns, source)
    values = value_per_response(history, columns, y, arms)
    check_revenue(columns, values, source)
    categories = categories_of(history, cells)
    x = feature_frame(history, cells, categories)
    keys, revenue = cell_keys(x, cells), pd.to_numeric(history[columns.revenue]).to_numpy(float)
    holdout = np.random.default_rng(options.seed).random(len(history)) < options.holdout
    models = (fit_cells(keys, revenue, arms.treated, ~holdout, values, options),
              fit_cells(keys, revenue, arms.control, ~holdout, values, options))
    control_names = {j: arms.control_name(j) for j in arms.treated}
    method = f"none (cells {' x '.join(cells)}, shrinkage {options.shrinkage:g}; rates are revenue / w)"
    report = build_report(x, y, holdout, arms.treated, arms.control, control_names, models, values, method,
                          options.holdout, source=source)
    if options.refit:
        everything = np.ones(len(history), bool)
        models = (fit_cells(keys, revenue, arms.treated, everything, values, options),
                  fit_cells(keys, revenue, arms.control, everything, values, options))
    return UpliftModel(columns, cells, categories, models[0], models[1], values, report)

"""Response models per campaign from a randomized campaign history, and the scores cvo optimize reads.

The history has one row per (customer, campaign exposure): ``customer_id``, ``campaign_id``,
``treated`` (1 got the campaign, 0 held out), ``converted`` (0/1), ``revenue`` and feature columns.
Several campaigns may share one control group: a control row (treated 0) whose campaign_id names
a campaign belongs to that campaign's controls; every other control row (campaign_id empty, or a
label such as 'control') is shared by all campaigns.

T-learner: one classifier per arm, the shared control included,

    p_treat_j(x)   = P(converted | x, got campaign j)     fit on campaign j's treated rows
    p_control_j(x) = P(converted | x, no campaign)        fit on j's controls (shared + own)
    uplift_j(x)    = p_treat_j(x) - p_control_j(x)

each a scikit-learn HistGradientBoostingClassifier wrapped in CalibratedClassifierCV (sigmoid by
default), and value_per_response_j = revenue / conversions over j's treated converters.

Why a T-learner on HistGradientBoosting: it gives cvo's scores table directly (p_treat and
p_control are the two models' probabilities, so their calibration means something), a bare fit of
64,000 rows takes under a second single-threaded, and on simulated data with a known uplift it
recovers the uplift with correlation 0.86-0.93 (tests/scoring/test_uplift.py). An X-learner or R-learner
estimates only the difference, not the two probabilities the optimizer needs; causalml pulls 1.5 GB
of CUDA libraries, and scikit-uplift breaks with scikit-learn 1.10. The T-learner's weakness: the
difference of two separately fitted models is noisy when the uplift is small beside the response
rate and responders are few (examples/hillstrom shows how much).

The model report (optimizer/scoring/uplift_report.py) is measured on a held-out share of the history
(``holdout``) before the models are refit on all of it. An arm needs ``min_responders`` (30)
responders and non-responders in the history. A classifier is fitted on rows holding at least
CALIBRATION_FOLDS = 3 of each, one per calibration fold; on fewer (min_responders below 3, or the
random held-out share took the others) the arm's model is its response rate for every customer
(ArmRate), and a note says so. The features are checked in optimizer/scoring/uplift_features.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

from optimizer.errors import DataError
from optimizer.scoring.uplift_features import categories_of, check_features, feature_frame
from optimizer.scoring.uplift_report import UpliftReport, build_report
from optimizer.store.tables import flag_values, id_text, read_table, require_columns, row_label, show, source_of

SHARED_CONTROL = "(shared control)"
HISTORY_TABLE = "the history table"  # how messages name a history given as a DataFrame rather than read from a file
CALIBRATION_FOLDS = 3  # CalibratedClassifierCV's folds; an arm fitted needs this many responders and non-responders


class Calibration(StrEnum):
    """How the classifiers' probabilities are calibrated (CalibratedClassifierCV, 3 folds)."""

    SIGMOID = "sigmoid"
    ISOTONIC = "isotonic"
    NONE = "none"


@dataclass(frozen=True)
class HistoryColumns:
    """Column names of the campaign history; ``revenue`` None when there is none."""

    customer_id: str = "customer_id"
    campaign: str = "campaign_id"
    treated: str = "treated"
    outcome: str = "converted"
    revenue: str | None = "revenue"

    def reserved(self) -> tuple[str, ...]:
        return tuple(c for c in (self.customer_id, self.campaign, self.treated, self.outcome, self.revenue) if c)


@dataclass(frozen=True)
class UpliftOptions:
    """How to fit: features (None: every non-reserved column), calibration, holdout share, booster.

    The booster defaults are small, slowly learned trees (8 leaves of at least 100 customers, rate
    0.05): response differences are small beside the noise, and deeper trees fit the noise of each
    arm separately, which the T-learner's difference amplifies.
    """

    features: tuple[str, ...] | None = None
    calibration: Calibration = Calibration.SIGMOID
    holdout: float = 0.3
    refit: bool = True
    min_responders: int = 30
    seed: int = 0
    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 8
    min_samples_leaf: int = 100
    l2_regularization: float = 0.0


@dataclass(frozen=True)
class UpliftModel:
    """Fitted arm models; ``control[j]`` is the control model campaign j is compared against."""

    columns: HistoryColumns
    features: tuple[str, ...]
    categories: dict[str, list[str]]
    treated: dict[str, Any]
    control: dict[str, Any]
    value_per_response: dict[str, float]
    report: UpliftReport = field(repr=False)
    notes: tuple[str, ...] = ()  # what a reader of the scores should know: an arm modelled by its rate alone

    @property
    def campaigns(self) -> tuple[str, ...]:
        return tuple(self.treated)


def read_history(path: Path, columns: HistoryColumns = HistoryColumns()) -> pd.DataFrame:
    """Read a history file (.parquet or .csv), ids and campaign ids kept as text; customer ids as
    ``id_text`` writes them, so a parquet history's 12346 or 12346.0 is '12346', as in its CSV."""
    history = read_table(Path(path), what="history", text_columns=(columns.customer_id, columns.campaign))
    if columns.customer_id in history.columns:
        history[columns.customer_id] = id_text(history[columns.customer_id])
    return history


def history_source(history: pd.DataFrame) -> str:
    """How messages name the history: the file it was read from, or HISTORY_TABLE for a DataFrame."""
    return source_of(history, HISTORY_TABLE)


def binary_column(table: pd.DataFrame, name: str, fix: str) -> NDArray[np.int64]:
    """The column as 0/1 integers (1/0, true/false, yes/no, y/n, t/f in any case: ``flag_values``);
    DataError naming the file and line of the first row that is none of these."""
    values = flag_values(table[name])
    bad = np.flatnonzero(np.isnan(values))
    if bad.size:
        first = int(bad[0])
        raise DataError(f"The '{name}' column must be 0 or 1 but is {show(table[name].iat[first])} ({bad.size} such "
                        "row(s))", where=row_label(history_source(table), first), fix=fix)
    return values.astype(int)


def campaign_arms(history: pd.DataFrame, columns: HistoryColumns) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """(campaign label per row as text, None where empty; treated 0/1), checked."""
    treated = binary_column(history, columns.treated, "Code customers who got the campaign 1 and controls 0")
    given = history[columns.campaign].astype("object")
    labels = np.where(given.isna(), np.array(None), given.astype(str)).astype(object)
    orphans = np.flatnonzero((treated == 1) & (labels == None))  # noqa: E711 (elementwise)
    if orphans.size:
        raise DataError(
            f"A row is treated but names no campaign in '{columns.campaign}' ({orphans.size} such row(s))",
            where=row_label(history_source(history), int(orphans[0])),
            fix="Give every treated row the campaign it got; leave the campaign empty only for shared controls",
        )
    return labels, treated


def check_history(history: pd.DataFrame, columns: HistoryColumns, features: tuple[str, ...]) -> None:
    """Columns present, features a model can use (optimizer/scoring/uplift_features.py), treated/outcome
    binary, revenue finite; DataError otherwise."""
    source = history_source(history)
    require_columns(history, (*columns.reserved(), *features), source, "history",
                    "The history needs customer_id, campaign_id, treated, converted, revenue and the features")
    if not features:
        raise DataError(
            f"There are no features to fit the response models on: the history has only the columns "
            f"{', '.join(map(str, history.columns))}", where=source,
            fix="Give a customer table with the customers' features (--customers), or add feature columns to the "
            "history")
    check_features(history, features, source)
    binary_column(history, columns.outcome, "Code customers who responded 1 and the others 0")
    if columns.revenue:
        number_column(history, columns.revenue)


def number_column(table: pd.DataFrame, name: str) -> NDArray[np.float64]:
    """The column as finite floats; DataError naming the first row that is missing or not a number."""
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first, value = int(bad[0]), table[name].iat[int(bad[0])]
        fix = "Fill missing values with 0 for customers who bought nothing" if table[name].isna().iat[first] else \
            "Write plain numbers, without currency signs or thousands separators (12.5, not '€12,50')"
        raise DataError(f"'{name}' must be a number but is {show(value)} ({bad.size} such row(s))",
                        where=row_label(history_source(table), first), fix=fix)
    return values


def feature_names(history: pd.DataFrame, columns: HistoryColumns, options: UpliftOptions) -> tuple[str, ...]:
    if options.features is not None:
        return tuple(options.features)
    return tuple(str(c) for c in history.columns if str(c) not in columns.reserved())


@dataclass(frozen=True)
class ArmRows:
    """Row masks per campaign j: its treated rows, and its controls (the shared ones plus its own)."""

    treated: dict[str, NDArray[np.bool_]]
    control: dict[str, NDArray[np.bool_]]

    @property
    def shared_control(self) -> bool:
        """Every campaign is compared against the same control rows."""
        masks = list(self.control.values())
        return all(np.array_equal(masks[0], m) for m in masks[1:])

    def control_name(self, campaign: str) -> str:
        return SHARED_CONTROL if self.shared_control else f"control of {campaign}"


def arm_rows(labels: NDArray[np.object_], treated: NDArray[np.int64]) -> ArmRows:
    campaigns = sorted({str(label) for label in labels[treated == 1]})
    held_out = treated == 0
    shared = held_out & ~np.isin(labels, campaigns)
    return ArmRows({j: (treated == 1) & (labels == j) for j in campaigns},
                   {j: shared | (held_out & (labels == j)) for j in campaigns})


def check_arms(arms: ArmRows, y: NDArray[np.int64], minimum: int, columns: HistoryColumns, source: str) -> None:
    """Every campaign has controls, and every arm enough responders and non-responders to fit;
    DataError naming ``source`` (the history's file) and the column at fault otherwise."""
    treated, where = f"'{columns.treated}'", f"{source}, column '{columns.treated}'"
    if not arms.treated:
        raise DataError(f"The history has no treated rows ({treated} 1), so there is no campaign to model", where=where,
                        fix=f"Give the history the customers who got each campaign ({treated} 1) and the controls "
                        f"({treated} 0)")
    for j in arms.treated:
        if not arms.control[j].any():
            raise DataError(f"Campaign '{j}' has no control customers ({treated} 0) to compare against", where=where,
                            fix=f"Add control rows ({treated} 0) with '{columns.campaign}' empty (shared by all "
                            "campaigns) or naming this campaign")
        responders = f"{source}, column '{columns.outcome}'"
        check_responders(f"campaign '{j}' (treated)", arms.treated[j], y, minimum, responders,
                         "pool this campaign with a similar one")
        check_responders(f"'{arms.control_name(j)}'", arms.control[j], y, minimum, responders,
                         f"hold out more customers as controls ({treated} 0)")


def fewer_class(y: NDArray[np.int64]) -> tuple[int, str]:
    """How many responders or non-responders ``y`` has, whichever are fewer, and which, counted
    ('2 responders', '1 non-responder').

    >>> fewer_class(np.array([0, 1, 0, 0]))
    (1, '1 responder')
    """
    responders = int(y.sum())
    fewer, kind = (responders, "responder") if responders <= len(y) - responders else (len(y) - responders,
                                                                                      "non-responder")
    return fewer, f"{fewer} {kind}{'' if fewer == 1 else 's'}"


def check_responders(arm: str, mask: NDArray[np.bool_], y: NDArray[np.int64], minimum: int, where: str,
                     remedy: str) -> None:
    """DataError at ``where`` when the arm has fewer than ``minimum`` responders or non-responders; the
    fix offers ``remedy`` (more rows for this arm) and lowers min_responders only as far as a fitted
    model goes (CALIBRATION_FOLDS)."""
    fewer, counted = fewer_class(y[mask])
    if fewer < minimum:
        lower = (f", {remedy}, or lower min_responders to {fewer}" if fewer >= CALIBRATION_FOLDS else
                 f" or {remedy}; a model needs at least {CALIBRATION_FOLDS} of each")
        raise DataError(
            f"The arm {arm} has {counted} among {int(mask.sum()):,} customers; fitting a response model "
            f"needs at least {minimum} (min_responders)",
            where=where,
            fix=f"Use a longer history{lower}",
        )


def make_classifier(options: UpliftOptions) -> Any:
    """HistGradientBoosting, in CalibratedClassifierCV unless calibration is 'none'."""
    booster = HistGradientBoostingClassifier(
        max_iter=options.max_iter, learning_rate=options.learning_rate, max_leaf_nodes=options.max_leaf_nodes,
        min_samples_leaf=options.min_samples_leaf, l2_regularization=options.l2_regularization,
        categorical_features="from_dtype", random_state=options.seed,
    )
    if Calibration(options.calibration) is Calibration.NONE:
        return booster
    return CalibratedClassifierCV(booster, method=str(options.calibration), cv=CALIBRATION_FOLDS)


@dataclass(frozen=True)
class ArmRate:
    """The model of an arm whose rows hold fewer than CALIBRATION_FOLDS responders or non-responders:
    its response rate for every customer (a classifier cannot be fitted, or calibrated, on so few)."""

    rate: float

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        return np.column_stack([np.full(len(x), 1.0 - self.rate), np.full(len(x), self.rate)])


def response_rate(y: NDArray[np.int64]) -> float:
    """The share of responders (0 for no rows)."""
    return float(y.mean()) if len(y) else 0.0


def arm_model(x: pd.DataFrame, y: NDArray[np.int64], use: NDArray[np.bool_], options: UpliftOptions) -> Any:
    """The arm's classifier fitted on rows ``use``, or its ArmRate when they are too few to fit one."""
    if fewer_class(y[use])[0] < CALIBRATION_FOLDS:
        return ArmRate(response_rate(y[use]))
    return make_classifier(options).fit(x[use], y[use])


Stage = Callable[[str], None]  # hears what a long step is doing now, e.g. to show it on a terminal


def fit_arms(x: pd.DataFrame, y: NDArray[np.int64], masks: dict[str, NDArray[np.bool_]], options: UpliftOptions,
             rows: NDArray[np.bool_], stage: Stage | None = None, what: str = "") -> dict[str, Any]:
    """One classifier per arm on ``rows``; arms with the same rows (a shared control) share one fit.
    ``stage`` hears each fit as it starts ("Fitting the {what} of {arm} (i of n, rows)")."""
    fitted: dict[bytes, Any] = {}
    models = {}
    for number, (name, mask) in enumerate(masks.items(), start=1):
        use = mask & rows
        key = use.tobytes()
        if key not in fitted:
            if stage is not None:
                stage(f"Fitting the {what} of {name} ({number} of {len(masks)}, {int(use.sum()):,} rows)")
            fitted[key] = arm_model(x, y, use, options)
        models[name] = fitted[key]
    return models


def fit_uplift(history: pd.DataFrame, columns: HistoryColumns = HistoryColumns(),
               options: UpliftOptions = UpliftOptions(), stage: Stage | None = None) -> UpliftModel:
    """Fit the T-learner, report it on the held-out rows, then refit on everything (``refit``);
    ``stage`` hears each model fit as it starts."""
    features = feature_names(history, columns, options)
    check_history(history, columns, features)
    labels, treated = campaign_arms(history, columns)
    y = binary_column(history, columns.outcome, "Code customers who responded 1 and the others 0")
    arms = arm_rows(labels, treated)
    check_arms(arms, y, options.min_responders, columns, history_source(history))
    categories = categories_of(history, features)
    x = feature_frame(history, features, categories)
    values = value_per_response(history, columns, y, arms)
    holdout = np.random.default_rng(options.seed).random(len(history)) < options.holdout
    notes = rate_notes(arms, y, ~holdout, f"the held-out report's model (fit without the {options.holdout:.0%} "
                       "held out)" if options.refit else "the model (fit without the held-out rows)")
    models = (fit_arms(x, y, arms.treated, options, ~holdout, stage, "treated arm"),
              fit_arms(x, y, arms.control, options, ~holdout, stage, "control arm"))
    control_names = {j: arms.control_name(j) for j in arms.treated}
    report = build_report(x, y, holdout, arms.treated, arms.control, control_names, models, values,
                          str(options.calibration), options.holdout, source=history_source(history))
    if options.refit:
        everything = np.ones(len(history), bool)
        models = (fit_arms(x, y, arms.treated, options, everything, stage, "treated arm, on all rows,"),
                  fit_arms(x, y, arms.control, options, everything, stage, "control arm, on all rows,"))
        notes += rate_notes(arms, y, everything, "the model (fit on all rows)")
    return UpliftModel(columns, features, categories, models[0], models[1], values, report, tuple(notes))


def rate_notes(arms: ArmRows, y: NDArray[np.int64], rows: NDArray[np.bool_], model: str) -> list[str]:
    """A note for each arm whose ``rows`` hold too few responders or non-responders to fit a classifier
    on: ``model`` ('the model (fit on all rows)') is its response rate for every customer (ArmRate)."""
    masks = {**{f"campaign '{j}' (treated)": mask for j, mask in arms.treated.items()},
             **{f"'{arms.control_name(j)}'": mask for j, mask in arms.control.items()}}
    notes = []
    for arm, mask in masks.items():
        fewer, counted = fewer_class(y[mask & rows])
        if fewer < CALIBRATION_FOLDS:
            notes.append(f"{model} of the arm {arm} is its response rate, {response_rate(y[mask & rows]):.2%}, for "
                         f"every customer: its {int((mask & rows).sum()):,} rows hold {counted}, fewer than the "
                         f"{CALIBRATION_FOLDS} a classifier is fitted and calibrated on")
    return notes


def value_per_response(history: pd.DataFrame, columns: HistoryColumns, y: NDArray[np.int64],
                       arms: ArmRows) -> dict[str, float]:
    """w_j = sum of revenue / number of conversions over campaign j's treated converters."""
    if not columns.revenue:
        return {j: float("nan") for j in arms.treated}
    revenue = pd.to_numeric(history[columns.revenue]).to_numpy(float)
    return {j: float(revenue[mask & (y == 1)].mean()) for j, mask in arms.treated.items()}


def score_customers(model: UpliftModel, customers: pd.DataFrame, customer_id: str = "customer_id") -> pd.DataFrame:
    """The long scores table cvo optimize reads: customer_id, campaign_id, p_treat, p_control.

    One row per (customer, campaign), customer-major; p_control is the campaign's control model.
    """
    require_columns(customers, (customer_id, *model.features), source_of(customers, "the customers table"),
                    "customers", "Score customers with the same feature columns the models were fit on")
    x = feature_frame(customers, model.features, model.categories)
    campaigns = model.campaigns
    predicted: dict[int, NDArray[np.float64]] = {}  # a shared control model predicts once
    for estimator in (*model.treated.values(), *model.control.values()):
        predicted.setdefault(id(estimator), estimator.predict_proba(x)[:, 1])
    p_treat = np.column_stack([predicted[id(model.treated[j])] for j in campaigns])
    p_control = np.column_stack([predicted[id(model.control[j])] for j in campaigns])
    ids = id_text(customers[customer_id]).to_numpy(dtype=object)
    return pd.DataFrame({
        "customer_id": np.repeat(ids, len(campaigns)),
        "campaign_id": np.tile(np.array(campaigns, dtype=object), len(ids)),
        "p_treat": p_treat.ravel(),
        "p_control": p_control.ravel(),
    })

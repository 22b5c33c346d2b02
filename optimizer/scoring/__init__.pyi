"""Public names of optimizer.scoring, for type checkers; loaded lazily at run time (lazy_loader)."""

from .cells import CellOptions as CellOptions, fit_cell_uplift as fit_cell_uplift
from .clv import (
    CustomerValue as CustomerValue,
    fit_bgnbd as fit_bgnbd,
    fit_gamma_gamma as fit_gamma_gamma,
    lifetime_value as lifetime_value,
)
from .evaluate import (
    EvaluateOptions as EvaluateOptions,
    Evaluation as Evaluation,
    Propensity as Propensity,
    evaluate_plan as evaluate_plan,
)
from .evaluate_run import evaluate_files as evaluate_files, format_evaluation as format_evaluation
from .rfm import (
    customer_features as customer_features,
    rfm_scores as rfm_scores,
    segment_migration as segment_migration,
)
from .transactions import (
    LogReading as LogReading,
    TransactionLog as TransactionLog,
    read_log as read_log,
    read_transactions as read_transactions,
)
from .uplift import (
    HistoryColumns as HistoryColumns,
    UpliftModel as UpliftModel,
    UpliftOptions as UpliftOptions,
    fit_uplift as fit_uplift,
    read_history as read_history,
)
from .uplift_report import UpliftReport as UpliftReport, build_report as build_report, format_report as format_report
from .workflow import ResponseModel as ResponseModel, ScoreRun as ScoreRun, score as score, write_scores as write_scores

"""cvo's Python API, for type checkers; loaded lazily at run time (lazy_loader)."""

from .errors import (
    CvoError as CvoError,
    DataError as DataError,
    HistoryError as HistoryError,
    InfeasibleError as InfeasibleError,
    RunFolderError as RunFolderError,
    ScenarioError as ScenarioError,
    SolverError as SolverError,
)
from .loop.commits import commit as commit
from .loop.measurement import RunMeasurement as RunMeasurement, measure_run as measure_run
from .plan.distributed import DistributedRun as DistributedRun, optimize_distributed as optimize_distributed
from .plan.outputs import write_plan as write_plan
from .plan.rules import RuleSet as RuleSet, plan_rules as plan_rules, write_rules as write_rules
from .plan.workflow import Plan as Plan, optimize as optimize
from .reporting.report import write_report as write_report
from .scenario.schema import Scenario as Scenario, load_scenario as load_scenario
from .scoring.evaluate import Evaluation as Evaluation
from .scoring.evaluate_run import evaluate_files as evaluate_files
from .scoring.rfm import Migration as Migration, segment_migration as segment_migration
from .scoring.transactions import read_log as read_log
from .scoring.workflow import ScoreRun as ScoreRun, score as score, write_scores as write_scores
from .store.ledger import Commit as Commit, void as void
from .store.runs import read_plan as read_plan, read_summary as read_summary
from .whatif.comparison import Comparison as Comparison, compare as compare
from .whatif.frontier import Sweep as Sweep, sweep as sweep

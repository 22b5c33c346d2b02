"""Public names of optimizer.plan, for type checkers; loaded lazily at run time (lazy_loader)."""

from .controls import CONTROL as CONTROL, TREATMENT as TREATMENT, draw_controls as draw_controls
from .distributed import DistributedRun as DistributedRun, optimize_distributed as optimize_distributed
from .outputs import write_plan as write_plan
from .workflow import Plan as Plan, optimize as optimize, plan_table as plan_table

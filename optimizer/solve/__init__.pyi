"""Public names of optimizer.solve, for type checkers; loaded lazily at run time (lazy_loader)."""

from .audiences import audience_bound as audience_bound
from .customers import Customers as Customers, Progress as Progress
from .decompose import solve_decompose as solve_decompose
from .distributed import DaskCustomers as DaskCustomers
from .exact import solve_exact as solve_exact, solve_full_model as solve_full_model
from .infeasibility import (
    Conflict as Conflict,
    Diagnosis as Diagnosis,
    describe_conflict as describe_conflict,
    diagnose as diagnose,
)
from .lagrangian import PricedProblem as PricedProblem, price_out as price_out, priced_problem as priced_problem
from .model import build_model as build_model
from .options import Method as Method, SolverOptions as SolverOptions
from .partitions import Partition as Partition
from .problem import (
    COUNT as COUNT,
    NO_CAMPAIGN as NO_CAMPAIGN,
    CouplingRow as CouplingRow,
    Problem as Problem,
    Sense as Sense,
)
from .relaxation import Relaxation as Relaxation, solve_relaxation as solve_relaxation
from .results import SolutionStatus as SolutionStatus, SolveResult as SolveResult, Termination as Termination
from .solver import AUTO_DECOMPOSE_PAIRS as AUTO_DECOMPOSE_PAIRS, chosen_method as chosen_method, solve as solve

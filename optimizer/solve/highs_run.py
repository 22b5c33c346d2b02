"""One HiGHS branch-and-bound run of a Pyomo model: kept to its time limit, started from a plan.

A run is made through Pyomo's persistent HiGHS interface (``pyomo.contrib.appsi``), the one whose
``warmstart`` hands the values already set on the model's variables to HiGHS as a MIP start
(``Highs::setSolution``); a model whose variables have no values starts cold. A start that is
feasible gives branch and bound its incumbent from the first node: measured on the expected-spend
core of 100,000 × 10 (7,586 pairs), the optimum as a start closed it in 1.0 s against 8.5 s cold.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from numpy.typing import NDArray
from pyomo.contrib.appsi.base import Results, TerminationCondition
from pyomo.contrib.appsi.solvers.highs import Highs

from optimizer.solve.child import ChildLost, in_child, limit_inside
from optimizer.solve.options import SolverOptions
from optimizer.solve.relaxation import quiet_highs_banner
from optimizer.solve.results import Termination

# s per pair: what Pyomo takes to hand a model to HiGHS and read its answer back inside the child,
# on top of HiGHS's own limit (measured 0.45 s for a 15,000-pair core; twice that, as a margin).
TRANSLATION_SECONDS = 6e-5

_TERMINATION = {
    TerminationCondition.optimal: Termination.OPTIMAL,
    TerminationCondition.maxTimeLimit: Termination.TIME_LIMIT,
    TerminationCondition.infeasible: Termination.INFEASIBLE,
    TerminationCondition.infeasibleOrUnbounded: Termination.INFEASIBLE,
}


@dataclass(frozen=True)
class HighsRun:
    """How one HiGHS run of a model ended, its best bound, and its plan as the chosen pairs
    (``model.assign``; None without a plan)."""

    termination: Termination
    bound: float | None
    chosen: NDArray[np.bool_] | None


def run_highs(model: pyo.ConcreteModel, options: SolverOptions, time_limit: float, absolute_gap: float) -> HighsRun:
    """HiGHS on ``model`` within ``time_limit`` seconds, kept even where HiGHS does not check it
    (optimizer/solve/child.py): a run stopped there counts as out of time without a plan (the caller
    keeps the plan it had), a child that died without a word as an error. HiGHS's own limit leaves
    what Pyomo takes to hand the model over and read it back (TRANSLATION_SECONDS per pair), so that
    a run that keeps its limit ends within ``time_limit`` (measured on the widened core of
    custom_constraints.yaml at a 3 s limit, 16,410 pairs: given the whole 1.06 s left, the run was
    killed 2 s later, and the solve took 4.3 s)."""
    inside = limit_inside(time_limit, TRANSLATION_SECONDS * len(model.assign))
    try:
        answered, outcome = in_child(functools.partial(highs_here, model, options, inside, absolute_gap),
                                     time_limit)
    except ChildLost:
        return HighsRun(Termination.ERROR, None, None)
    return outcome if answered and outcome is not None else HighsRun(Termination.TIME_LIMIT, None, None)


def highs_here(model: pyo.ConcreteModel, options: SolverOptions, time_limit: float, absolute_gap: float) -> HighsRun:
    """HiGHS in this process, from the values set on the model's variables (if any) as a MIP start,
    unless presolve is on: then HiGHS 1.16 reads a start in the reduced space wrongly (a plan of
    8.559 taken for 11.835 and returned as optimal; tests/solve/test_highs_run.py), so none is given.

    HiGHS stops at mip_gap relative to its own objective, or at ``absolute_gap`` if given.
    """
    quiet_highs_banner()
    solver = Highs()
    solver.config.time_limit = time_limit
    solver.config.mip_gap = options.mip_gap if absolute_gap == 0.0 else 0.0
    solver.config.load_solution = False
    solver.config.warmstart = not options.presolve  # HiGHS 1.16 misreads a start in presolve's reduced space
    solver.highs_options = {"mip_abs_gap": absolute_gap, "threads": 1, "output_flag": False,
                            "presolve": "on" if options.presolve else "off"}
    results = solver.solve(model)
    termination = _TERMINATION.get(results.termination_condition, Termination.ERROR)
    if results.best_feasible_objective is None:
        return HighsRun(termination, _bound(results), None)
    results.solution_loader.load_vars()
    chosen = np.array([model.assign[p].value or 0.0 for p in model.pairs], dtype=float) > 0.5
    return HighsRun(termination, _bound(results), chosen)


def _bound(results: Results) -> float | None:
    bound = results.best_objective_bound
    return float(bound) if bound is not None and np.isfinite(bound) else None

"""The exact solver: the Pyomo model of a Problem, solved by HiGHS branch and bound.

HiGHS does not look at its time limit while presolving (measured: 190 s of presolve at
100k × 10 under a 30 s limit), so presolve is off by default; the limit then holds, and a
stopped run still returns its best plan with the proven bound.
"""

from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus as PyomoSolution
from pyomo.contrib.solver.common.results import TerminationCondition

from optimizer.model import build_model
from optimizer.problem import NO_CAMPAIGN, Problem
from optimizer.results import SolutionStatus, SolveResult, Termination
from optimizer.scenario import SolverOptions

_TERMINATION = {
    TerminationCondition.convergenceCriteriaSatisfied: Termination.OPTIMAL,
    TerminationCondition.maxTimeLimit: Termination.TIME_LIMIT,
    TerminationCondition.provenInfeasible: Termination.INFEASIBLE,
    TerminationCondition.locallyInfeasible: Termination.INFEASIBLE,
    TerminationCondition.infeasibleOrUnbounded: Termination.INFEASIBLE,
}


def solve_exact(problem: Problem, options: SolverOptions | None = None) -> SolveResult:
    """Optimal plan of ``problem`` (or the best within the time limit, with its bound)."""
    options = options or SolverOptions()
    started = time.perf_counter()
    customers, campaigns = problem.candidate_pairs()
    if customers.size == 0:
        return _empty_plan(problem, time.perf_counter() - started)
    model = build_model(problem, customers, campaigns)
    build_seconds = time.perf_counter() - started
    results = _run_highs(model, options, max(1.0, options.time_limit_s - build_seconds))
    solve_seconds = time.perf_counter() - started - build_seconds
    termination = _TERMINATION.get(results.termination_condition, Termination.ERROR)
    if results.solution_status not in (PyomoSolution.optimal, PyomoSolution.feasible):
        return SolveResult(termination, SolutionStatus.NONE, None, None, _bound(results), build_seconds,
                           solve_seconds, "exact", int(customers.size))
    results.solution_loader.load_vars()
    chosen = np.array([model.assign[p].value for p in range(customers.size)]) > 0.5
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    choice[customers[chosen]] = campaigns[chosen]
    objective = problem.objective(choice)
    status = SolutionStatus.OPTIMAL if termination is Termination.OPTIMAL else SolutionStatus.FEASIBLE
    bound = _bound(results)
    return SolveResult(termination, status, choice, objective, max(objective, bound) if bound is not None else None,
                       build_seconds, solve_seconds, "exact", int(customers.size))


def _run_highs(model: pyo.ConcreteModel, options: SolverOptions, time_limit: float):
    solver = SolverFactory("highs")
    return solver.solve(
        model,
        time_limit=time_limit,
        rel_gap=options.mip_gap,
        threads=1,
        solver_options={"presolve": "on" if options.presolve else "off", "mip_abs_gap": 0.0},
        raise_exception_on_nonoptimal_result=False,
        load_solutions=False,
    )


def _bound(results) -> float | None:
    bound = results.objective_bound
    return float(bound) if bound is not None and np.isfinite(bound) else None


def _empty_plan(problem: Problem, seconds: float) -> SolveResult:
    """No pair is worth a variable: the empty plan is optimal if it meets every row."""
    choice = np.full(problem.n_customers, NO_CAMPAIGN)
    if problem.violations(choice):
        return SolveResult(Termination.INFEASIBLE, SolutionStatus.NONE, None, None, None, seconds, 0.0, "exact", 0)
    return SolveResult(Termination.OPTIMAL, SolutionStatus.OPTIMAL, choice, 0.0, 0.0, seconds, 0.0, "exact", 0)

"""Which solver runs on a Problem, and running it: over classes of identical customers when there
are few (optimizer/solve/classes.py), else the exact solver below AUTO_DECOMPOSE_PAIRS eligible
pairs and the decomposition from there (or the one the options name). When the scores take few
distinct values, the customers near a tie are solved as restricted classes first
(optimizer/solve/restricted.py), and the decomposition on perturbed values
(optimizer/solve/perturbation.py) takes over with the time left if that does not prove a plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.classes import find_classes, solve_classes
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Progress
from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.fixed import with_fixed, without_fixed
from optimizer.solve.lagrangian import PricedProblem, kept_dtype, priced_problem
from optimizer.solve.options import Method, SolverOptions
from optimizer.solve.perturbation import degenerate, solve_perturbed
from optimizer.solve.problem import Problem
from optimizer.solve.repair import PASS_SECONDS
from optimizer.solve.restricted import solve_restricted
from optimizer.solve.results import SolveResult, Termination, better

AUTO_DECOMPOSE_PAIRS = 100_000
# The least time limit, in passes over everyone, at which restricted classes are tried before the
# perturbed decomposition (measured: integer 10^6 × 20 under 1 s, restricted classes left the
# decomposition too little time to repair a good plan: gap 1.6e-2, and 1.76 under load, against
# 7.7e-3 in 0.9 s without them; they need about 10 passes, 1.2 s there).
RESTRICTED_PASSES = 10
CLASS_SHARE = 0.5  # of the time limit for the count MIP over classes; the per-customer solvers have the rest


def chosen_method(problem: Problem, options: SolverOptions) -> Method:
    """The solver ``auto`` stands for: the decomposition from AUTO_DECOMPOSE_PAIRS eligible pairs.

    Measured (docs/benchmarks.md): below that the exact solver is as fast or faster (30k × 4
    example: 5.8 s against 9.7 s); above it the decomposition wins by orders of magnitude.
    """
    if options.method is not Method.AUTO:
        return options.method
    return Method.DECOMPOSE if int(problem.eligible.sum()) >= AUTO_DECOMPOSE_PAIRS else Method.EXACT


def solve(problem: Problem | PricedProblem, options: SolverOptions, progress: Progress | None = None,
          tie_keys: Callable[[], NDArray[np.uint64]] | None = None,
          fixed: NDArray[np.intp] | None = None) -> SolveResult:
    """Run the chosen solver on ``problem`` (a PricedProblem, the decomposition's lean arrays, is
    solved by the decomposition unless its customers fall into few classes, whose interchangeable
    customers are then taken in the order of the keys ``tie_keys()`` gives: optimizer/solve/classes.py).

    ``fixed`` settles customers' campaigns beforehand (a forced list; -1 for the others): the rest
    is solved under what they leave of each limit (optimizer/solve/fixed.py)."""
    if fixed is not None and isinstance(problem, Problem):
        return with_fixed(solve(without_fixed(problem, fixed), options, progress, tie_keys), problem, fixed)
    priced = problem if isinstance(problem, PricedProblem) else priced_problem(problem, kept_dtype(options.precision))
    classes = find_classes(priced)
    if classes is not None:
        clock = Clock.start(options.time_limit_s)
        counted = solve_classes(priced, classes, options.model_copy(
            update={"time_limit_s": CLASS_SHARE * options.time_limit_s}), None if tie_keys is None else tie_keys())
        if counted.choice is not None or counted.termination is Termination.INFEASIBLE or clock.expired():
            return counted
        options = options.model_copy(update={"time_limit_s": clock.allow()})  # no plan: per customer, in the rest
    if isinstance(problem, PricedProblem) or chosen_method(problem, options) is Method.DECOMPOSE:
        if degenerate(priced):
            return _solve_degenerate(priced, options, progress, tie_keys)
        return solve_decompose(priced, options, progress)
    return solve_exact(problem, options)


def _solve_degenerate(priced: PricedProblem, options: SolverOptions, progress: Progress | None,
                      tie_keys: Callable[[], NDArray[np.uint64]] | None) -> SolveResult:
    """Restricted classes, and the perturbed decomposition with the time left unless they proved
    their plan: the better plan, the tighter bound (restricted classes without a plan may still
    have proven a bound)."""
    clock = Clock.start(options.time_limit_s)
    if options.time_limit_s < RESTRICTED_PASSES * PASS_SECONDS * priced.value.size:
        return solve_perturbed(priced, options, progress)
    restricted = solve_restricted(priced, options, progress, tie_keys)
    if restricted is not None and (restricted.proven(options.mip_gap) or
                                   clock.expired() and restricted.choice is not None):
        return restricted
    perturbed = solve_perturbed(priced, options.model_copy(update={"time_limit_s": clock.allow()}), progress)
    if restricted is None or restricted.choice is None and perturbed.termination is Termination.INFEASIBLE:
        return perturbed
    return replace(better(restricted, perturbed), termination=perturbed.termination,  # it had the time left
                   solve_seconds=clock.elapsed()).settled(options.mip_gap)

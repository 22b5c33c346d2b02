"""One HiGHS branch-and-bound run of a Pyomo model: kept to its time limit, started from a plan.

A run is made through Pyomo's persistent HiGHS interface (``pyomo.contrib.appsi``), the one whose
``warmstart`` hands the values already set on the model's variables to HiGHS as a MIP start
(``Highs::setSolution``); a model whose variables have no values starts cold. A start that is
feasible gives branch and bound its incumbent from the first node: measured on the expected-spend
core of 100,000 × 10 (7,586 pairs), the optimum as a start closed it in 1.0 s against 8.5 s cold.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import cast

import numpy as np
import pyomo.environ as pyo
from numpy.typing import NDArray
from pyomo.contrib.appsi.base import Results, TerminationCondition
from pyomo.contrib.appsi.solvers.highs import Highs

from optimizer.solve.options import SolverOptions
from optimizer.solve.relaxation import quiet_highs_banner
from optimizer.solve.results import Termination

# A HiGHS run still going this long after its limit is stopped (run_highs): KILL_GRACE s, or, for a
# short run, GRACE_FLOOR s + GRACE_SHARE of its limit.
KILL_GRACE, GRACE_FLOOR, GRACE_SHARE = 1.0, 0.25, 0.1
HIGHS_SHARE = 0.25  # HiGHS's own limit is never below this share of the run's, whatever the translation takes
# s per pair: what Pyomo takes to hand a model to HiGHS and read its answer back inside the child,
# on top of HiGHS's own limit (measured 0.45 s for a 15,000-pair core; twice that, as a margin).
TRANSLATION_SECONDS = 6e-5
PR_SET_PDEATHSIG = 1  # linux/prctl.h

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
    """HiGHS on ``model`` within ``time_limit`` seconds, kept even where HiGHS does not check it.

    HiGHS 1.16 checks its time limit (and its interrupt callbacks) only between steps of a MIP; a
    root heuristic of one step ran 13 s past a 9 s limit on an 11,778-pair core (linesearch
    rounding with conflict analysis; tight 10^5 × 20). So on Linux, the run is made in a forked
    child process that is killed a grace after the limit (KILL_GRACE, less for a short run), the
    run then counting as out of time without a plan (the caller keeps the plan it had). HiGHS's own
    limit leaves what Pyomo takes to hand the model over and read it back (TRANSLATION_SECONDS per
    pair), so that a run that keeps its limit ends within ``time_limit`` (measured on the widened
    core of custom_constraints.yaml at a 3 s limit, 16,410 pairs: given the whole 1.06 s left, the
    run was killed 2 s later, and the solve took 4.3 s). Elsewhere (no safe fork), and inside a
    daemonic process (a multiprocessing or Dask worker, which may not have children), HiGHS runs here.
    """
    inside = max(time_limit - TRANSLATION_SECONDS * len(model.assign), HIGHS_SHARE * time_limit)
    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return highs_here(model, options, inside, absolute_gap)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_highs_in_child, daemon=True,
                            args=(sender, os.getpid(), model, options, inside, absolute_gap))
    _prctl()  # looked up here, never first in the child: a dlopen there may wait on a lock another thread held
    try:
        try:
            child.start()
        finally:
            sender.close()
        if not receiver.poll(time_limit + min(KILL_GRACE, GRACE_FLOOR + GRACE_SHARE * time_limit)):
            return HighsRun(Termination.TIME_LIMIT, None, None)
        outcome = receiver.recv()
    except EOFError:  # the child died without a word (killed from outside, out of memory): no plan from it
        return HighsRun(Termination.ERROR, None, None)
    finally:  # also on Ctrl-C or SIGTERM, even one that comes while the child starts
        if child.pid is not None:  # (a stop inside start() leaves no handle: the child dies with this process)
            child.kill()
            child.join()
        receiver.close()
    if isinstance(outcome, str):
        raise RuntimeError(f"HiGHS failed: {outcome}")
    return cast(HighsRun, outcome)


def _highs_in_child(sender: Connection, parent: int, model: pyo.ConcreteModel, options: SolverOptions,
                    time_limit: float, absolute_gap: float) -> None:
    """The forked child's side of ``run_highs``: the run, or the error's text, sent back. It dies
    with its parent (``die_with_parent``)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's handlers are the parent's: a child stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # quietly, when its parent (or the kernel) ends it
    die_with_parent(parent)
    try:
        sender.send(highs_here(model, options, time_limit, absolute_gap))
    except Exception as error:  # noqa: BLE001  # any failure is reported to the parent, which raises it
        sender.send(f"{type(error).__name__}: {error}")
    finally:
        sender.close()


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this forked process when ``parent`` ends (Linux's PR_SET_PDEATHSIG), and
    end now if it already has: a parent killed outright (SIGTERM, SIGKILL) runs no cleanup, and a
    child left behind would go on computing and hold what it inherited, the output folder's lock
    among them (measured: a run killed by SIGTERM left its HiGHS child running 7.5 s, and the next
    cvo optimize into the folder was refused as busy)."""
    _prctl()(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the request took hold
        os._exit(1)


@functools.cache
def _prctl() -> Callable[..., int]:
    """libc's prctl (Linux)."""
    return cast(Callable[..., int], ctypes.CDLL(None, use_errno=True).prctl)


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

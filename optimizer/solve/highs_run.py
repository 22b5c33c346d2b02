"""HiGHS runs kept to their time limit: a Pyomo model's branch and bound started from a plan, and
any MIP run in a child process (``in_child``).

A Pyomo model's run is made through Pyomo's persistent HiGHS interface (``pyomo.contrib.appsi``), the one whose
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
from typing import TypeVar, cast

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
_T = TypeVar("_T")

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
    (``in_child``): a run stopped there counts as out of time without a plan (the caller keeps the
    plan it had), a child that died without a word as an error. HiGHS's own limit leaves what Pyomo
    takes to hand the model over and read it back (TRANSLATION_SECONDS per pair), so that a run that
    keeps its limit ends within ``time_limit`` (measured on the widened core of
    custom_constraints.yaml at a 3 s limit, 16,410 pairs: given the whole 1.06 s left, the run was
    killed 2 s later, and the solve took 4.3 s)."""
    inside = max(time_limit - TRANSLATION_SECONDS * len(model.assign), HIGHS_SHARE * time_limit)
    try:
        outcome = in_child(functools.partial(highs_here, model, options, inside, absolute_gap), time_limit)
    except ChildLost:
        return HighsRun(Termination.ERROR, None, None)
    return HighsRun(Termination.TIME_LIMIT, None, None) if outcome is None else outcome


class ChildLost(Exception):
    """The child process died without a word (killed from outside, out of memory)."""


def in_child(work: Callable[[], _T], time_limit: float) -> _T | None:
    """``work()``, in a forked child process killed a grace after ``time_limit`` (None then).

    HiGHS 1.16 checks its time limit (and its interrupt callbacks) only between steps of a MIP; a
    root heuristic of one step ran 13 s past a 9 s limit on an 11,778-pair core (linesearch
    rounding with conflict analysis; tight 10^5 × 20), and a count MIP of restricted classes 6.3 s
    on a 2.3 s limit. So on Linux a run is made in a child that is killed a grace after the limit
    (KILL_GRACE, less for a short run). Elsewhere (no safe fork), and inside a daemonic process (a
    multiprocessing or Dask worker, which may not have children), ``work`` runs here. An error in
    the child is raised here as a RuntimeError with its text; ChildLost when the child died.
    """
    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return work()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_work_in_child, daemon=True, args=(sender, os.getpid(), work))
    _prctl()  # looked up here, never first in the child: a dlopen there may wait on a lock another thread held
    try:
        try:
            child.start()
        finally:
            sender.close()
        if not receiver.poll(time_limit + min(KILL_GRACE, GRACE_FLOOR + GRACE_SHARE * time_limit)):
            return None
        outcome = receiver.recv()
    except EOFError:
        raise ChildLost("the child process died without an answer") from None
    finally:  # also on Ctrl-C or SIGTERM, even one that comes while the child starts
        if child.pid is not None:  # (a stop inside start() leaves no handle: the child dies with this process)
            child.kill()
            child.join()
        receiver.close()
    if isinstance(outcome, _Failure):
        raise RuntimeError(f"HiGHS failed: {outcome.text}")
    return cast(_T, outcome)


@dataclass(frozen=True)
class _Failure:
    """An error in the child, as its text."""

    text: str


def _work_in_child(sender: Connection, parent: int, work: Callable[[], object]) -> None:
    """The forked child's side of ``in_child``: what ``work`` returns, or its error's text, sent
    back. It dies with its parent (``die_with_parent``)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's handlers are the parent's: a child stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # quietly, when its parent (or the kernel) ends it
    die_with_parent(parent)
    try:
        sender.send(work())
    except Exception as error:  # noqa: BLE001  # any failure is reported to the parent, which raises it
        sender.send(_Failure(f"{type(error).__name__}: {error}"))
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

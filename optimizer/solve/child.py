"""Work kept to its time limit in a forked child process, for solver steps that do not look at the clock.

HiGHS 1.16 checks its time limit (and its interrupt callbacks) only between steps of a MIP; a root
heuristic of one step ran 13 s past a 9 s limit on an 11,778-pair core (linesearch rounding with
conflict analysis; tight 10^5 × 20), and a count MIP of restricted classes 6.3 s past a 2.3 s
limit. So on Linux such a run is made in a child process that is killed a grace after its limit.
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

# A child still going this long after its limit is stopped: KILL_GRACE s, or, for a short run,
# GRACE_FLOOR s + GRACE_SHARE of its limit.
KILL_GRACE, GRACE_FLOOR, GRACE_SHARE = 1.0, 0.25, 0.1
# What the child itself takes besides the solver's run (the fork, about 15 ms in processes of 100 MB
# and 1.6 GB alike, building the model, sending the answer back): a solver in a child gets its
# limit less this, so that a run that keeps its limit is not killed before it answers.
CHILD_SECONDS = 0.1
INSIDE_SHARE = 0.25  # a solver in a child gets at least this share of the limit, whatever the overhead
POLL_MOST = 10**6  # s a single wait may last (Connection.poll overflows from about 2.1e6 s)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
_T = TypeVar("_T")


class ChildLost(Exception):
    """The child process died without a word (killed from outside, out of memory)."""


class ChildFailed(Exception):
    """The work raised an error in the child; its type and message are in the text."""


def grace(time_limit: float) -> float:
    """How long after ``time_limit`` a child still running is stopped."""
    return min(KILL_GRACE, GRACE_FLOOR + GRACE_SHARE * time_limit)


def limit_inside(time_limit: float, overhead: float = 0.0) -> float:
    """The limit a solver run in a child gets: ``time_limit`` less the ``overhead`` around its run
    (at least CHILD_SECONDS), never below INSIDE_SHARE of it, so that a run that keeps its own limit
    answers before the kill."""
    return max(time_limit - max(overhead, CHILD_SECONDS), INSIDE_SHARE * time_limit)


def in_child(work: Callable[[], _T], time_limit: float) -> tuple[bool, _T | None]:
    """(True, ``work()``), run in a forked child process; (False, None) when the child was still
    running a grace after ``time_limit`` and was killed.

    On other systems than Linux (no safe fork), inside a daemonic process (a multiprocessing or Dask
    worker, which may not have children), and where the fork fails (no memory for it), ``work``
    runs here. An error in the child is raised here as ChildFailed with its text; ChildLost when the
    child died. The child dies with this process (``die_with_parent``).
    """
    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return True, work()
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_work_in_child, daemon=True, args=(sender, os.getpid(), work))
    _prctl()  # looked up here, never first in the child: a dlopen there may wait on a lock another thread held
    try:
        try:
            child.start()
        except OSError:  # no fork (ENOMEM, EAGAIN): the work runs here, unguarded
            return True, work()
        finally:
            sender.close()
        if not _answered(receiver, time_limit + grace(time_limit)):
            return False, None
        outcome = receiver.recv()
    except EOFError:
        raise ChildLost("the child process died without an answer") from None
    finally:  # also on Ctrl-C or SIGTERM, even one that comes while the child starts
        if child.pid is not None:  # (a stop inside start() leaves no handle: the child dies with this process)
            child.kill()
            child.join()
        receiver.close()
    if isinstance(outcome, _Failure):
        raise ChildFailed(outcome.text)
    return True, cast(_T, outcome)


def _answered(receiver: Connection, seconds: float) -> bool:
    """Whether ``receiver`` has something to read (or its sender closed) within ``seconds``."""
    while seconds > POLL_MOST:
        if receiver.poll(POLL_MOST):
            return True
        seconds -= POLL_MOST
    return receiver.poll(seconds)


@dataclass(frozen=True)
class _Failure:
    """An error in the child, as its text."""

    text: str


def _work_in_child(sender: Connection, parent: int, work: Callable[[], object]) -> None:
    """The forked child's side of ``in_child``: what ``work`` returns, or its error's text, sent back."""
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

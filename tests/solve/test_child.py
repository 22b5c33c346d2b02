"""optimizer/solve/child.py: work in a forked child process, kept to its limit, its answer, error or
death reported, and the child ended with its parent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from optimizer.solve import child
from optimizer.solve.child import ChildFailed, ChildLost, in_child


def test_work_in_a_child_returns_its_value_or_nothing_a_grace_after_its_limit():
    answered, value = in_child(lambda: np.arange(5), 5.0)
    assert answered and np.array_equal(value, np.arange(5))
    assert in_child(lambda: None, 5.0) == (True, None)  # None is an answer, not a timeout
    started = time.perf_counter()
    assert in_child(lambda: time.sleep(30), 0.3) == (False, None)
    assert time.perf_counter() - started < 0.3 + child.grace(0.3) + 0.5


def test_work_in_a_child_that_fails_or_dies_says_so():
    def failing() -> None:
        raise ValueError("no basis")

    with pytest.raises(ChildFailed, match="ValueError: no basis"):
        in_child(failing, 5.0)
    with pytest.raises(ChildLost):
        in_child(lambda: os._exit(3), 5.0)


def test_a_solver_in_a_child_gets_its_limit_less_the_overhead_and_never_below_a_share_of_it():
    assert child.limit_inside(10.0) == pytest.approx(10.0 - child.CHILD_SECONDS)  # the fork, at least
    assert child.limit_inside(10.0, 3.0) == pytest.approx(7.0)
    assert child.limit_inside(0.1, 3.0) == pytest.approx(child.INSIDE_SHARE * 0.1)


def test_a_limit_beyond_what_one_wait_takes_is_waited_in_parts(monkeypatch):
    monkeypatch.setattr(child, "POLL_MOST", 0.2)  # Connection.poll overflows from about 2.1e6 s
    assert in_child(lambda: time.sleep(0.5) or 7, 10**7) == (True, 7)


def test_without_a_fork_the_work_runs_here(monkeypatch):
    def no_fork(self: object) -> None:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr("multiprocessing.process.BaseProcess.start", no_fork)
    assert in_child(os.getpid, 5.0) == (True, os.getpid())


CHILD_OF_A_RUN = """
import multiprocessing, os, sys, time
from optimizer.solve.child import die_with_parent

def child(parent, marker):
    die_with_parent(parent)
    open(marker, "w").write(str(os.getpid()))
    time.sleep(60)

context = multiprocessing.get_context("fork")
context.Process(target=child, args=(os.getpid(), sys.argv[1]), daemon=True).start()
time.sleep(60)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its entry waits to be reaped


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG and the forked child are Linux's only")
def test_a_child_ends_with_its_parent_killed_outright(tmp_path: Path):
    """SIGKILL runs no cleanup in the parent: the kernel ends the child (PR_SET_PDEATHSIG), which
    would otherwise go on computing and holding the output folder's lock."""
    marker = tmp_path / "child"
    parent = subprocess.Popen([sys.executable, "-c", CHILD_OF_A_RUN, str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(marker.read_text())
        assert _running(pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)

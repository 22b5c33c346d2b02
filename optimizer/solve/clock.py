"""One clock per solve, read by every step, so that the whole solve keeps its time limit.

Every HiGHS call gets the time that is really left. A Highs object counts run time cumulatively
over all its runs (highspy 1.16: with a 1 s limit and 0.36 s runs, a third run stops at 1.0 s in
all and every later run at once), so its limit is set on that clock: its run time so far plus
what this solve has left (``highs_time_limit``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

LEAST_STEP = 0.05  # s: the least a step is given, so that a last step can still report what it has


@dataclass(frozen=True)
class Clock:
    """The start of a solve (``time.perf_counter``), its limit in seconds, and the CPU seconds
    this process had used by then (``cpu_seconds``; None: not taken)."""

    started: float
    limit: float
    cpu: float | None = None

    @classmethod
    def start(cls, limit: float) -> Clock:
        return cls(time.perf_counter(), limit, cpu_seconds())

    def cpu_used(self) -> float | None:
        """CPU seconds this process (and its ended children) used since the start, if taken."""
        return None if self.cpu is None else cpu_seconds() - self.cpu

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def remaining(self) -> float:
        """Seconds left before the limit (0 once it has passed)."""
        return max(0.0, self.limit - self.elapsed())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def reserving(self, seconds: float) -> Clock:
        """The same clock with ``seconds`` less: the limit of the steps a last one must follow."""
        return Clock(self.started, max(0.0, self.limit - seconds), self.cpu)

    def allow(self, most: float | None = None) -> float:
        """Seconds the next step may take: what is left (at most ``most``), and at least LEAST_STEP."""
        left = self.remaining() if most is None else min(most, self.remaining())
        return max(LEAST_STEP, left)


def highs_time_limit(highs: Any, seconds: float) -> None:
    """Let ``highs`` run ``seconds`` more from now, on its cumulative run clock."""
    highs.setOptionValue("time_limit", float(highs.getRunTime()) + max(LEAST_STEP, float(seconds)))


def cpu_seconds() -> float:
    """CPU seconds of this process and its ended children (a core's HiGHS runs in a forked child)."""
    if sys.platform == "win32":  # no fork there: the run is this process's
        return time.process_time()
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

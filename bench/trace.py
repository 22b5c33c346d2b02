"""Where a solve spends its time: the solver on one bench instance, printing each stage as it starts.

    python bench/trace.py 10000000 integer 120 [20]  # customers, kind (bench/instances.py KINDS), limit in s, campaigns

Prints ``seconds stage`` whenever the stage the solver reports changes (sample, screen, balance,
pass, fixed, gather, plan), then the result; the gaps between lines are each step's time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.instances import generate  # noqa: E402
from optimizer.solve.options import SolverOptions  # noqa: E402
from optimizer.solve.solver import solve  # noqa: E402


class Trace:
    """Prints each stage as it starts and each phase's plan and bound (solve.partitions.Progress)."""

    def __init__(self, started: float) -> None:
        self.started, self.stage = started, ""

    def __call__(self, stage: str, done: int, customers: int) -> None:
        if stage != self.stage:
            print(f"{time.perf_counter() - self.started:8.2f} {stage}", flush=True)
            self.stage = stage

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        print(f"{time.perf_counter() - self.started:8.2f}   {phase}: plan {objective}, bound {bound}", flush=True)


def main(customers: int, kind: str, limit: float, campaigns: int = 20, seed: int = 2026) -> None:
    priced = generate(customers, campaigns, seed, kind)
    started = time.perf_counter()
    result = solve(priced, SolverOptions(time_limit_s=limit), Trace(started))
    print(f"{time.perf_counter() - started:8.2f} end: {result.termination}, objective {result.objective}, "
          f"bound {result.bound}, method {result.method}")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), *map(int, sys.argv[4:5]))

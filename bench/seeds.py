"""How often each hard kind is proven at 100,000 × 10 over several instance seeds, not the one the
main table draws: the decomposition's search is randomised (seeded) and its stops depend on the
instance, so one seed can look better or worse than the kind is.

    python bench/seeds.py --out docs/benchmarks.md      # about 15 minutes; `make bench-docs` runs it

Each (kind, seed) runs in its own single-threaded child (bench/run.py's ``run_child``) under
LIMIT_S. A run "ends early" when it stops unproven (gap above 1e-6) with more than EARLY_S of its
limit left: the decomposition gave up (two widenings in a row moved neither plan nor bound)
rather than ran out of time. Writes a marked section of the markdown file (replaced on a rerun).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from report import write_section
from run import DECOMPOSE, Job, Measurement, run_child

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("<!-- seeds -->", "<!-- /seeds -->")
KINDS = ("expected", "tight", "custom", "variants")
SEEDS = (2026, 1, 2, 3, 4)
LIMIT_S = 60.0
EARLY_S = 5.0
GAP = 1e-6


def proven(m: Measurement) -> bool:
    return m.termination == "optimal" and m.gap is not None and m.gap <= GAP


def row(kind: str, runs: list[Measurement]) -> str:
    """One kind's line: proven count, early ends, median and worst wall, worst gap, each run's time."""
    early = sum(not proven(m) and m.wall_s < m.time_limit - EARLY_S for m in runs)
    gaps = [m.gap for m in runs if m.gap is not None]
    each = ", ".join(f"{m.wall_s:.1f}{'' if proven(m) else '*'}" for m in runs)
    worst = f"{max(gaps):.1e}" if gaps else "—"
    return (f"| {kind} | {sum(map(proven, runs))} of {len(runs)} | {early} | "
            f"{statistics.median(m.wall_s for m in runs):.1f} s | {max(m.wall_s for m in runs):.1f} s | {worst} | "
            f"{each} |")


def commit() -> str:
    """The checked-out commit of the tree this runs from ('unknown' outside a git clone)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def section(results: dict[str, list[Measurement]]) -> str:
    lines = [MARKERS[0], "", f"## Seeds ({datetime.now(UTC):%Y-%m-%d}, `python bench/seeds.py`, commit {commit()})",
             "", f"100,000 × 10 of each kind on instance seeds {', '.join(map(str, SEEDS))}, {LIMIT_S:g} s limit, "
             f"mip_gap {GAP:g}. *Early* counts runs that stopped unproven with more than {EARLY_S:g} s of the "
             "limit left. Times in seconds, * marks a run not proven.", "",
             "| kind | proven | early | median | worst | worst gap | each seed |", "|---|---|---|---|---|---|---|"]
    lines += [row(kind, runs) for kind, runs in results.items()]
    return "\n".join([*lines, "", MARKERS[1]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results = {kind: [run_child(Job(DECOMPOSE, 100_000, 10, LIMIT_S, kind), seed, LIMIT_S) for seed in SEEDS]
               for kind in KINDS}
    block = section(results)
    write_section(args.out, MARKERS, block)
    print(block)


if __name__ == "__main__":
    main()

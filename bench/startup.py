"""How long the commands that only read or check take to start: the median of five runs each of
`cvo --help`, `cvo validate` and `cvo history`, in fresh processes, written into a marked section
of a markdown file (docs/benchmarks.md by default; `make bench-docs` runs it after bench/run.py).

    python bench/startup.py --out docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from report import write_section  # bench/ is on sys.path: Python puts the script's directory there

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "weekly.yaml"
MARKERS = ("<!-- startup -->", "<!-- /startup -->")
RUNS = 5
GOAL_S = 0.5
BASELINES = (("python -c pass", "pass"), ("python -c 'import pandas'", "import pandas"))


def cvo(*args: str) -> list[str]:
    """The ``cvo`` command of this environment, as a user runs it."""
    return [str(Path(sys.executable).parent / "cvo"), *args]


def median_seconds(command: list[str], runs: int = RUNS) -> float:
    """The median wall time of ``runs`` fresh runs of ``command`` (its exit status is not checked)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def history_file(folder: Path) -> Path:
    """A contact history with one committed run of the weekly scenario."""
    out, history = folder / "weekly", folder / "history.duckdb"
    for command in (cvo("optimize", str(SCENARIO), "--out", str(out)),
                    cvo("commit", str(out), "--history", str(history))):
        subprocess.run(command, capture_output=True, cwd=ROOT, check=True)
    return history


def section() -> str:
    with tempfile.TemporaryDirectory() as folder:
        history = history_file(Path(folder))
        rows = [(name, median_seconds(command)) for name, command in (
            ("cvo --help", cvo("--help")),
            ("cvo validate scenarios/weekly.yaml", cvo("validate", str(SCENARIO))),
            ("cvo history HISTORY (one run)", cvo("history", str(history))),
        )]
        baselines = [(name, median_seconds([sys.executable, "-c", code])) for name, code in BASELINES]
    lines = [MARKERS[0], "", f"## Start-up ({datetime.now(UTC):%Y-%m-%d}, `python bench/startup.py`)", "",
             f"Median of {RUNS} fresh runs on {platform.node()} ({os.cpu_count()} cores, Python "
             f"{platform.python_version()}); the goal is under {GOAL_S:g} s each. The baselines below, measured "
             "in the same run, are what no command can go under: the interpreter alone, and importing pandas, "
             "which `cvo validate` needs to read the data.", "",
             "| command | median | goal |", "|---|---|---|"]
    lines += [f"| `{name}` | {seconds:.2f} s | {'met' if seconds < GOAL_S else 'not met'} |" for name, seconds in rows]
    lines += [f"| baseline: `{name}` | {seconds:.2f} s | |" for name, seconds in baselines]
    return "\n".join([*lines, "", MARKERS[1]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    block = section()
    write_section(args.out, MARKERS, block)
    print(block)


if __name__ == "__main__":
    main()

"""Benchmark: cvo's solver on every kind of instance (bench/instances.py) at 10^5–10^7 customers,
against the full Pyomo + HiGHS MIP and one pass over the same scores.

    python bench/run.py --out docs/benchmarks.md   (make bench-docs: about 35 minutes, then startup and seeds)

Every job (a solver on one seeded instance) runs in its own single-threaded child process, so
its peak memory is its own; figures from one run of this command are comparable, and each
job's time is also given as a multiple of one fused pass over the same score matrix (the
compiled pass at zero prices: best, runner-up and row sums of every customer) and of one numpy
row argmax, both timed in the same child just before: the machine is shared and those ratios are
what carries across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from optimizer.solve.exact import solve_exact, solve_full_model
from optimizer.solve.lagrangian import evaluate_plan, price_out
from optimizer.solve.options import Method, SolverOptions
from optimizer.solve.problem import Sense
from optimizer.solve.solver import solve

# isort: split
# bench's own modules, found because Python puts this script's directory (bench/) on sys.path.
from instances import KINDS, MIN_CAMPAIGNS, as_problem, digest, generate
from report import render

MARKER = "CVO-BENCH-RESULT "
DECOMPOSE, EXACT, FULL_MODEL = "decompose", "exact", "full_model"
SIZES = {"wide": ("100000x50", "1000000x50", "10000000x50")}
FULL_MODEL_LIMIT = 300
DEFAULT_JOBS = ",".join(
    [f"decompose:{size}:{kind}" for kind in KINDS
     for size in SIZES.get(kind, ("100000x10", "1000000x20", "10000000x20"))]
    + [f"full_model@{FULL_MODEL_LIMIT}:100000x10:{kind}" for kind in KINDS if kind != "wide"]
    + ["decompose@1:1000000x20:planned", "decompose@1:1000000x20:custom", "decompose@1:1000000x20:variants"]
    + [f"decompose@5:10000000x20:{kind}" for kind in ("tight", "custom", "variants")])


@dataclass(frozen=True)
class Job:
    """A solver on one instance: METHOD[@LIMIT]:NxK[:KIND]; LIMIT (s) overrides --time-limit, KIND is
    one of bench/instances.py's KINDS (default planned). ``decompose`` is cvo's solver as the CLI runs
    it at scale (optimizer/solve/solver.py: classes, restricted classes, perturbation or the decomposition)."""

    method: str
    customers: int
    campaigns: int
    time_limit: float | None = None
    kind: str = "planned"

    @property
    def label(self) -> str:
        limit = f"@{self.time_limit:g}" if self.time_limit is not None else ""
        return f"{self.method}{limit}:{self.customers}x{self.campaigns}:{self.kind}"


@dataclass
class Measurement:
    """One job's figures: seconds, MB. ``peak_rss_mb`` is the whole child's peak (the instance's
    generation and the timing passes included), ``solve_peak_mb`` the peak while the solver ran
    (the kernel's high-water mark reset at its start; interpreter, libraries and instance
    included; 0 where it could not be reset), ``solve_start_mb`` the resident size it started from.
    HiGHS's forked children are in neither."""

    method: str
    time_limit: float
    kind: str
    customers: int
    campaigns: int
    digest: str
    matrix_mb: float
    floor_s: float
    fused_s: float
    passes: int
    solver: str
    convert_s: float
    wall_s: float
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    violations: int
    master_pairs: int
    core_pairs: int | None
    rss_before_mb: float
    peak_rss_mb: float
    load: tuple[float, float]
    error: str = ""
    solve_start_mb: float = 0.0
    solve_peak_mb: float = 0.0


def measure(job: Job, seed: int, time_limit: float) -> Measurement:
    """Generate the instance and run one solver on it, in this process."""
    time_limit = job.time_limit if job.time_limit is not None else time_limit
    priced = generate(job.customers, job.campaigns, seed, job.kind)
    load_before = os.getloadavg()[0]
    solve(generate(1_000, job.campaigns, seed + 1), SolverOptions())  # loads the compiled passes from their cache
    floor = _best_time(lambda: np.argmax(priced.value, axis=1), repeats=3)
    fused = _best_time(lambda: price_out(priced, np.zeros(len(priced.rows))), repeats=3)
    options = SolverOptions(time_limit_s=time_limit, mip_gap=1e-6, method=Method.DECOMPOSE)
    passes = Passes()
    convert = 0.0
    rss_before = _peak_rss_mb()
    restarted = _restart_peak()  # from here the high-water mark is the solve's own
    solve_start = _status_mb("VmRSS")
    if job.method == DECOMPOSE:
        started = time.perf_counter()
        result = solve(priced, options, passes)
    else:
        started = time.perf_counter()
        subject = as_problem(priced)
        convert = time.perf_counter() - started
        started = time.perf_counter()
        result = (solve_exact if job.method == EXACT else solve_full_model)(subject, options)
    wall = time.perf_counter() - started
    solve_peak = _status_mb("VmHWM") if restarted else 0.0  # before the checks below allocate
    return Measurement(
        method=job.method, time_limit=time_limit, kind=job.kind, customers=job.customers, campaigns=job.campaigns,
        digest=digest(priced), matrix_mb=priced.value.nbytes / 2**20, floor_s=floor, fused_s=fused,
        passes=passes.count, solver=result.method, convert_s=convert, wall_s=wall,
        termination=str(result.termination), objective=_float(result.objective), bound=_float(result.bound),
        gap=_float(result.gap), violations=_violations(priced, result.choice),
        master_pairs=int(result.candidate_pairs),
        core_pairs=None if result.core_pairs is None else int(result.core_pairs),
        rss_before_mb=rss_before, peak_rss_mb=max(rss_before, _peak_rss_mb()), load=(load_before, os.getloadavg()[0]),
        solve_start_mb=solve_start, solve_peak_mb=solve_peak,
    )


class Passes:
    """A progress callback that counts the passes over every customer (stage, done, customers)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, stage: str, done: int, customers: int) -> None:
        if done == customers and stage not in ("sample", "gather"):
            self.count += 1

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        """Phases' plans and bounds are not counted."""


def _float(value) -> float | None:
    return None if value is None else float(value)


def _violations(priced, choice: np.ndarray | None) -> int:
    """Rows the plan breaks (checked on the instance's own arrays); -1 when there is no plan."""
    if choice is None:
        return -1
    _, usage = evaluate_plan(priced, choice)
    broken = 0
    for row, lhs in zip(priced.rows, usage, strict=True):
        slack = 1e-6 * max(1.0, abs(row.rhs))
        broken += (row.sense is Sense.LE and lhs > row.rhs + slack) or (row.sense is Sense.GE and lhs < row.rhs - slack)
    chosen = np.flatnonzero(choice >= 0)
    broken += int((~np.isfinite(priced.value[chosen, choice[chosen]])).sum())
    return int(broken)


def _best_time(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _restart_peak() -> bool:
    """Reset this process's resident high-water mark (Linux: /proc/self/clear_refs, "5", which
    ru_maxrss then follows for this thread); False where that cannot be done, and no solve's peak
    is recorded (0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_mb(field: str) -> float:
    """A size from /proc/self/status (VmRSS: resident now, VmHWM: its high-water mark) in MB; 0 where there is none."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return 0.0
    sizes = dict(line.split(":", 1) for line in lines if ":" in line)
    return float(sizes[field].split()[0]) / 1024.0 if field in sizes else 0.0


def run_child(job: Job, seed: int, time_limit: float) -> Measurement:
    """``measure`` in a fresh single-threaded interpreter."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", job.label, "--seed", str(seed),
               "--time-limit", str(time_limit)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}
    print(f"{job.label}: running ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=4 * time_limit + 1800)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            measured = Measurement(**json.loads(line.removeprefix(MARKER)))
            print(f"{job.label}: {measured.termination} in {measured.wall_s:.1f} s {line}", file=sys.stderr,
                  flush=True)
            return measured
    reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
    print(f"{job.label}: failed: {reason}", file=sys.stderr, flush=True)
    return Measurement(
        method=job.method, time_limit=job.time_limit or time_limit, kind=job.kind, customers=job.customers,
        campaigns=job.campaigns, digest="", matrix_mb=0.0, floor_s=0.0, fused_s=0.0, passes=0, solver="",
        convert_s=0.0, wall_s=0.0,
        termination="failed", objective=None, bound=None, gap=None, violations=-1, master_pairs=0, core_pairs=None,
        rss_before_mb=0.0, peak_rss_mb=0.0, load=(0.0, 0.0), error=f"exit code {done.returncode}: {reason}",
    )


def _highs_version() -> str:
    """HiGHS's version, without its banner on stdout (the first Highs object of a process prints one)."""
    import highspy

    from optimizer.solve.relaxation import quiet_highs_banner

    quiet_highs_banner()
    return str(highspy.Highs().version())


def machine(measured: datetime | None = None) -> dict[str, str]:
    """This machine, and when the figures were measured (default now)."""
    import numba
    import pyomo

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": (measured or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu, "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "RAM": f"{memory:.1f} GiB", "OS": platform.platform(), "Python": platform.python_version(),
        "HiGHS (highspy)": _highs_version(), "Pyomo": pyomo.__version__, "numba": numba.__version__,
        "numpy": np.__version__,
    }


def _job(text: str) -> Job:
    try:
        method, size, *rest = text.split(":")
        kind = rest[0] if rest else "planned"
        method, _, limit = method.partition("@")
        n, k = (int(part) for part in size.lower().split("x"))
        time_limit = float(limit) if limit else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"The job '{text}' is not METHOD:NxK, e.g. decompose:100000x10") from None
    if method not in (DECOMPOSE, EXACT, FULL_MODEL) or n < 1 or k < MIN_CAMPAIGNS or kind not in KINDS:
        raise argparse.ArgumentTypeError(
            f"The job '{text}' needs a method among {DECOMPOSE}, {EXACT}, {FULL_MODEL}, at least one customer, "
            f"{MIN_CAMPAIGNS} campaigns and a kind among {', '.join(KINDS)}; e.g. decompose:100000x10:ties")
    return Job(method, n, k, time_limit, kind)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="markdown file to write (printed to stdout if omitted)")
    parser.add_argument("--jobs", default=DEFAULT_JOBS, help=f"comma-separated METHOD:NxK (default {DEFAULT_JOBS})")
    parser.add_argument("--time-limit", type=float, default=600.0, help="time limit per job, s")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--from-log", type=Path, help="render the page from the stderr log of an earlier run "
                        "(its CVO-BENCH-RESULT lines) instead of running the jobs again")
    parser.add_argument("--child", type=_job, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.jobs = [_job(part) for part in args.jobs.split(",") if part.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(MARKER + json.dumps(asdict(measure(args.child, args.seed, args.time_limit))), flush=True)
        return 0
    if args.from_log:
        measurements = [Measurement(**json.loads(line.split(MARKER, 1)[1]))
                        for line in args.from_log.read_text().splitlines() if MARKER in line]
        command = f"python bench/run.py --out {args.out}  (rendered from its log with --from-log)"
        measured = datetime.fromtimestamp(args.from_log.stat().st_mtime, UTC)  # when the last job ended
    else:
        measurements = [run_child(job, args.seed, args.time_limit) for job in args.jobs]
        command = shlex.join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
        measured = None
    text = render(measurements, machine(measured), command, args.time_limit, args.seed)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0 if all(not m.error for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the exact solver against the full model on seeded random Problems; write docs/benchmarks.md.

    python bench/run.py --out docs/benchmarks.md [--sizes 10000x10,100000x10] [--time-limit 300]
                        [--full-model-sizes 10000x10]

Per size, one child process (OMP_NUM_THREADS=1) runs ``solve_exact`` and, for the sizes in
``--full-model-sizes``, a second child runs the reference ``solve_full_model`` on the same
seeded Problem with the same options, so each peak RSS is its own. Timings on a shared machine
drift, so each child first times one numpy pass over the (n, k) value matrix (masked row
argmax, the greedy plan without constraints) and the report also gives times as multiples of
it. The exact child also times the LP relaxation that ``solve_exact`` starts from, as a
separate call with the same arguments. The Problems are described in bench/instances.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from unittest import mock

import numpy as np
from pyomo.contrib.solver.common.factory import SolverFactory

from optimizer.exact import solve_exact, solve_full_model
from optimizer.problem import Problem
from optimizer.relaxation import solve_relaxation
from optimizer.scenario import SolverOptions

# isort: split
# bench's own modules, found because Python puts this script's directory (bench/) on sys.path.
from instances import MIN_CAMPAIGNS, generate_problem, problem_digest
from measurements import EXACT, FULL_MODEL, Failure, HighsCalls, Measurement, SizeOutcome
from report import render

RESULT_MARKER = "CVO-BENCH-RESULT "
DEFAULT_SIZES = "10000x10,100000x10"
DEFAULT_FULL_MODEL_SIZES = "10000x10"
SOLVERS = {EXACT: solve_exact, FULL_MODEL: solve_full_model}


def measure(method: str, n: int, k: int, seed: int, time_limit: float) -> Measurement:
    """Generate one Problem and measure the baseline(s) and one solver on it, in this process."""
    problem = generate_problem(n, k, np.random.default_rng(seed))
    load_before = os.getloadavg()[0]
    numpy_pass = _best_time(lambda: _greedy_plan(problem), repeats=7)
    relaxation = _time_relaxation(problem, time_limit) if method == EXACT else {}
    rss_before = _peak_rss_mb()
    with observing_highs() as highs:
        result = SOLVERS[method](problem, SolverOptions(time_limit_s=time_limit, mip_gap=1e-6))
    return Measurement(
        method=method, customers=n, campaigns=k, candidate_pairs=result.candidate_pairs,
        problem_digest=problem_digest(problem), source_digest=source_digest(), numpy_pass_s=numpy_pass,
        **relaxation, build_s=result.build_seconds, solve_s=result.solve_seconds,
        termination=str(result.termination), objective=result.objective, bound=result.bound, gap=result.gap,
        core_pairs=result.core_pairs, highs=highs,
        violations=len(problem.violations(result.choice)) if result.choice is not None else -1,
        rss_before_mb=rss_before, peak_rss_mb=_peak_rss_mb(), load=(load_before, os.getloadavg()[0]),
    )


def _time_relaxation(problem: Problem, time_limit: float) -> dict:
    """The LP relaxation over all candidate pairs, called as solve_exact calls it first."""
    customers, campaigns = problem.candidate_pairs()
    started = time.perf_counter()
    relaxation = solve_relaxation(problem, customers, campaigns, time_limit=time_limit)
    seconds = time.perf_counter() - started
    binding = [] if relaxation.shadow_prices is None else [
        row.name for row, price in zip(problem.rows, relaxation.shadow_prices) if abs(price) > 1e-9
    ]
    return {"relaxation_s": seconds, "relaxation_bound": relaxation.bound, "binding_rows": binding}


@contextmanager
def observing_highs() -> Iterator[HighsCalls | None]:
    """Every Pyomo → HiGHS solve in this process, seen at Pyomo's public ``solve`` of its HiGHS solver.

    Benchmark-only instrumentation of a third-party public method, so the solver's own private
    functions stay free to change. Yields None if Pyomo has no HiGHS solver class; fields that a
    future Pyomo no longer reports are left out (``HighsCalls.complete``), not the case.
    """
    solver_class = type(SolverFactory("highs"))
    original = getattr(solver_class, "solve", None)
    if original is None:
        yield None
        return
    calls = HighsCalls()

    def solve(self, model, **kwargs):
        results = original(self, model, **kwargs)
        _record(calls, results)
        return results

    with mock.patch.object(solver_class, "solve", solve):
        yield calls


def _record(calls: HighsCalls, results) -> None:
    """Add one Pyomo results object: its columns, hand-over and run times, and B&B nodes."""
    columns = re.search(r"has \d+ rows; (\d+) cols", getattr(results, "solver_log", None) or "")
    calls.columns.append(int(columns.group(1)) if columns else None)
    try:
        timer = results.timing_info.timer
        calls.handover_s.append(_timer_total(timer, "set_instance") + _timer_total(timer, "update"))
        calls.run_s.append(_timer_total(timer, "optimize"))
        calls.nodes += max(0, int(results.extra_info.mip_node_count))
    except (AttributeError, KeyError, TypeError, ValueError):
        calls.complete = False


def _timer_total(timer, name: str) -> float:
    try:
        return float(timer.get_total_time(name))
    except KeyError:  # the timer has no such entry when that step did not run
        return 0.0


def source_digest() -> str:
    """Short sha256 of the optimizer modules this process imported: which solver was measured."""
    files = sorted(Path(module.__file__) for name, module in sys.modules.items()
                   if name.split(".")[0] == "optimizer" and getattr(module, "__file__", None))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _greedy_plan(problem: Problem) -> np.ndarray:
    """The baseline pass: each customer's best eligible campaign if its value is positive."""
    masked = np.where(problem.eligible, problem.value, -np.inf)
    best = masked.argmax(axis=1)
    return np.where(masked[np.arange(len(best)), best] > 0, best, -1)


def _best_time(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def run_child(method: str, n: int, k: int, seed: int, time_limit: float) -> Measurement | Failure:
    """``measure`` in a fresh single-threaded interpreter, so its peak memory is its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", f"{n}x{k}", "--method", method,
               "--seed", str(seed), "--time-limit", str(time_limit)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    timeout = 4 * time_limit + 1800
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Failure(method, n, k, f"no result after {timeout:.0f} s")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return Measurement.from_json(json.loads(line.removeprefix(RESULT_MARKER)))
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Failure(method, n, k, f"exit code {done.returncode}: {last}")


def run_size(n: int, k: int, seed: int, time_limit: float, full_model: bool) -> SizeOutcome:
    """The exact child, then (if asked) the full-model child, on the same seeded Problem."""
    outcomes = {}
    for method in (EXACT, FULL_MODEL) if full_model else (EXACT,):
        print(f"{n}x{k} {method}: running ...", file=sys.stderr, flush=True)
        outcomes[method] = run_child(method, n, k, seed, time_limit)
        print(f"{n}x{k} {method}: {_summary(outcomes[method])}", file=sys.stderr, flush=True)
    return SizeOutcome(n, k, outcomes[EXACT], outcomes.get(FULL_MODEL))


def _summary(outcome: Measurement | Failure) -> str:
    """One progress line; a measurement in full (JSON), so a log can be re-rendered."""
    if isinstance(outcome, Failure):
        return f"failed: {outcome.reason}"
    return f"{outcome.termination} in {outcome.total_s:.1f} s {RESULT_MARKER}{json.dumps(asdict(outcome))}"


def _size(text: str) -> tuple[int, int]:
    try:
        n, k = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"The size '{text}' is not customers×campaigns; write it as NxK, e.g. 10000x10") from None
    if n < 1 or k < MIN_CAMPAIGNS:
        raise argparse.ArgumentTypeError(
            f"The size '{text}' needs at least 1 customer and {MIN_CAMPAIGNS} campaigns "
            f"(the coupling rows use the first {MIN_CAMPAIGNS}); e.g. 10000x10")
    return n, k


def _sizes(text: str) -> list[tuple[int, int]]:
    return [_size(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="markdown file to write (printed to stdout if omitted)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated NxK (default {DEFAULT_SIZES})")
    parser.add_argument("--full-model-sizes", default=DEFAULT_FULL_MODEL_SIZES,
                        help="sizes (among --sizes) that also run the reference solve_full_model; '' for none "
                             f"(default {DEFAULT_FULL_MODEL_SIZES}: at 100000x10 it cannot finish in any "
                             "reasonable limit)")
    parser.add_argument("--time-limit", type=float, default=300.0, help="time limit per solver and size, s")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--child", type=_size, help=argparse.SUPPRESS)
    parser.add_argument("--method", choices=sorted(SOLVERS), default=EXACT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.sizes, args.full_model_sizes = _sizes(args.sizes), _sizes(args.full_model_sizes)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    if extra := [f"{n}x{k}" for n, k in args.full_model_sizes if (n, k) not in args.sizes]:
        parser.error(f"--full-model-sizes {','.join(extra)} is not among --sizes; add it to --sizes or drop it")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        measured = measure(args.method, *args.child, args.seed, args.time_limit)
        print(RESULT_MARKER + json.dumps(asdict(measured)), flush=True)
        return 0
    outcomes = [run_size(n, k, args.seed, args.time_limit, (n, k) in args.full_model_sizes) for n, k in args.sizes]
    command = shlex.join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    text = render(outcomes, command, args.time_limit, args.seed)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0 if all(outcome.complete for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

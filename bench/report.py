"""docs/benchmarks.md from the measurements: the machine, two tables, and what the numbers say.

Every sentence of the findings is computed from the measurements (bench/measurements.py).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path

from measurements import EXACT, FULL_MODEL, Failure, HighsCalls, Measurement, SizeOutcome

METHOD_NAMES = {EXACT: "`solve_exact`", FULL_MODEL: "`solve_full_model`"}


def render(
    outcomes: list[SizeOutcome], command: str, time_limit: float, seed: int, measured_at: dt.datetime | None = None
) -> str:
    """The whole of docs/benchmarks.md (``measured_at`` defaults to now)."""
    now = (measured_at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    measured = [m for outcome in outcomes for m in outcome.measured]
    digests = sorted({m.source_digest for m in measured})
    lines = ["# Benchmarks", "", f"Measured {now} with:", "", "```", command, "```", ""]
    lines += [f"- **{key}**: {value}" for key, value in machine().items()]
    lines += [f"- **optimizer source** (sha256 of the imported modules): {', '.join(digests) or '—'}"]
    lines += ["", SETUP.format(time_limit=time_limit, seed=seed), "", *method_table(outcomes), "",
              *comparison_table(outcomes), "", "## What the numbers say", ""]
    lines += [f"- {sentence}" for sentence in findings(outcomes, time_limit)]
    return "\n".join(lines) + "\n"


SETUP = (
    "Random Problems from `bench/instances.py` (seed {seed}; ~60 % of pairs eligible, ~15 % negative uplift, "
    "10 coupling rows: total budget at 30 % of the positive-value spend, 3 campaign budgets, "
    "2 minimum and 2 maximum audiences, 2 channel capacities). For each size, `solve_exact` ran in one child "
    "process and the reference `solve_full_model` (the whole Pyomo model in one HiGHS call, presolve off) in "
    "another, on the same seeded Problem (same digest), both with `OMP_NUM_THREADS=1`, HiGHS `threads=1` and "
    "`SolverOptions(time_limit_s={time_limit:g}, mip_gap=1e-6)`; each peak RSS is its own child's. "
    "By default the full model runs at 10,000×10 only: at 100,000×10 it cannot finish in any reasonable "
    "limit, so it is left out unless asked for with `--full-model-sizes 10000x10,100000x10`.\n\n"
    "The machine is shared with other jobs, so absolute seconds drift; the `×np` figures divide by one numpy "
    "pass over the (n, k) value matrix (masked row argmax), timed in the same child just before. "
    "*LP relaxation* is the call `solve_exact` starts with (`solve_relaxation` over all candidate pairs), "
    "timed as a separate identical call just before it. *Core pairs* is `SolveResult.core_pairs` (the last "
    "core solved); *HiGHS calls* lists the columns of each model Pyomo handed to HiGHS (a second call means "
    "the core was widened). *Pyomo build* and *solve* are `SolveResult.build_seconds` / `solve_seconds`; "
    "*hand-over* (Pyomo → highspy) and *HiGHS run* are Pyomo's wall-clock timers, read at Pyomo's "
    "`Highs.solve`, summed over the calls (each call's HiGHS run in brackets). "
    "*Gap* is (bound − objective) / |objective|."
)


def method_table(outcomes: list[SizeOutcome]) -> list[str]:
    """One row per size and method."""
    header = ("size (n×k)", "method", "candidate pairs", "core pairs", "HiGHS calls (columns)", "numpy pass",
              "LP relaxation", "Pyomo build", "solve", "of which hand-over", "of which HiGHS run", "termination",
              "objective", "bound", "gap", "peak RSS")
    lines = [_row(header), "|" + "---|" * len(header)]
    for outcome in outcomes:
        lines.append(_row(_method_cells(outcome.label, EXACT, outcome.exact)))
        lines.append(_row(_method_cells(outcome.label, FULL_MODEL, outcome.full_model)))
    return lines


def _method_cells(label: str, method: str, case: Measurement | Failure | None) -> list[str]:
    if case is None:
        return [label, METHOD_NAMES[method], *["—"] * 9, "not run (see `--full-model-sizes`)", *["—"] * 4]
    if isinstance(case, Failure):
        return [label, METHOD_NAMES[method], *["—"] * 9, f"failed: {case.reason}", *["—"] * 4]
    base, split = case.numpy_pass_s, case.split
    return [
        label, METHOD_NAMES[method], f"{case.candidate_pairs:,}",
        "all" if method == FULL_MODEL else _count(case.core_pairs), _columns(case.highs), _short(base),
        "—" if case.relaxation_s is None else _seconds(case.relaxation_s, base),
        _seconds(case.build_s, base), _seconds(case.solve_s, base),
        "—" if split is None else f"{split.total_handover_s:.1f} s", _runs(split),
        case.termination, _number(case.objective), _number(case.bound), _gap(case.gap), f"{case.peak_rss_mb:,.0f} MB",
    ]


def comparison_table(outcomes: list[SizeOutcome]) -> list[str]:
    """One row per size on which both methods reported."""
    header = ("size (n×k)", "`solve_exact` build + solve", "`solve_full_model` build + solve",
              "full model ÷ exact", "objective, full model − exact", "peak RSS, exact / full model")
    lines = [_row(header), "|" + "---|" * len(header)]
    for outcome in outcomes:
        exact, full = outcome.exact, outcome.full_model
        if isinstance(exact, Measurement) and isinstance(full, Measurement):
            lines.append(_row([
                outcome.label, f"{exact.total_s:.1f} s", f"{full.total_s:.1f} s", _ratio(full, exact),
                _difference(full.objective, exact.objective),
                f"{exact.peak_rss_mb:,.0f} MB / {full.peak_rss_mb:,.0f} MB",
            ]))
        else:
            missing = "not run" if full is None else "failed"
            lines.append(_row([outcome.label, *["—"] * 2, f"full model {missing}", *["—"] * 2]))
    return lines


def _ratio(full: Measurement, exact: Measurement) -> str:
    """full ÷ exact; a lower bound when the full model stopped at its limit and exact did not."""
    at_least = full.termination != "optimal" and exact.termination == "optimal"
    return f"{'≥ ' if at_least else ''}{full.total_s / exact.total_s:.1f}×"


def _runs(split: HighsCalls | None) -> str:
    if split is None:
        return "—"
    each = f" ({' + '.join(f'{seconds:.2f}' for seconds in split.run_s)})" if split.calls > 1 else ""
    return f"{split.total_run_s:.1f} s{each}"


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _columns(highs: HighsCalls | None) -> str:
    if highs is None or not highs.calls:
        return "—"
    return f"{highs.calls} ({'; '.join(_count(c) for c in highs.columns)})"


def _seconds(seconds: float, base: float) -> str:
    return f"{seconds:.2f} s ({seconds / base:,.0f}×np)"


def _short(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} µs"


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _gap(gap: float | None) -> str:
    return "—" if gap is None else f"{gap:.2e}"


def _difference(a: float | None, b: float | None) -> str:
    """a - b, absolute and relative to b."""
    return "—" if a is None or b is None else f"{a - b:+,.3f} ({(a - b) / max(1.0, abs(b)):+.1e})"


def machine() -> dict[str, str]:
    """CPU, cores, RAM and the versions that matter for the numbers."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next((int(line.split()[1]) for line in _read_lines("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {
        "CPU": cpu,
        "Cores": f"{os.cpu_count()} logical, {usable_cores()} usable by this process; shared with other jobs",
        "RAM": f"{mem_kib / 1024**2:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "HiGHS (highspy)": _version("highspy"),
        "Pyomo": _version("pyomo"),
        "numpy / scipy": f"{_version('numpy')} / {_version('scipy')}",
    }


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def findings(outcomes: list[SizeOutcome], time_limit: float) -> list[str]:
    """Sentences computed from the measurements: per size, then across sizes and runs."""
    sentences = []
    for outcome in outcomes:
        sentences += [sentence for case in outcome.measured
                      for sentence in _case_findings(outcome.label, case, time_limit)]
        sentences += [f"{outcome.label}, {METHOD_NAMES[case.method]} failed: {case.reason}."
                      for case in (outcome.exact, outcome.full_model) if isinstance(case, Failure)]
        sentences += _comparison(outcome)
    exact = [outcome.exact for outcome in outcomes if isinstance(outcome.exact, Measurement)]
    if len(exact) >= 2:
        sentences.append(_scaling(exact[0], exact[-1], f"{exact[0].customers:,}×{exact[0].campaigns}",
                                  f"{exact[-1].customers:,}×{exact[-1].campaigns}"))
    return sentences + _consistency(outcomes)


def _case_findings(label: str, case: Measurement, time_limit: float) -> list[str]:
    name = f"{label}, {METHOD_NAMES[case.method]}"
    if case.method == EXACT:
        sentences = [f"{name}: {_exact_work(case)}"]
    else:
        sentences = [f"{name}: one HiGHS call on all {case.candidate_pairs:,} candidate pairs, presolve off."]
    sentences[0] += (f" In all {case.total_s:.1f} s (Pyomo build {case.build_s:.2f} s, solve {case.solve_s:.1f} s), "
                     f"{case.total_s / case.numpy_pass_s:,.0f}× the numpy pass")
    sentences[0] += _past_limit(case, time_limit)
    if case.split is not None:
        sentences.append(_time_shares(case))
    return [*sentences, _outcome(case)]


def _past_limit(case: Measurement, time_limit: float) -> str:
    if case.total_s <= 1.01 * time_limit:
        return "."
    text = f", {case.total_s / time_limit - 1:.0%} past its {time_limit:g} s time limit"
    if case.split is not None and max(case.split.run_s) > time_limit:
        text += f": its longest HiGHS run alone took {max(case.split.run_s):.1f} s"
    return text + "."


def _exact_work(case: Measurement) -> str:
    """What solve_exact did: LP relaxation, then each core model HiGHS solved."""
    text = f"{case.candidate_pairs:,} candidate pairs; the LP relaxation it starts from took {case.relaxation_s:.2f} s"
    split = case.split
    if split is not None:
        models = [f"{_count(columns)} columns in {seconds:.2f} s"
                  for columns, seconds in zip(split.columns, split.run_s)]
        text += f"; HiGHS then solved a core model of {models[0]}"
        if len(models) > 1:
            text += f" and, as that did not prove the gap, a widened one of {' and '.join(models[1:])}"
    if case.core_pairs is not None:
        text += (f"; the last core had {case.core_pairs:,} pairs, "
                 f"{case.core_pairs / case.candidate_pairs:.0%} of the candidates")
    return text + "."


def _time_shares(case: Measurement) -> str:
    """Where build + solve went: Pyomo build, hand-over, HiGHS runs, LP relaxation, the rest."""
    split, total = case.split, case.total_s
    parts = {"Pyomo build": case.build_s, "hand-over to highspy": split.total_handover_s,
             "HiGHS runs": split.total_run_s}
    if case.relaxation_s is not None:
        parts["LP relaxation"] = case.relaxation_s
    parts["the rest"] = total - sum(parts.values())
    columns = sum(c or 0 for c in split.columns)
    shares = ", ".join(f"{name} {seconds / total:.0%}" for name, seconds in parts.items())
    per_column = (f"; per column handed over, {case.build_s / columns * 1e6:.0f} µs to build and "
                  f"{split.total_handover_s / columns * 1e6:.0f} µs to hand over" if columns else "")
    return (f"Of its {total:.1f} s: {shares}; HiGHS explored {split.nodes:,} branch-and-bound "
            f"node{'s' if split.nodes != 1 else ''} in all{per_column}.")


def _outcome(case: Measurement) -> str:
    rss = (f"Peak RSS {case.peak_rss_mb:,.0f} MB, {case.peak_rss_mb - case.rss_before_mb:,.0f} MB above the "
           f"{case.rss_before_mb:,.0f} MB reached before the solve.")
    if case.objective is None:
        return f"It ended '{case.termination}' without a plan (bound {_number(case.bound)}). {rss}"
    stop = ("proved optimal within the 1e-6 gap" if case.termination == "optimal"
            else f"stopped '{case.termination}' with gap {_gap(case.gap)} (bound {_number(case.bound)})")
    checked = "it meets every row" if case.violations == 0 else f"it breaks {case.violations} row(s)"
    lp = "" if case.relaxation_bound is None else (
        f" The LP bound, {case.relaxation_bound:,.2f}, is "
        f"{(case.relaxation_bound - case.objective) / abs(case.objective):.2e} above it; rows binding in the LP: "
        f"{', '.join(case.binding_rows) or 'none'}.")
    return f"The plan ({case.objective:,.2f}) was {stop}; {checked}.{lp} {rss}"


def _comparison(outcome: SizeOutcome) -> list[str]:
    exact, full = outcome.exact, outcome.full_model
    if full is None:
        return [f"{outcome.label}: `solve_full_model` was not run (not in `--full-model-sizes`){_not_run(exact)}."]
    if not (isinstance(exact, Measurement) and isinstance(full, Measurement)):
        return []
    sentence = (f"{outcome.label}: `solve_full_model` took {_ratio(full, exact)} the time of `solve_exact` "
                f"({full.total_s:.1f} s against {exact.total_s:.1f} s) and {full.peak_rss_mb / exact.peak_rss_mb:.1f}× "
                f"its peak RSS")
    if full.objective is not None and exact.objective is not None:
        gap = (full.objective - exact.objective) / max(1.0, abs(exact.objective))
        agree = "within" if abs(gap) <= 1e-6 else "outside"
        sentence += (f"; its plan is worth {full.objective - exact.objective:+,.3f} against `solve_exact`'s "
                     f"({gap:+.1e} relative, {agree} the 1e-6 gap)")
    return [sentence + "."]


def _not_run(exact: Measurement | Failure) -> str:
    """What solve_exact's own last core says about the full model's chances at this size."""
    split = exact.split if isinstance(exact, Measurement) else None
    if split is None or not split.columns[-1]:
        return ""
    columns, seconds = split.columns[-1], split.run_s[-1]
    ended = ("proved the gap" if exact.termination == "optimal"
             else f"stopped '{exact.termination}' at gap {_gap(exact.gap)}")
    return (f": it would hand HiGHS all {exact.candidate_pairs:,} candidate pairs, "
            f"{exact.candidate_pairs / columns:.1f}× the {columns:,} columns of `solve_exact`'s last core, "
            f"on which HiGHS ran {seconds:.0f} s and {ended}")


def _scaling(small: Measurement, large: Measurement, small_label: str, large_label: str) -> str:
    def ratio(attribute: str) -> str:
        a, b = getattr(small, attribute), getattr(large, attribute)
        return "—" if not a or b is None else f"×{b / a:.1f}"

    return (f"`solve_exact` from {small_label} to {large_label}: candidate pairs {ratio('candidate_pairs')}, "
            f"numpy pass {ratio('numpy_pass_s')}, LP relaxation {ratio('relaxation_s')}, last core "
            f"{ratio('core_pairs')}, Pyomo build {ratio('build_s')}, solve {ratio('solve_s')}, build + solve "
            f"{ratio('total_s')}, peak RSS {ratio('peak_rss_mb')}.")


def _consistency(outcomes: list[SizeOutcome]) -> list[str]:
    """Same Problem in both children, same solver source in all, and how loaded the machine was."""
    measured = [m for outcome in outcomes for m in outcome.measured]
    sentences = [f"{outcome.label}: the two children generated different Problems (digests "
                 f"{', '.join(m.problem_digest for m in outcome.measured)}); the comparison is void."
                 for outcome in outcomes if len({m.problem_digest for m in outcome.measured}) > 1]
    if len({m.source_digest for m in measured}) > 1:
        sentences.append("The optimizer source changed during the run (see the digests above): the rows "
                         "measured different versions of the solver.")
    if measured:
        loads = [value for m in measured for value in m.load]
        sentences.append(f"The machine is shared: its 1-minute load average read {min(loads):.1f}–{max(loads):.1f} "
                         f"at the starts and ends of the children, on {usable_cores()} usable cores, so absolute "
                         f"seconds carry that noise; the ×np figures are measured in the same process.")
    return sentences

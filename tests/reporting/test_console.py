"""Terminal output: the progress bar the decomposition drives, and the summary headline."""

from __future__ import annotations

import io

from instances import medium_problem
from rich.console import Console

from optimizer.reporting.console import PassProgress, headline
from optimizer.solve.decompose import solve_decompose


def test_the_progress_bar_counts_the_passes_of_a_decomposition():
    stream = io.StringIO()
    calls = []
    with PassProgress(Console(file=stream, force_terminal=True, width=100), "Solving demo") as progress:
        def spy(stage: str, done: int, customers: int) -> None:
            calls.append((stage, done, customers))
            progress(stage, done, customers)

        solve_decompose(medium_problem(1, n=300), progress=spy)
    assert progress.passes == sum(done == customers for _, done, customers in calls) > 3
    assert {stage for stage, _, _ in calls} >= {"balance", "pass", "fixed", "plan"}
    assert all(customers == 300 for _, _, customers in calls)


def test_the_headline_names_the_solver_that_ran():
    summary = {"scenario": "weekly", "scenario_file": "weekly.yaml", "status": "optimal", "objective": 10.0,
               "bound": 10.0, "gap": 0.0, "build_seconds": 0.5, "solve_seconds": 1.0, "method": "decompose"}
    assert "method decompose" in headline(summary).plain

"""`cvo optimize` and `cvo commit` killed (SIGKILL) mid-way never leave a folder that mixes two
runs' files and is read as one, nor a partial run in the contact history.

After each kill: the folder is either one whole run (its plan file carries its summary's run id)
or refused by every reader with exit 7; `cvo commit` records a run whole or not at all; the
next run into the folder succeeds and leaves no temporary file behind. The deterministic tests
stop the child right after each of its writes; the slow ones kill at random times (-m slow).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from weekly_loop import write_scenario

from optimizer.errors import RunFolderError
from optimizer.store.files import RUN_ID_KEY
from optimizer.store.runs import read_run

CLI = "import sys; from optimizer.cli import app; sys.argv[0] = 'cvo'; app()"
STOP_AFTER_WRITE = """
import os, pathlib, sys, time
import optimizer.store.files as files
replace, count = os.replace, [0]
def replace_then_stop(source, target):
    replace(source, target)
    if pathlib.Path(target).name in ("plan.parquet", "summary.json", "manifest.json"):
        count[0] += 1
        if count[0] == int(os.environ["CVO_STOP_AFTER"]):
            pathlib.Path(os.environ["CVO_MARKER"]).write_text(pathlib.Path(target).name)
            time.sleep(120)
files.os.replace = replace_then_stop
from optimizer.cli import app
sys.argv[0] = "cvo"
app()
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
STOP_IN_HIGHS = """
import os, pathlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal, though the suite was started
import optimizer.solve.highs_run as highs_run  # as a background job (a shell then starts it with SIGINT ignored)
def stuck(*args, **kwargs):  # in the forked child: a HiGHS run that takes its time
    pathlib.Path(os.environ["CVO_MARKER"]).write_text(str(os.getpid()))
    time.sleep(120)
highs_run.highs_here = stuck
from optimizer.cli import app
sys.argv[0] = "cvo"
app()
"""


def cvo(*args: str, script: str = CLI, env: dict[str, str] | None = None, own_group: bool = False,
        ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or ENV, start_new_session=own_group)


def finished(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=ENV, timeout=300)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("crash"), n=4000, budget=900.0)


def optimize_args(scenario: Path, out: Path) -> list[str]:
    return ["optimize", str(scenario), "--out", str(out), "--date", "2026-01-05"]


def assert_whole_or_refused(out: Path) -> str:
    """The folder is one run (returned: 'whole') or every reader refuses it ('refused')."""
    try:
        run = read_run(out)
    except RunFolderError:
        for command in (["report", str(out)], ["commit", str(out), "--history", str(out.parent / "h.duckdb")]):
            refused = finished(*command)
            assert refused.returncode == 7, refused.stdout + refused.stderr
            assert refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr
        return "refused"
    metadata = pq.read_schema(run.plan[0]).metadata or {}
    assert metadata[RUN_ID_KEY].decode() == run.run_id
    return "whole"


def assert_next_run_cleans_up(scenario: Path, out: Path) -> None:
    done = finished(*optimize_args(scenario, out))
    assert done.returncode == 0, done.stderr
    assert read_run(out) and not [name for name in os.listdir(out) if name.endswith(".tmp")]


@pytest.mark.parametrize("stop_after", [1, pytest.param(2, marks=pytest.mark.slow), 3])  # 2 refused like 1
def test_optimize_stopped_after_each_write(scenario: Path, tmp_path: Path, stop_after: int):
    """Renames 1, 2, 3 put plan.parquet, summary.json, manifest.json in place: after the first
    two the folder mixes the runs and is refused; after the manifest it is the new run, whole."""
    out, marker = tmp_path / "out", tmp_path / "marker"
    assert finished(*optimize_args(scenario, out)).returncode == 0
    child = cvo(*optimize_args(scenario, out), script=STOP_AFTER_WRITE,
                env={**ENV, "CVO_STOP_AFTER": str(stop_after), "CVO_MARKER": str(marker)})
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), child.communicate()
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert assert_whole_or_refused(out) == ("whole" if stop_after == 3 else "refused")
    assert_next_run_cleans_up(scenario, out)


@pytest.mark.parametrize(("number", "group"), [  # the default suite keeps SIGTERM to the group (a scheduler's stop)
    pytest.param(signal.SIGTERM, False, marks=pytest.mark.slow), (signal.SIGTERM, True),
    pytest.param(signal.SIGINT, True, marks=pytest.mark.slow)])
def test_optimize_terminated_in_a_solve_stops_its_highs_child_and_frees_the_folder(
    scenario: Path, tmp_path: Path, number: signal.Signals, group: bool
):
    """SIGTERM (kill; to the whole group: timeout, a scheduler's stop) ends the run as Ctrl-C does:
    exit 130 with one line on stderr saying why, the HiGHS child stopped with it without a word,
    nothing half-written, and the next run into the folder is not refused as busy."""
    out, marker = tmp_path / "out", tmp_path / "marker"
    child = cvo(*optimize_args(scenario, out), script=STOP_IN_HIGHS, env={**ENV, "CVO_MARKER": str(marker)},
                own_group=group)
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), child.communicate()
    os.killpg(child.pid, number) if group else child.send_signal(number)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130 and "Traceback" not in stderr, stderr
    said = "Ctrl-C" if number == signal.SIGINT else "SIGTERM"
    assert stderr.count(f"stopped: {said} ended the command before it finished") == 1, stderr  # the parent alone
    solver = Path(f"/proc/{marker.read_text()}/stat")
    deadline = time.monotonic() + 5
    while solver.exists() and solver.read_text().rsplit(")", 1)[1].split()[0] not in "ZX" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not solver.exists() or solver.read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    assert not out.exists() or not os.listdir(out)
    assert_next_run_cleans_up(scenario, out)


@pytest.mark.slow
def test_optimize_killed_at_random_times(scenario: Path, tmp_path: Path):
    out = tmp_path / "out"
    started = time.monotonic()
    assert finished(*optimize_args(scenario, out)).returncode == 0
    took = time.monotonic() - started
    rng, seen = random.Random(16), {"whole": 0, "refused": 0}
    for _ in range(30):
        child = cvo(*optimize_args(scenario, out))
        time.sleep(rng.uniform(0.6, 1.05) * took)  # mostly the solve's end and the writes
        child.send_signal(signal.SIGKILL)
        child.communicate()
        seen[assert_whole_or_refused(out)] += 1
        if seen["refused"] and rng.random() < 0.5:
            assert_next_run_cleans_up(scenario, out)
    assert_next_run_cleans_up(scenario, out)
    assert seen["whole"] > 0


def contacts_by_run(history: Path) -> dict[str, int]:
    if not history.exists():
        return {}
    with duckdb.connect(str(history), read_only=True) as connection:
        planned = dict(connection.execute("SELECT run_id, treatment + control FROM runs").fetchall())
        recorded = dict(connection.execute("SELECT run_id, count(*) FROM contacts GROUP BY run_id").fetchall())
        events = dict(connection.execute("SELECT run_id, count(*) FROM events GROUP BY run_id").fetchall())
    assert planned.keys() == events.keys() and all(recorded.get(run, 0) == planned[run] for run in planned)
    return recorded


@pytest.mark.slow
def test_commit_killed_at_random_times(scenario: Path, tmp_path: Path):
    history, rng = tmp_path / "history.duckdb", random.Random(17)
    for trial in range(30):
        out = tmp_path / f"w{trial}"
        assert finished(*optimize_args(scenario, out), "--method", "exact").returncode == 0
        started = time.monotonic()
        child = cvo("commit", str(out), "--history", str(history))
        time.sleep(rng.uniform(0.5, 3.0))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        before = contacts_by_run(history)
        run_id = read_run(out).run_id
        done = finished("commit", str(out), "--history", str(history))
        assert done.returncode == 0, done.stderr
        after = contacts_by_run(history)
        assert run_id in after and {k: v for k, v in after.items() if k != run_id} == {
            k: v for k, v in before.items() if k != run_id}
        assert time.monotonic() - started < 300
        subprocess.run([sys.executable, "-c", CLI, "void", run_id[:12], "--history", str(history)],
                       capture_output=True, env=ENV, check=True)  # the next trial's plan is then not stale

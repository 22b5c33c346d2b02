"""The make targets a user runs leave the checkout clean: `git status --porcelain` is empty after
`make demo` and `make planner` (and, slow, `make weekly` and `make hillstrom`), run by the real
Makefile in a copy of the tracked files with this checkout's virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

SHARED = ROOT.parent / "shared"


def tracked_copy(folder: Path) -> Path:
    """The checkout's tracked files (as in the working tree) in a fresh git repository, beside a
    link to ../shared (the real data)."""
    project = folder / "project"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / name)
    if SHARED.exists():
        (folder / "shared").symlink_to(SHARED)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run([*git, *command], cwd=project, check=True)
    return project


def make(project: Path, *targets: str) -> None:
    """``make TARGETS`` in ``project`` with the tests' environment: stamps newer than pyproject.toml
    and the solver's files, so that make installs and compiles nothing (an install would point the
    environment's cvo at the copy)."""
    venv = Path(sys.executable).parent.parent
    stamp, compiled = project.parent / "installed", project.parent / "compiled"
    stamp.touch()
    compiled.touch()
    done = subprocess.run(["make", f"VENV={venv}", f"STAMP={stamp}", f"COMPILED={compiled}", *targets], cwd=project,
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def status(project: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True,
                          check=True).stdout


def test_make_demo_and_planner_leave_the_checkout_clean(tmp_path: Path) -> None:
    project = tracked_copy(tmp_path)
    make(project, "demo", "planner")
    assert (project / "out" / "weekly" / "manifest.json").is_file()
    assert (project / "out" / "planner" / "contacts_phone.csv").is_file()
    assert status(project) == ""


@pytest.mark.slow  # the weekly loop's own tests (tests/examples/test_weekly_example.py) run by default
def test_make_weekly_leaves_the_checkout_clean(tmp_path: Path) -> None:
    project = tracked_copy(tmp_path)
    make(project, "weekly")
    assert (project / "out" / "weekly_loop" / "results.json").is_file()
    assert status(project) == ""


@pytest.mark.slow
def test_make_hillstrom_leaves_the_checkout_clean(tmp_path: Path) -> None:
    project = tracked_copy(tmp_path)
    make(project, "hillstrom")
    assert (project / "out" / "hillstrom" / "results.json").is_file()
    assert status(project) == ""

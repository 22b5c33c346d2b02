"""The README's Quick start says what the Makefile and CI do: its two commands are make targets
that create .venv and plan the example, and lint and run the suite; the line that puts cvo on the
PATH names the environment those targets install into; .ci/run runs the README's test command after
the set-up the README names. (tests/examples/test_clean_checkout.py runs `make demo` for real.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> str:
    match = re.search(r"## Quick start\n(.*?)\n## ", README, re.S)
    assert match, "README.md has no Quick start section"
    return match.group(1)


def quick_start_commands() -> list[str]:
    block = re.search(r"```console\n(.*?)```", quick_start(), re.S)
    assert block, "the Quick start has no console block"
    return [line[2:].split("#")[0].strip() for line in block.group(1).splitlines() if line.startswith("$ ")]


def dry_run(*targets: str) -> list[str]:
    """What ``make -n TARGETS`` would run in a checkout with no .venv yet (a stamp that does not exist)."""
    quiet = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(["make", "-n", "--no-print-directory", "STAMP=/nonexistent/.installed", *targets],
                          cwd=ROOT, capture_output=True, text=True, check=True, env=quiet)
    return done.stdout.splitlines()


def test_the_quick_start_is_two_make_targets() -> None:
    assert quick_start_commands() == ["make demo", "make test"]


def test_make_demo_creates_the_venv_installs_cvo_and_plans_the_example() -> None:
    ran = dry_run("demo")
    assert any(re.search(r"-m venv \.venv$", line) for line in ran)
    assert any("pip install" in line and "-e '.[dev]'" in line for line in ran)
    installed = next(at for at, line in enumerate(ran) if "pip install" in line and "-e '.[dev]'" in line)
    assert any(line.endswith("-m optimizer.solve.warmup") for line in ran[installed:]), "the loops compiled after"
    said = re.search(r"`make demo` runs `(cvo optimize [^`]+)`", README)
    assert said and ran[-1] == f".venv/bin/{said.group(1)}"


def test_make_test_lints_type_checks_and_runs_the_suite() -> None:
    ran = dry_run("test")
    assert any("ruff check" in line for line in ran) and any("mypy" in line for line in ran)
    assert ran[-1] == ".venv/bin/python -m pytest -q"


def test_the_path_line_names_the_environment_make_installs_into() -> None:
    activate = re.search(r"`\. (\S+)/bin/activate` puts `cvo` on the PATH", quick_start())
    assert activate, "the Quick start does not say how to put cvo on the PATH"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^VENV := {re.escape(activate.group(1))}$", makefile, re.M)
    assert (Path(sys.executable).parent / "cvo").is_file()  # pip install -e puts the command beside python


def test_ci_runs_the_readme_test_command_after_the_set_up_the_readme_names() -> None:
    script = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith(("#", "set ", "cd "))]
    assert script == ["make chromium", quick_start_commands()[1]]
    assert "`make chromium` installs it" in " ".join(quick_start().split())

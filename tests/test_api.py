"""The Python API: the README's example runs in a fresh interpreter and prints what the README shows,
and every name the API offers loads (without importing the solver or the CLI until it is used)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import optimizer

ROOT = Path(__file__).resolve().parents[1]


def readme_block(marker: str) -> str:
    """The fenced block between <!-- marker --> and <!-- /marker --> in the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)```\n<!-- /{marker} -->", readme, re.S)
    assert found, f"the README has no {marker} block"
    return found.group(1)


def test_the_readme_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """Run in a copy of the scenarios and example data, so no contact history of the work tree counts."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios", ignore=shutil.ignore_patterns("*.duckdb*"))
    shutil.copytree(ROOT / "examples" / "data", tmp_path / "examples" / "data")
    (tmp_path / "example.py").write_text(readme_block("api-example"))
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == readme_block("api-output")  # nothing else on stdout: no solver banner either
    assert (tmp_path / "out" / "api" / "plan.parquet").is_file()


def test_every_name_of_the_api_loads() -> None:
    for name in optimizer.__all__:
        assert getattr(optimizer, name) is not None, name


def test_importing_the_api_loads_no_solver() -> None:
    script = "import sys, optimizer; print(sorted({'pyomo', 'highspy', 'pandas', 'numba'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

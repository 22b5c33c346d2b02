"""The README's demo output is what `cvo optimize scenarios/weekly.yaml` prints today.

Timings differ from run to run and are masked; every other character must match. When the
example data, the weekly scenario or the summary layout change on purpose, re-run `make demo`
and paste its output between the demo-output markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).resolve().parents[1]
TIME = re.compile(r"time [\d.]+ s")


def _normalise(text: str) -> list[str]:
    """Lines up to the final 'Wrote …' (whose folder differs), with timings masked."""
    text = text[: text.index("Wrote ")]
    return [TIME.sub("time …", line.rstrip()) for line in text.strip().splitlines()]


def _readme_demo() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- demo-output -->\n```text\n(.*?)```\n<!-- /demo-output -->", readme, re.S)
    assert match, "README.md has no demo-output block"
    return match.group(1)


def test_readme_demo_output_matches_a_real_run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner(env={"COLUMNS": "100"}).invoke(
        app, ["optimize", "scenarios/weekly.yaml", "--out", str(tmp_path / "weekly")]
    )
    assert result.exit_code == 0, result.output
    assert _normalise(result.output) == _normalise(_readme_demo())

"""The README's demo output is what `cvo optimize scenarios/weekly.yaml` prints today, and its rules block
what `cvo rules` prints for that plan.

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
    return _readme_block("demo-output")


def _readme_block(name: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name} -->\n```text\n(.*?)```\n<!-- /{name} -->", readme, re.S)
    assert match, f"README.md has no {name} block"
    return match.group(1)


def test_readme_demo_output_matches_a_real_run(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner(env={"COLUMNS": "100"}).invoke(
        app, ["optimize", "scenarios/weekly.yaml", "--out", str(tmp_path / "weekly")]
    )
    assert result.exit_code == 0, result.output
    assert _normalise(result.output) == _normalise(_readme_demo())
    rules = CliRunner().invoke(app, ["rules", str(tmp_path / "weekly"), "--depth", "3"])
    assert rules.exit_code == 0, rules.output
    assert _normalise(rules.output) == _normalise(_readme_block("rules-output") + "Wrote ")

SECONDS = re.compile(r"in [\d.]+ s")


def _readme_progress() -> dict[str, list[str]]:
    """The README's progress lines per command, without the spinner and the first (status) line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- progress-output -->\n```text\n(.*?)```\n<!-- /progress-output -->", readme, re.S)
    assert match, "README.md has no progress-output block"
    shown: dict[str, list[str]] = {}
    for line in match.group(1).splitlines():
        if line.startswith("$ cvo "):
            shown[line.split()[2]] = []
        else:
            shown[list(shown)[-1]].append(SECONDS.sub("in … s", line.removeprefix("⠋ ")))
    return shown


def test_readme_progress_lines_are_what_score_and_compare_say(monkeypatch, example_scoring):
    """The stages a real run of each command reports, in order, with its durations masked."""
    from optimizer.whatif.comparison import compare

    monkeypatch.chdir(ROOT)
    scored = list(example_scoring[1])
    heard: list[str] = []
    compare([Path("scenarios/weekly.yaml"), Path("scenarios/tight_budget.yaml")], stage=heard.append)
    shown = _readme_progress()
    assert shown["score"] == ["Scoring …", *scored]
    assert shown["compare"] == ["Reading 2 scenarios …", *(SECONDS.sub("in … s", text) for text in heard)]

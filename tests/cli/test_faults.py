"""The fault corpus of the weekly loop's files: bad paths, unreadable or mixed run folders, stale
and voided commits, and contact histories that are not one, through every command that meets them.

Every case starts from the same workspace (a scenario with a contact policy, run w1 committed,
run w2 planned for the next week and not committed, run w3 planned for w1's day before w1 was
committed, so stale), breaks one thing, runs one command in-process, and checks: the exit code,
the named fault in a one-paragraph ``error:`` message, no traceback, and that no file in the
workspace changed. Exit codes: 2 scenario, 3 data, 6 contact history, 7 output folder.
(tests/cli/test_bad_input.py holds the corpus of scenario and data files.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from locks import held_by_another_process
from typer.testing import CliRunner
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.cli import app
from optimizer.loop.commits import commit

SCENARIO, DATA, HISTORY, FOLDER = 2, 3, 6, 7


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def scenario(self) -> Path:
        return self.root / "loop.yaml"

    @property
    def history(self) -> Path:
        return self.root / "history.duckdb"

    def run_id(self, folder: str) -> str:
        return str(json.loads((self.root / folder / "summary.json").read_text())["run_id"])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    scenario = write_scenario(root)
    run_week(scenario, root / "w1", MONDAY)
    run_week(scenario, root / "w3", MONDAY)
    commit(root / "w1")
    run_week(scenario, root / "w2", MONDAY + dt.timedelta(days=7))
    pd.DataFrame({"customer_id": ["k001"], "revenue": [5.0]}).to_csv(root / "outcomes.csv", index=False)
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Workspace:
    """A copy of the template at the same place every time, so the paths the summaries name hold."""
    root = template.parent / f"{template.name}-case"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(template, root)
    for folder in ("w1", "w2", "w3"):  # the summaries name the template's files: point them at the copy
        summary = root / folder / "summary.json"
        summary.write_text(summary.read_text().replace(str(template), str(root)))
        _refresh_manifest(root / folder)
    return Workspace(root)


def _refresh_manifest(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def snapshot(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            for path in sorted(root.rglob("*"))}


Setup = Callable[[Workspace], None]


def _swap_summary(w: Workspace) -> None:
    """w2's summary replaced by w3's: the folder now mixes two runs."""
    (w.root / "w2" / "summary.json").write_bytes((w.root / "w3" / "summary.json").read_bytes())


def _truncate_plan(w: Workspace) -> None:
    plan = w.root / "w2" / "plan.parquet"
    plan.write_bytes(plan.read_bytes()[: plan.stat().st_size // 2])


def _remove(name: str) -> Setup:
    def remove(w: Workspace) -> None:
        (w.root / "w2" / name).unlink()
    return remove


def _write(relative: str, content: bytes) -> Setup:
    def write(w: Workspace) -> None:
        (w.root / relative).parent.mkdir(parents=True, exist_ok=True)
        (w.root / relative).write_bytes(content)
    return write


def _dangling(relative: str) -> Setup:
    def link(w: Workspace) -> None:
        (w.root / relative).symlink_to(w.root / "nowhere" / "target")
    return link


def _folder(relative: str) -> Setup:
    def make(w: Workspace) -> None:
        (w.root / relative).mkdir()
    return make


def _edit_scenario(old: str, new: str) -> Setup:
    def edit(w: Workspace) -> None:
        w.scenario.write_text(w.scenario.read_text().replace(old, new))
    return edit


def _both(*setups: Setup) -> Setup:
    def both(w: Workspace) -> None:
        for setup in setups:
            setup(w)
    return both


def _void_w1(w: Workspace) -> None:
    voided = CliRunner().invoke(app, ["void", w.run_id("w1"), "--history", str(w.history)])
    assert voided.exit_code == 0, voided.output


OPTIMIZE = ["optimize", "{scenario}", "--date", "2026-01-19"]
CASES: dict[str, tuple[Setup | None, list[str], int, list[str]]] = {
    # --- output folders -------------------------------------------------------------------------
    "optimize --out is a file": (_write("taken", b"x"), [*OPTIMIZE, "--out", "{root}/taken"], FOLDER,
                                 ["The output folder is a file", "Give --out a folder"]),
    "optimize --out under a file": (_write("taken", b"x"), [*OPTIMIZE, "--out", "{root}/taken/w4"], FOLDER,
                                    ["cannot be created", "taken is a file"]),
    "optimize --out a dangling link": (_dangling("link"), [*OPTIMIZE, "--out", "{root}/link"], FOLDER,
                                       ["is a link to {root}/nowhere/target, which does not exist"]),
    "optimize --out over a user's files": (_write("w4/scenario.yaml", b"mine"), [*OPTIMIZE, "--out", "{root}/w4"],
                                           FOLDER, ["holds scenario.yaml, not the files of a cvo run"]),
    "sweep --out is a file": (_write("taken", b"x"), ["sweep", "{scenario}", "--budget", "10:20:2", "--out",
                                                      "{root}/taken"], FOLDER, ["The output folder is a file"]),
    "compare --out is a file": (_write("taken", b"x"), ["compare", "{scenario}", "{scenario}", "--out",
                                                        "{root}/taken"], FOLDER, ["The output folder is a file"]),
    "compare --set a campaign the scenarios lack": (None, ["compare", "{scenario}", "{scenario}", "--out", "{root}/c",
                                                         "--set", "campaigns.nope.max_audience=5"], SCENARIO,
                                                        ["the scenario has no campaign 'nope'", "cvo compare sets every "
                                                         "--set in each scenario it compares; to change only some"]),
    # --- contact history paths -----------------------------------------------------------------
    "optimize --history missing": (None, [*OPTIMIZE, "--out", "{root}/w4", "--history", "{root}/nope.duckdb"],
                                   HISTORY, ["The contact history given with --history is missing", "nope.duckdb"]),
    "optimize --history is a folder": (_folder("hist"), [*OPTIMIZE, "--out", "{root}/w4", "--history", "{root}/hist"],
                                       HISTORY, ["The contact history given with --history is a folder"]),
    "sweep --history missing": (None, ["sweep", "{scenario}", "--budget", "10:20:2", "--out", "{root}/s",
                                       "--history", "{root}/nope.duckdb"], HISTORY, ["is missing"]),
    "compare --history missing": (None, ["compare", "{scenario}", "{scenario}", "--out", "{root}/c", "--history",
                                         "{root}/nope.duckdb"], HISTORY, ["is missing"]),
    "scenario history is a folder": (_both(_edit_scenario("history: history.duckdb", "history: hist"),
                                           _folder("hist")),
                                     [*OPTIMIZE, "--out", "{root}/w4"], HISTORY,
                                     ["The contact history path is a folder", "hist"]),
    "scenario history is not DuckDB": (_edit_scenario("history: history.duckdb", "history: loop.yaml"),
                                       [*OPTIMIZE, "--out", "{root}/w4"], HISTORY,
                                       ["The contact history cannot be opened", "loop.yaml"]),
    "history of a text file": (None, ["history", "{root}/outcomes.csv"], HISTORY,
                               ["The contact history cannot be opened"]),
    "history of a missing file": (None, ["history", "{root}/nope.duckdb"], HISTORY,
                                  ["There is no contact history here yet", "cvo commit OUT_DIR"]),
    "history of a folder that is no run": (_folder("empty"), ["history", "{root}/empty"], FOLDER,
                                           ["summary.json is missing"]),
    # --- run folders commit reads ---------------------------------------------------------------
    "commit a folder that does not exist": (None, ["commit", "{root}/nothing"], SCENARIO,
                                            ["There is no such folder", "cvo optimize SCENARIO --out OUT_DIR"]),
    "commit an empty folder": (_folder("empty"), ["commit", "{root}/empty"], FOLDER, ["summary.json is missing"]),
    "commit without a manifest": (_remove("manifest.json"), ["commit", "{root}/w2"], FOLDER,
                                  ["manifest.json is missing", "cannot be shown to be of one run"]),
    "commit a summary of another run": (_swap_summary, ["commit", "{root}/w2"], FOLDER,
                                        ["summary.json is not the file run", "different runs"]),
    "commit a truncated plan": (_truncate_plan, ["commit", "{root}/w2"], FOLDER,
                                ["plan.parquet is not the file run", "different runs"]),
    "commit without a plan": (_remove("plan.parquet"), ["commit", "{root}/w2"], FOLDER,
                              ["plan.parquet, listed in manifest.json, is missing"]),
    "commit without a summary": (_remove("summary.json"), ["commit", "{root}/w2"], FOLDER,
                                 ["summary.json, listed in manifest.json, is missing"]),
    "commit a broken manifest": (_write("w2/manifest.json", b"{half"), ["commit", "{root}/w2"], FOLDER,
                                 ["manifest.json cannot be read"]),
    "commit a manifest without files": (_write("w2/manifest.json", b"[]"), ["commit", "{root}/w2"], FOLDER,
                                        ["manifest.json does not list a run's files"]),
    "commit a stale plan": (None, ["commit", "{root}/w3"], HISTORY,
                            ["The plan is stale", "--date 2026-01-05", "cvo commit", "--force"]),
    "commit a voided run again": (_void_w1, ["commit", "{root}/w1"], HISTORY,
                                  ["was voided; a voided run cannot be committed again"]),
    "commit --history is a folder": (_folder("hist"), ["commit", "{root}/w2", "--history", "{root}/hist"], HISTORY,
                                     ["The contact history path is a folder"]),
    "commit --history is not DuckDB": (None, ["commit", "{root}/w2", "--history", "{root}/outcomes.csv"], HISTORY,
                                       ["The contact history cannot be opened"]),
    "commit --history under a file": (None, ["commit", "{root}/w2", "--history", "{root}/outcomes.csv/h.duckdb"],
                                      HISTORY, ["cannot be created", "outcomes.csv is a file"]),
    # --- the folder of another command ----------------------------------------------------------
    "optimize into a comparison's folder": (_write("cmp/compare.json", b"{}"), [*OPTIMIZE, "--out", "{root}/cmp"],
                                            FOLDER, ["holds a comparison (compare.json)", "a folder of its own"]),
    "optimize into a committed run's folder": (None, [*OPTIMIZE, "--out", "{root}/w1"], FOLDER,
                                               ["holds run", "committed to the contact history", "cvo measure",
                                                "a new folder"]),
    "compare into a run's folder": (None, ["compare", "{scenario}", "{scenario}", "--out", "{root}/w1"], FOLDER,
                                    ["holds a cvo run, not a comparison", "a folder of its own"]),
    # --- report, measure, void ------------------------------------------------------------------
    "report a mixed folder": (_swap_summary, ["report", "{root}/w2"], FOLDER, ["different runs"]),
    "report a folder without a manifest": (_remove("manifest.json"), ["report", "{root}/w2"], FOLDER,
                                           ["manifest.json is missing"]),
    "report a missing folder": (None, ["report", "{root}/nothing"], SCENARIO, ["There is no such folder"]),
    "rules of a missing folder": (None, ["rules", "{root}/nothing"], SCENARIO, ["There is no such folder"]),
    "report a missing sweep": (None, ["report", "{root}/w1", "--sweep", "{root}/nothing"], SCENARIO,
                               ["There is no sweep to report"]),
    "measure a mixed folder": (_swap_summary, ["measure", "{root}/w2", "--outcomes", "{root}/outcomes.csv"], FOLDER,
                               ["different runs"]),
    "measure an uncommitted run": (None, ["measure", "{root}/w2", "--outcomes", "{root}/outcomes.csv"], HISTORY,
                                   ["No run in the contact history matches", "the run was not committed to it", "cvo commit"]),
    "measure a run id without a history": (None, ["measure", "abc123", "--outcomes", "{root}/outcomes.csv"], HISTORY,
                                           ["is not a folder, so it is taken as a run id", "--history"]),
    "measure with missing outcomes": (None, ["measure", "{root}/w1", "--outcomes", "{root}/nope.csv"], DATA,
                                      ["nope.csv does not exist", "Check the path given for the outcomes"]),
    "void an unknown run": (None, ["void", "ffff", "--history", "{root}/history.duckdb"], HISTORY,
                            ["No run in the contact history matches 'ffff'", "cvo history"]),
    "void twice": (_void_w1, ["void", "{root}/w1"], HISTORY, ["is already voided"]),
    "void without a history": (None, ["void", "{root}/w2", "--history", "{root}/nope.duckdb"], HISTORY,
                               ["There is no contact history here yet"]),
    "void a run id without --history": (None, ["void", "abc123"], HISTORY, ["--history"]),
    "void a folder that is no run": (_folder("empty"), ["void", "{root}/empty"], FOLDER, ["summary.json is missing"]),
    # --- the scenario file itself ---------------------------------------------------------------
    "scenario is a folder": (_folder("dir.yaml"), ["optimize", "{root}/dir.yaml", "--out", "{root}/w4"], SCENARIO,
                             ["dir.yaml is a folder, not a scenario file", "it holds no .yaml file"]),
    "validate a folder of scenarios": (None, ["validate", "{root}"], SCENARIO,
                                       ["is a folder, not a scenario file", "loop.yaml", "Give the YAML file itself"]),
    "scenario is empty": (_write("empty.yaml", b""), ["optimize", "{root}/empty.yaml", "--out", "{root}/w4"],
                          SCENARIO, ["empty.yaml"]),
    "scenario is a list": (_write("list.yaml", b"- a\n- b\n"), ["optimize", "{root}/list.yaml", "--out",
                                                                 "{root}/w4"], SCENARIO, ["list.yaml"]),
    "customers path is a folder": (_edit_scenario("customers: customers.parquet", "customers: w1"),
                                   [*OPTIMIZE, "--out", "{root}/w4"], DATA, ["w1"]),
    "customers parquet truncated": (_write("customers.parquet", b"PAR1\x00\x00"), [*OPTIMIZE, "--out", "{root}/w4"],
                                    DATA, ["customers.parquet"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fault(workspace: Workspace, case: str):
    setup, args, exit_code, parts = CASES[case]
    if setup is not None:
        setup(workspace)
    before = snapshot(workspace.root)
    argv = [arg.format(root=workspace.root, scenario=workspace.scenario) for arg in args]
    result = CliRunner().invoke(app, argv)
    output = " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit), f"crashed instead of a message: {result.exception!r}"
    assert "Traceback" not in result.output
    assert result.exit_code == exit_code, output
    assert output.startswith("error: "), output
    for part in parts:
        assert part.format(root=workspace.root) in output, f"{part!r} not in: {output}"
    assert snapshot(workspace.root) == before, "a failed command changed the workspace"


def test_a_busy_output_folder_is_refused_before_the_solve(workspace: Workspace, monkeypatch: pytest.MonkeyPatch):
    """Another process holds the folder: optimize stops before solving (the solver is never called)."""
    import optimizer.plan.workflow as workflow

    def no_solve(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved although the folder was busy")

    monkeypatch.setattr(workflow, "optimize", no_solve)
    with held_by_another_process(workspace.root / "w2", workspace.root / "marker"):
        before = snapshot(workspace.root)
        result = CliRunner().invoke(app, [*[a.format(scenario=workspace.scenario) for a in OPTIMIZE],
                                          "--out", str(workspace.root / "w2")])
    assert result.exit_code == FOLDER and "Another cvo command is writing to this folder" in result.output
    assert snapshot(workspace.root) == before


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_a_busy_folder_stops_a_sweep_or_a_comparison_before_it_solves(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, command: str
):
    import optimizer.whatif.comparison as comparison
    import optimizer.whatif.frontier as frontier

    def no_solve(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved although the folder was busy")

    monkeypatch.setattr(frontier, "sweep", no_solve)
    monkeypatch.setattr(comparison, "compare", no_solve)
    argv = (["sweep", str(workspace.scenario), "--budget", "10:20:2"] if command == "sweep"
            else ["compare", str(workspace.scenario), str(workspace.scenario)])
    (workspace.root / "busy").mkdir()
    with held_by_another_process(workspace.root / "busy", workspace.root / "marker"):
        before = snapshot(workspace.root)
        result = CliRunner().invoke(app, [*argv, "--out", str(workspace.root / "busy")])
    assert result.exit_code == FOLDER and "Another cvo command is writing to this folder" in result.output
    assert snapshot(workspace.root) == before


@pytest.mark.parametrize("command", [["report", "{w1}"], ["rules", "{w1}"]])
def test_a_run_folder_being_rewritten_gets_no_page_about_the_run_it_replaces(workspace: Workspace, command: list[str]):
    """While an optimize holds the run folder (it replaces the run there), report and rules stop at
    once instead of writing a page about the run on its way out."""
    with held_by_another_process(workspace.root / "w1", workspace.root / "marker"):
        before = snapshot(workspace.root)
        result = CliRunner().invoke(app, [arg.format(w1=workspace.root / "w1") for arg in command])
    assert result.exit_code == FOLDER and "Another cvo command is writing to this folder" in result.output
    assert snapshot(workspace.root) == before


@pytest.mark.parametrize("command", [["optimize", "{scenario}"], ["sweep", "{scenario}", "--budget", "10:20:2"],
                                     ["compare", "{scenario}", "{scenario}"]])
def test_an_empty_out_is_refused_not_taken_for_the_current_folder(workspace: Workspace, command: list[str],
                                                                  monkeypatch: pytest.MonkeyPatch):
    """``--out "$OUT"`` with OUT unset: a usage error (exit 2), nothing written where the command ran."""
    monkeypatch.chdir(workspace.root)
    before = snapshot(workspace.root)
    result = CliRunner().invoke(app, [*[a.format(scenario=workspace.scenario) for a in command], "--out", ""])
    assert result.exit_code == 2 and "is empty" in result.output and "Traceback" not in result.output
    assert snapshot(workspace.root) == before

"""The ``cvo`` command line, in-process with Typer's CliRunner: help, the Rich summary, --json, validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner
from weekly_loop import write_small_scenario

from optimizer.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
COMMANDS = [command.name or command.callback.__name__ for command in app.registered_commands]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """12 customers × 2 campaigns with a budget, a capacity, a custom constraint and a KPI."""
    return write_small_scenario(tmp_path)


def invoke(*args: str):
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))


def test_cvo_help_has_an_example():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example: cvo " + command in " ".join(result.output.split())


def test_optimize_help_shows_the_default_out_folder():
    """The default out folder is shown in the option help."""
    result = invoke("optimize", "--help")
    assert "default: out/<scenario name>" in " ".join(result.output.split())


def test_optimize_prints_the_summary_and_writes_the_plan(scenario, tmp_path):
    out = tmp_path / "out"
    result = invoke("optimize", str(scenario), "--out", str(out), "--set", "channels.post.capacity=5")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "No campaign uses the channel 'post' under 'channels'" in text  # its capacity limits nobody
    assert "cvo plan cli_demo" in text
    assert "status optimal" in text
    for name in ("email_offer", "call_offer", "email", "phone", "budget", "vip_contacts", "responses"):
        assert name in text
    assert f"Wrote {out}/: plan.parquet, summary.json, scenario.yaml, contacts_" in text

    plan = pd.read_parquet(out / "plan.parquet")
    assert list(plan.columns) == ["customer_id", "campaign_id", "variant", "group", "expected_value", "expected_spend",
                                  "value_per_response", "channel", "reason"]
    assert len(plan) == 12
    assert set(plan["campaign_id"].dropna()) <= {"email_offer", "call_offer"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["scenario"] == "cli_demo"
    assert pq.read_schema(out / "plan.parquet").metadata[b"cvo_run_id"].decode() == summary["run_id"]


def test_optimize_json_prints_the_summary_as_json(scenario, tmp_path):
    out = tmp_path / "out"
    result = invoke("optimize", str(scenario), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in ("status", "objective", "bound", "gap", "solve_seconds", "campaigns", "channels", "constraints",
                "kpis"):
        assert key in summary
    assert summary["status"] == "optimal"
    assert summary["bound"] >= summary["objective"] - 1e-6
    assert [c["id"] for c in summary["campaigns"]] == ["email_offer", "call_offer"]
    assert {c["channel"] for c in summary["channels"]} == {"email", "phone"}
    assert {c["name"] for c in summary["constraints"]} >= {"budget", "capacity[email]", "vip_contacts"}
    for constraint in summary["constraints"]:
        assert {"name", "lhs", "rhs", "slack", "shadow_price"} <= constraint.keys()
    assert [k["name"] for k in summary["kpis"]] == ["responses"]
    assert summary == json.loads((out / "summary.json").read_text())


def test_the_installed_script_prints_only_json(scenario, tmp_path):
    """Run as a process, so that what the solver writes to file descriptor 1 would show: HiGHS 1.16
    prints a banner there when its first object is built, whatever its options say."""
    cvo = Path(sys.executable).parent / "cvo"
    printed = subprocess.run([str(cvo), "optimize", str(scenario), "--out", str(tmp_path / "out"), "--json"],
                             capture_output=True, text=True, check=True).stdout
    assert json.loads(printed)["status"] == "optimal"


def test_validate_a_valid_scenario(scenario):
    result = invoke("validate", str(scenario))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{scenario} is valid: 12 customers, 2 campaigns" in text
    assert "16 eligible pairs" in text


def test_validate_writes_nothing(scenario, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert invoke("validate", str(scenario)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_validate_checks_the_contact_policy_on_the_date_and_history_given(tmp_path):
    """Every customer got 'mail' on 5 January; its 21-day cool-down leaves none for a minimum of 5 a
    week later, and all of them three weeks later. validate had no --date (nor --history): it
    checked today against the scenario's history, and could not see the conflict optimize met."""
    import datetime as dt

    import duckdb
    from weekly_loop import MONDAY, write_scenario

    from optimizer.store.history_file import SCHEMA

    path = write_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["campaigns"][0]["min_audience"] = 5
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    ids = pd.read_parquet(tmp_path / "customers.parquet")["customer_id"]
    sent = pd.DataFrame({"run_id": "r1", "customer_id": ids, "campaign_id": "mail", "channel": "email",
                         "group": "treatment", "sent_on": MONDAY, "window_end": MONDAY + dt.timedelta(days=14)})
    elsewhere = tmp_path / "sent.duckdb"
    with duckdb.connect(str(elsewhere)) as connection:
        connection.execute(SCHEMA)
        connection.register("sent", sent)
        connection.execute('INSERT INTO contacts (run_id, customer_id, campaign_id, channel, "group", sent_on, '
                           "window_end) SELECT * FROM sent")
    week_later = invoke("validate", str(path), "--date", "2026-01-12", "--history", str(elsewhere))
    assert week_later.exit_code == 4, week_later.output
    assert (f"The 'min_audience' of campaign 'mail' (5) exceeds its 0 eligible customers after the contact policy "
            f"kept out {len(ids)} on 2026-01-12 ({path}, campaigns[0])") in " ".join(week_later.output.split())
    assert invoke("validate", str(path), "--date", "2026-01-26", "--history", str(elsewhere)).exit_code == 0
    assert invoke("validate", str(path), "--date", "2026-01-12").exit_code == 0  # the scenario's history: none yet


def test_validate_names_a_channel_no_campaign_uses(scenario):
    """A capacity for 'post', used by no campaign, limits nobody: validate said only 'valid' (optimize
    says it too: test_optimize_prints_the_summary_and_writes_the_plan)."""
    output = " ".join(invoke("validate", str(scenario), "--set", "channels.post.capacity=5").output.split())
    assert (f"No campaign uses the channel 'post' under 'channels' ({scenario} with --set channels.post.capacity=5)"
            ": its limits apply to nobody in this run") in output, output
    assert "No campaign uses" not in invoke("validate", str(scenario)).output


def test_no_arguments_shows_the_help():
    result = invoke()
    assert "Usage" in result.output
    assert "optimize" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    """README.md documents every command (it is written separately; this test waits for it)."""
    assert README.is_file(), f"{README} does not exist yet"
    assert f"cvo {command}" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["--propensity", "foo"], "--propensity 'foo' is not one of given, shares, model"),
    (["--cost", "winback_coupon=cheap"], "The cost of 'winback_coupon' is 'cheap', not a number"),
    (["--cost", "winback_coupon"], "'winback_coupon' is not KEY=VALUE"),
])
def test_evaluate_rejects_bad_options(tmp_path, args, message):
    plan = tmp_path / "plan.parquet"
    pd.DataFrame({"customer_id": ["C000001"], "campaign_id": [None]}).to_parquet(plan)
    history = Path(__file__).resolve().parents[2] / "examples" / "data" / "history.parquet"
    result = invoke("evaluate", str(plan), "--history", str(history), *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_evaluate_reads_a_history_by_the_columns_history_column_names(tmp_path):
    """A history cvo score read with --history-column was refused by cvo evaluate, which had no way
    to map its columns; --outcome revenue is the column mapped to that role."""
    history = pd.read_parquet(Path(__file__).resolve().parents[2] / "examples" / "data" / "history.parquet")
    plan = tmp_path / "plan.parquet"
    pd.DataFrame({"customer_id": history["customer_id"].unique()[:500], "campaign_id": "vip_call"}).to_parquet(plan)
    history.to_csv(tmp_path / "standard.csv", index=False)
    names = {"customer_id": "Cust ID", "campaign_id": "Campaign", "treated": "Mailed", "revenue": "Spend"}
    history.rename(columns=names).to_csv(tmp_path / "own.csv", index=False)
    standard = invoke("evaluate", str(plan), "--history", str(tmp_path / "standard.csv"), "--json")
    own = invoke("evaluate", str(plan), "--history", str(tmp_path / "own.csv"), "--json",
                 *[f"--history-column={role}={name}" for role, name in names.items()])
    assert standard.exit_code == 0 and own.exit_code == 0, own.output
    assert json.loads(own.output)["plan"] == json.loads(standard.output)["plan"]


@pytest.mark.parametrize("method", ["exact", "decompose"])
def test_the_method_flag_picks_the_solver_and_the_summary_says_so(scenario, tmp_path, method):
    result = invoke("optimize", str(scenario), "--out", str(tmp_path / method), "--json", "--method", method)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["method"] == method and summary["method_requested"] == method
    assert summary["status"] == "optimal"


def test_auto_solves_the_small_example_with_the_exact_solver(scenario, tmp_path):
    summary = json.loads(invoke("optimize", str(scenario), "--out", str(tmp_path / "auto"), "--json").output)
    assert summary["method_requested"] == "auto" and summary["method"] == "exact"


def test_an_unknown_method_is_refused_with_the_choices(scenario, tmp_path):
    result = invoke("optimize", str(scenario), "--out", str(tmp_path / "x"), "--method", "fastest")
    assert result.exit_code == 2
    assert "auto" in result.output and "decompose" in result.output
    assert not (tmp_path / "x").exists()


def test_commit_and_history_through_the_cli(tmp_path):
    from weekly_loop import write_scenario

    path = write_scenario(tmp_path)
    out = tmp_path / "w1"
    assert invoke("optimize", str(path), "--out", str(out), "--date", "2026-01-05", "--json").exit_code == 0
    first, second = invoke("commit", str(out)), invoke("commit", str(out))
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert "Recorded run" in first.output and f"in {tmp_path / 'history.duckdb'}" in first.output
    assert "Already recorded (nothing changed)" in second.output
    listed = json.loads(invoke("history", str(path), "--json").output)
    assert [run["run_date"][:10] for run in listed] == ["2026-01-05"]
    assert invoke("history", str(out)).output == invoke("history", str(tmp_path / "history.duckdb")).output


def test_optimize_reads_the_history_given_on_the_command_line(tmp_path):
    from weekly_loop import write_scenario

    path = write_scenario(tmp_path)
    elsewhere = tmp_path / "elsewhere.duckdb"
    week1 = ["optimize", str(path), "--out", str(tmp_path / "w1"), "--date", "2026-01-05"]
    missing = invoke(*week1, "--history", str(elsewhere))
    assert missing.exit_code == 6 and "The contact history given with --history is missing" in missing.output
    assert invoke(*week1).exit_code == 0
    committed = invoke("commit", str(tmp_path / "w1"), "--history", str(elsewhere))
    assert committed.exit_code == 0 and f"Created the contact history {elsewhere}" in committed.output
    assert elsewhere.is_file() and not (tmp_path / "history.duckdb").exists()
    week2 = json.loads(invoke("optimize", str(path), "--out", str(tmp_path / "w2"), "--date", "2026-01-12",
                              "--history", str(elsewhere), "--json").output)
    assert sum(e["removed"] for e in week2["eligibility"] if e["kind"] == "measurement_window") > 0


def test_a_bad_date_and_a_missing_history_are_refused(tmp_path, scenario):
    bad = invoke("optimize", str(scenario), "--out", str(tmp_path / "x"), "--date", "5 Jan")
    assert bad.exit_code == 2 and "--date" in bad.output
    missing = invoke("history", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 6 and "There is no contact history here yet" in missing.output
    empty = invoke("commit", str(tmp_path))
    assert empty.exit_code != 0 and "summary.json is missing" in empty.output


def test_measure_through_the_cli(tmp_path):
    from weekly_loop import write_scenario

    path = write_scenario(tmp_path, n=400)
    out = tmp_path / "w1"
    invoke("optimize", str(path), "--out", str(out), "--date", "2026-01-05")
    invoke("commit", str(out))
    plan = pd.read_parquet(out / "plan.parquet").dropna(subset=["campaign_id"])
    pd.DataFrame({"customer_id": plan["customer_id"], "revenue": np.where(plan["group"] == "treatment", 9.0, 3.0)}
                 ).to_csv(tmp_path / "outcomes.csv", index=False)
    result = invoke("measure", str(out), "--outcomes", str(tmp_path / "outcomes.csv"))
    assert result.exit_code == 0, result.output
    assert "incremental revenue" in result.output and f"Wrote {out / 'measurement.json'}" in result.output
    measured = json.loads(invoke("measure", str(out), "--outcomes", str(tmp_path / "outcomes.csv"), "--json").output)
    assert measured["total"]["incremental_revenue_per_customer"]["estimate"] == pytest.approx(6.0)
    bad = invoke("measure", str(out), "--outcomes", str(tmp_path / "missing.csv"))
    assert bad.exit_code == 3 and "missing.csv does not exist" in bad.output


def test_sweep_on_the_example_prints_the_frontier_and_writes_the_plot(tmp_path):
    """Three budgets of scenarios/weekly.yaml; the middle one is the scenario's own (README demo: 34,139.47)."""
    from optimizer.store.history_file import connect

    weekly = README.parent / "scenarios" / "weekly.yaml"
    connect(tmp_path / "empty.duckdb").close()  # not the example's own history, which a demo run may have filled
    result = invoke("sweep", str(weekly), "--budget", "6000:12000:3", "--out", str(tmp_path), "--date", "2026-01-05",
                    "--history", str(tmp_path / "empty.duckdb"))
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert [row[:2] for row in rows] == [["6,000", "optimal"], ["9,000", "optimal"], ["12,000", "optimal"]]
    assert rows[1][2] == "34,139.47"
    from matplotlib.image import imread

    assert imread(tmp_path / "frontier.png").shape[:2] == (450, 1650)
    swept = json.loads((tmp_path / "sweep.json").read_text())
    objectives = [point["objective"] for point in swept["points"]]
    assert objectives == sorted(objectives) and all(p["shadow_prices"]["budget"] > 0 for p in swept["points"])


def test_score_rows_of_campaigns_not_in_the_scenario_are_counted_and_named(scenario, tmp_path):
    """A misspelt campaign id in some score rows, while the right id has rows too, is not an error
    (one table may serve several scenarios) but is said, with a did-you-mean, and recorded."""
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    typo = scores[scores["campaign_id"] == "call_offer"].head(3).assign(campaign_id="cal_offer")
    other = scores.head(2).assign(campaign_id="spring_sale")
    pd.concat([scores, typo, other]).to_parquet(tmp_path / "scores.parquet", index=False)
    result = invoke("optimize", str(scenario), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Ignored 5 score rows of campaigns not in this scenario: 'cal_offer' (3 rows; Did you mean " \
           "'call_offer'?), 'spring_sale' (2 rows)" in text
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["scores_ignored"] == {"cal_offer": 3, "spring_sale": 2}
    checked = invoke("validate", str(scenario))  # it said 'valid' and nothing of them
    assert checked.exit_code == 0 and "Ignored 5 score rows of campaigns not in this scenario: 'cal_offer' (3 " \
        "rows; Did you mean 'call_offer'?)" in " ".join(checked.output.split())


def test_customers_the_scores_table_never_names_are_counted_by_validate_and_optimize(scenario, tmp_path):
    """A scores table of other customers (or of ids written otherwise) left most customers
    unscored, and validate said 'valid' and nothing else: now both commands count them."""
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    kept = scores["customer_id"].drop_duplicates().head(4)
    scores[scores["customer_id"].isin(kept)].to_parquet(tmp_path / "scores.parquet", index=False)
    line = "8 of 12 customers have no score row in scores.parquet for any campaign that reads it"
    checked = invoke("validate", str(scenario))
    assert checked.exit_code == 0 and line in " ".join(checked.output.split()), checked.output
    solved = invoke("optimize", str(scenario), "--out", str(tmp_path / "out"))
    assert solved.exit_code == 0 and line in " ".join(solved.output.split()), solved.output
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["unscored_customers"] == 8
    pd.DataFrame({"customer_id": ["c05", "c06"]}).to_csv(tmp_path / "dnc.csv", index=False)
    raw = yaml.safe_load(scenario.read_text()) | {"excluded": ["dnc.csv"]}
    scenario.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert "6 of 12 customers have no score row" in invoke("validate", str(scenario)).output  # not the excluded
    (tmp_path / "whole").mkdir()
    assert "no score row" not in invoke("validate", str(write_small_scenario(tmp_path / "whole"))).output


def test_help_keeps_square_brackets_that_rich_markup_would_eat():
    result = invoke("optimize", "--help")
    assert result.exit_code == 0 and "pip install 'cvo[dask]'" in " ".join(result.output.split())


def loaded_modules(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    probe = f"import sys\n{code}\nprint([m for m in {modules!r} if m in sys.modules])"
    return json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                     check=True).stdout.splitlines()[-1].replace("'", '"'))


HEAVY = ("pyomo", "highspy", "numba", "sklearn", "matplotlib", "dask", "distributed", "scipy")
TABLES = ("pandas", "pyarrow", "duckdb", "pydantic", "numpy")


def test_importing_the_cli_loads_no_solver_model_plotting_or_table_library():
    """`cvo --help` starts without pyomo, HiGHS, numba, scikit-learn, matplotlib, Dask, nor pandas,
    pyarrow, DuckDB, pydantic or numpy: each command imports what it needs when it runs."""
    assert loaded_modules("import optimizer.cli", HEAVY + TABLES) == []


def test_validate_and_history_load_no_solver(tmp_path):
    """`cvo validate` reads the data (pandas) but loads no solver; `cvo history` reads DuckDB alone."""
    from weekly_loop import write_scenario

    path = write_scenario(tmp_path)
    out = tmp_path / "w1"
    assert invoke("optimize", str(path), "--out", str(out), "--date", "2026-01-05", "--json").exit_code == 0
    assert invoke("commit", str(out)).exit_code == 0
    run = "from optimizer.cli import app\ntry:\n    app([{args}])\nexcept SystemExit:\n    pass"
    validated = run.format(args=f"'validate', {str(path)!r}")
    assert loaded_modules(validated, HEAVY) == []
    listed = run.format(args=f"'history', {str(out)!r}")
    assert loaded_modules(listed, HEAVY + ("pandas", "pyarrow", "numpy")) == []


@pytest.mark.parametrize("command", ["optimize", "sweep", "compare", "score", "measure", "evaluate"])
def test_every_command_with_progress_can_be_quiet(command):
    assert "--quiet" in invoke(command, "--help").output


def test_quiet_json_output_is_json_alone(tmp_path, scenario):
    result = invoke("optimize", str(scenario), "--out", str(tmp_path / "out"), "--json", "--quiet")
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "optimal"


def test_progress_is_drawn_only_on_a_terminal_and_never_when_quiet(monkeypatch):
    from rich.console import Console

    from optimizer.cli.app import progress_console

    assert progress_console(False).quiet  # pytest's stderr is no terminal
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    assert not progress_console(False).quiet and progress_console(True).quiet


def test_every_command_help_shows_its_example_verbatim():
    """The 'Example:' of each command's docstring appears in its --help exactly as written (Rich
    markup would eat a '[...]'; line wrapping is undone before comparing)."""
    import typer.main

    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        docstring = " ".join((command.callback.__doc__ or "").split())
        example = docstring[docstring.index("Example: "):]
        shown = " ".join(invoke(name, "--help").output.split())
        assert example in shown, name


def test_set_changes_a_run_and_the_scenario_as_run_is_saved_with_it(tmp_path, scenario):
    """--set overrides reach the plan, are listed in summary.json, and scenario.yaml in the run folder
    runs again, from another folder, to the same plan."""
    out = tmp_path / "set"
    result = invoke("optimize", str(scenario), "--out", str(out), "--json", "--set", "budget=3",
                    "--set", "solver.time_limit_s=20")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["overrides"] == ["budget=3", "solver.time_limit_s=20"] and summary["extends"] == []
    assert summary["expected_spend"] + summary["control_spend"] <= 3 + 1e-6
    saved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert saved["budget"] == 3 and saved["solver"]["time_limit_s"] == 20 and Path(saved["customers"]).is_absolute()
    again = invoke("optimize", str(out / "scenario.yaml"), "--out", str(tmp_path / "again"), "--json")
    assert json.loads(again.stdout)["objective"] == pytest.approx(summary["objective"])
    assert pd.read_parquet(tmp_path / "again" / "plan.parquet").equals(pd.read_parquet(out / "plan.parquet"))


def test_set_of_an_unknown_key_is_refused_with_a_did_you_mean(tmp_path, scenario):
    for command in (["optimize", str(scenario), "--out", str(tmp_path / "x")], ["validate", str(scenario)]):
        result = invoke(*command, "--set", "budjet=3")
        assert result.exit_code == 2 and "Did you mean 'budget'?" in result.output
        assert not (tmp_path / "x").exists()

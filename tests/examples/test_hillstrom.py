"""examples/hillstrom: the data's published figures, the README's table, and the pipeline end to end.

The data is read from ../shared/data beside the project root (see /work/shared/data/README.md).
The full experiment (ten splits, about a minute and a half) is marked slow; the default run checks a
quick version on 20,000 customers and that the README holds exactly the table the command prints
from the stored results (examples/hillstrom/results.json). After changing the pipeline, re-run
`make hillstrom`, which rewrites both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import load_example

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "hillstrom" / "hillstrom.csv"
EXAMPLE = ROOT / "examples" / "hillstrom"



@pytest.fixture(scope="module")
def run():
    return load_example("hillstrom/run.py")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(DATA)


def test_known_figures_of_the_data(data, run):
    stats = data.groupby("segment").agg(n=("spend", "size"), rate=("conversion", "mean"), spend=("spend", "mean"))
    assert stats.n.to_dict() == {"Mens E-Mail": 21_307, "Womens E-Mail": 21_387, "No E-Mail": 21_306}
    assert stats.rate.round(5).to_dict() == {"Mens E-Mail": 0.01253, "Womens E-Mail": 0.00884, "No E-Mail": 0.00573}
    assert stats.spend.round(3).to_dict() == {"Mens E-Mail": 1.423, "Womens E-Mail": 1.077, "No E-Mail": 0.653}
    run.check_known_figures(data)
    with pytest.raises(SystemExit, match="Mens E-Mail: 21306 customers"):
        run.check_known_figures(data.drop(index=data.index[data.segment == "Mens E-Mail"][:1]))


def test_history_has_one_row_per_customer_with_a_shared_control(data, run):
    history = run.to_history(data)
    assert len(history) == 64_000 and history.customer_id.is_unique
    assert history.campaign_id.value_counts(dropna=False).to_dict() == {
        "womens_email": 21_387, "mens_email": 21_307, None: 21_306}
    assert (history.treated == history.campaign_id.notna()).all()
    assert history.revenue.sum() == pytest.approx(data.spend.sum())
    halves = run.split(history)
    assert len(halves.fit) == len(halves.evaluation) == 32_000
    assert not set(halves.fit.customer_id) & set(halves.evaluation.customer_id)


def test_readme_table_is_what_the_command_prints_from_the_stored_results(run):
    results = json.loads((EXAMPLE / "results.json").read_text())
    assert load_example("hillstrom/tables.py").readme_table() == run.render_table(results)


def test_quick_pipeline_end_to_end(run, tmp_path):
    """20,000 customers, one split, models allowed 10 responders: every policy valued, both plans at 30%."""
    results = run.run(splits=1, sample=20_000, out=tmp_path, min_responders=10)
    rows = {row["policy"]: row for row in results["rows"]}
    assert rows[run.MAIN]["emailed"] == pytest.approx(0.3, abs=1e-4)
    assert rows[run.COMPARISON]["emailed"] == pytest.approx(0.3, abs=1e-4)
    assert rows["nobody"]["gain"] == 0 and rows[run.EVERYBODY]["emailed"] == 1
    assert rows[run.RANDOM]["emailed"] == pytest.approx(0.3)
    assert results["settings"]["customers_evaluated"] == 10_000
    for folder in (tmp_path, tmp_path / "t_learner"):
        plan = pd.read_parquet(folder / "incremental_value" / "plan.parquet")
        assert len(plan) == 10_000 and plan.campaign_id.notna().sum() == 3_000
        scores = pd.read_parquet(folder / "scores.parquet")
        assert list(scores.columns) == ["customer_id", "campaign_id", "p_treat", "p_control"]
    assert "| cvo plan (cells) | 30.0% |" in run.render_table(results)
    for peer in ("T-learner on spend", "T-learner on visits", "transformed outcome", "hand rule"):
        assert rows[peer]["emailed"] == pytest.approx(0.3, abs=1e-4)
    gains = results["splits"][0]
    assert set(gains) == {"seed", *run.OUTCOMES} and gains["seed"] == run.SEED
    for outcome in run.OUTCOMES:
        assert gains[outcome]["nobody"] == 0 and gains[outcome][run.EVERYBODY] > 0
    assert gains["visits"][run.EVERYBODY] < 0.2  # a visit rate, not dollars
    assert "Goals, over the 1 splits" in run.render_table(results)
    assert [command.split()[1] for command in results["commands"]] == ["score", "optimize", "evaluate"]


@pytest.mark.slow  # 11 s: the default suite is at its 10-minute budget (the quick pipeline above stays in it)
def test_the_printed_commands_run_in_a_shell(run, tmp_path):
    """The results block's three commands, run by the installed `cvo` script, give the table's plan value."""
    results = run.run(splits=1, sample=6_000, out=tmp_path, min_responders=5)
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    printed = [subprocess.run(command, shell=True, cwd=ROOT, env=environment,
                              capture_output=True, text=True, check=True).stdout
               for command in results["commands"]]
    plan = {row["policy"]: row for row in results["rows"]}[run.MAIN]
    assert json.loads(printed[-1])["plan"]["value"] == pytest.approx(plan["value"], rel=1e-12)
    assert json.loads(printed[1])["status"] == "optimal"


@pytest.mark.slow
def test_full_experiment_reproduces_the_stored_results(run, tmp_path):
    stored = json.loads((EXAMPLE / "results.json").read_text())
    results = run.run(out=tmp_path)
    folder = os.path.relpath(tmp_path, run.ROOT)  # the commands name the output folder
    results["commands"] = [command.replace(folder, "out/hillstrom") for command in results["commands"]]
    assert run.render_table(results) == run.render_table(stored)
    for new, old in zip(results["rows"], stored["rows"]):
        assert new["value"] == pytest.approx(old["value"], rel=1e-6)


@pytest.fixture(scope="module")
def peers():
    return load_example("hillstrom/peers.py")


def test_a_peer_emails_the_share_of_highest_predicted_gain_with_ties_broken_by_the_seed(peers):
    gains = np.array([[1.0, 2.0], [3.0, 0.5], [2.0, 2.0], [2.0, 1.0], [-1.0, -2.0], [0.5, 0.1]] * 10)
    arms = peers.targeted(gains, 0.5, seed=7)
    assert (arms != None).sum() == 30  # noqa: E711  # an object array of e-mails and None
    assert set(arms[1::6]) == {"mens_email"} and set(arms[4::6]) == {None}  # best gain 3 in; negative never
    tied = np.flatnonzero(gains.max(axis=1) == 2.0)  # 30 customers at 2.0 for 30 - 10 places
    assert (arms[tied] != None).sum() == 20  # noqa: E711
    assert list(peers.targeted(gains, 0.5, seed=7)) == list(arms)
    assert list(peers.targeted(gains, 0.5, seed=8)) != list(arms)
    assert (peers.targeted(gains, 1.0, seed=7) != None).sum() == 50  # noqa: E711  # only positive gains


def test_the_peers_find_an_uplift_that_one_feature_decides(peers):
    """A randomized history where only customers with mens = 1 respond to the men's e-mail: every
    learned peer ranks them first."""
    rng = np.random.default_rng(3)
    n = 6_000
    campaign = rng.choice(np.array(["mens_email", "womens_email", None], dtype=object), n)
    mens = rng.integers(0, 2, n)
    lifted = (campaign == "mens_email") & (mens == 1)
    visited = (rng.random(n) < np.where(lifted, 0.6, 0.1)).astype(int)
    fit = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "campaign_id": campaign, "treated": (campaign != None).astype(int),  # noqa: E711
        "converted": visited, "revenue": visited * 50.0, "recency": rng.integers(1, 13, n),
        "history": rng.uniform(30, 500, n), "mens": mens, "womens": 1 - mens, "newbie": rng.integers(0, 2, n),
        "zip_code": rng.choice(["Urban", "Rural"], n), "purchase_channel": rng.choice(["Web", "Phone"], n)})
    for name in ("T-learner on spend", "T-learner on visits", "transformed outcome"):
        arms = peers.targeted(peers.PEERS[name](fit, visited.astype(float), fit, 0.1, 0), 0.3, seed=0)
        chosen = arms != None  # noqa: E711
        assert (mens[chosen] == 1).mean() > 0.95 and (arms[chosen] == "mens_email").mean() > 0.95, name

"""The optimize workflow end to end: solve small scenarios, write the outputs, and check them
with the independent checker in tests/checker.py.

The data are 1,500 customers from examples/generate_data.py (seed 11); the scenarios are the
weekly ones scaled down and written to a temporary folder, one per group of constraint families.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from checker import PLAN_COLUMNS, check_plan, custom_lhs, expected_controls, load_expected
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import DataError, InfeasibleError, RunFolderError
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.schema import load_scenario
from optimizer.store import files as outputs
from optimizer.store.files import write_run

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGNS = [
    {
        "id": "winback_coupon", "channel": "email", "cost_per_contact": 0.05, "cost_per_response": 12.0,
        "value_per_response": "0.35 * monetary * 3", "eligible": "days_since_last_purchase > 90 and email_opt_in",
        "min_audience": 75, "max_audience": 300, "control_fraction": 0.25,
    },
    {
        "id": "cross_sell_email", "channel": "email", "cost_per_contact": 0.03, "cost_per_response": 3.0,
        "value_per_response": "0.35 * monetary + 0.05 * ltv", "eligible": "email_opt_in and segment != 'New'",
        "min_audience": 150, "max_audience": 600, "control_fraction": 0.05,
    },
    {
        "id": "vip_call", "channel": "phone", "cost_per_contact": 4.0, "cost_per_response": 5.0,
        "value_per_response": "0.35 * monetary + 0.2 * ltv",
        "eligible": "phone_opt_in and (segment in ['VIP', 'Loyal'] or ltv > 800)",
        "min_audience": 10, "max_audience": 40, "budget": 125, "control_fraction": 0.2,
    },
    {
        "id": "sms_reminder", "channel": "sms", "cost_per_contact": 0.08, "cost_per_response": 0.0,
        "value_per_response": "0.35 * monetary", "eligible": "sms_opt_in and days_since_last_purchase <= 365",
        "min_audience": 50, "max_audience": 250, "control_fraction": 0.3,
    },
]
BASE = {
    "customers": "data/customers.parquet", "scores": "data/scores.parquet", "seed": 7,
    "objective": "incremental_value", "solver": {"time_limit_s": 60, "mip_gap": 1.0e-6},
}
SCENARIOS = {
    "families": {
        **BASE, "budget": 450,
        "campaigns": [
            {**CAMPAIGNS[0], "min_audience": 200}, {**CAMPAIGNS[1], "max_audience": 250},
            {**CAMPAIGNS[2], "budget": 80}, CAMPAIGNS[3],
        ],
        "channels": {"email": {"capacity": 600}, "sms": {"capacity": 80}, "phone": {"capacity": 30}},
    },
    "custom": {
        **BASE, "budget": 450, "campaigns": CAMPAIGNS,
        "constraints": [
            {"name": "vip_call_floor", "sense": ">=", "where": "segment == 'VIP'", "campaigns": ["vip_call"],
             "rhs": 15},
            {"name": "at_risk_cap", "sense": "<=", "where": "segment == 'At Risk'",
             "campaigns": ["winback_coupon", "sms_reminder"], "rhs": 35},
            {"name": "south_fair_share", "sense": "<=", "expression": "(1 if region == 'South' else 0) - 0.30",
             "campaigns": ["winback_coupon"], "rhs": 0},
            {"name": "sms_exactly", "sense": "==", "campaigns": ["sms_reminder"], "rhs": 120},
            {"name": "lapsed_spend_cap", "sense": "<=", "expression": "spend", "where": "segment == 'Lapsed'",
             "rhs": 40},
            {"name": "email_uplift_floor", "sense": ">=", "expression": "uplift * value_per_response",
             "where": "channel == 'email' and campaign_id != 'winback_coupon'", "rhs": 150},
        ],
    },
    "lists": {
        **BASE, "budget": 450, "campaigns": CAMPAIGNS,
        "forced": [{"file": "data/vips.csv", "campaign": "vip_call"}, {"file": "data/promised.csv"}],
        "excluded": ["data/do_not_contact.csv"], "control_strata": ["segment", "'high' if ltv > 500 else 'low'"],
    },
    "planner": {
        **BASE, "budget": 450, "campaigns": CAMPAIGNS,
        "objective": {"expression": "uplift * value_per_response - spend - 0.5 * churn_risk * spend"},
        "constraints": [{"name": "roi_hurdle", "sense": ">=", "expression": "uplift * value_per_response - spend",
                         "per": "spend", "rhs": 6.0}],
    },
    "responses": {
        **{key: value for key, value in BASE.items() if key != "scores"}, "objective": "responses", "budget": 60,
        "campaigns": [
            {"id": "nudge", "channel": "sms", "cost_per_contact": 0.1, "p_treat": "clip(0.02 + 0.2 * churn_risk, 0, 1)",
             "p_control": 0.02, "eligible": "sms_opt_in", "min_audience": 40, "control_fraction": 0.5},
            {"id": "letter", "channel": "mail", "cost_per_contact": 0.9,
             "p_treat": "0.05 if segment == 'VIP' else 0.03",
             "p_control": 0.01, "max_audience": 30, "control_fraction": 0.25},
        ],
    },
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, generate_data) -> Path:
    """A folder with data/customers.parquet, data/scores.parquet and one YAML file per scenario."""
    root = tmp_path_factory.mktemp("cvo")
    customers, scores = generate_data.generate(1500, 11)
    (root / "data").mkdir()
    customers.to_parquet(root / "data" / "customers.parquet", index=False)
    scores.to_parquet(root / "data" / "scores.parquet", index=False)
    write_lists(customers, root / "data")
    for name, scenario in SCENARIOS.items():
        write_scenario(root / f"{name}.yaml", {"name": name, **scenario})
    return root


def write_lists(customers: pd.DataFrame, folder: Path) -> None:
    """The 'lists' scenario's files: 6 customers promised a call, 4 a text (by a campaign_id column),
    every 12th other customer and two ids the table lacks on the do-not-contact list."""
    callable_ = customers["phone_opt_in"] & (customers["segment"].isin(["VIP", "Loyal"]) | (customers["ltv"] > 800))
    texted = customers["sms_opt_in"] & (customers["days_since_last_purchase"] <= 365) & ~callable_
    vips, promised = customers["customer_id"][callable_].iloc[:6], customers["customer_id"][texted].iloc[:4]
    pd.DataFrame({"customer_id": vips}).to_csv(folder / "vips.csv", index=False)
    pd.DataFrame({"customer_id": promised, "campaign_id": "sms_reminder"}).to_csv(folder / "promised.csv", index=False)
    others = customers["customer_id"][~customers["customer_id"].isin([*vips, *promised])].iloc[::12]
    pd.DataFrame({"customer_id": [*others, "NOT_A_CUSTOMER_1", "NOT_A_CUSTOMER_2"]}).to_csv(
        folder / "do_not_contact.csv", index=False)


def write_scenario(path: Path, scenario: dict) -> Path:
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def solved(workspace: Path) -> dict[str, tuple[Path, Path, dict]]:
    """Each scenario solved once and written to its own out dir: name -> (scenario, out dir, summary)."""
    runs = {}
    for name in SCENARIOS:
        scenario, out = workspace / f"{name}.yaml", workspace / f"out_{name}"
        runs[name] = (scenario, out, write_plan(optimize(scenario), out))
    return runs


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_written_plan_passes_the_independent_checker(solved, name: str):
    scenario, out, summary = solved[name]
    assert check_plan(scenario, out) == []
    assert summary["status"] == "optimal"
    assert summary["gap"] <= 1e-6


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_plan_file_has_the_documented_columns(solved, name: str):
    _, out, summary = solved[name]
    plan = pd.read_parquet(out / "plan.parquet")
    assert list(plan.columns) == list(PLAN_COLUMNS)
    given = plan["campaign_id"].notna()
    assert set(plan["group"][given]) <= {"treatment", "control", "forced"}
    assert plan["group"][~given].isna().all()
    assert (plan[["expected_value", "expected_spend"]][~given] == 0).all().all()
    assert pd.api.types.is_float_dtype(plan["expected_value"]) and pd.api.types.is_float_dtype(plan["expected_spend"])
    assert summary["treatment"] == int(plan["group"].isin(["treatment", "forced"]).sum())
    assert summary["forced"] == int((plan["group"] == "forced").sum())
    assert summary["control"] == int((plan["group"] == "control").sum())
    assert summary["expected_value"] == pytest.approx(plan["expected_value"].sum())
    channels = {c["id"]: c["channel"] for c in summary["campaigns"]}
    assert (plan["channel"][given] == plan["campaign_id"][given].map(channels)).all()
    assert plan["channel"][~given].isna().all() and plan["reason"][given].isna().all()
    reasons = plan["reason"][~given].value_counts().to_dict()
    assert sum(reasons.values()) == summary["unassigned"]["total"] == int((~given).sum())
    assert sorted(count for count in reasons.values()) == sorted(
        r["customers"] for r in summary["unassigned"]["reasons"] if r["customers"])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_channel_gets_its_contact_list(solved, name: str):
    """contacts_<channel>.csv: the channel's treated customers (controls are not sent anything), as
    the channel table counts them, with the run's date to send on."""
    _, out, summary = solved[name]
    plan = pd.read_parquet(out / "plan.parquet")
    for channel in summary["channels"]:
        listed = pd.read_csv(out / summary["contact_lists"][channel["channel"]], dtype=str)
        assert list(listed.columns) == ["customer_id", "campaign_id", "channel", "send_date", "variant", "group"]
        assert len(listed) == channel["contacts"] and (listed["send_date"] == summary["run_date"]).all()
        sent = plan[plan["group"].isin(["treatment", "forced"]) & (plan["channel"] == channel["channel"])]
        assert set(listed["customer_id"]) == set(sent["customer_id"])


def test_every_constraint_family_is_exercised(solved):
    """The scenarios would prove little if no limit were ever reached.

    A row is reached when it holds with equality or its LP shadow price is non-zero (an integer
    plan may leave a few cents of a budget unspent although the budget decides the plan).
    """
    reached = set()
    for _, _, summary in solved.values():
        for row in summary["constraints"]:
            if row["binding"] or abs(row["shadow_price"]) > 1e-9:
                reached.add(row["family"])
    assert reached == {"budget", "campaign_budget", "min_audience", "max_audience", "channel_capacity", "custom"}
    custom = {row["name"]: row for row in solved["custom"][2]["constraints"] if row["family"] == "custom"}
    assert custom["sms_exactly"]["lhs"] == pytest.approx(120)
    assert custom["at_risk_cap"]["binding"] and custom["vip_call_floor"]["binding"]


def test_checker_catches_a_broken_plan(solved, tmp_path: Path):
    """Tampering with a valid plan must be reported: the checker is not a test that cannot fail."""
    scenario, out, _ = solved["families"]
    plan = pd.read_parquet(out / "plan.parquet")
    cases = {
        "ineligible": (lambda p: p.assign(campaign_id=p["campaign_id"].where(p["campaign_id"].isna(), "vip_call")),
                       "ineligible customer"),
        "dropped customer": (lambda p: p.iloc[1:], "missing from the plan"),
        "wrong value": (lambda p: p.assign(expected_value=p["expected_value"] * 1.01), "expected_value of treated"),
        "no controls": (lambda p: p.assign(group=p["group"].replace("control", "treatment")),
                        "controls in an audience"),
        "over budget": (lambda p: _treat_everyone_eligible(p, load_expected(scenario)), "budget (treated spend)"),
    }
    for label, (tamper, message) in cases.items():
        broken = tmp_path / label.replace(" ", "_")
        broken.mkdir()
        tamper(plan.copy()).to_parquet(broken / "plan.parquet", index=False)
        problems = check_plan(scenario, broken)
        assert any(message in problem for problem in problems), f"{label} went unnoticed: {problems}"
    scenario, out, _ = solved["custom"]
    plan = pd.read_parquet(out / "plan.parquet")
    sms = plan["campaign_id"] == "sms_reminder"
    dropped = plan.assign(**{column: plan[column].mask(sms) for column in ("campaign_id", "group")},
                          **{column: plan[column].mask(sms, 0.0) for column in ("expected_value", "expected_spend")})
    (tmp_path / "custom").mkdir()
    dropped.to_parquet(tmp_path / "custom" / "plan.parquet", index=False)
    assert any(problem.startswith("sms_exactly: 0 == 120") for problem in check_plan(scenario, tmp_path / "custom"))


def _treat_everyone_eligible(plan: pd.DataFrame, expected) -> pd.DataFrame:
    """Give cross_sell_email to every customer eligible for it, all as treatment."""
    pair = expected.pairs[1]
    eligible = pd.Series(pair["eligible"], index=expected.customer_ids).reindex(plan["customer_id"]).to_numpy()
    spend = pd.Series(pair["spend"], index=expected.customer_ids).reindex(plan["customer_id"]).to_numpy()
    value = pd.Series(pair["value"], index=expected.customer_ids).reindex(plan["customer_id"]).to_numpy()
    return plan.assign(
        campaign_id=np.where(eligible, "cross_sell_email", plan["campaign_id"]),
        group=np.where(eligible, "treatment", plan["group"]),
        expected_value=np.where(eligible, value, plan["expected_value"]),
        expected_spend=np.where(eligible, spend, plan["expected_spend"]),
    )


def test_same_scenario_same_plan(solved):
    scenario, out, _ = solved["families"]
    again = optimize(scenario).assignments
    pd.testing.assert_frame_equal(again, pd.read_parquet(out / "plan.parquet"), check_dtype=False)


def test_second_run_replaces_the_outputs_atomically(workspace: Path, tmp_path: Path):
    scenario = workspace / "responses.yaml"
    plan = optimize(scenario)
    first = write_plan(plan, tmp_path)
    second = write_plan(plan, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["contacts_mail.csv", "contacts_sms.csv", "manifest.json",
                                           "plan.parquet", "scenario.yaml", "summary.json"]
    assert first["run_id"] != second["run_id"]
    metadata = pq.read_schema(tmp_path / "plan.parquet").metadata
    assert metadata[b"cvo_run_id"].decode() == second["run_id"]
    assert yaml.safe_load((tmp_path / "summary.json").read_text())["run_id"] == second["run_id"]


def test_a_failing_run_leaves_the_previous_outputs_untouched(workspace: Path, tmp_path: Path):
    write_plan(optimize(workspace / "responses.yaml"), tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    broken = write_scenario(workspace / "missing_data.yaml",
                            {"name": "missing_data", **SCENARIOS["families"], "customers": "data/nowhere.parquet"})
    with pytest.raises(DataError, match="does not exist"):
        write_plan(optimize(broken), tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_a_write_that_fails_midway_leaves_the_previous_file_and_no_temp_file(tmp_path: Path):
    target = tmp_path / "plan.parquet"
    target.write_bytes(b"previous plan")

    def half_written(temp: Path) -> None:
        temp.write_bytes(b"half a pla")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        outputs.atomic_write(target, half_written)
    assert target.read_bytes() == b"previous plan"
    assert os.listdir(tmp_path) == ["plan.parquet"]


def test_control_size_follows_the_fraction_written_in_the_scenario(workspace: Path):
    """0.1 × 15 = 1.5 rounds to 2; a fraction recomputed as 1 - (1 - 0.1) = 0.0999... would give 1."""
    scenario = write_scenario(workspace / "fifteen.yaml", {
        "name": "fifteen", **BASE,
        "campaigns": [{**CAMPAIGNS[1], "min_audience": 15, "max_audience": 15, "control_fraction": 0.1}],
    })
    plan = optimize(scenario)
    assert expected_controls(0.1, 15) == 2
    assert int((plan.assignments["group"] == "control").sum()) == 2


SHIPPED = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: Path(p).stem)
def test_checker_reads_each_shipped_scenario_as_cvo_does(path: str, tmp_path: Path):
    """Eligibility, spend, value and custom rows of the checker agree with optimizer.formulate (a
    scenario that extends another is read as the run folder keeps it: scenario.yaml, every key in it)."""
    if "extends" in yaml.safe_load(Path(path).read_text()):
        path = str(write_scenario(tmp_path / "effective.yaml", load_scenario(path).effective()))
    expected = load_expected(path)
    problem = formulate(load_data(load_scenario(path))).problem
    eligible = np.column_stack([pair["eligible"] for pair in expected.pairs])
    eligible &= ~np.isin(expected.customer_ids, list(expected.excluded))[:, None]  # the excluded get nothing
    assert np.array_equal(eligible, problem.eligible)
    assert np.allclose(np.column_stack([pair["spend"] for pair in expected.pairs]), problem.spend)
    value = np.column_stack([pair["value"] for pair in expected.pairs])
    assert np.allclose(value[eligible], problem.pair_value[eligible])
    rng = np.random.default_rng(0)
    choice = np.where(eligible.any(axis=1), rng.integers(0, eligible.shape[1], len(eligible)), -1)
    choice = np.where(eligible[np.arange(len(choice)), np.maximum(choice, 0)], choice, -1)
    activity = dict(zip([row.name for row in problem.rows], problem.row_activity(choice)))
    for constraint in expected.scenario.get("constraints") or []:
        lhs = custom_lhs(expected, constraint, choice)
        if "per" in constraint:  # a ratio row is sum (expression - r per) >= 0
            lhs -= constraint["rhs"] * custom_lhs(expected, constraint, choice, "per")
        assert lhs == pytest.approx(activity[constraint["name"]], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: Path(p).stem)
def test_shipped_scenario_plan_passes_the_checker(path: str, tmp_path: Path):
    """30,000 customers: the plan must be valid; stopping at the time limit is allowed, silence is not."""
    summary = write_plan(optimize(path), tmp_path)
    assert check_plan(tmp_path / "scenario.yaml", tmp_path) == []  # the scenario as run, bases laid in
    if summary["status"] != "optimal":
        assert summary["termination"] == "time_limit" and summary["status"] == "feasible"
    assert summary["bound"] >= summary["objective"] and summary["gap"] is not None


def test_tied_customers_are_chosen_by_a_seeded_key_of_their_id_not_their_row(tmp_path: Path):
    """Segment scores (three rows shared by 3,000 customers) and a capacity that takes part of the
    tied best segment: who is contacted depends on the seed and the ids, not on the order of the
    table nor on the solver; another seed picks other customers for the same objective."""
    rng = np.random.default_rng(4)
    ids = [f"c{i:05d}" for i in range(3000)]
    segment = rng.integers(0, 3, size=3000)
    customers = pd.DataFrame({"customer_id": ids, "segment": segment})
    scores = pd.DataFrame({"customer_id": ids, "campaign_id": "mail", "p_treat": np.array([0.30, 0.20, 0.10])[segment],
                           "p_control": 0.05})
    scenario = {"name": "ties", "customers": "customers.parquet", "scores": "scores.parquet", "seed": 1,
                "campaigns": [{"id": "mail", "channel": "email", "cost_per_contact": 0.1, "value_per_response": 10.0,
                               "control_fraction": 0.0}],
                "channels": {"email": {"capacity": int((segment == 0).sum() * 0.4)}}}
    chosen = {}
    for name, order, seed in (("a", np.arange(3000), 1), ("b", rng.permutation(3000), 1), ("c", np.arange(3000), 2)):
        folder = tmp_path / name
        folder.mkdir()
        customers.iloc[order].to_parquet(folder / "customers.parquet")
        scores.iloc[order].to_parquet(folder / "scores.parquet")
        plan = optimize(write_scenario(folder / "ties.yaml", {**scenario, "seed": seed}))
        given = plan.assignments[plan.assignments["campaign_id"].notna()]
        chosen[name] = (set(given["customer_id"]), plan.result.objective, plan.result.method)
    assert chosen["a"][2] == "classes" and chosen["a"][0] == chosen["b"][0]
    assert chosen["a"][1] == pytest.approx(chosen["c"][1]) and chosen["a"][0] != chosen["c"][0]
    assert len(chosen["a"][0]) == scenario["channels"]["email"]["capacity"]


def test_contact_list_names_never_collide_and_old_lists_are_removed(tmp_path: Path):
    from optimizer.plan.outputs import contact_lists

    plan = pd.DataFrame({"customer_id": ["a", "b", "c"], "campaign_id": ["x", "y", "z"], "group": "treatment",
                         "channel": ["e mail", "e/mail", "E mail"]})
    lists = contact_lists(plan, "2026-01-05", ["e mail", "e/mail", "E mail", "post"])
    names = {channel: name for channel, (name, _) in lists.items()}
    assert len({name.lower() for name in names.values()}) == 4 and names["post"] == "contacts_post.csv"
    assert all(len(rows) == (channel != "post") for channel, (_, rows) in lists.items())


def test_a_rerun_removes_what_the_run_before_wrote_and_only_that(workspace: Path, tmp_path: Path):
    """The run before's lists of a channel this run lacks and the pages written about it go; a file
    no run wrote (a list the user keeps beside the run) stays."""
    plan = optimize(workspace / "responses.yaml")
    write_run(tmp_path, "earlier", {"contacts_fax.csv": lambda temp: temp.write_text("customer_id\nold\n"),
                                    "summary.json": lambda temp: temp.write_text('{"run_id": "earlier"}')})
    for about in ("report.html", "rules.json", "rules.txt", "measurement.json"):
        (tmp_path / about).write_text("of the run before")
    (tmp_path / "contacts_partners.csv").write_text("customer_id\nmine\n")
    summary = write_plan(plan, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("contacts_*.csv")) == sorted(
        [*summary["contact_lists"].values(), "contacts_partners.csv"])
    assert (tmp_path / "contacts_partners.csv").read_text() == "customer_id\nmine\n"
    assert not any((tmp_path / about).exists() for about in ("report.html", "rules.json", "rules.txt",
                                                               "measurement.json"))


@pytest.mark.parametrize("theirs", ["scenario.yaml", "contacts_partners.csv", "report.html"])
def test_a_folder_holding_files_no_run_wrote_is_refused_and_kept(workspace: Path, tmp_path: Path, theirs: str):
    """--out onto a folder of the user's (no manifest, no run's summary): refused before solving,
    with what it holds named, and nothing in it touched."""
    (tmp_path / theirs).write_text("# the user's own\n")
    (tmp_path / "notes.txt").write_text("kept\n")
    result = CliRunner().invoke(app, ["optimize", str(workspace / "responses.yaml"), "--out", str(tmp_path), "-q"])
    assert result.exit_code == 7, result.output
    assert theirs in result.output and "not the files of a cvo run" in result.output
    assert sorted(os.listdir(tmp_path)) == sorted([theirs, "notes.txt"])
    assert (tmp_path / theirs).read_text() == "# the user's own\n"
    with pytest.raises(RunFolderError, match="not the files of a cvo run"):
        write_plan(optimize(workspace / "responses.yaml"), tmp_path)


def test_forced_customers_get_their_campaign_untouched_by_the_control_draw(solved, workspace: Path):
    """The 'lists' scenario: 6 customers promised a call and 4 a text are treated with the group
    'forced' (never held out); the do-not-contact list's customers get nothing, under their own
    reason; the summary counts both lists, the two ids the customer table lacks included."""
    _, out, summary = solved["lists"]
    plan = pd.read_parquet(out / "plan.parquet").set_index("customer_id")
    vips = pd.read_csv(workspace / "data" / "vips.csv", dtype=str)["customer_id"]
    promised = pd.read_csv(workspace / "data" / "promised.csv", dtype=str)["customer_id"]
    blocked = pd.read_csv(workspace / "data" / "do_not_contact.csv", dtype=str)["customer_id"]
    forced = plan[plan["group"] == "forced"]
    assert set(forced.index) == {*vips, *promised}
    assert (forced.loc[vips, "campaign_id"] == "vip_call").all()
    assert (forced.loc[promised, "campaign_id"] == "sms_reminder").all()
    assert (forced["expected_spend"] > 0).all()
    known = blocked[blocked.isin(plan.index)]
    assert plan.loc[known, "campaign_id"].isna().all() and (plan.loc[known, "reason"] == "excluded").all()
    assert (summary["forced"], summary["excluded"]) == (10, len(known))
    assert {c["id"]: c["forced"] for c in summary["campaigns"]} == {
        "winback_coupon": 0, "cross_sell_email": 0, "vip_call": 6, "sms_reminder": 4}
    assert [(f["list"], f["customers"]) for f in summary["customer_lists"]] == [
        ("excluded", len(known)), ("forced", 6), ("forced", 4)]
    assert summary["customer_lists"][0]["not_in_customers"] == 2


def test_forced_customers_alone_over_a_limit_are_refused_before_solving(workspace: Path):
    scenario = yaml.safe_load((workspace / "lists.yaml").read_text())
    scenario["campaigns"][2] = {**scenario["campaigns"][2], "max_audience": 5, "min_audience": 0}
    path = write_scenario(workspace / "overforced.yaml", {**scenario, "name": "overforced"})
    with pytest.raises(InfeasibleError) as caught:
        optimize(path)
    assert "the forced customers alone use 6 of max_audience[vip_call] (<= 5" in caught.value.message
    assert caught.value.where.endswith("overforced.yaml, forced")


def test_an_expression_objective_and_a_ratio_row(solved):
    """The 'planner' scenario maximises its own expression (the checker recomputes every treated
    pair's value from it) under an ROI hurdle written as a ratio: the plan's ROI over its selected
    audience is at least 6, and the hurdle binds: without it the objective is higher."""
    scenario, _, summary = solved["planner"]
    assert summary["objective_name"] == "expression: uplift * value_per_response - spend - 0.5 * churn_risk * spend"
    [hurdle] = [row for row in summary["constraints"] if row["name"] == "roi_hurdle"]
    assert hurdle["ratio_rhs"] == 6.0 and hurdle["ratio"] >= 6.0 - 1e-9 and hurdle["binding"]
    assert hurdle["ratio"] == pytest.approx((hurdle["lhs"] + 6.0 * hurdle["per_sum"]) / hurdle["per_sum"])
    free = optimize(load_scenario(scenario).with_changes({"constraints": [], "name": "no_hurdle"}))
    assert free.summary["objective"] > summary["objective"] + 1.0


def test_checker_catches_controls_drawn_across_strata(solved, tmp_path: Path):
    """The 'lists' plan draws its controls within segment × ltv tier: swapping one control with a
    treated customer of another stratum of its campaign keeps every total and must still be caught."""
    scenario, out, _ = solved["lists"]
    plan = pd.read_parquet(out / "plan.parquet")
    segments = pd.read_parquet(scenario.parent / "data" / "customers.parquet").set_index("customer_id")["segment"]
    mail = plan[plan["campaign_id"] == "cross_sell_email"]
    held = mail[mail["group"] == "control"].iloc[0]
    other = mail[(mail["group"] == "treatment") & (mail["customer_id"].map(segments) != segments[held["customer_id"]])]
    swap = other.iloc[0]
    plan.loc[held.name, "group"], plan.loc[swap.name, "group"] = "treatment", "control"
    for column in ("expected_value", "expected_spend"):
        plan.loc[held.name, column], plan.loc[swap.name, column] = swap[column], 0.0
    broken = tmp_path / "swapped"
    broken.mkdir()
    plan.to_parquet(broken / "plan.parquet", index=False)
    assert any("stratum" in problem for problem in check_plan(scenario, broken))


def test_an_infeasible_run_with_forced_customers_names_the_files_limits(workspace: Path):
    """A floor no plan can reach: the diagnosis runs on what the forced customers leave, but tells the
    limits as the file writes them (>= 10,000, not less what the forced customers bring)."""
    scenario = yaml.safe_load((workspace / "lists.yaml").read_text())
    scenario["constraints"] = [{"name": "big_floor", "sense": ">=", "expression": "p_treat", "rhs": 10000}]
    path = write_scenario(workspace / "floor.yaml", {**scenario, "name": "floor"})
    with pytest.raises(InfeasibleError) as caught:
        optimize(path)
    message = caught.value.message
    assert "big_floor (>= 10,000," in message and "The forced customers' use of each limit is counted in" in message
    change = re.search(r"lower big_floor by (?:at least )?([\d,.]+) \(to ([\d,.]+)\)", message)
    assert change and float(change[1].replace(",", "")) + float(change[2].replace(",", "")) == pytest.approx(10000)


def test_contact_lists_per_campaign_on_request(workspace: Path, tmp_path: Path):
    """contact_lists: campaign writes contacts_<campaign>.csv: each campaign's sent customers, every
    campaign a list (its header when nobody is sent), and a rerun per channel removes them."""
    scenario = yaml.safe_load((workspace / "families.yaml").read_text())
    path = write_scenario(workspace / "per_campaign.yaml", {**scenario, "name": "per_campaign",
                                                              "contact_lists": "campaign"})
    summary = write_plan(optimize(path), tmp_path)
    assert set(summary["contact_lists"]) == {c["id"] for c in summary["campaigns"]}
    plan = pd.read_parquet(tmp_path / "plan.parquet")
    for campaign in summary["campaigns"]:
        listed = pd.read_csv(tmp_path / summary["contact_lists"][campaign["id"]], dtype=str)
        assert set(listed["campaign_id"]) <= {campaign["id"]} and len(listed) == campaign["treatment"]
        sent = plan[(plan["campaign_id"] == campaign["id"]) & plan["group"].isin(["treatment", "forced"])]
        assert set(listed["customer_id"]) == set(sent["customer_id"])
    channels = write_plan(optimize(workspace / "families.yaml"), tmp_path)
    assert sorted(p.name for p in tmp_path.glob("contacts_*.csv")) == sorted(channels["contact_lists"].values())


def test_a_breakdown_level_named_like_the_rest_is_counted_once_and_a_changed_scenario_keeps_its_path(workspace: Path):
    scenario = load_scenario(workspace / "families.yaml").with_changes(
        {"breakdown": ["'other' if ltv > 800 else 'rest'", "monetary"]})
    summary = optimize(scenario).summary
    for part in summary["breakdown"]:
        assert sum(level["customers"] for level in part["levels"]) == summary["customers"]
    assert summary["breakdown"][1]["levels"][-1]["level"].endswith("other levels)")
    assert summary["scenario_path"] == str((workspace / "families.yaml").resolve())


def test_a_campaign_without_controls_states_no_power(workspace: Path):
    scenario = load_scenario(workspace / "families.yaml").with_changes(
        {"campaigns.sms_reminder.control_fraction": 0.0})
    campaigns = {c["id"]: c for c in optimize(scenario).summary["campaigns"]}
    assert campaigns["sms_reminder"]["power"] is None and campaigns["sms_reminder"]["control"] == 0
    assert campaigns["winback_coupon"]["power"]["controls"] == campaigns["winback_coupon"]["control"]


def test_a_ratio_out_of_reach_is_told_as_the_ratio_a_plan_was_found_at(workspace: Path):
    """The planner scenario's ROI hurdle raised to 30 conflicts with the minimum audiences: the
    message names a ratio, not the linear form's amount, and at that ratio there is a plan."""
    hurdle = dict(SCENARIOS["planner"]["constraints"][0])

    def at(ratio: float) -> Path:
        return write_scenario(workspace / "ratio.yaml", {
            "name": "ratio", **SCENARIOS["planner"], "constraints": [{**hurdle, "rhs": ratio}]})

    with pytest.raises(InfeasibleError) as caught:
        optimize(at(30.0))
    found = re.search(r"lower the ratio of roi_hurdle \(>= 30\) to ([\d.]+) \(a plan was found at that ratio\)",
                      caught.value.message)
    assert found, caught.value.message
    assert "roi_hurdle (>= 0, constraints[0]: a ratio >= 30)" in caught.value.message
    plan = optimize(at(float(found.group(1))))
    assert plan.result.choice is not None and plan.formulation.problem.violations(plan.result.choice) == []


def test_an_infeasibility_whose_limits_were_not_found_in_time_does_not_point_above(monkeypatch: pytest.MonkeyPatch):
    """When the diagnosis names no limit (it ran out of time), the fix says how to get them named,
    not "change one of the limits named above" over a message that names none."""
    import optimizer.solve.infeasibility as infeasibility

    monkeypatch.setattr(infeasibility, "diagnose", lambda *args: infeasibility.Diagnosis([], [], []))
    weekly = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "weekly.yaml")
    with pytest.raises(InfeasibleError) as caught:
        optimize(weekly.with_changes({"budget": 1431}))
    assert "found no change of the limits" in caught.value.message
    assert "named above" not in caught.value.message and "solver.time_limit_s" in caught.value.fix

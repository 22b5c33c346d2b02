"""optimizer/scenario/offers.py: offer variants, each a column of the one-of-k choice, under their
campaign's limits; checked against an independent brute force over every plan of tiny scenarios."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from checker import _check_limits, check_plan, load_expected

from optimizer.errors import DataError, ScenarioInvalid
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize, validate
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.offers import offer_labels, offers, planned_offers
from optimizer.scenario.schema import load_scenario

COUPON = {"id": "coupon", "channel": "email", "p_treat": "0.1 + 0.05 * tier", "p_control": 0.05,
          "value_per_response": "40 + 10 * tier", "cost_per_contact": 0.5, "cost_per_response": 5,
          "variants": [
              {"id": "low"},
              {"id": "mid", "cost_per_response": 9, "p_treat": "min(1, p_control + 1.5 * (p_treat - p_control))"},
              {"id": "high", "cost_per_response": 15, "p_treat": "min(1, p_control + 2 * (p_treat - p_control))",
               "eligible": "tier >= 1", "max_audience": 1},
          ]}
CALL = {"id": "call", "channel": "phone", "p_treat": 0.3, "p_control": 0.1, "value_per_response": "20 * tier",
        "cost_per_contact": 3}


def scenario_file(folder: Path, tiers: list[int], **keys) -> Path:
    """Customers c1.. with a ``tier`` each, the coupon (three variants) and a call, and ``keys``."""
    ids = [f"c{k}" for k in range(1, len(tiers) + 1)]
    pd.DataFrame({"customer_id": ids, "tier": tiers}).to_csv(folder / "customers.csv", index=False)
    raw = {"name": "offers", "customers": "customers.csv", "campaigns": [COUPON, CALL],
           "contact_policy": {"history": "history.duckdb"}, **keys}
    path = folder / "offers.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_each_variant_is_an_offer_with_the_campaign_keys_it_does_not_give() -> None:
    scenario = load_scenario(Path("scenarios/planner.yaml"))
    labels = offer_labels(scenario)
    assert labels[:4] == ("winback_coupon:off8", "winback_coupon:off12", "winback_coupon:off20", "cross_sell_email")
    off12 = offers(scenario)[1]
    assert (off12.cost_per_contact, off12.cost_per_response) == (0.05, 12.0)
    assert off12.value_per_response == scenario.campaigns[0].value_per_response
    assert off12.key == "campaigns[0].variants[1]"


def test_a_variant_reads_the_campaign_probabilities_and_narrows_its_eligibility(tmp_path: Path) -> None:
    formulation = formulate(load_data(load_scenario(scenario_file(tmp_path, [0, 1, 2]))))
    problem = formulation.problem
    assert problem.campaign_ids == ("coupon:low", "coupon:mid", "coupon:high", "call")
    p_low = np.array([0.1, 0.15, 0.2])
    p_mid = 0.05 + 1.5 * (p_low - 0.05)
    assert problem.spend[:, 0] == pytest.approx(0.5 + 5 * p_low)
    assert problem.spend[:, 1] == pytest.approx(0.5 + 9 * p_mid)
    assert problem.pair_value[:, 1] == pytest.approx((p_mid - 0.05) * np.array([40, 50, 60]) - (0.5 + 9 * p_mid))
    assert problem.eligible[:, 2].tolist() == [False, True, True]
    names = [row.name for row in problem.rows]
    assert names == ["max_audience[coupon:high]"]
    assert problem.rows[0].campaigns.tolist() == [False, False, True, False]


def test_the_campaign_limits_count_its_variants_together(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, [0, 1, 2], campaigns=[
        {**COUPON, "min_audience": 1, "max_audience": 2, "budget": 10}, CALL]))
    rows = {row.name: row for row in formulate(load_data(scenario)).problem.rows}
    for name in ("min_audience[coupon]", "max_audience[coupon]", "budget[coupon]"):
        assert rows[name].campaigns.tolist() == [True, True, True, False]


def brute_force_value(scenario_path: Path) -> float | None:
    """The best sum of pair values over every assignment of customers to offers (or nothing) that the
    independent checker finds within every limit and eligible; None when none is."""
    expected = load_expected(scenario_path)
    values = np.column_stack([pair["value"] for pair in expected.pairs])
    eligible = np.column_stack([pair["eligible"] for pair in expected.pairs])
    n, k = values.shape
    best, none = None, np.zeros(n, dtype=bool)
    for plan in itertools.product(range(-1, k), repeat=n):
        choice = np.array(plan)
        given = choice >= 0
        if not eligible[np.flatnonzero(given), choice[given]].all() or _check_limits(expected, choice, none):
            continue
        total = float(values[np.flatnonzero(given), choice[given]].sum())
        best = total if best is None else max(best, total)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_variants_solve_to_the_brute_force_optimum(tmp_path: Path, seed: int) -> None:
    """Random tiny scenarios with a three-variant coupon and a call under a total budget, the coupon's
    audiences and budget and a variant's cap: the plan is worth the best plan an independent model of
    the scenario (tests/checker.py) finds, and breaks none of its rules."""
    rng = np.random.default_rng(seed)
    coupon = {**COUPON, "min_audience": int(rng.integers(0, 3)), "max_audience": int(rng.integers(2, 5)),
              "budget": float(rng.uniform(2, 12))}
    coupon["variants"] = [{**variant, "cost_per_response": float(rng.integers(2, 20))} for variant in COUPON["variants"]]
    path = scenario_file(tmp_path, rng.integers(0, 3, size=5).tolist(), campaigns=[coupon, CALL],
                         budget=float(rng.uniform(5, 25)), channels={"email": {}, "phone": {"capacity": int(rng.integers(0, 3))}})
    best = brute_force_value(path)
    if best is None:
        with pytest.raises(Exception, match="No plan satisfies"):
            optimize(path)
        return
    plan = optimize(path)
    assert plan.result.objective == pytest.approx(best, abs=1e-6)
    write_plan(plan, tmp_path / "out")
    assert check_plan(path, tmp_path / "out") == []


def test_the_plan_names_campaign_and_variant_and_draws_controls_per_variant(tmp_path: Path) -> None:
    tiers = [int(t) for t in np.random.default_rng(3).integers(0, 3, size=400)]
    coupon = {**COUPON, "control_fraction": 0.25, "variants": [
        {**variant, "max_audience": 120} for variant in COUPON["variants"]]}
    path = scenario_file(tmp_path, tiers, campaigns=[coupon, CALL], control_strata=["tier"])
    plan = optimize(path)
    summary = write_plan(plan, tmp_path / "out")
    assert check_plan(path, tmp_path / "out") == []
    table = plan.assignments
    coupons = table[table["campaign_id"] == "coupon"]
    assert set(coupons["variant"]) <= {"low", "mid", "high"} and coupons["variant"].nunique() >= 2
    assert table.loc[table["campaign_id"] == "call", "variant"].isna().all()
    figures = summary["campaigns"][0]
    assert [v["id"] for v in figures["variants"]] == ["low", "mid", "high"]
    assert sum(v["audience"] for v in figures["variants"]) == figures["audience"] == len(coupons)
    assert sum(v["expected_value"] for v in figures["variants"]) == pytest.approx(figures["expected_value"])
    listed = pd.read_csv(tmp_path / "out" / "contacts_email.csv")
    assert list(listed.columns) == ["customer_id", "campaign_id", "channel", "send_date", "variant", "group"]
    assert set(listed["variant"]) == set(coupons.loc[coupons["group"] == "treatment", "variant"])
    assert (planned_offers(plan.formulation.scenario, table)[table["campaign_id"].notna().to_numpy()] >= 0).all()
    empty = pd.DataFrame({"campaign_id": [None, None], "variant": [None, None]})  # a plan that sends nobody
    for read in (empty, pd.read_parquet(_written(empty, tmp_path / "empty.parquet"))):
        assert planned_offers(plan.formulation.scenario, read).tolist() == [-1, -1]


def test_a_forced_customer_gets_the_variant_named(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": ["c1", "c2"], "campaign_id": ["coupon", "call"],
                  "variant": ["high", None]}).to_csv(tmp_path / "promised.csv", index=False)
    path = scenario_file(tmp_path, [2, 0, 1], forced=[{"file": "promised.csv"}])
    plan = optimize(path)
    table = plan.assignments.set_index("customer_id")
    assert (table.loc["c1", "campaign_id"], table.loc["c1", "variant"], table.loc["c1", "group"]) == (
        "coupon", "high", "forced")
    assert table.loc["c2", "campaign_id"] == "call" and pd.isna(table.loc["c2", "variant"])


@pytest.mark.parametrize(("rows", "message"), [
    ({"campaign_id": ["coupon"]}, "Campaign 'coupon' has offer variants (low, mid, high); the forced list names none"),
    ({"campaign_id": ["coupon"], "variant": ["mdi"]}, "variant 'mdi', which is not a variant of campaign 'coupon'"),
    ({"campaign_id": ["call"], "variant": ["low"]}, "variant 'low' of campaign 'call', which has no variants"),
])
def test_a_forced_row_must_name_a_variant_of_its_campaign(tmp_path: Path, rows: dict, message: str) -> None:
    pd.DataFrame({"customer_id": ["c1"], **rows}).to_csv(tmp_path / "promised.csv", index=False)
    with pytest.raises(DataError) as caught:
        load_data(load_scenario(scenario_file(tmp_path, [1, 1], forced=[{"file": "promised.csv"}])))
    assert message in str(caught.value) and "promised.csv" in str(caught.value)


def test_a_forced_customer_the_variant_rule_keeps_out_is_named(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, [0, 1], forced=[
        {"file": "promised.csv", "campaign": "coupon", "variant": "high"}])
    pd.DataFrame({"customer_id": ["c1"]}).to_csv(tmp_path / "promised.csv", index=False)
    with pytest.raises(DataError, match=r"1 forced into 'coupon:high' fail its eligible rule \(True and tier >= 1\)"):
        validate(path)


@pytest.mark.parametrize(("keys", "message"), [
    ({"campaigns": [{**COUPON, "variants": [{"id": "a"}, {"id": "a"}]}]}, "has the variant id 'a' twice"),
    ({"forced": [{"file": "x.csv", "variant": "low"}]}, "names a variant but not its campaign"),
    ({"forced": [{"file": "x.csv", "campaign": "coupon", "variant": "lw"}]}, "'lw' is not a variant of campaign"),
    ({"forced": [{"file": "x.csv", "campaign": "call", "variant": "low"}]}, "has no offer variants"),
    ({"campaigns": [{**COUPON, "variants": [{"id": "a b"}]}]}, "campaigns[0].variants[0].id"),
])
def test_bad_variants_are_refused_by_key(tmp_path: Path, keys: dict, message: str) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(scenario_file(tmp_path, [1], **{"campaigns": [COUPON, CALL], **keys}))
    assert message in str(caught.value)


def test_minimum_audiences_over_variants_are_checked_before_a_solve(tmp_path: Path) -> None:
    """Three customers cannot fill a coupon audience of 3 within a budget below its cheapest three."""
    path = scenario_file(tmp_path, [0, 0, 0], campaigns=[{**COUPON, "min_audience": 3}, CALL], budget=1.0)
    with pytest.raises(Exception, match=r"min_audience\[coupon\].*need at least"):
        validate(path)


def test_a_cooldown_on_the_campaign_holds_for_every_variant(tmp_path: Path) -> None:
    """After a commit, a cool-down on the coupon keeps its customers from all three variants."""
    from optimizer.loop.commits import commit

    path = scenario_file(tmp_path, [1, 2, 2], contact_policy={
        "history": "history.duckdb", "cooldowns": [{"campaign": "coupon", "days": 30}], "separate_windows": False})
    first = optimize(path)
    write_plan(first, tmp_path / "out")
    commit(tmp_path / "out")
    sent = first.assignments.query("campaign_id == 'coupon'")["customer_id"].tolist()
    assert sent
    again = formulate(load_data(load_scenario(path)))
    rows = pd.Index(again.data.customer_ids).get_indexer(sent)
    assert not again.problem.eligible[rows, :3].any()
    assert [i.removed for i in again.impacts if i.kind == "cooldown"] == [len(sent)]  # once for the campaign


def test_a_variant_reading_the_campaign_scores_needs_them(tmp_path: Path) -> None:
    """Variants whose expressions read p_treat: a customer without the campaign's score gets none of
    them, and a scores table without the campaign is refused; variants that read no score score
    everyone."""
    pd.DataFrame({"customer_id": ["c1", "c2"], "campaign_id": ["coupon", "coupon"], "p_treat": [0.3, 0.2],
                  "p_control": [0.1, 0.1]}).to_csv(tmp_path / "scores.csv", index=False)
    reading = {"id": "coupon", "channel": "email", "value_per_response": 50, "variants": [
        {"id": "a", "p_treat": "min(1, 1.3 * p_treat)", "p_control": "p_control"}]}
    path = scenario_file(tmp_path, [1, 1, 1], campaigns=[reading, CALL], scores="scores.csv")
    eligible = formulate(load_data(load_scenario(path))).problem.eligible[:, 0]
    assert eligible.tolist() == [True, True, False]
    unscored = {**reading, "id": "newcoupon"}
    with pytest.raises(DataError, match="newcoupon"):
        load_data(load_scenario(scenario_file(tmp_path, [1, 1, 1], campaigns=[unscored, CALL], scores="scores.csv")))
    own = {**unscored, "variants": [{"id": "a", "p_treat": "0.1 * tier", "p_control": 0.05}]}
    formulation = formulate(load_data(load_scenario(
        scenario_file(tmp_path, [1, 2, 3], campaigns=[own, CALL], scores="scores.csv"))))
    assert formulation.problem.eligible[:, 0].all()


def test_a_measurement_charges_each_contact_its_variant_costs(tmp_path: Path) -> None:
    """cvo commit records each contact's variant and its own costs; cvo measure sums them (not the
    campaign's costs for every variant's contacts)."""
    from optimizer.loop.commits import commit
    from optimizer.loop.measurement import measure_run

    tiers = [int(t) for t in np.random.default_rng(5).integers(0, 3, size=300)]
    coupon = {**COUPON, "control_fraction": 0.2, "variants": [
        {**variant, "max_audience": 80} for variant in COUPON["variants"]]}
    path = scenario_file(tmp_path, tiers, campaigns=[coupon, CALL])
    plan = optimize(path)
    write_plan(plan, tmp_path / "out")
    commit(tmp_path / "out")
    table = plan.assignments
    converted = (np.arange(len(table)) % 3 == 0).astype(int)
    pd.DataFrame({"customer_id": table["customer_id"], "converted": converted}).to_csv(tmp_path / "y.csv", index=False)
    measured = measure_run(tmp_path / "out", tmp_path / "y.csv").measurement
    [row] = [c for c in measured.campaigns if c.campaign_id == "coupon"]
    costs = {"low": (0.5, 5.0), "mid": (0.5, 9.0), "high": (0.5, 15.0)}
    sent = (table["campaign_id"].eq("coupon") & table["group"].eq("treatment")).fillna(False).to_numpy(bool)
    want = sum(costs[v][0] + y * costs[v][1] for v, y in zip(table["variant"][sent], converted[sent]))
    assert table.loc[sent, "variant"].nunique() >= 2
    assert row.cost == pytest.approx(want)


def test_a_forced_lists_variant_key_and_column_must_agree(tmp_path: Path) -> None:
    pd.DataFrame({"customer_id": ["c1", "c2"], "variant": [" mid", "low"]}).to_csv(tmp_path / "p.csv", index=False)
    path = scenario_file(tmp_path, [1, 1], forced=[{"file": "p.csv", "campaign": "coupon", "variant": "mid"}])
    with pytest.raises(DataError, match="variant column names 'low' where the scenario names variant 'mid'"):
        load_data(load_scenario(path))
    path = scenario_file(tmp_path, [1, 1], forced=[{"file": "p.csv", "campaign": "coupon"}])
    lists = load_data(load_scenario(path)).lists
    assert lists.forced is not None and lists.forced.tolist() == [1, 0]  # ' mid' read as mid


def test_each_rule_counts_once_per_campaign_over_its_variants(tmp_path: Path) -> None:
    """Variants for disjoint tiers: the eligible rule removes only the customers no variant may get,
    one row per campaign, and the counts add up to the customers the campaign keeps none of."""
    coupon = {**COUPON, "variants": [{"id": "low", "eligible": "tier == 0"}, {"id": "high", "eligible": "tier == 2"}]}
    path = scenario_file(tmp_path, [0, 1, 2, 2, 1], campaigns=[coupon, CALL])
    formulation = formulate(load_data(load_scenario(path)))
    rows = [i for i in formulation.impacts if i.campaign == "coupon"]
    assert [(i.kind, i.removed) for i in rows] == [("not_scored", 0), ("eligible", 2), ("measurement_window", 0)]
    assert "variants' own rules" in rows[1].rule
    kept = formulation.problem.eligible[:, :2].any(axis=1).sum()
    assert kept + sum(i.removed for i in rows) == 5


def _written(table: pd.DataFrame, path: Path) -> Path:
    table.to_parquet(path)
    return path

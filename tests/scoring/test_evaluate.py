"""optimizer/scoring/evaluate.py: IPW values a plan without bias on randomized history, simulated as
tests/evaluation_history.py says: every customer's expected outcome under each arm is known there,
so a policy's true value is exact and the estimate's interval must cover it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from evaluation_history import ARMS, DESIGN, simulate, targeting, true_value

from optimizer.errors import DataError, ScenarioError
from optimizer.scoring.evaluate import (
    NO_CAMPAIGN,
    EvaluateOptions,
    Propensity,
    RandomizedHistory,
    deterministic_policy,
    evaluate_plan,
    policy_value,
    random_policy,
)
from optimizer.scoring.evaluate_run import evaluate_files, format_evaluation


@pytest.mark.parametrize("options", [
    EvaluateOptions(), EvaluateOptions(self_normalised=True), EvaluateOptions(propensity_column="propensity"),
    EvaluateOptions(propensity=Propensity.MODEL, features=("x1",)),
    EvaluateOptions(costs={"a": 0.3, "b": 0.1}), EvaluateOptions(bootstrap=200, seed=1),
], ids=["ipw", "snipw", "given", "model", "costs", "bootstrap"])
def test_the_interval_covers_the_true_value_of_the_plan(simulated, options):
    history, mean = simulated
    plan = targeting(history)
    result = evaluate_plan(plan, history, options=options)
    truth = true_value(plan, mean, options.costs)
    assert result.plan.ci_low <= truth <= result.plan.ci_high
    assert 0.05 < result.plan.std_error < 0.2
    assert result.n_customers == len(history) and result.n_unmatched == 0


def test_ipw_is_unbiased_and_its_interval_covers_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    estimates, covered = [], []
    for _ in range(300):
        history, mean = simulate(3_000, rng)
        x1 = history.x1.to_numpy()
        arms = pd.Index(ARMS).get_indexer(history.campaign_id.fillna(NO_CAMPAIGN))
        data = RandomizedHistory(history.customer_id.to_numpy(), ARMS, arms, history.revenue.to_numpy(),
                                 DESIGN[arms], np.zeros(3))
        policy = np.where(x1 > 0, "a", None)
        value = policy_value(data, "plan", deterministic_policy(data, policy))
        truth = float(np.where(x1 > 0, mean[:, 1], mean[:, 0]).mean())
        estimates.append(value.value - truth)
        covered.append(value.ci_low <= truth <= value.ci_high)
    bias = np.mean(estimates)
    assert abs(bias) < 3 * np.std(estimates) / np.sqrt(len(estimates))
    assert 0.91 <= np.mean(covered) <= 0.99


def test_baselines_nobody_best_single_campaign_and_random_at_the_plans_volume(simulated):
    history, mean = simulated
    plan = targeting(history)
    result = evaluate_plan(plan, history)
    nobody, best, random = result.baselines
    none = history.campaign_id.isna().to_numpy()
    assert nobody.value == pytest.approx((history.revenue * none).sum() / none.mean() / len(history))
    assert nobody.treated_share == 0 and best.treated_share == 1
    assert best.name == "everybody: a"  # a adds 0.04 on half the customers (0.02), b 0.01 on all
    assert best.value == pytest.approx(max(mean[:, 1].mean(), mean[:, 2].mean()), abs=3 * best.std_error)
    shares = {arm: float((plan.campaign_id == arm).mean()) for arm in ("a", "b")}
    everybody = {arm: evaluate_plan(plan.assign(campaign_id=arm, group="treatment"), history).plan.value
                 for arm in ("a", "b")}
    analytic = (1 - sum(shares.values())) * nobody.value + sum(shares[a] * everybody[a] for a in shares)
    assert random.value == pytest.approx(analytic, rel=1e-12)
    assert random.treated_share == pytest.approx(result.plan.treated_share)
    assert random.ci_low <= (1 - sum(shares.values())) * mean[:, 0].mean() + sum(
        shares[a] * mean[:, i + 1].mean() for i, a in enumerate(shares)) <= random.ci_high


def test_given_shares_and_model_propensities_agree_on_a_randomized_history(simulated):
    history, _ = simulated
    plan = targeting(history)
    given = evaluate_plan(plan, history, options=EvaluateOptions(propensity_column="propensity"))
    shares = evaluate_plan(plan, history, options=EvaluateOptions(propensity=Propensity.SHARES))
    model = evaluate_plan(plan, history, options=EvaluateOptions(propensity=Propensity.MODEL, features=("x1",)))
    assert shares.plan.value == pytest.approx(given.plan.value, abs=given.plan.std_error / 2)
    assert model.plan.value == pytest.approx(shares.plan.value, abs=given.plan.std_error / 2)
    assert (given.propensity, shares.propensity, model.propensity) == ("given", "shares", "model")


def test_model_propensities_correct_an_assignment_that_depends_on_the_customer():
    """Customers with high x1 (who buy more) got campaign 'a' more often: arm shares are biased, the model is not."""
    def design(x1):
        logits = np.column_stack([np.zeros_like(x1), 1.5 * x1, -0.5 * x1])
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    history, mean = simulate(60_000, np.random.default_rng(8), design)
    plan = history[["customer_id"]].assign(campaign_id="a", group="treatment")
    truth = true_value(plan, mean)
    model = evaluate_plan(plan, history, options=EvaluateOptions(propensity=Propensity.MODEL, features=("x1",)))
    shares = evaluate_plan(plan, history)
    assert model.plan.ci_low <= truth <= model.plan.ci_high
    assert not shares.plan.ci_low <= truth <= shares.plan.ci_high


def test_control_group_and_missing_customers(simulated):
    history, mean = simulated
    plan = targeting(history)
    as_control = plan.assign(group=np.where(plan.campaign_id.notna(), "control", None))
    nobody = evaluate_plan(as_control, history)
    assert nobody.plan.value == pytest.approx(nobody.baselines[0].value)
    assert nobody.plan.treated_share == 0
    part = evaluate_plan(plan.iloc[:10_000], history)
    assert (part.n_customers, part.n_unmatched) == (10_000, 30_000)
    as_forced = plan.assign(group=np.where(plan.campaign_id.notna(), "forced", None))  # a forced list is sent too
    assert evaluate_plan(as_forced, history).plan.value == pytest.approx(evaluate_plan(plan, history).plan.value)


def test_bootstrap_is_seeded_and_close_to_the_normal_interval(simulated):
    history, _ = simulated
    plan = targeting(history)
    first, second = (evaluate_plan(plan, history, options=EvaluateOptions(bootstrap=300, seed=4)) for _ in range(2))
    normal = evaluate_plan(plan, history)
    assert (first.plan.ci_low, first.plan.ci_high) == (second.plan.ci_low, second.plan.ci_high)
    assert first.plan.ci_low == pytest.approx(normal.plan.ci_low, abs=0.3 * normal.plan.std_error)
    assert first.interval == "bootstrap (300)"


def test_plan_campaign_missing_from_the_history(simulated):
    history, _ = simulated
    plan = targeting(history).replace({"campaign_id": {"b": "bb"}})
    with pytest.raises(DataError) as error:
        evaluate_plan(plan, history)
    message = str(error.value)
    assert "The plan gives 'bb' to" in message and "no customer in the history got it" in message
    assert "Did you mean 'b'?" in message


@pytest.mark.parametrize(("plan_change", "history_change", "said"), [
    (lambda p: p.replace({"campaign_id": {"b": "bb"}}), lambda h: h,
     "no customer in the history got it, so its value cannot be estimated ({plan}; {history})"),
    (lambda p: p, lambda h: h.assign(customer_id="x" + h.customer_id),
     "No customer of the history is in the plan ({plan}; {history})"),
    (lambda p: p, lambda h: h[h.campaign_id.notna()], "the baseline 'nobody' all of them, so what no campaign earns "
     "cannot be estimated ({plan}; {history})"),
    (lambda p: pd.concat([p, p.iloc[3:4]]), lambda h: h, "The customer 'c3' appears more than once in the plan "
     "({plan}, row 201)"),
])
def test_a_plan_that_does_not_fit_its_history_names_both_files(simulated, tmp_path, plan_change, history_change,
                                                               said):
    history, _ = simulated
    small = history.iloc[:200].reset_index(drop=True)
    files = {"plan": tmp_path / "june_plan.parquet", "history": tmp_path / "spring.csv"}
    plan_change(targeting(small)).to_parquet(files["plan"], index=False)
    history_change(small).to_csv(files["history"], index=False)
    with pytest.raises(DataError) as error:
        evaluate_files(files["plan"], files["history"], options=EvaluateOptions(costs={"a": 0.3, "b": 0.1}))
    assert said.format(**files) in str(error.value)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda h: h.assign(propensity=np.where(h.index == 4, 0.0, h.propensity)),
     r"The propensity 'propensity' must be a probability in \(0, 1\] but is 0.0 \(1 such row\(s\)\) \(the history "
     r"table, row 5\)"),
    (lambda h: h.rename(columns={"revenue": "revenu"}),
     r"The history table has no column 'revenue'.*Did you mean 'revenu'\?"),
    (lambda h: pd.concat([h, h.iloc[:2]]), "The customer 'c0' appears more than once in the history"),
    (lambda h: h.assign(customer_id="x" + h.customer_id), "No customer of the history is in the plan"),
    (lambda h: h.assign(treated=h.treated.astype(object).where(h.index != 2, "maybe")),
     r"The 'treated' column must be 0 or 1 but is 'maybe' \(1 such row\(s\)\) \(the history table, row 3\)"),
    (lambda h: h.assign(revenue=h.revenue.where(h.index != 7, np.nan)),
     r"'revenue' must be a number but is a missing value \(NaN\) \(1 such row\(s\)\) \(the history table, row 8\)"),
])
def test_bad_history(simulated, change, expected):
    history, _ = simulated
    small = history.iloc[:200].reset_index(drop=True)
    plan = targeting(small)
    with pytest.raises(DataError, match=expected):
        evaluate_plan(plan, change(small), options=EvaluateOptions(propensity_column="propensity"))


def test_cost_for_an_unknown_campaign(simulated):
    history, _ = simulated
    with pytest.raises(ScenarioError, match="A cost is given for 'aa', which no customer got.*Did you mean 'a'"):
        evaluate_plan(targeting(history), history, options=EvaluateOptions(costs={"aa": 1.0}))


def test_random_policy_puts_the_rest_on_no_campaign():
    data = RandomizedHistory(np.array(["x", "y"]), ARMS, np.array([0, 1]), np.array([1.0, 2.0]),
                             np.array([0.5, 0.3]), np.zeros(3))
    np.testing.assert_allclose(random_policy(data, {"a": 0.25}), [[0.75, 0.25, 0], [0.75, 0.25, 0]])


def test_the_plan_is_compared_with_each_baseline_by_a_paired_difference(simulated):
    history, mean = simulated
    plan = targeting(history)
    result = evaluate_plan(plan, history, options=EvaluateOptions(costs={"a": 0.3, "b": 0.1}))
    differences = result.differences()
    assert [d.baseline for d in differences] == [b.name for b in result.baselines]
    for d, baseline in zip(differences, result.baselines):
        assert d.difference == pytest.approx(result.plan.value - baseline.value)
        assert 0 < d.std_error < max(result.plan.std_error, baseline.std_error) * 2
    nobody = true_value(plan.assign(group=None), mean)
    truth = true_value(plan, mean, {"a": 0.3, "b": 0.1}) - nobody
    assert differences[0].ci_low <= truth <= differences[0].ci_high  # paired: tighter than the two intervals
    assert differences[0].std_error < np.hypot(result.plan.std_error, result.baselines[0].std_error)
    text = format_evaluation(result)
    assert "value = per customer: mean revenue minus contact cost per customer (costs: given)" in text
    assert f"{differences[0].difference:,.4f} [{differences[0].ci_low:,.4f}, {differences[0].ci_high:,.4f}]" in text
    assert result.to_dict()["differences"][0]["baseline"] == "nobody"


def test_a_history_without_untreated_customers_cannot_value_what_no_campaign_earns(simulated):
    """Without controls, the customers a plan leaves out (and the baseline 'nobody') match no one and
    would silently count as earning 0."""
    history, _ = simulated
    treated = history[history.campaign_id.notna()].iloc[:300].reset_index(drop=True)
    plan = targeting(treated)
    untreated = int(plan.campaign_id.isna().sum())
    with pytest.raises(DataError, match=rf"None of the 300 history customers the plan covers went without a "
                       rf"campaign.*the plan leaves {untreated} of them.*the baseline 'nobody' all of them.*"
                       r"Evaluate on a randomized history with a control arm"):
        evaluate_plan(plan, treated)
    with pytest.raises(DataError, match="went without a campaign"):  # 'nobody' needs controls even then
        evaluate_plan(plan.assign(campaign_id="a", group="treatment"), treated)


def test_model_propensities_need_feature_columns(simulated):
    history, _ = simulated
    small = history.iloc[:200]
    bare = small.drop(columns=["x1", "propensity"])
    with pytest.raises(DataError, match=r"The history has no feature columns to model propensities from.*"
                       r"--propensity shares"):
        evaluate_plan(targeting(small), bare, options=EvaluateOptions(propensity=Propensity.MODEL))


def test_a_history_with_one_arm_gets_the_arm_message_with_modelled_propensities(simulated):
    history, _ = simulated
    treated = history[history.campaign_id == "a"].iloc[:200].reset_index(drop=True)
    with pytest.raises(DataError, match="went without a campaign"):
        evaluate_plan(targeting(treated).replace({"campaign_id": {"b": "a"}}), treated, options=EvaluateOptions(propensity=Propensity.MODEL,
                                                                             features=("x1",)))


def test_a_campaign_the_history_never_tested_is_named_before_its_cost(simulated):
    history, _ = simulated
    plan = targeting(history).replace({"campaign_id": {"b": "new_push"}})
    with pytest.raises(DataError, match="The plan gives 'new_push' to .* but no customer in the history got it"):
        evaluate_plan(plan, history, options=EvaluateOptions(costs={"a": 0.3, "new_push": 0.1}))


def test_an_empty_history_is_an_error_without_warnings(simulated):
    history, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"The history has no customers \(the history table\)"):
            evaluate_plan(targeting(history), history.iloc[:0])


def test_a_history_of_controls_only(simulated):
    history, _ = simulated
    controls = history[history.campaign_id.isna()].iloc[:200].reset_index(drop=True)
    with pytest.raises(DataError, match="The plan gives 'a' to .*Campaigns in the history: none"):
        evaluate_plan(targeting(controls), controls, options=EvaluateOptions(costs={"a": 0.3}))
    with pytest.raises(DataError, match="None of the 200 history customers the plan covers got a campaign"):
        evaluate_plan(targeting(controls).assign(campaign_id=None, group=None), controls)


def test_a_negative_number_of_bootstrap_resamples_is_refused(simulated, tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.errors import ScenarioError

    history, _ = simulated
    small = history.iloc[:200]
    with pytest.raises(ScenarioError, match=r"-3 bootstrap resamples.*Give 0 for the normal interval"):
        evaluate_plan(targeting(small), small, options=EvaluateOptions(bootstrap=-3))
    targeting(small).to_parquet(tmp_path / "plan.parquet", index=False)
    small.to_parquet(tmp_path / "history.parquet", index=False)
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "plan.parquet"), "--history",
                                      str(tmp_path / "history.parquet"), "--bootstrap", "-3"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)  # no traceback
    assert "error: The interval cannot be drawn from -3 bootstrap resamples (--bootstrap)" in result.output

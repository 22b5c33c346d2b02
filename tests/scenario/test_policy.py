"""The contact policy against brute force on random histories, and over consecutive weekly runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings, strategies as st
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.errors import ScenarioInvalid
from optimizer.loop.commits import commit
from optimizer.scenario.campaigns import Campaign
from optimizer.scenario.contact_policy import ContactCap
from optimizer.scenario.data import policy_lookback
from optimizer.scenario.policy import PolicyRule, policy_rules
from optimizer.scenario.schema import Scenario, load_scenario
from optimizer.store.history_file import SCHEMA, contacts_around

CAMPAIGNS = [("mail", "email", 14), ("news", "email", 0), ("text", "sms", 7)]


def scenario_with(folder: Path, cooldowns: list[dict], caps: list[dict]) -> Scenario:
    return Scenario.model_validate({
        "name": "policy", "customers": "customers.parquet", "path": folder / "policy.yaml",
        "campaigns": [{"id": c, "channel": h, "measurement_window_days": w, "p_treat": 0.1, "p_control": 0.0}
                      for c, h, w in CAMPAIGNS],
        "contact_policy": {"history": "history.duckdb", "cooldowns": cooldowns, "caps": caps},
    })


def write_history(path: Path, contacts: pd.DataFrame) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(SCHEMA)
        connection.register("rows", contacts)
        connection.execute('INSERT INTO contacts (run_id, customer_id, campaign_id, channel, "group", sent_on, '
                           'window_end) SELECT run_id, customer_id, campaign_id, channel, "group", sent_on, '
                           "window_end FROM rows")


def random_contacts(rng: np.random.Generator, customers: int, count: int, run_date: dt.date) -> pd.DataFrame:
    picks = rng.integers(0, len(CAMPAIGNS), count)
    sent = [run_date + dt.timedelta(days=int(d)) for d in rng.integers(-70, 10, count)]
    return pd.DataFrame({
        "run_id": "r", "customer_id": [f"c{i}" for i in rng.integers(0, customers + 3, count)],
        "campaign_id": [CAMPAIGNS[p][0] for p in picks], "channel": [CAMPAIGNS[p][1] for p in picks],
        "group": rng.choice(["treatment", "control", "forced"], count, p=[0.7, 0.2, 0.1]),
        "sent_on": sent, "window_end": [s + dt.timedelta(days=CAMPAIGNS[p][2]) for s, p in zip(sent, picks)],
    })


def brute_force(scenario: Scenario, contacts: pd.DataFrame, ids: list[str], run_date: dt.date) -> list[np.ndarray]:
    """Each rule's blocked pairs, straight from its wording, one contact at a time."""
    policy, masks = scenario.contact_policy, []
    for rule in policy.cooldowns:
        masks.append(_per_pair(scenario, ids, lambda i, c, rule=rule: (
            (rule.campaign in (None, c.id)) and (rule.channel in (None, c.channel)) and any(
                row.group in ("treatment", "forced") and (rule.campaign in (None, row.campaign_id))
                and (rule.channel in (None, row.channel)) and abs((run_date - row.sent_on).days) < rule.days
                for row in contacts[contacts.customer_id == i].itertuples()))))
    for rule in policy.caps:  # some rule.days days in a row that hold the run date hold max_contacts already
        def capped(i: str, c: Campaign, rule: ContactCap = rule) -> bool:
            offsets = [(row.sent_on - run_date).days for row in contacts[contacts.customer_id == i].itertuples()
                       if row.group in ("treatment", "forced") and rule.campaign in (None, row.campaign_id)
                       and rule.channel in (None, row.channel)]
            return rule.campaign in (None, c.id) and rule.channel in (None, c.channel) and max(
                sum(start <= offset < start + rule.days for offset in offsets)
                for start in range(1 - rule.days, 1)) >= rule.max_contacts

        masks.append(_per_pair(scenario, ids, capped))
    masks.append(_per_pair(scenario, ids, lambda i, c: any(
        row.sent_on < run_date + dt.timedelta(days=max(c.measurement_window_days, 1))
        and max(row.window_end, row.sent_on + dt.timedelta(days=1)) > run_date
        for row in contacts[contacts.customer_id == i].itertuples())))
    return masks


def rules_on(scenario: Scenario, ids: list[str], run_date: dt.date) -> list[PolicyRule]:
    """The policy's rules on ``run_date``, from the contacts its history holds around that day."""
    contacts = contacts_around(scenario.resolve(scenario.contact_policy.history), run_date,
                               policy_lookback(scenario.contact_policy))
    return policy_rules(scenario, np.array(ids, dtype=object), contacts, run_date)


def _per_pair(scenario: Scenario, ids: list[str], blocked) -> np.ndarray:
    return np.array([[bool(blocked(i, c)) for c in scenario.campaigns] for i in ids])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), days=st.integers(1, 40), cap=st.integers(1, 3),
       target=st.sampled_from([{"campaign": "mail"}, {"channel": "email"}, {"channel": "sms"}, {}]))
def test_each_rule_blocks_exactly_what_brute_force_says(tmp_path_factory, seed, days, cap, target):
    folder = tmp_path_factory.mktemp("policy")
    rng = np.random.default_rng(seed)
    run_date = MONDAY + dt.timedelta(days=int(rng.integers(0, 30)))
    contacts = random_contacts(rng, 25, 120, run_date)
    write_history(folder / "history.duckdb", contacts)
    cooldown = target or {"channel": "sms"}
    scenario = scenario_with(folder, [{**cooldown, "days": days}], [{**target, "max_contacts": cap, "days": days}])
    ids = [f"c{i}" for i in range(25)]
    rules = rules_on(scenario, ids, run_date)
    expected = brute_force(scenario, contacts, ids, run_date)
    assert [rule.kind for rule in rules] == ["cooldown", "rolling_cap", "measurement_window"]
    for rule, mask in zip(rules, expected):
        np.testing.assert_array_equal(rule.blocked, mask, err_msg=rule.rule)


def test_no_history_blocks_nothing(tmp_path):
    scenario = scenario_with(tmp_path, [{"channel": "email", "days": 30}], [{"max_contacts": 1, "days": 30}])
    rules = rules_on(scenario, ["a", "b"], MONDAY)
    assert not any(rule.blocked.any() for rule in rules)
    assert not (tmp_path / "history.duckdb").exists()


def contacts_of(history: Path) -> pd.DataFrame:
    with duckdb.connect(str(history), read_only=True) as connection:
        return connection.execute("SELECT * FROM contacts").df()


def test_weekly_runs_never_contact_inside_a_cooldown_or_an_open_window(tmp_path):
    scenario, history = write_scenario(tmp_path, n=300), tmp_path / "history.duckdb"
    for week in range(3):
        run_week(scenario, tmp_path / f"w{week}", MONDAY + dt.timedelta(days=7 * week))
        commit(tmp_path / f"w{week}", history)
    contacts = contacts_of(history)
    contacts["sent_on"] = pd.to_datetime(contacts["sent_on"]).dt.date
    contacts["window_end"] = pd.to_datetime(contacts["window_end"]).dt.date
    pairs = contacts.merge(contacts, on="customer_id", suffixes=("", "_before"))
    pairs = pairs[pairs["sent_on_before"] < pairs["sent_on"]]
    overlapping = pairs["window_end_before"] > pairs["sent_on"]
    assert not overlapping.any(), "a customer was in two open measurement windows"
    mail = pairs[(pairs["campaign_id"] == "mail") & (pairs["campaign_id_before"] == "mail")
                 & (pairs["group"] == "treatment") & (pairs["group_before"] == "treatment")]
    gaps = [(later - earlier).days for later, earlier in zip(mail["sent_on"], mail["sent_on_before"])]
    assert all(gap >= 21 for gap in gaps), "a mail cool-down was broken"
    returning = pairs[(pairs["sent_on"] - pairs["sent_on_before"]).map(lambda d: d.days) == 14]
    assert len(returning) > 0, "once their windows closed, week-1 customers should be contactable again"
    assert len(contacts.groupby("run_id")) == 3


def test_the_second_week_reports_what_each_rule_removed(tmp_path):
    scenario, history = write_scenario(tmp_path, n=300), tmp_path / "history.duckdb"
    first = run_week(scenario, tmp_path / "w0", MONDAY)
    commit(tmp_path / "w0", history)
    second = run_week(scenario, tmp_path / "w1", MONDAY + dt.timedelta(days=7))
    removed = {(e["campaign"], e["kind"]): e["removed"] for e in second["eligibility"]}
    mail_audience = next(c["audience"] for c in first["campaigns"] if c["id"] == "mail")
    mail_treated = next(c["treatment"] for c in first["campaigns"] if c["id"] == "mail")
    assert removed[("mail", "cooldown")] == mail_treated
    # mail windows (14 days) are still open a week later, text windows (7 days) have just closed
    assert removed[("mail", "measurement_window")] == mail_audience - mail_treated > 0
    assert removed[("text", "measurement_window")] == mail_audience
    assert ("text", "cooldown") not in removed  # the mail cool-down does not apply to texts
    blocked = next(r for r in second["unassigned"]["reasons"] if "contact policy" in r["reason"])
    assert blocked["customers"] > 0
    rules = {e["kind"]: e["rule"] for e in second["eligibility"] if e["campaign"] == "mail"}
    assert rules["cooldown"].startswith("cool-down: ") and "days between mail contacts" in rules["cooldown"]
    assert rules["measurement_window"] == "open measurement window (another contact's, treated or control)"


def test_a_plan_dated_before_a_committed_run_names_its_rules_in_words_true_both_ways(tmp_path):
    """A plan for a day before a committed run is held off by that later run's contacts: the rules
    say 'between' and 'another contact's', never 'after' or 'an earlier contact'."""
    scenario, history = write_scenario(tmp_path, n=300), tmp_path / "history.duckdb"
    run_week(scenario, tmp_path / "w0", MONDAY + dt.timedelta(days=7))
    commit(tmp_path / "w0", history)
    before = run_week(scenario, tmp_path / "w1", MONDAY)
    rules = [e["rule"] for e in before["eligibility"] if e["kind"] in ("cooldown", "measurement_window")]
    assert rules and not any("after" in rule or "earlier" in rule for rule in rules)


@pytest.mark.parametrize("policy, message", [
    ({"cooldown": []}, "Did you mean 'cooldowns'?"),
    ({"cooldowns": [{"campaign": "mail", "dayz": 3}]}, "Did you mean 'days'?"),
    ({"cooldowns": [{"campaign": "mial", "days": 3}]}, "Did you mean 'mail'?"),
    ({"cooldowns": [{"days": 3}]}, "give either 'campaign' or 'channel'"),
    ({"caps": [{"channel": "emial", "max_contacts": 2, "days": 30}]}, "Did you mean 'email'?"),
    ({"caps": [{"channel": "email", "max_contacts": 0, "days": 30}]}, "contact_policy.caps[0].max_contacts"),
])
def test_a_bad_contact_policy_is_refused_with_its_location(tmp_path, policy, message):
    path = write_scenario(tmp_path)
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "contact_policy": policy}))
    with pytest.raises(ScenarioInvalid) as error:
        load_scenario(path)
    assert message in error.value.message


def test_a_cap_counts_contacts_of_runs_dated_after_this_one(tmp_path) -> None:
    """At most 2 e-mails in 30 days: contacts 14 days before and 14 days after the run date leave
    no room for a third between them (runs planned out of date order)."""
    run_date = MONDAY + dt.timedelta(days=30)
    sent = [run_date - dt.timedelta(days=14), run_date + dt.timedelta(days=14)]
    contacts = pd.DataFrame({"run_id": "r", "customer_id": "c0", "campaign_id": "mail", "channel": "email",
                             "group": "treatment", "sent_on": sent, "window_end": sent})
    write_history(tmp_path / "history.duckdb", contacts)
    scenario = scenario_with(tmp_path, [], [{"channel": "email", "max_contacts": 2, "days": 30}])
    cap = rules_on(scenario, ["c0", "c1"], run_date)[0]
    assert cap.blocked[0, :2].all() and not cap.blocked[1].any()


def test_a_window_of_zero_days_holds_its_day(tmp_path) -> None:
    """A contact recorded with a 0-day measurement window keeps its customer out of the other
    campaigns on its day: otherwise a second run that day could treat its controls."""
    contacts = pd.DataFrame({"run_id": "r", "customer_id": "c0", "campaign_id": "news", "channel": "email",
                             "group": "control", "sent_on": [MONDAY], "window_end": [MONDAY]})
    write_history(tmp_path / "history.duckdb", contacts)
    windows = rules_on(scenario_with(tmp_path, [], []), ["c0"], MONDAY)[-1]
    assert windows.kind == "measurement_window" and windows.blocked[0].all()
    assert not rules_on(scenario_with(tmp_path, [], []), ["c0"], MONDAY + dt.timedelta(days=1))[-1].blocked.any()

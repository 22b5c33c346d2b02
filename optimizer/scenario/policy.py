"""The contact policy: which (customer, campaign) pairs the contact history rules out.

For a run on date t, a new contact of campaign j (channel h_j, measurement window w_j days):

    cool-down (campaign c or channel h, d days): blocked if a treated (or forced) contact of c (on h)
        was sent less than d days from t, before or after:    |t - sent_on| < d
    cap (at most N in D days, on h / of c / of any kind): blocked if some D days in a row that
        hold t hold N treated contacts already (contacts after t count too, so that runs planned
        out of date order cannot break it):  max_s #{s <= sent_on - t < s + D} >= N, -D < s <= 0
    separate windows: blocked if any earlier contact, treated or control, has a measurement
        window [sent_on, max(window_end, sent_on + 1)) overlapping [t, t + max(w_j, 1)) (a window
        of 0 days holds its day, on either side)

Each rule is a boolean (n, k) mask of the (customer, offer) pairs it blocks (a campaign's variants
alike: optimizer/scenario/offers.py), kept apart so that the summary can say how many customers
each rule removed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.scenario.contact_policy import ContactCap, Cooldown
from optimizer.scenario.offers import offers
from optimizer.scenario.schema import Scenario


@dataclass(frozen=True)
class PolicyRule:
    """One contact rule applied to a run: its wording, kind, scenario key, the offers it applies
    to and the (customer, offer) pairs it blocks."""

    rule: str
    kind: str
    source: str
    campaigns: NDArray[np.bool_]
    blocked: NDArray[np.bool_]


def policy_rules(
    scenario: Scenario, customer_ids: NDArray[np.object_], contacts: pd.DataFrame, run_date: dt.date
) -> list[PolicyRule]:
    """Every rule of the scenario's contact policy, evaluated against ``contacts`` (the contact
    history's contacts around ``run_date``, optimizer/scenario/data.py)."""
    policy = scenario.contact_policy
    known, n = _known_contacts(contacts, customer_ids), len(customer_ids)
    rules = [_cooldown(scenario, n, i, rule, known, run_date) for i, rule in enumerate(policy.cooldowns)]
    rules += [_cap(scenario, n, i, rule, known, run_date) for i, rule in enumerate(policy.caps)]
    if policy.separate_windows:
        rules.append(_open_windows(scenario, n, known, run_date))
    return rules


def _known_contacts(history: pd.DataFrame, customer_ids: NDArray[np.object_]) -> pd.DataFrame:
    """The history's contacts of this run's customers, with each one's row index."""
    rows = pd.Index(np.asarray(customer_ids).astype(str)).get_indexer(history["customer_id"].astype(str))
    known: pd.DataFrame = history.assign(row=rows)[rows >= 0]
    return known.assign(
        sent_on=pd.to_datetime(known["sent_on"]).to_numpy(dtype="datetime64[D]"),
        window_end=pd.to_datetime(known["window_end"]).to_numpy(dtype="datetime64[D]"),
    )


def _days_from(dates: pd.Series, run_date: dt.date) -> NDArray[np.int64]:
    """run_date - date, in days, for each contact."""
    return (np.datetime64(run_date, "D") - dates.to_numpy(dtype="datetime64[D]")).astype(np.int64)


def _campaign_mask(scenario: Scenario, campaign: str | None, channel: str | None) -> NDArray[np.bool_]:
    """Which of the scenario's offers a rule about ``campaign`` / ``channel`` applies to."""
    return np.array([
        (campaign is None or offer.campaign.id == campaign) and (channel is None or offer.campaign.channel == channel)
        for offer in offers(scenario)
    ])


def _matching(known: pd.DataFrame, campaign: str | None, channel: str | None) -> pd.DataFrame:
    treated = known[known["group"].isin(["treatment", "forced"])]
    if campaign is not None:
        treated = treated[treated["campaign_id"] == campaign]
    if channel is not None:
        treated = treated[treated["channel"] == channel]
    return treated


def _blocked(n: int, customers: NDArray[np.int64], campaigns: NDArray[np.bool_]) -> NDArray[np.bool_]:
    blocked = np.zeros((n, len(campaigns)), dtype=bool)
    blocked[np.ix_(np.unique(customers), np.flatnonzero(campaigns))] = True
    return blocked


def _cooldown(
    scenario: Scenario, n: int, index: int, rule: Cooldown, known: pd.DataFrame, run_date: dt.date
) -> PolicyRule:
    contacts = _matching(known, rule.campaign, rule.channel)
    recent = contacts["row"].to_numpy()[np.abs(_days_from(contacts["sent_on"], run_date)) < rule.days]
    target = rule.campaign or rule.channel
    campaigns = _campaign_mask(scenario, rule.campaign, rule.channel)
    return PolicyRule(  # "between": the history may hold contacts after the run date too (a later run committed)
        f"cool-down: {rule.days} days between {target} contacts", "cooldown", f"contact_policy.cooldowns[{index}]",
        campaigns, _blocked(n, recent, campaigns),
    )


def _cap(
    scenario: Scenario, n: int, index: int, rule: ContactCap, known: pd.DataFrame, run_date: dt.date
) -> PolicyRule:
    contacts = _matching(known, rule.campaign, rule.channel)
    full = _full_windows(contacts["row"].to_numpy(), -_days_from(contacts["sent_on"], run_date), rule)
    target = f"{rule.channel} " if rule.channel else f"{rule.campaign} " if rule.campaign else ""
    campaigns = _campaign_mask(scenario, rule.campaign, rule.channel)
    return PolicyRule(
        f"cap: at most {rule.max_contacts} {target}contacts in {rule.days} days", "rolling_cap",
        f"contact_policy.caps[{index}]", campaigns, _blocked(n, full, campaigns),
    )


def _full_windows(rows: NDArray[np.int64], offsets: NDArray[np.int64], rule: ContactCap) -> NDArray[np.int64]:
    """The rows with some D = ``rule.days`` days in a row around the run date (starting s days
    from it, -D < s <= 0) that hold ``rule.max_contacts`` of their contacts (``offsets``: sent_on -
    t, in days). The count over a window starting at s only grows when s + D - 1 reaches a
    contact, so the windows starting at -D + 1, and at o - D + 1 for each contact o after t, are
    the ones to count: by binary search in the contacts sorted by (row, offset), O(m log m)."""
    days = rule.days
    near = np.abs(offsets) < days
    rows, offsets = rows[near].astype(np.int64), offsets[near].astype(np.int64)
    span = 2 * days + 1  # offsets in (-D, D) shifted to [1, 2D): one key per (row, offset), rows kept apart
    keys = np.sort(rows * span + offsets + days)
    starts = np.concatenate([np.unique(rows) * span + 1,  # s = -D + 1 for every row with contacts
                             (rows * span + offsets + 1)[offsets > 0]])  # s = o - D + 1 for each later contact o
    counts = np.searchsorted(keys, starts + days, side="left") - np.searchsorted(keys, starts, side="left")
    return np.unique(starts[counts >= rule.max_contacts] // span)


def _open_windows(scenario: Scenario, n: int, known: pd.DataFrame, run_date: dt.date) -> PolicyRule:
    starts = -_days_from(known["sent_on"], run_date)  # sent_on - t, in days
    ends = np.maximum(-_days_from(known["window_end"], run_date), starts + 1)  # window_end - t, a day at least
    choices = offers(scenario)
    blocked = np.zeros((n, len(choices)), dtype=bool)
    rows = known["row"].to_numpy()
    for j, offer in enumerate(choices):
        overlap = (ends > 0) & (starts < max(offer.campaign.measurement_window_days, 1))
        blocked[rows[overlap], j] = True
    return PolicyRule(
        "open measurement window (another contact's, treated or control)", "measurement_window",
        "contact_policy.separate_windows", np.ones(len(choices), dtype=bool), blocked,
    )


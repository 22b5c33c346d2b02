"""A scenario's data, read once: its customers, its scores and the contact history around the run date.

The customer table has one row per customer. The optional score table is long:
``customer_id, campaign_id, p_treat, p_control`` with probabilities in [0, 1], laid out here as
(customer × campaign) arrays; a pair with no score row cannot be targeted (it is counted as "no
score" in the summary), but a campaign that reads its probabilities from the table must have rows
there. The contacts are those of the contact history (optimizer/store/history_file.py)
that the contact policy must respect on the run date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, Findings, did_you_mean
from optimizer.scenario.campaigns import variants_scored
from optimizer.scenario.contact_policy import ContactCap, ContactPolicy, Cooldown
from optimizer.scenario.lists import CustomerLists, read_lists
from optimizer.scenario.sample import Sample, check_share, drawn
from optimizer.scenario.schema import Scenario
from optimizer.store.history_file import CONTACT_COLUMNS, check_history_path, contacts_around, history_state
from optimizer.store.history_versions import readable_history
from optimizer.store.tables import id_text, read_table, require_columns, row_label, show

SCORE_COLUMNS = ("customer_id", "campaign_id", "p_treat", "p_control")


@dataclass(frozen=True)
class Scores:
    """Response probabilities laid out by (customer row, campaign column); NaN where unscored.

    ``ignored`` counts the table's rows per campaign id that is not a campaign of the scenario."""

    p_treat: NDArray[np.float64]
    p_control: NDArray[np.float64]
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def scored(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.p_treat)


@dataclass(frozen=True)
class ScenarioData:
    """A validated scenario with everything it reads, each path resolved and each file read once.

    ``customers`` has ids as strings; ``scores`` is aligned with its rows (NaN where a pair has
    no score row, and everywhere without a scores table); ``contacts`` are the contact history's
    contacts the policy must respect on ``run_date`` (empty without a history file);
    ``history_state`` is the history's id and last event when it was read ((None, 0) without one);
    ``lists`` the run's forced and excluded customers (optimizer/scenario/lists.py); ``sample`` the
    sample the rows are (None: every customer; optimizer/scenario/sample.py).
    """

    scenario: Scenario
    customers: pd.DataFrame
    scores: Scores
    contacts: pd.DataFrame
    run_date: dt.date
    customers_file: str
    history_file: str
    history_state: tuple[str | None, int]
    lists: CustomerLists = field(default_factory=CustomerLists)
    sample: Sample | None = None

    @property
    def customer_ids(self) -> NDArray[np.object_]:
        return self.customers[self.scenario.customer_id].to_numpy(dtype=object)

    def sampled(self, share: float, seed: int) -> ScenarioData:
        """The data of a run on a sample (optimizer/scenario/sample.py): the drawn customers' rows of
        the customer table, the scores and the lists (forced customers are drawn like everyone, so
        the scaled limits hold about the share of them they held)."""
        check_share(share)
        keep = drawn(self.customer_ids, share, seed)
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            raise DataError(f"A sample of {share:g} of the {len(keep):,} customers draws none of them",
                            where="--sample", fix="Give a larger share")
        forced, excluded = self.lists.forced, self.lists.excluded
        lists = replace(self.lists, forced=None if forced is None else forced[rows],
                        excluded=None if excluded is None else excluded[rows])
        return replace(self, customers=self.customers.iloc[rows].reset_index(drop=True), lists=lists,
                       scores=replace(self.scores, p_treat=self.scores.p_treat[rows],
                                      p_control=self.scores.p_control[rows]),
                       sample=Sample(share, seed, int(rows.size), len(keep)))


def load_data(scenario: Scenario, run_date: dt.date | None = None, as_of: int | None = None,
              tables: tuple[pd.DataFrame, pd.DataFrame | None] | None = None,
              found: Findings | None = None) -> ScenarioData:
    """Read the scenario's customers, scores and contact history (raises DataError, HistoryError).

    ``run_date`` (default: today) is the day the plan is sent, for the contact policy; ``as_of`` (an
    event seq of the history) reads the history as it stood then (a plan read again as it was made);
    ``tables``: the customer and score tables read already (a partition's, on a Dask worker),
    checked as if read from the scenario's locations, except that a campaign may have no score
    rows among them (``check_scored`` runs over all partitions).

    The scores, the contact history and the lists are read against the customers alone, so the
    problems of each are raised together. With ``found`` (the caller's: cvo validate lists them with
    the expressions'), a history or list that cannot be read is only kept there, marked failed, and
    the data come back without it.
    """
    run_date = run_date or dt.date.today()
    own = found is None
    found = findings(scenario) if found is None else found
    customers_file = scenario.location(scenario.customers)
    customers = found.attempt("customers", load_customers, customers_file, scenario.customer_id,
                              scenario.storage_options, None if tables is None else tables[0])
    if customers is None:
        found.skip("Not checked: the scores, the lists, the contact history, the expressions and the limits, "
                   "which are read against the customers table.")
        raise found.error()
    ids = pd.Index(customers[scenario.customer_id])
    scores = found.attempt("scores", _scenario_scores, scenario, ids, tables)
    history = found.attempt("history", _history, scenario, run_date, as_of)
    lists = found.attempt("lists", read_lists, scenario, ids, whole=tables is None)
    if scores is None:
        found.skip("Not checked: the expressions, the minimum audiences and the limits, which read the scores.")
        raise found.error()
    if own:
        found.check()
    seen, contacts = history or ((None, 0), _no_contacts())
    return ScenarioData(scenario, customers, scores, contacts, run_date, customers_file, scenario.history_location(),
                        seen, lists or CustomerLists())


def findings(scenario: Scenario) -> Findings:
    """A record of the scenario's problems, its one error headed 'The scenario FILE has N problems'."""
    source = scenario.source
    return Findings(f"The {source}" if source.startswith("scenario '") else f"The scenario {source}")


def _scenario_scores(scenario: Scenario, ids: pd.Index, tables: tuple[pd.DataFrame, pd.DataFrame | None] | None
                     ) -> Scores:
    """The scores table laid out on the customers' rows (unscored everywhere when there is none)."""
    if scenario.scores is None:
        return _unscored(len(ids), len(scenario.campaigns))
    needed = [] if tables is not None else needed_scores(scenario)  # a partition: checked over all of them
    return load_scores(scenario.location(scenario.scores), ids, scenario.campaign_ids(), needed,
                       scenario.storage_options, None if tables is None else tables[1])


def _unscored(customers: int, campaigns: int) -> Scores:
    """Scores of no pair: every campaign's probabilities come from its own expressions."""
    return Scores(np.full((customers, campaigns), np.nan), np.full((customers, campaigns), np.nan))


def _history(scenario: Scenario, run_date: dt.date, as_of: int | None) -> tuple[tuple[str | None, int], pd.DataFrame]:
    """The history's state and the contacts the policy must respect on ``run_date`` (HistoryError)."""
    location = scenario.history_location()
    with readable_history(location, scenario.storage_options) as local:  # an object store's: one copy
        check_history_path(local)
        seen = history_state(local)  # before the contacts: a commit in between makes the plan stale, not fresh
        return seen, contacts_around(local, run_date, policy_lookback(scenario.contact_policy), as_of)


def _no_contacts() -> pd.DataFrame:
    """The contacts of a history that could not be read (its problem is listed; no plan is made)."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in CONTACT_COLUMNS})


def needed_scores(scenario: Scenario) -> list[str]:
    """The campaigns that take their probabilities from the scores table, each of which must have rows there."""
    return [campaign.id for campaign in scenario.campaigns
            if campaign.p_treat is None and not variants_scored(campaign)]


def contact_rules(policy: ContactPolicy) -> int:
    """How many rules the contact policy has (cool-downs, caps, and the separate-windows rule)."""
    return len(policy.cooldowns) + len(policy.caps) + int(policy.separate_windows)


def policy_lookback(policy: ContactPolicy) -> int:
    """Days before and after the run date whose contacts a cool-down or cap can see (at least 1)."""
    rules: list[Cooldown | ContactCap] = [*policy.cooldowns, *policy.caps]
    return max([1, *(rule.days for rule in rules)])


def load_customers(path: Path | str, id_column: str, storage_options: dict[str, Any] | None = None,
                   table: pd.DataFrame | None = None, key: str | None = "customers") -> pd.DataFrame:
    """The customer table (read from ``path``, or ``table`` as read from there) with ids as
    strings, rejecting missing and duplicate ids; ``key``: the scenario key that names it (None: a
    command-line option did)."""
    if table is None:
        table = read_table(path, what="customers", text_columns=(id_column,), storage_options=storage_options,
                           key=key)
    require_columns(table, [id_column], path, "customers",
                    "Rename the id column, or " + ("set 'customer_id' in the scenario to its name" if key else
                                                   "name it with --customers-column NAME"))
    ids = table[id_column]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if missing.size:
        raise DataError(
            f"The customers table has {missing.size} row(s) with no '{id_column}'",
            where=row_label(path, int(missing[0])),
            fix="Give every customer an id or drop those rows",
        )
    table = table.reset_index(drop=True)
    table[id_column] = id_text(ids).to_numpy(dtype=object)
    duplicated = np.flatnonzero(table[id_column].duplicated().to_numpy())
    if duplicated.size:
        first = int(duplicated[0])
        raise DataError(
            f"The customer id '{table[id_column].iat[first]}' appears more than once "
            f"({duplicated.size} duplicate row(s) in all)",
            where=row_label(path, first),
            fix="Keep one row per customer (deduplicate before running)",
        )
    if len(table) == 0:
        raise DataError("The customers table is empty", where=str(path), fix="Point 'customers' at a table with rows")
    return table


def load_scores(
    path: Path | str, customer_ids: pd.Index, campaign_ids: list[str], needed: Collection[str] | None = None,
    storage_options: dict[str, Any] | None = None, table: pd.DataFrame | None = None,
) -> Scores:
    """The long score table (read from ``path``, or ``table`` as read from there) pivoted to
    (customer, campaign) arrays after row-level checks.

    ``needed`` are the campaigns that take their probabilities from this table (default: all);
    each must have score rows. Rows of other campaigns are ignored: one table can serve several
    scenarios.
    """
    if table is None:
        table = read_table(path, what="scores", text_columns=("customer_id", "campaign_id"), key="scores",
                           storage_options=storage_options)
    require_columns(table, SCORE_COLUMNS, path, "scores",
                    f"The scores table needs the columns {', '.join(SCORE_COLUMNS)}")
    table = table.reset_index(drop=True)
    check_probabilities(table, path)
    customer = customer_ids.get_indexer(pd.Index(id_text(table["customer_id"])))
    campaign = pd.Index(campaign_ids).get_indexer(pd.Index(table["campaign_id"].astype(str)))
    _check_known_customers(table, customer, path, customer_ids)
    _check_scored_campaigns(table, campaign, campaign_ids, campaign_ids if needed is None else needed, path)
    keep = campaign >= 0
    _check_unique_pairs(table, customer, campaign, keep, path)
    p_treat = np.full((len(customer_ids), len(campaign_ids)), np.nan)
    p_control = np.full_like(p_treat, np.nan)
    p_treat[customer[keep], campaign[keep]] = table["p_treat"].to_numpy(float)[keep]
    p_control[customer[keep], campaign[keep]] = table["p_control"].to_numpy(float)[keep]
    ignored = table["campaign_id"].astype(str)[~keep].value_counts(sort=True)
    return Scores(p_treat, p_control, {str(name): int(rows) for name, rows in ignored.items()})


def check_probabilities(table: pd.DataFrame, path: Path | str) -> None:
    """DataError naming the first row whose p_treat or p_control is not a probability in [0, 1]."""
    for column in ("p_treat", "p_control"):
        _check_probability(table, column, path)


def _check_probability(table: pd.DataFrame, column: str, path: Path | str) -> None:
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        first = int(bad[0])
        given = table[column].iat[first]
        raise DataError(
            f"'{column}' must be a probability in [0, 1] but is {show(given)} for customer "
            f"'{table['customer_id'].iat[first]}', campaign '{table['campaign_id'].iat[first]}' "
            f"({bad.size} bad row(s) in all)",
            where=row_label(path, first),
            fix=_probability_fix(table[column], values),
        )


def _probability_fix(given: pd.Series, values: NDArray[np.float64]) -> str:
    """The fix for a column of bad probabilities: percentages (every value in [0, 100], most above 1)
    and decimal commas ('0,072') are named, since dropping their rows would leave a wrong table."""
    finite = values[np.isfinite(values)]
    if finite.size and (finite > 1).mean() >= 0.5 and ((finite >= 0) & (finite <= 100)).all():
        return ("The column looks like percentages (every value between 0 and 100): divide it by 100, so that 12 "
                "is 0.12")
    text = given.dropna().astype(str)
    if len(text) and text.str.fullmatch(r"\s*\d+,\d+\s*").mean() > 0.5:
        return "The column is written with a decimal comma ('0,072'): write 0.072"
    return "Fix or drop those rows; a customer without a score is simply not targeted"


def _check_known_customers(table: pd.DataFrame, customer: NDArray[np.intp], path: Path | str,
                           customer_ids: pd.Index) -> None:
    """DataError at the first score row of a customer the customers table lacks; when the two
    tables write the same ids apart only by leading zeros ('10000' and '00010000'), it says so."""
    unknown = np.flatnonzero(customer < 0)
    if unknown.size:
        first = int(unknown[0])
        given = str(table["customer_id"].iat[first])
        stripped = given.lstrip("0")
        padded = customer_ids[customer_ids.astype(str).str.lstrip("0") == stripped] if stripped else customer_ids[:0]
        hint = (f"; the customers table has '{padded[0]}': ids apart only by leading zeros are different customers, "
                "so write them one way in both tables") if len(padded) else ""
        raise DataError(
            f"The scores name customer '{given}', who is not in the customers table ({unknown.size} such row(s))",
            where=row_label(path, first),
            fix=f"Score the same customers as the customers table, or add the missing customers{hint}",
        )


def _check_scored_campaigns(
    table: pd.DataFrame, campaign: NDArray[np.intp], campaign_ids: list[str], needed: Collection[str],
    path: Path | str,
) -> None:
    """Each needed campaign has score rows (``check_scored``), a typo named at its first row;
    ``campaign`` is each row's index in ``campaign_ids`` (-1: not a campaign of the scenario)."""
    names = table["campaign_id"].astype(str)
    scored = {campaign_ids[index] for index in np.unique(campaign[campaign >= 0])}
    check_scored([str(name) for name in pd.unique(names)], scored, needed,
                 lambda written: row_label(path, int(np.flatnonzero(names == written)[0])) if written else str(path))


def check_scored(held: list[str], scored: Collection[str], needed: Collection[str],
                 where: Callable[[str | None], str]) -> None:
    """Each needed campaign has score rows (``scored``: the campaigns of the scenario the table
    holds rows of; ``held``: every campaign id it holds, in order of first appearance); a campaign
    id of the table close to one that has none is a typo. ``where(written)`` names where the table
    writes a campaign id (None: the table itself)."""
    missing = [campaign_id for campaign_id in needed if campaign_id not in scored]
    if not missing:
        return
    unknown = [name for name in held if name not in scored]
    for wanted, written in ((wanted, written) for wanted in missing for written in unknown):
        if did_you_mean(written, [wanted]):
            raise DataError(
                f"The scores name campaign '{written}', which is not a campaign of this scenario, and campaign "
                f"'{wanted}' has no score rows",
                where=where(written),
                fix=f"{did_you_mean(written, [wanted])} Correct the campaign id in the scores table or the scenario "
                f"(campaigns: {', '.join(needed)})",
            )
    shown = f"it holds {', '.join(held[:10])}{' ...' if len(held) > 10 else ''}" if held else "it has no rows at all"
    raise DataError(
        f"The scores table has no rows for campaign '{missing[0]}' ({shown})",
        where=where(None),
        fix=f"Score campaign '{missing[0]}', remove it from the scenario, or give it 'p_treat' and 'p_control' "
        "expressions",
    )


def _check_unique_pairs(
    table: pd.DataFrame, customer: NDArray[np.intp], campaign: NDArray[np.intp], keep: NDArray[np.bool_],
    path: Path | str,
) -> None:
    pairs = pd.DataFrame({"customer": customer, "campaign": campaign})
    duplicated = np.flatnonzero(pairs.duplicated().to_numpy() & keep)
    if duplicated.size:
        first = int(duplicated[0])
        raise DataError(
            f"The scores hold more than one row for customer '{table['customer_id'].iat[first]}' and "
            f"campaign '{table['campaign_id'].iat[first]}'",
            where=row_label(path, first),
            fix="Keep one score row per (customer, campaign)",
        )

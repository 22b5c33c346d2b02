"""The run's forced and excluded customers, read from the files the scenario names.

For customer i of the customer table:

    forced[i] = j    customer i must get offer j (a campaign, or one of its variants:
                     optimizer/scenario/offers.py) in this run: treated, never held out as a
                     control, and left out of every measurement (not drawn at random); -1 otherwise
    excluded[i]      customer i gets no campaign in this run (a do-not-contact list)

A forced list's id that is not in the customer table is an error (a promise must not be dropped
silently); an excluded list's is only counted (a do-not-contact list covers more than one run).
A customer forced into two campaigns, or both forced and excluded, is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, did_you_mean
from optimizer.scenario.offers import SEPARATOR, offer_labels
from optimizer.scenario.schema import ForcedList, Scenario
from optimizer.solve.problem import NO_CAMPAIGN
from optimizer.store.tables import id_text, read_table, require_columns, row_label

SHOWN = 5  # ids named in a message before "and N more"
VARIANT = "variant"  # a forced list's column naming each customer's variant


@dataclass(frozen=True)
class CustomerLists:
    """``forced`` and ``excluded`` per customer row (module docstring; None when the scenario has no
    such list), and per file what it held, for the summary."""

    forced: NDArray[np.intp] | None = None
    excluded: NDArray[np.bool_] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    examples: tuple[tuple[str, int], ...] = ()  # per excluded list: its first id and its rows, for a message

    @property
    def n_forced(self) -> int:
        return 0 if self.forced is None else int((self.forced != NO_CAMPAIGN).sum())

    @property
    def n_excluded(self) -> int:
        return 0 if self.excluded is None else int(self.excluded.sum())


def read_lists(scenario: Scenario, customer_ids: pd.Index, whole: bool = True) -> CustomerLists:
    """The scenario's forced and excluded lists laid on the customer table's rows (DataError);
    ``whole=False`` lays them on one partition of it, whose customers need not include any of an
    excluded list's (that is checked over all partitions: ``excluded_nowhere``)."""
    files: list[dict[str, Any]] = []
    examples: list[tuple[str, int]] = []
    excluded = None
    if scenario.excluded:
        excluded = np.zeros(len(customer_ids), dtype=bool)
        for index, name in enumerate(scenario.excluded):
            path = scenario.resolve(name)
            ids = _listed_ids(path, scenario.customer_id, "excluded list", f"excluded[{index}]")[0]
            rows = customer_ids.get_indexer(ids)
            if whole:
                _require_some_known(ids, rows, customer_ids, path)
            excluded[rows[rows >= 0]] = True
            examples.append((str(ids[0]) if len(ids) else "", len(ids)))
            files.append({"list": "excluded", "file": str(path), "customers": int(np.unique(rows[rows >= 0]).size),
                          "not_in_customers": int(np.unique(ids[rows < 0]).size)})
    forced = None
    if scenario.forced:
        forced = np.full(len(customer_ids), NO_CAMPAIGN, dtype=np.intp)
        for index, listed in enumerate(scenario.forced):
            files.append(_force(scenario, listed, index, customer_ids, forced, excluded))
    return CustomerLists(forced, excluded, files, tuple(examples))


def _force(scenario: Scenario, listed: ForcedList, index: int, customer_ids: pd.Index, forced: NDArray[np.intp],
           excluded: NDArray[np.bool_] | None) -> dict[str, Any]:
    """Lay the forced list ``scenario.forced[index]`` on ``forced`` (in place); what it held."""
    path = scenario.resolve(listed.file)
    ids, table = _listed_ids(path, scenario.customer_id, "forced list", f"forced[{index}].file")
    campaigns = _offers(scenario, listed, table, path)
    rows = customer_ids.get_indexer(ids)
    _require_known(ids, rows, path)
    _require_one_campaign(scenario, ids, campaigns, path)
    clash = (forced[rows] != NO_CAMPAIGN) & (forced[rows] != campaigns)
    if clash.any():
        first = int(np.flatnonzero(clash)[0])
        names = offer_labels(scenario)
        raise DataError(
            f"Customer '{ids[first]}' is forced into two campaigns, '{names[forced[rows[first]]]}' and "
            f"'{names[campaigns[first]]}' ({int(clash.sum())} such customer(s))",
            where=row_label(path, first), fix="Promise each customer one campaign: keep them in one forced list",
        )
    if excluded is not None and excluded[rows].any():
        first = int(np.flatnonzero(excluded[rows])[0])
        raise DataError(
            f"Customer '{ids[first]}' is both forced and excluded ({int(excluded[rows].sum())} such customer(s))",
            where=row_label(path, first), fix="Take them off the forced list or off the excluded list",
        )
    forced[rows] = campaigns
    return {"list": "forced", "file": str(path), "campaign": listed.campaign, "variant": listed.variant,
            "customers": int(np.unique(rows).size)}


def _listed_ids(path: Path, id_column: str, what: str, key: str) -> tuple[pd.Index, pd.DataFrame]:
    """The ids of a list file (as text, like the customer table's) and the table they came from;
    ``key``: the scenario key that names the file."""
    table = read_table(path, what=what, text_columns=(id_column, "campaign_id", VARIANT), key=key)
    require_columns(table, [id_column], path, what,
                    f"A {what} holds the customer ids under the same column name as the customers table")
    missing = np.flatnonzero(table[id_column].isna().to_numpy())
    if missing.size:
        raise DataError(f"The {what} has {missing.size} row(s) with no '{id_column}'",
                        where=row_label(path, int(missing[0])), fix="Give every row an id or drop those rows")
    return pd.Index(id_text(table[id_column])), table


def _offers(scenario: Scenario, listed: ForcedList, table: pd.DataFrame, path: Path) -> NDArray[np.intp]:
    """The offer index of each row: its campaign (the list's ``campaign``, else the file's
    campaign_id column) and, for a campaign with variants, its variant (the list's ``variant``, else
    the file's variant column)."""
    given = _campaign_names(scenario, listed, table, path)
    column = table[VARIANT].astype(object).where(table[VARIANT].notna(), None).map(
        lambda text: None if text is None or not str(text).strip() else str(text).strip()) if VARIANT in table \
        else pd.Series(None, index=table.index, dtype=object)
    if listed.variant is not None:
        other = np.flatnonzero(column.notna().to_numpy() & (column != listed.variant).to_numpy())
        if other.size:
            raise DataError(f"The forced list's variant column names '{column.iat[int(other[0])]}' where the "
                            f"scenario names variant '{listed.variant}' for the whole list", where=row_label(
                                path, int(other[0])), fix="Leave the scenario's 'variant' out, or the file's column")
    variants = pd.Series(listed.variant, index=table.index, dtype=object) if listed.variant is not None else column
    blank = variants.isna()
    wanted = given.where(blank, given + SEPARATOR + variants.astype(str))
    offers = pd.Index(offer_labels(scenario)).get_indexer(pd.Index(wanted))
    wrong = np.flatnonzero(offers < 0)
    if wrong.size:
        first = int(wrong[0])
        raise _wrong_variant(scenario, str(given.iat[first]), None if blank.iat[first] else str(variants.iat[first]),
                             row_label(path, first), int(wrong.size))
    return offers.astype(np.intp)


def _wrong_variant(scenario: Scenario, campaign: str, variant: str | None, where: str, rows: int) -> DataError:
    """A forced row whose variant is missing (its campaign has variants), unknown, or given to a
    campaign without variants."""
    known = [v.id for v in scenario.campaigns[scenario.campaign_ids().index(campaign)].variants]
    if variant is None:
        return DataError(f"Campaign '{campaign}' has offer variants ({', '.join(known)}); the forced list names "
                         f"none for {rows} row(s)", where=where,
                         fix="Give the file a variant column, or name the list's 'variant' in the scenario")
    if not known:
        return DataError(f"The forced list names variant '{variant}' of campaign '{campaign}', which has no variants",
                         where=where, fix="Leave the variant blank for that campaign")
    hint = did_you_mean(variant, known)
    return DataError(f"The forced list names variant '{variant}', which is not a variant of campaign '{campaign}'",
                     where=where, fix=f"{hint + ' ' if hint else ''}Its variants: {', '.join(known)}")


def _campaign_names(scenario: Scenario, listed: ForcedList, table: pd.DataFrame, path: Path) -> pd.Series:
    """Each row's campaign id: the list's ``campaign``, else the file's campaign_id column (checked)."""
    names = scenario.campaign_ids()
    if listed.campaign is not None:
        return pd.Series(listed.campaign, index=table.index, dtype=object)
    require_columns(table, ["campaign_id"], path, "forced list",
                    "Name the campaign in the scenario (forced: [{file: ..., campaign: vip_call}]) "
                    "or give the file a campaign_id column")
    blank = np.flatnonzero(table["campaign_id"].isna().to_numpy())
    if blank.size:
        raise DataError(f"The forced list has {blank.size} row(s) with no campaign_id",
                        where=row_label(path, int(blank[0])),
                        fix="Name each row's campaign, or give the list's campaign in the scenario")
    given = table["campaign_id"].astype(str).astype(object)
    campaigns = pd.Index(names).get_indexer(pd.Index(given))
    unknown = np.flatnonzero(campaigns < 0)
    if unknown.size:
        name = str(given.iat[int(unknown[0])])
        hint = did_you_mean(name, names)
        raise DataError(f"The forced list names campaign '{name}', which is not a campaign of this scenario",
                        where=row_label(path, int(unknown[0])),
                        fix=f"{hint + ' ' if hint else ''}Campaigns: {', '.join(names)}")
    return given


def _require_one_campaign(scenario: Scenario, ids: pd.Index, campaigns: NDArray[np.intp], path: Path) -> None:
    """DataError when one file forces a customer into two campaigns (two rows, two campaign_ids)."""
    pairs = pd.DataFrame({"id": np.asarray(ids), "campaign": campaigns}).drop_duplicates()
    twice = pairs["id"].duplicated(keep=False).to_numpy()
    if twice.any():
        customer = str(pairs["id"][twice].iat[0])
        names = sorted({offer_labels(scenario)[j] for j in pairs["campaign"][pairs["id"] == customer]})
        raise DataError(f"Customer '{customer}' is forced into two campaigns, {' and '.join(map(repr, names))} "
                        f"({int(pairs['id'][twice].nunique())} such customer(s))",
                        where=row_label(path, int(np.flatnonzero(np.asarray(ids) == customer)[1])),
                        fix="Promise each customer one campaign: keep one row per customer")


def _require_some_known(ids: pd.Index, rows: NDArray[np.intp], customer_ids: pd.Index, path: Path) -> None:
    """DataError when a list with ids matches no customer at all: its ids are written another way."""
    if len(ids) and not (rows >= 0).any():
        raise excluded_nowhere(len(ids), str(ids[0]), str(customer_ids[0]), str(path))


def excluded_nowhere(listed: int, example: str, customer: str, path: str) -> DataError:
    """The error of an excluded list none of whose ids is a customer: its ids are written another way."""
    return DataError(f"None of the {listed:,} ids of the excluded list is a customer of the customers table: "
                     f"it holds ids like {example!r}, the customers table ids like {customer!r}",
                     where=path, fix="Write the list's ids as the customers table writes them")


def _require_known(ids: pd.Index, rows: NDArray[np.intp], path: Path) -> None:
    unknown = np.flatnonzero(rows < 0)
    if unknown.size:
        shown = ", ".join(repr(str(ids[i])) for i in unknown[:SHOWN])
        more = f" and {unknown.size - SHOWN} more" if unknown.size > SHOWN else ""
        raise DataError(
            f"{unknown.size} customer(s) of the forced list are not in the customers table: {shown}{more}",
            where=row_label(path, int(unknown[0])),
            fix="Add them to the customers table, or take them off the forced list",
        )


def describe_forced(ids: NDArray[np.object_], offer: str, reason: str) -> str:
    """'3 forced into 'vip_call' ...' for the message of forced customers a rule keeps out."""
    shown = ", ".join(repr(str(i)) for i in ids[:SHOWN])
    more = f" and {ids.size - SHOWN} more" if ids.size > SHOWN else ""
    return f"{ids.size} forced into '{offer}' {reason}: {shown}{more}"

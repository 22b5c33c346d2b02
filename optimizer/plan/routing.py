"""Scores partitioned unlike the customers, joined to them by customer id on the cluster.

A partition of the decomposition is a part file of the customer dataset. When the score parts
do not pair with the customer parts by name and content (other part names, a single scores
file, a Spark job's own split), each score row is sent to the partition of its customer by one
join and one shuffle with dask.dataframe: the owners table (customer id → partition number,
read from the customer parts' id column) is merged into the scores, and ``set_index`` on the
partition number with divisions 0, 1, …, P puts exactly partition p's score rows into output
partition p. The routed frames stay in the workers' memory until the plan is written.

Needs the optional extra: ``pip install 'cvo[dask]'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import DataError
from optimizer.scenario.data import SCORE_COLUMNS, check_probabilities
from optimizer.store.datasets import Dataset, Part
from optimizer.store.tables import id_text

PARTITION = "_cvo_partition"  # the routed scores' column of their customer's partition number


def owners(source: tuple[Dataset, Part, int, str]) -> pd.DataFrame:
    """One customer part's ids (as load_customers makes them text) and its partition number."""
    dataset, part, number, id_column = source
    ids = dataset.read(part, [id_column])[id_column] if part.name else pd.Series([], dtype="string")
    return pd.DataFrame({"customer_id": id_text(ids).astype("string"),
                         PARTITION: np.full(len(ids), number, dtype=np.int64)})


def score_rows(source: tuple[Dataset, Part]) -> pd.DataFrame:
    """One score part's columns that load_scores reads, the customer id as text."""
    dataset, part = source
    table = dataset.read(part) if part.name else pd.DataFrame({column: [] for column in SCORE_COLUMNS})
    missing = [column for column in SCORE_COLUMNS if column not in table.columns]
    if missing:
        raise DataError(f"The scores part {part.name} has no column '{missing[0]}'",
                        where=f"{dataset.location}, {part.name}",
                        fix=f"The scores table needs the columns {', '.join(SCORE_COLUMNS)}")
    check_probabilities(table, f"{dataset.location.rstrip('/')}/{part.name}")  # its rows named where they are
    return pd.DataFrame({"customer_id": id_text(table["customer_id"]).astype("string"),
                         "campaign_id": table["campaign_id"].astype(str).astype("string"),
                         "p_treat": table["p_treat"], "p_control": table["p_control"]})


def repeated_customer(customers: Dataset, parts: list[Part], id_column: str) -> DataError | None:
    """The error of a customer id in more than one part (each part checks its own rows), found by
    counting the ids of every part on the cluster; None when every id is once."""
    import dask.dataframe as dd

    read = [(customers, part, number, id_column) for number, part in enumerate(parts)]
    ids = dd.from_map(owners, read, meta=owners((customers, Part("", ""), 0, id_column)))  # type: ignore[no-untyped-call]
    counts = ids["customer_id"].value_counts(split_out=max(1, len(parts) // 8))
    repeated = counts[counts > 1]
    first = repeated.head(1, npartitions=-1)
    if len(first) == 0:
        return None
    return DataError(
        f"The customer id '{first.index[0]}' appears in more than one part of the customers dataset "
        f"({int(repeated.sum().compute()) - int(repeated.shape[0].compute())} duplicate row(s) in all)",
        where=customers.location, fix="Keep one row per customer (deduplicate before running)")


def routed_scores(client: Any, customers: Dataset, parts: list[Part], scores: Dataset, id_column: str) -> list[Any]:
    """One future per customer part (in the order of ``parts``), each the score rows of that
    part's customers; DataError when a score row's customer is in no part."""
    import dask.dataframe as dd

    empty = Part("", "")
    read_owners = [(customers, part, number, id_column) for number, part in enumerate(parts)]
    owner_frames = dd.from_map(owners, read_owners, meta=owners((customers, empty, 0, id_column)))  # type: ignore[no-untyped-call]
    read_scores = [(scores, part) for part in scores.parts]
    score_frames = dd.from_map(score_rows, read_scores, meta=score_rows((scores, empty)))  # type: ignore[no-untyped-call]
    joined = client.persist(score_frames.merge(owner_frames, on="customer_id", how="left"))
    unknown = joined[joined[PARTITION].isna()]
    stray = unknown.head(1, npartitions=-1)
    if len(stray):
        count = int(unknown.shape[0].compute())
        raise DataError(
            f"The scores name customer '{stray['customer_id'].iat[0]}', who is in no part of the customers "
            f"dataset ({count} such row(s))", where=scores.location,
            fix="Score the same customers as the customers table, or add the missing customers")
    by_partition = joined.astype({PARTITION: np.int64}).set_index(PARTITION, divisions=list(range(len(parts) + 1)))
    return list(client.compute(by_partition.to_delayed()))

"""A scenario's partitioned data on a Dask cluster: listed, paired and loaded by the workers.

The customer table is a parquet dataset (optimizer/store/datasets.py: a folder of part files,
Hive or Spark layouts, local or behind an fsspec URL); each part with rows is one partition of
the decomposition, numbered in the order of the parts' paths. The client reads none of it: a
worker lists the parts, each partition is loaded (``load_data`` and ``formulate`` on its tables,
then ``priced_problem``) on the worker that keeps it, and the sizes the workers report place the
partitions (their first customer's position in the whole table). Scores pair with a customer
part by name when the score parts have the customer parts' names and hold the same customers;
otherwise, found out by the first load, they are routed by customer id with one shuffle
(optimizer/plan/routing.py) and the partitions are loaded again.

Needs the optional extra: ``pip install 'cvo[dask]'``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import reduce
from operator import add
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from optimizer.errors import DataError, HistoryError
from optimizer.plan.workflow import shortfall_error
from optimizer.scenario.data import load_data
from optimizer.scenario.formulation import formulate
from optimizer.scenario.schema import Scenario
from optimizer.solve.distributed import DaskCustomers, gathered
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.partitions import Partition, Progress
from optimizer.solve.shortfalls import CheapestUses, cheapest_uses
from optimizer.store.datasets import Dataset, Part, filesystem, open_dataset
from optimizer.store.tables import id_text

if TYPE_CHECKING:
    import pandas as pd

UNPAIRED = -1  # a load's answer when its score part holds customers of other parts
Answer = tuple[int, CheapestUses | None]  # a load's customers (0: none, UNPAIRED) and their cheapest uses


@dataclass(frozen=True)
class PartSource:
    """Where one partition's tables are: a part of the customer dataset and, when the scores pair
    with it by name, the score part of that name (None: no scores, or scores routed by id)."""

    customers: Dataset
    part: Part
    scores: Dataset | None = None
    score_part: Part | None = None

    def tables(self, id_column: str, routed: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The customer rows of this part and their score rows (``routed``: as the shuffle sent them)."""
        customers = self.customers.read(self.part)
        if self.scores is None:
            return customers, None
        if self.score_part is None:
            return customers, routed
        return customers, self.scores.read(self.score_part)


def datasets(scenario: Scenario) -> tuple[Dataset, Dataset | None]:
    """The scenario's customer dataset and its scores (a dataset, or a parquet file as one part),
    listed where this runs (a worker: the client need not see the data)."""
    customers = open_dataset(scenario.location(scenario.customers), scenario.storage_options, "customers")
    if customers is None:
        raise DataError(
            f"The customers path {scenario.location(scenario.customers)} is not a folder of .parquet partitions",
            where=f"{scenario.source}, customers",
            fix="Point 'customers' at a folder of parquet files (one per partition) to run on a Dask cluster",
        )
    if scenario.scores is None:
        return customers, None
    location = scenario.location(scenario.scores)
    scores = open_dataset(location, scenario.storage_options, "scores")
    if scores is not None:
        return customers, scores
    if not location.lower().endswith(".parquet"):
        raise DataError(f"The scores file {location} is not parquet", where=f"{scenario.source}, scores",
                        fix="Give the scores as a .parquet file or a folder of parquet parts to run on a Dask cluster")
    _, path = filesystem(location, scenario.storage_options)
    return customers, Dataset(location, (Part(PurePosixPath(path).name, path),), scenario.storage_options)


def sources(customers: Dataset, scores: Dataset | None) -> list[PartSource]:
    """Each customer part's source; score parts pair by name when both datasets have the same names."""
    paired = scores is not None and sorted(scores.names) == sorted(customers.names)
    by_name = {part.name: part for part in scores.parts} if scores is not None and paired else {}
    return [PartSource(customers, part, scores, by_name.get(part.name)) for part in customers.parts]


def load_partition(scenario: Scenario, source: PartSource, run_date: dt.date, history_expected: bool = False,
                   routed: pd.DataFrame | None = None) -> tuple[Partition, CheapestUses] | int:
    """One partition's lean arrays, built on the worker that will keep them (contact policy on
    ``run_date``), with what its customers add to the check for obvious conflicts; 0 for a part of
    no rows, UNPAIRED when its score part names customers of other parts; HistoryError when the
    client read a contact history this worker cannot see."""
    history = scenario.resolve(scenario.contact_policy.history)
    if history_expected and not history.is_file():
        raise HistoryError(f"The contact history {history} is read by the client but a worker cannot see it",
                           where=f"partition {source.part.name}",
                           fix="Put the history where every worker can read it (a shared file system), or run "
                           "with --dask local; without it the plan would ignore every earlier contact")
    customers, scores = source.tables(scenario.customer_id, routed)
    if len(customers) == 0:
        return 0
    if source.score_part is not None and scores is not None and not _same_customers(customers, scores, scenario):
        return UNPAIRED
    data = load_data(partition_scenario(scenario, source), run_date, tables=(customers, scores))
    problem = formulate(data, whole=False).problem
    return Partition(priced_problem(problem), 0, source.part.name), cheapest_uses(problem)


def _same_customers(customers: pd.DataFrame, scores: pd.DataFrame, scenario: Scenario) -> bool:
    """Whether every score row's customer is one of these customers."""
    known = set(id_text(customers[scenario.customer_id]).dropna())
    return "customer_id" not in scores or set(id_text(scores["customer_id"]).dropna()) <= known


def partition_scenario(scenario: Scenario, source: PartSource) -> Scenario:
    """The scenario over one part (its locations name the part's files, as errors show them)."""
    update: dict[str, Any] = {"customers": f"{source.customers.location.rstrip('/')}/{source.part.name}"}
    if source.scores is not None and source.score_part is not None:
        update["scores"] = f"{source.scores.location.rstrip('/')}/{source.score_part.name}"
    return scenario.model_copy(update=update)


@dataclass(frozen=True)
class LoadedData:
    """The loaded partitions and, per partition, where its tables are (to read again for the plan)."""

    customers: DaskCustomers
    sources: list[PartSource]
    routed: list[Any]  # per partition, the future of its routed score rows, or None


def loaded_data(client: Any, scenario: Scenario, run_date: dt.date, progress: Progress | None = None,
                history_expected: bool = False) -> LoadedData:
    """The scenario's partitions (its paths absolute), each loaded on the worker that keeps it and
    placed by the sizes the workers report; ``history_expected`` when the client found the history."""
    from optimizer.plan.routing import routed_scores

    customers, scores = client.submit(datasets, scenario, pure=False).result()
    parts = sources(customers, scores)
    routed: list[Any] = [None] * len(parts)
    if scores is not None and parts[0].score_part is None:
        routed = routed_scores(client, customers, customers.parts, scores, scenario.customer_id)
    loads, answers = _loads(client, scenario, parts, routed, run_date, history_expected, progress)
    if any(size == UNPAIRED for size, _ in answers) and scores is not None:
        parts = [replace(source, score_part=None) for source in parts]
        routed = routed_scores(client, customers, customers.parts, scores, scenario.customer_id)
        loads, answers = _loads(client, scenario, parts, routed, run_date, history_expected, progress)
    sizes = [size for size, _ in answers]
    kept = [number for number, size in enumerate(sizes) if size > 0]
    if not kept:
        raise DataError(f"The customers dataset {customers.location} has no rows in any of its "
                        f"{len(parts)} part(s)", where=f"{scenario.source}, customers",
                        fix="Point 'customers' at a dataset with rows")
    shortfalls = reduce(add, [uses for size, uses in answers if uses is not None]).shortfalls()
    if shortfalls:  # as cvo validate finds them, before any pass
        raise shortfall_error(scenario, shortfalls)
    offset, placed = 0, []
    for number in kept:
        placed.append(client.submit(_placed, loads[number], offset, pure=False))
        offset += sizes[number]
    dask = DaskCustomers(client, placed, [parts[n].part.name for n in kept], offset, progress)
    return LoadedData(dask, [parts[n] for n in kept], [routed[n] for n in kept])


def _loads(client: Any, scenario: Scenario, parts: list[PartSource], routed: list[Any], run_date: dt.date,
           history_expected: bool, progress: Progress | None) -> tuple[list[Any], list[Answer]]:
    loads = [client.submit(load_partition, scenario, source, run_date, history_expected, frame, pure=False)
             for source, frame in zip(parts, routed)]
    answers = gathered(client, [client.submit(_answer, load, pure=False) for load in loads], progress, "load")
    return loads, answers


def _answer(loaded: tuple[Partition, CheapestUses] | int) -> Answer:
    return (loaded, None) if isinstance(loaded, int) else (loaded[0].size, loaded[1])


def _placed(loaded: tuple[Partition, CheapestUses], offset: int) -> Partition:
    return replace(loaded[0], offset=offset)

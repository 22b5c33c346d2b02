"""A scenario's partitioned data on a Dask cluster: listed, paired and loaded by the workers.

The customer table is a parquet dataset (optimizer/store/datasets.py: a folder of part files,
Hive or Spark layouts, local or behind an fsspec URL); each part with rows is one partition of
the decomposition, numbered in the order of the parts' paths. The client reads none of it: a
worker lists the parts, each partition is loaded (``load_data`` and ``formulate`` on its tables,
then ``priced_problem``) on the worker that keeps it, and the sizes the workers report place the
partitions (their first customer's position in the whole table). Scores pair with a customer
part by name when the score parts have the customer parts' names and each holds its customer
part's customers only (read from the id columns first); otherwise they are routed by customer id
with one shuffle (optimizer/plan/routing.py). What needs every customer is checked over the
partitions' answers, as in memory: the campaigns that read the scores have rows there, and the
minimum audiences' cheapest uses (added up on the workers) break no limit.

Needs the optional extra: ``pip install 'cvo[dask]'``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from operator import add
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import DataError, HistoryError
from optimizer.plan.workflow import shortfall_error
from optimizer.scenario.data import check_scored, load_data, needed_scores
from optimizer.scenario.formulation import formulate
from optimizer.scenario.groups import check_strata, stratum_labels
from optimizer.scenario.lists import excluded_nowhere
from optimizer.scenario.schema import Scenario
from optimizer.solve.customers import Progress
from optimizer.solve.distributed import DaskCustomers, gathered
from optimizer.solve.lagrangian import kept_dtype, priced_problem
from optimizer.solve.partitions import Partition
from optimizer.solve.shortfalls import CheapestUses, cheapest_uses
from optimizer.store.datasets import Dataset, Part, filesystem, local_path, open_dataset
from optimizer.store.history_versions import history_url
from optimizer.store.tables import id_text

if TYPE_CHECKING:
    import pandas as pd



@dataclass(frozen=True)
class PartSource:
    """Where one partition's tables are: a part of the customer dataset and, when the scores pair
    with it by name, the score part of that name (None: no scores, or scores routed by id)."""

    customers: Dataset
    part: Part
    scores: Dataset | None = None
    score_part: Part | None = None

    def tables(self, routed: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
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


@dataclass(frozen=True)
class Loaded:
    """A partition loaded on its worker: its lean arrays (None for a part of no rows), what its
    customers add to the check for obvious conflicts, and the campaign ids its score rows name (in
    order of first appearance) and which of them are the scenario's."""

    partition: Partition | None
    uses: CheapestUses | None = None
    held: tuple[str, ...] = ()
    scored: frozenset[str] = frozenset()
    strata: NDArray[np.object_] | None = None  # each customer's control stratum label (None: no strata)
    excluded: tuple[tuple[int, int, str], ...] = ()  # per excluded list: customers here, rows listed, one id
    first_customer: str = ""


def load_partition(scenario: Scenario, source: PartSource, run_date: dt.date, history_expected: bool = False,
                   routed: pd.DataFrame | None = None) -> Loaded:
    """One partition, built on the worker that will keep it (contact policy on ``run_date``);
    HistoryError when the client read a contact history this worker cannot see."""
    history = scenario.history_location()  # an object store's is read by the loader, or a HistoryError
    if history_expected and history_url(history) is None and not local_path(history).is_file():
        raise HistoryError(f"The contact history {history} is read by the client but a worker cannot see it",
                           where=f"partition {source.part.name}",
                           fix="Put the history where every worker can read it (a shared file system), or run "
                           "with --dask local; without it the plan would ignore every earlier contact")
    customers, scores = source.tables(routed)
    if len(customers) == 0:
        return Loaded(None)
    data = load_data(partition_scenario(scenario, source), run_date, tables=(customers, scores))
    problem = formulate(data, whole=False).problem
    held = () if scores is None else tuple(str(name) for name in scores["campaign_id"].astype(str).unique())
    counts = [entry for entry in data.lists.files if entry["list"] == "excluded"]
    excluded = tuple((entry["customers"], listed, example)
                     for entry, (example, listed) in zip(counts, data.lists.examples))
    return Loaded(Partition(priced_problem(problem, kept_dtype(scenario.solver.precision)), 0, source.part.name),
                  cheapest_uses(problem), held,
                  frozenset(held) & frozenset(scenario.campaign_ids()), stratum_labels(data), excluded,
                  str(data.customer_ids[0]))


def paired(source: PartSource, id_column: str) -> bool:
    """Whether the score part named like this customer part holds scores of its customers only
    (and none when the part has no customers): read from the two id columns."""
    if source.scores is None or source.score_part is None:
        return True
    import pandas as pd

    customers = source.customers.read(source.part, [id_column])[id_column]
    scores = source.scores.read(source.score_part, ["customer_id"])["customer_id"]
    known = pd.Index(id_text(customers).dropna().unique())  # a duplicate id is load_customers's to name
    return bool((known.get_indexer(pd.Index(id_text(scores).dropna().unique())) >= 0).all())  # 20× Series.isin


def partition_scenario(scenario: Scenario, source: PartSource) -> Scenario:
    """The scenario over one part (its locations name the part's files, as errors show them)."""
    update: dict[str, Any] = {"customers": f"{source.customers.location.rstrip('/')}/{source.part.name}"}
    if source.scores is not None and source.score_part is not None:
        update["scores"] = f"{source.scores.location.rstrip('/')}/{source.score_part.name}"
    elif source.scores is not None:  # routed: the rows come from any part, joined by customer id
        update["scores"] = f"{source.scores.location} (the rows of the customers of {source.part.name})"
    return scenario.model_copy(update=update)


@dataclass(frozen=True)
class LoadedData:
    """The loaded partitions and, per partition, where its tables are (to read again for the plan).

    Scores routed by customer id (optimizer/plan/routing.py) are not kept through the passes: the
    workers keep the partitions' compact arrays only, and ``routed`` routes the scores again when
    the plan is written (one more shuffle, instead of every score row held for the whole run)."""

    customers: DaskCustomers
    sources: list[PartSource]
    strata: list[Any]  # per partition, the future of its customers' stratum labels (None: no strata)
    levels: list[str]  # every stratum label, sorted ([""] without strata)
    routing: tuple[Dataset, list[Part], Dataset, str] | None = None  # customers, their parts, scores, id column
    kept: list[int] = field(default_factory=list)  # the partitions' numbers among the customer parts

    def routed(self) -> list[Any]:
        """Per partition, the future of its routed score rows (None each when scores pair by name)."""
        if self.routing is None:
            return [None] * len(self.sources)
        from optimizer.plan.routing import routed_scores

        every = routed_scores(self.customers.client, *self.routing)
        return [every[number] for number in self.kept]


def loaded_data(client: Any, scenario: Scenario, run_date: dt.date, progress: Progress | None = None,
                history_expected: bool = False) -> LoadedData:
    """The scenario's partitions (its paths absolute), each loaded on the worker that keeps it and
    placed by the sizes the workers report; ``history_expected`` when the client found the history.
    Checked over all partitions, as in memory: every campaign that reads the scores has rows there,
    and no minimum audiences break a limit with their cheapest customers."""
    customers, scores = client.submit(datasets, scenario, pure=False).result()
    parts, routed = _score_sources(client, scenario, customers, scores, progress)
    routing = None if scores is None or all(frame is None for frame in routed) else (
        customers, list(customers.parts), scores, scenario.customer_id)
    loads = [client.submit(load_partition, scenario, source, run_date, history_expected, frame, pure=False)
             for source, frame in zip(parts, routed)]
    answers = gathered(client, [client.submit(_answer, load, pure=False) for load in loads], progress, "load")
    kept = [number for number, answer in enumerate(answers) if answer.size > 0]
    if not kept:
        raise DataError(f"The customers dataset {customers.location} has no rows in any of its "
                        f"{len(parts)} part(s)", where=f"{scenario.source}, customers",
                        fix="Point 'customers' at a dataset with rows")
    _check_customers_once(customers, [parts[number].part for number in kept], scenario.customer_id)
    if scores is not None:
        held = list(dict.fromkeys(name for answer in answers for name in answer.held))
        check_scored(held, set().union(*(answer.scored for answer in answers)), needed_scores(scenario),
                     lambda _: scores.location)
    _check_excluded(scenario, [answers[number] for number in kept])
    levels = sorted(set().union(*(answer.labels for answer in answers))) or [""]
    check_strata(scenario, len(levels))
    shortfalls = _summed(client, [client.submit(_uses, loads[number], pure=False) for number in kept]).shortfalls()
    if shortfalls:  # as cvo validate finds them, before any pass
        raise shortfall_error(scenario, shortfalls)
    rows = {answers[number].weight_row for number in kept}  # shared weights only if the same everywhere
    offset, placed, shared = 0, [], None not in rows and len(rows) == 1
    for number in kept:
        placed.append(client.submit(_placed, loads[number], offset, shared, pure=False))
        offset += answers[number].size
    dask = DaskCustomers(client, placed, [parts[n].part.name for n in kept], offset, progress)
    strata = [client.submit(_strata, loads[n], pure=False) if scenario.control_strata else None for n in kept]
    return LoadedData(dask, [parts[n] for n in kept], strata, levels, routing, kept)


def _check_customers_once(customers: Dataset, parts: list[Part], id_column: str) -> None:
    """DataError when a customer id is in two parts (in memory: a duplicate row), counted on the
    cluster (one read of the id columns; skipped with one part, which checks its own rows)."""
    if len(parts) > 1:
        from optimizer.plan.routing import repeated_customer

        found = repeated_customer(customers, parts, id_column)  # a dask.dataframe graph: the workers read
        if found is not None:
            raise found


def _check_excluded(scenario: Scenario, loads: list[Answer]) -> None:
    """An excluded list none of whose ids is a customer of any partition: the in-memory error."""
    for number, name in enumerate(scenario.excluded):
        matched = sum(load.excluded[number][0] for load in loads)
        _, listed, example = loads[0].excluded[number]
        if listed and not matched:
            raise excluded_nowhere(listed, example, loads[0].first_customer, str(scenario.resolve(name)))


def _score_sources(client: Any, scenario: Scenario, customers: Dataset, scores: Dataset | None,
                   progress: Progress | None) -> tuple[list[PartSource], list[Any]]:
    """Each partition's source and its routed score rows (None each when the scores pair by name:
    every score part holds its customer part's customers only, checked on the workers first)."""
    from optimizer.plan.routing import routed_scores

    parts = sources(customers, scores)
    if scores is None:
        return parts, [None] * len(parts)
    if parts[0].score_part is not None and all(gathered(
            client, [client.submit(paired, source, scenario.customer_id, pure=False) for source in parts],
            progress, "pair")):
        return parts, [None] * len(parts)
    unpaired = [replace(source, score_part=None) for source in parts]
    return unpaired, routed_scores(client, customers, list(customers.parts), scores, scenario.customer_id)


def _summed(client: Any, futures: list[Any]) -> CheapestUses:
    """The futures' CheapestUses added up on the workers, two at a time (each sum keeps only the
    smallest coefficients a minimum needs, so no one holds every partition's)."""
    while len(futures) > 1:
        pairs = [client.submit(add, futures[i], futures[i + 1], pure=False) for i in range(0, len(futures) - 1, 2)]
        futures = pairs + futures[len(pairs) * 2:]
    uses: CheapestUses = futures[0].result()
    return uses


@dataclass(frozen=True)
class Answer:
    """What the client needs of a load: its customers, the campaign ids of its score rows (and which
    of them are the scenario's), its stratum labels, its excluded lists' counts and a customer id."""

    size: int
    held: tuple[str, ...]
    scored: frozenset[str]
    labels: frozenset[str]
    excluded: tuple[tuple[int, int, str], ...]
    first_customer: str
    weight_row: bytes | None  # the weights when every customer here has the same (one row), else None


def _answer(loaded: Loaded) -> Answer:
    labels = frozenset() if loaded.strata is None else frozenset(map(str, set(loaded.strata)))
    part = loaded.partition
    size = 0 if part is None else part.size
    row = None if part is None or part.priced.weights.shape[1] != 1 else part.priced.weights.tobytes()
    return Answer(size, loaded.held, loaded.scored, labels, loaded.excluded, loaded.first_customer, row)


def _strata(loaded: Loaded) -> NDArray[np.object_] | None:
    return loaded.strata


def _uses(loaded: Loaded) -> CheapestUses:
    return cast(CheapestUses, loaded.uses)


def _placed(loaded: Loaded, offset: int, shared: bool) -> Partition:
    """The partition at global index ``offset``; its weights one row per customer unless every
    partition's are the same one row (``shared``), as in memory, where the whole table decides."""
    part = cast(Partition, loaded.partition)
    weights = part.priced.weights
    if not shared and weights.shape[1] == 1:
        full = np.broadcast_to(weights, (weights.shape[0], part.size, weights.shape[2]))
        part = replace(part, priced=replace(part.priced, weights=np.ascontiguousarray(full)))
    return replace(part, offset=offset)

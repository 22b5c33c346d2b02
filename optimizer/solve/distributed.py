"""The customers of a partitioned dataset on a Dask cluster, as the decomposition maps over them.

Each worker keeps its partitions' lean arrays (``Partition``) in memory; every step of
optimizer/solve/decompose.py is then a map over those futures returning a few numbers (a pass:
L(λ) and m row sums) or a few customers (the master's). Needs the optional extra
``pip install 'cvo[dask]'`` (only the client is used here; nothing of Dask is imported).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.customers import Customers, Progress
from optimizer.solve.lagrangian import PricedProblem, row_usage, stack
from optimizer.solve.partitions import Partition
from optimizer.solve.problem import CouplingRow

_T = TypeVar("_T")


class DaskCustomers(Customers):
    """The customers of a partitioned dataset, held by the workers of a dask.distributed Client."""

    def __init__(self, client: Any, futures: list[Any], files: list[str], n: int,
                 progress: Progress | None = None) -> None:
        """``futures``: one per partition, each resolving on its worker to that partition's Partition
        (built there and kept there); ``files`` their names; ``n`` the customers in all; ``progress``
        hears each map as its partitions finish (the first: the partitions being loaded). The rows,
        campaigns and whether the weights are one row for everybody are read off the first
        partition: the loader makes every partition alike in that (optimizer/plan/partitioned_data.py)."""
        self.client = client
        self.files = files
        self.futures = futures
        self.n = n
        self.progress = progress
        self.value_outside = None
        self.pass_seconds, self._timed = 0.0, set()  # as Customers: passes over the cluster are timed
        self.rows, self.campaign_ids, self.row_weight, self.campaigns, self.shared_weights = client.submit(
            _describe, self.futures[0]).result()
        self.coefficients = _common(self.map(_campaign_coefficients, stage="describe"))

    @cached_property
    def price_scale(self) -> NDArray[np.float64]:
        scales = self.map(_scale_parts, stage="scale")
        largest = max(scale[0] for scale in scales)
        least: NDArray[np.float64] = np.min([scale[1] for scale in scales], axis=0)
        return (1.0 + largest) / least

    def _run(self, function: Callable[..., _T], args: tuple[Any, ...], stage: str) -> list[_T]:
        futures = self.client.map(partial(_apply, function, args), self.futures, pure=False)
        return gathered(self.client, futures, self.progress, stage, self.n)

    def sample(self, share: float, keep_dtype: bool = False) -> PricedProblem:
        drawn = self.map(parts.sample_rows, share, self.shared_weights, keep_dtype, stage="sample")
        return stack(drawn, self.shared_weights)

    def gather(self, customers: NDArray[np.intp], keep_dtype: bool = False) -> PricedProblem:
        gathered = self.map(parts.customer_rows, customers, self.shared_weights, keep_dtype, stage="gather")
        return stack(gathered, self.shared_weights)

    def usage(self, totals: parts.Totals) -> NDArray[np.float64]:
        return row_usage(self.row_weight, self.campaigns, totals.weight_sums, totals.counts)


def gathered(client: Any, futures: list[Any], progress: Progress | None, stage: str, n: int | None = None) -> list[Any]:
    """The futures' results in their order; ``progress`` hears of each as it is gathered, counted
    in customers (of ``n`` in all) or, without ``n``, in partitions."""
    if progress is None:
        results: list[Any] = client.gather(futures)
        return results
    results = []
    for number, future in enumerate(futures, 1):  # in partition order; each result is a few numbers
        results.append(future.result())
        progress(stage, number if n is None else n * number // len(futures), len(futures) if n is None else n)
    return results


def _apply(function: Callable[..., _T], args: tuple[Any, ...], part: Partition) -> _T:
    return function(part, *args)


def _describe(
    part: Partition,
) -> tuple[tuple[CouplingRow, ...], tuple[str, ...], NDArray[np.intp], NDArray[np.bool_], bool]:
    priced = part.priced
    return priced.rows, priced.campaign_ids, priced.row_weight, priced.campaigns, priced.weights.shape[1] == 1


def _campaign_coefficients(part: Partition) -> NDArray[np.float64] | None:
    return part.priced.campaign_coefficients()


def _common(coefficients: list[NDArray[np.float64] | None]) -> NDArray[np.float64] | None:
    """The partitions' per-campaign row coefficients if every partition has the same, else None."""
    first = coefficients[0]
    if first is None or any(c is None or not np.array_equal(c, first) for c in coefficients):
        return None
    return first


def _scale_parts(part: Partition) -> tuple[float, NDArray[np.float64]]:
    return part.priced.largest_value, part.priced.least_coefficients

"""optimizer/solve/distributed.py: the customers on a cluster, through a client that runs each task at once.

The client here is Dask's API (map, gather, submit, futures with ``result``) run in this process,
so what is checked is DaskCustomers itself: its maps give what the in-memory Customers give, and
its passes are timed as theirs are (the repair's reserve is reckoned from them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

import numpy as np
import pytest
from instances import competing, medium_problem

from optimizer.solve import partitions as parts
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.distributed import DaskCustomers
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.mend import mend
from optimizer.solve.partitions import Partition
from optimizer.solve.repair import RESERVED_PASSES, repair_reserve


@dataclass
class Done:
    """A future whose task has run."""

    value: Any

    def result(self) -> Any:
        return self.value


class InProcess:
    """The part of dask.distributed.Client that DaskCustomers uses, each task run when submitted."""

    def map(self, function: Callable[..., Any], futures: list[Done], pure: bool = False) -> list[Done]:
        return [Done(function(future.result())) for future in futures]

    def gather(self, futures: list[Done]) -> list[Any]:
        return [future.result() for future in futures]

    def submit(self, function: Callable[..., Any], future: Done) -> Done:
        return Done(function(future.result()))


def on_cluster(priced, bounds: list[int]) -> DaskCustomers:
    whole = Customers(priced)
    edges = [0, *bounds, priced.n_customers]
    pieces = [Partition(dataclasses.replace(priced, customer_ids=priced.customer_ids[lo:hi], value=priced.value[lo:hi],
                                            weights=priced.weights[:, lo:hi]), lo) for lo, hi in zip(edges, edges[1:])]
    return DaskCustomers(InProcess(), [Done(piece) for piece in pieces], [f"part-{p}" for p in range(len(pieces))],
                         whole.n)


def test_passes_on_the_cluster_are_those_in_memory_and_are_timed():
    priced = priced_problem(medium_problem(3, n=900))
    cluster, memory = on_cluster(priced, [300, 601]), Customers(priced)
    prices = np.array([0.3, 0.1, -0.2, 0.4])
    assert cluster.price_scale.shape == (4,) and cluster.gather(np.arange(0, 900, 7)).n_customers == 129
    assert cluster.pass_seconds == 0.0  # describing, scaling and gathering are no passes
    for _ in range(2):  # the first pass of a stage is not counted (numba may compile in it)
        found = reduce(add, cluster.map(parts.pass_totals, prices, stage="pass"))
    expected = reduce(add, memory.map(parts.pass_totals, prices, stage="pass"))
    assert found.value == pytest.approx(expected.value) and np.array_equal(found.counts, expected.counts)
    assert cluster.pass_seconds > 0.0
    assert repair_reserve(cluster, 1e9) >= RESERVED_PASSES * cluster.pass_seconds


def test_a_mend_on_the_cluster_moves_the_customers_it_moves_in_memory():
    """The mend (optimizer/solve/mend.py) reads the rows' senses and scales off the rows, not off a
    partition in memory, and its offers come back through the cluster's map."""
    priced = competing(3_000)
    prices = np.zeros(len(priced.rows))
    found = mend(on_cluster(priced, [1_000, 2_200]), prices, 0.0, Clock.start(60.0), 60.0)
    expected = mend(Customers(priced), prices, 0.0, Clock.start(60.0), 60.0)
    assert found is not None and expected is not None
    assert np.array_equal(found.moved, expected.moved) and np.array_equal(found.moved_choice, expected.moved_choice)
    assert found.value == pytest.approx(expected.value)

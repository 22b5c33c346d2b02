"""Customers: the partitions a decomposition maps over, the passes it times, what the watcher hears."""

from __future__ import annotations

import dataclasses

import numpy as np
from instances import Standings, medium_problem

from optimizer.solve import partitions as parts
from optimizer.solve.customers import Customers
from optimizer.solve.lagrangian import priced_problem, stack
from optimizer.solve.partitions import Partition


def test_the_whole_array_draws_and_gathers_what_the_partitions_give():
    """Customers.sample and .gather (one take over the whole array) against the partition pieces."""
    priced = priced_problem(medium_problem(9, n=500))
    customers = Customers(priced)
    pieces = [Partition(dataclasses.replace(priced, customer_ids=priced.customer_ids[lo:hi], value=priced.value[lo:hi],
                                        weights=priced.weights[:, lo:hi]), lo) for lo, hi in ((0, 100), (100, 250), (250, 500))]
    drawn = customers.sample(0.2)
    by_parts = stack([parts.sample_rows(p, 0.2, False) for p in pieces], False)
    assert np.array_equal(drawn.customer_ids, by_parts.customer_ids)
    assert np.array_equal(drawn.value, by_parts.value) and np.array_equal(drawn.weights, by_parts.weights)
    wanted = np.array([0, 99, 100, 377, 499])
    rows = customers.gather(wanted, keep_dtype=True)
    assert np.array_equal(rows.customer_ids, wanted) and np.array_equal(rows.value, priced.value[wanted])
    nested = parts.subsample(drawn, 0.2, False, 0.2)
    assert nested is drawn  # the sample of the whole share is the sample itself, not a copy


def test_each_partition_is_heard_and_only_repeated_passes_are_timed(monkeypatch):
    """The first pass of a stage may compile its kernel, so only later ones set pass_seconds; a
    balancing pass counts as PASS_STAGES says; other stages (gathering, plans) are never timed."""
    monkeypatch.setattr("optimizer.solve.customers.CHUNK", 200)
    watcher = Standings()
    customers = Customers(priced_problem(medium_problem(9, n=500)), watcher)
    assert len(customers.partitions) == 3
    prices = np.zeros(len(customers.rows))
    customers.map(parts.pass_totals, prices)
    assert customers.pass_seconds == 0.0 and [done for _, done, _ in watcher.passes] == [200, 400, 500]
    customers.map(parts.pass_totals, prices, stage="plan")
    customers.map(parts.pass_totals, prices, stage="plan")
    assert customers.pass_seconds == 0.0
    customers.map(parts.pass_totals, prices)
    assert customers.pass_seconds > 0.0


def test_a_screens_candidates_report_whole_plan_values_and_no_bound_of_their_own():
    """Candidates with value_outside (the fixed customers' value) add it to every plan value they
    report; their bounds are of the candidates alone, so none reaches the watcher."""
    watcher = Standings()
    priced = priced_problem(medium_problem(9, n=50))
    Customers(priced, watcher).standing("core", 10.0, 12.0)
    Customers(priced, watcher, value_outside=100.0).standing("core", 10.0, 12.0)
    Customers(priced, watcher, value_outside=100.0).standing("balance", None, 12.0)
    assert watcher.told == [("core", 10.0, 12.0), ("core", 110.0, None), ("balance", None, None)]

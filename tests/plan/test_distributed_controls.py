"""optimizer/plan/distributed_controls.py: the cut of each (offer, stratum) holds out the customers
the in-memory draw holds out, without a cluster (a fake client runs the maps in this process)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.plan.controls import draw_controls
from optimizer.plan.distributed_controls import Audiences, ControlCuts, audiences, control_cuts
from optimizer.solve import partitions as parts


class InProcess:
    """The two calls control_cuts makes of a dask Client, run here."""

    def map(self, function, *iterables, pure=False, **kwargs):
        return [function(*items, **kwargs) for items in zip(*iterables)]

    def gather(self, results):
        return results


@pytest.mark.parametrize("seed", range(5))
def test_cuts_over_partitions_hold_out_the_in_memory_draws_customers(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    n, offers = 3_000, ("a", "b", "b:v2")
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    choice = rng.integers(-1, len(offers), size=n).astype(np.int32)
    labels = rng.choice(["north", "south", "east"], size=n).astype(object)
    fractions = np.array([0.1, 0.25, 0.0])
    strata_codes = np.unique(labels, return_inverse=True)[1]
    expected = draw_controls(choice, ids, offers, fractions, 7, None, strata_codes)
    bounds = np.sort(rng.choice(np.arange(1, n), size=3, replace=False))
    pieces = [(lo, hi) for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, n])]

    class Piece:  # a partition as audiences() reads it
        def __init__(self, lo, hi):
            self.lo, self.hi = lo, hi
            self.priced = type("Priced", (), {"customer_ids": ids[lo:hi], "campaign_ids": offers})

    monkeypatch.setattr(parts, "partition_plan", lambda part, *_: choice[part.lo:part.hi])
    plan = type("Plan", (), {"start": None, "master": None, "master_choice": None})
    levels = sorted(set(labels))
    partitions = [Piece(lo, hi) for lo, hi in pieces]
    cuts = control_cuts(InProcess(), partitions, [labels[lo:hi] for lo, hi in pieces], plan, fractions, 7, levels)
    got = np.concatenate([cuts.control(audiences(part, plan, 7, labels[part.lo:part.hi], levels))
                          for part in partitions])
    assert np.array_equal(got, expected) and expected.sum() > 100


def test_an_offer_or_stratum_without_a_cut_holds_nobody_out():
    found = Audiences(np.array([0, 0, 1, -1], dtype=np.int32),
                      [np.array([5, 9], dtype=np.uint64), np.array([1], dtype=np.uint64)],
                      [np.array([0, 1]), np.array([0])])
    cuts = ControlCuts({(0, 0): np.uint64(5)}, {(0, 0): 1, (0, 1): 0, (1, 0): 0}, {})
    assert cuts.control(found).tolist() == [True, False, False, False]

"""Control groups of a partitioned plan: optimizer/plan/controls.py's draw, found on the cluster.

In memory, offer j's controls in stratum s are the round(f_j |A_js|) customers of smallest key
among its audience A_js (one stratum without ``control_strata``). Over partitions the same
customers are found in two small rounds, so that nothing of size n crosses the network:

1. each partition sends, per (offer, stratum) it holds, a histogram of its audience's keys by
   their top KEY_BITS bits (4,096 bins, of which it sends the filled ones); added up, they give
   |A_js|, the control size and the bin that holds the cut;
2. each partition sends the keys of that bin only (about |A_js| / 4,096 of them); sorted, the
   cut is the key at the control size's rank.

A customer of A_js is then a control when its key is at most the cut. This is the in-memory draw
unless two customers of one group share a 64-bit key (the in-memory draw then takes the first in
table order, the cut both): a chance of about |A_js|^2 / 2^65, 3e-8 for a million. Strata are
named by their labels (the control_strata values joined),
which every partition reports, and numbered in the order of the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.plan.controls import control_keys
from optimizer.solve import partitions as parts
from optimizer.solve.master_core import PlanSpec
from optimizer.solve.partitions import Partition

KEY_BITS = 12  # first round: a histogram of the keys' top 12 bits (4,096 bins)
Group = tuple[int, int]  # (offer, stratum)


@dataclass(frozen=True)
class Audiences:
    """A partition's plan as the control draw sees it: each customer's offer (-1: none), and per
    offer its audience's keys and strata."""

    choice: NDArray[np.int32]
    keys: list[NDArray[np.uint64]]
    strata: list[NDArray[np.intp]]


def audiences(part: Partition, plan: PlanSpec, seed: int, labels: NDArray[np.object_] | None,
              levels: list[str]) -> Audiences:
    """The partition's Audiences under ``plan``; ``labels`` its customers' stratum labels (None:
    no strata), numbered by their place in ``levels`` (every partition's labels, sorted)."""
    choice = parts.partition_plan(part, plan.start, plan.master, plan.master_choice)
    strata = np.zeros(choice.size, dtype=np.intp) if labels is None else \
        pd.Index(levels).get_indexer(pd.Index(labels)).astype(np.intp)
    offers = range(len(part.priced.campaign_ids))
    return Audiences(choice, [control_keys(part.priced.customer_ids[choice == j], part.priced.campaign_ids[j], seed)
                              for j in offers], [strata[choice == j] for j in offers])


@dataclass(frozen=True)
class ControlCuts:
    """Per (offer, stratum), the key at or below which an audience member is a control, with the
    controls and the audience it holds."""

    cuts: dict[Group, np.uint64]
    controls: dict[Group, int]
    audience: dict[Group, int]

    def control(self, found: Audiences) -> NDArray[np.bool_]:
        """Which of a partition's customers are controls."""
        control = np.zeros(found.choice.size, dtype=bool)
        for j, (keys, strata) in enumerate(zip(found.keys, found.strata)):
            members = np.flatnonzero(found.choice == j)
            cut = np.array([self.cuts.get((j, int(s)), np.uint64(0)) for s in range(int(strata.max(initial=-1)) + 1)],
                           dtype=np.uint64)
            held = np.array([self.controls.get((j, int(s)), 0) > 0 for s in range(cut.size)], dtype=bool)
            if cut.size:
                control[members[held[strata] & (keys <= cut[strata])]] = True
        return control


def control_cuts(client: Any, partitions: list[Any], labels: list[Any], plan: PlanSpec,
                 fractions: NDArray[np.float64], seed: int, levels: list[str]) -> ControlCuts:
    """The ControlCuts of a plan over ``partitions`` (futures), each with its stratum labels
    (futures, or None), for offers of control ``fractions`` (module docstring)."""
    options = {"plan": plan, "seed": seed, "levels": levels, "pure": False}
    counted = client.gather(client.map(_histograms, partitions, labels, **options))
    histograms: dict[Group, NDArray[np.int64]] = {}
    for piece in counted:
        for group, (filled, counts) in piece.items():
            np.add.at(histograms.setdefault(group, np.zeros(1 << KEY_BITS, dtype=np.int64)), filled, counts)
    sizes = {group: int(np.floor(fractions[group[0]] * counts.sum() + 0.5)) for group, counts in histograms.items()}
    bins = {group: int(np.searchsorted(np.cumsum(histograms[group]), size)) for group, size in sizes.items() if size}
    found = client.gather(client.map(_keys_in_bins, partitions, labels, bins=bins, **options))
    cuts = {}
    for group, cut_bin in bins.items():
        below = int(histograms[group][:cut_bin].sum())
        keys = np.sort(np.concatenate([piece[group] for piece in found]))
        cuts[group] = keys[sizes[group] - below - 1]
    return ControlCuts(cuts, sizes, {group: int(counts.sum()) for group, counts in histograms.items()})


def _top_bits(keys: NDArray[np.uint64]) -> NDArray[np.int64]:
    return (keys >> np.uint64(64 - KEY_BITS)).astype(np.int64)


def _histograms(part: Partition, labels: NDArray[np.object_] | None, *, plan: PlanSpec, seed: int,
                levels: list[str]) -> dict[Group, tuple[NDArray[np.uint16], NDArray[np.int64]]]:
    """Per (offer, stratum) of the partition, its keys' histogram as its filled bins and their
    counts (a group of a few customers sends a few numbers, not 4,096)."""
    found = audiences(part, plan, seed, labels, levels)
    sent = {}
    for j, (keys, strata) in enumerate(zip(found.keys, found.strata)):
        for s in np.unique(strata):
            filled, counts = np.unique(_top_bits(keys[strata == s]), return_counts=True)
            sent[j, int(s)] = (filled.astype(np.uint16), counts.astype(np.int64))
    return sent


def _keys_in_bins(part: Partition, labels: NDArray[np.object_] | None, *, plan: PlanSpec, seed: int,
                  levels: list[str], bins: dict[Group, int]) -> dict[Group, NDArray[np.uint64]]:
    found = audiences(part, plan, seed, labels, levels)
    return {(j, s): found.keys[j][(found.strata[j] == s) & (_top_bits(found.keys[j]) == cut_bin)]
            for (j, s), cut_bin in bins.items()}

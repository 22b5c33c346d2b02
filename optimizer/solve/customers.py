"""All customers, as partitions the decomposition maps functions over, and who watches it.

``Customers`` holds the partitions (optimizer/solve/partitions.py: one partition and everything
the decomposition asks of it) and maps a function over them; optimizer/solve/distributed.py's
subclass does the same over a Dask cluster. ``Progress`` is the watcher: the CLI's progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.keys import sampled_positions, share_threshold
from optimizer.solve.lagrangian import CHUNK, PricedProblem
from optimizer.solve.partitions import Partition, Totals
from optimizer.solve.problem import CouplingRow

_T = TypeVar("_T")
PASS_STAGES = {"pass": 1.0, "balance": 3.0}  # stages timed, and the plain passes one of each is worth


class Progress(Protocol):
    """Who watches a decomposition (the CLI's progress bar): every pass over the customers, and
    after each phase the value of the best plan found and the least upper bound known."""

    def __call__(self, stage: str, done: int, customers: int) -> None:
        """``done`` of ``customers`` seen in this pass of ``stage``."""

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        """After ``phase``: the best plan's value (None: no plan yet) and the bound (None: none yet)."""


class Customers:
    """All customers, as partitions the decomposition maps functions over.

    ``map(function, *args)`` returns [function(partition, *args) for each partition]; this
    in-memory version holds views of one PricedProblem, CHUNK customers each.
    """

    def __init__(self, priced: PricedProblem, progress: Progress | None = None,
                 price_scale: NDArray[np.float64] | None = None, value_outside: float | None = None) -> None:
        """``value_outside``: the value of customers held fixed outside these (a screen's), added to
        the plan values ``standing`` reports so that they are of the whole plan; its bounds are then
        of these customers only (the fixed ones might do better elsewhere), so none is reported."""
        self.priced = priced
        self.value_outside = value_outside
        self.pass_seconds = 0.0  # the slowest plain pass over everyone so far (map)
        self._timed: set[str] = set()  # stages mapped once already
        if price_scale is not None:
            self.price_scale = price_scale  # given (a sample's), so never read off the scores
        self.rows: tuple[CouplingRow, ...] = priced.rows
        self.campaign_ids = priced.campaign_ids
        self.n = priced.n_customers
        self.shared_weights = priced.weights.shape[1] == 1
        self.coefficients = priced.campaign_coefficients()  # (m, k) a_rj when every row counts campaigns
        self.partitions = [Partition(_slice(priced, start, start + CHUNK), start)
                           for start in range(0, max(self.n, 1), CHUNK)]
        self.progress = progress

    @cached_property
    def price_scale(self) -> NDArray[np.float64]:
        """PricedProblem.price_scale of all customers, asked only when needed: it reads every score."""
        largest = max(part.priced.largest_value for part in self.partitions)
        return (1.0 + largest) / self.partitions[0].priced.least_coefficients

    def map(self, function: Callable[..., _T], *args: Any, stage: str = "pass") -> list[_T]:
        """[function(partition, *args) for each partition]; a pass over everyone is timed:
        ``pass_seconds`` is the slowest plain pass seen (a balancing pass as PASS_STAGES says), what
        a repair's passes are reckoned at; the first of each stage is not counted (it may include
        numba compiling its kernel: 2.6 s against 0.008 s at 10^5 × 10 with a cold cache)."""
        started = time.perf_counter()
        results = self._run(function, args, stage)
        if stage in PASS_STAGES and stage in self._timed:
            self.pass_seconds = max(self.pass_seconds, (time.perf_counter() - started) / PASS_STAGES[stage])
        self._timed.add(stage)
        return results

    def _run(self, function: Callable[..., _T], args: tuple[Any, ...], stage: str) -> list[_T]:
        """[function(partition, *args) for each partition], telling ``progress`` as each is done."""
        results = []
        for part in self.partitions:
            results.append(function(part, *args))
            if self.progress is not None:
                self.progress(stage, part.offset + part.size, self.n)
        return results

    def sample(self, share: float, keep_dtype: bool = False) -> PricedProblem:
        """The hashed sample of about ``share`` of all customers (``sample_rows``), named by
        global index: drawn from the whole array at once (one gather, no pieces to stack)."""
        chosen = sampled_positions(0, self.n, share_threshold(share))
        self._report("sample")
        return self.priced.take(chosen, chosen, self.shared_weights, keep_dtype)

    def gather(self, customers: NDArray[np.intp], keep_dtype: bool = False) -> PricedProblem:
        """The rows of the given customers (sorted global indices, ``customer_rows``)."""
        self._report("gather")
        return self.priced.take(customers, customers, self.shared_weights, keep_dtype)

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        """Tell the watcher the best plan's value and the bound after ``phase`` (values of all
        customers; no bound for a screen's candidates, ``value_outside``)."""
        if self.progress is not None:
            outside = self.value_outside or 0.0
            self.progress.standing(phase, None if objective is None else objective + outside,
                                   None if bound is None or self.value_outside is not None else bound)

    def _report(self, stage: str) -> None:
        if self.progress is not None:
            self.progress(stage, self.n, self.n)

    @property
    def rhs(self) -> NDArray[np.float64]:
        return np.array([row.rhs for row in self.rows], dtype=float)

    def usage(self, totals: Totals) -> NDArray[np.float64]:
        return self.partitions[0].priced.row_usage(totals.weight_sums, totals.counts)


def _slice(priced: PricedProblem, start: int, stop: int) -> PricedProblem:
    weights = priced.weights if priced.weights.shape[1] == 1 else priced.weights[:, start:stop]
    return replace(priced, customer_ids=priced.customer_ids[start:stop], value=priced.value[start:stop],
                   weights=weights)

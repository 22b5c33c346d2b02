"""Customers with identical rows, solved as classes with counts: exact, and as small as the distinct rows.

Customers whose rows are identical (every campaign's value, eligibility and row coefficients) are
interchangeable: swapping their campaigns changes neither a plan's value nor any row's sum. Grouped
into classes c of n_c customers each, the problem over integer counts y_cj (how many customers of
class c get campaign j) is

    maximise    Σ_cj c_cj y_cj
    subject to  Σ_j y_cj <= n_c                   each class
                Σ_cj a_rcj y_cj (<=|>=|==) b_r     each coupling row
                y_cj ∈ {0, 1, …, n_c}

Every plan maps to counts of the same value and row sums, and counts map back to plans (give
campaign j to y_cj of class c's customers), so this problem's optimum, bound and LP duals are the
per-customer problem's. Scores from a segment or cell model give thousands of customers one row:
there the per-customer decomposition has every tied customer at margin 0, all of them in its
master, while the class problem is a few hundred integers HiGHS closes in milliseconds.

Within a class, customers get their campaigns in the order of their tie keys, when given (the plan
workflow's are seeded hashes of the customer ids: optimizer/plan/controls.py, ``tie_keys``), else in
table order: the first y_c1 of class c the first campaign they are given, the next y_c2 the next, and
so on. Which of two interchangeable customers is contacted is then the same every run, whatever the
solver's internals, and not the one that happens to come first in the file.

Finding the classes: each row is hashed (each word of its values' and per-customer weights' bits
folded in by splitmix64's finaliser, optimizer/solve/keys.py, which every bit of a word moves:
whole-number floats have all-zero low bits); a hashed sample of SAMPLE customers is looked at
first, so that a problem without ties costs a few milliseconds; the classes are then checked row
by row against their first customer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import highspy
import numba
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.solve.child import ChildLost, in_child, limit_inside
from optimizer.solve.clock import Clock, highs_time_limit
from optimizer.solve.keys import mix, sampled_positions
from optimizer.solve.lagrangian import PricedProblem, to_problem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import NO_CAMPAIGN, Problem
from optimizer.solve.relaxation import coupling_matrix, highs_model, row_bounds
from optimizer.solve.results import SolutionStatus, SolveResult, Termination

CLASS_LIMIT = 20_000  # classes at most: their k·C integer columns are one HiGHS MIP
SAMPLE = 20_000  # customers whose rows are hashed first, to see whether classes pay
# Classes pay when there are at most this share as many as customers. Measured: 11,717 classes of
# 50,000 customers (k = 3, whole values -5..24) left HiGHS's count MIP without a plan in 9 s, where
# the exact solver proved the optimum in 2 s; cell and segment models give a few hundred at most.
TIED_SHARE = 0.1
LP_SHARE = 0.3  # of the time left, for the LP of the shadow prices; the MIP has the rest
# Count MIPs from this many pairs run in a child process kept to their limit (optimizer/solve/child.py):
# HiGHS ran one root step of a restricted classes' MIP 6.3 s on a 2.3 s limit. A fork costs
# about 15 ms (measured in processes of 100 MB and 1.6 GB alike); smaller MIPs, which close in
# milliseconds, run here (69 tests of tiny instances took 35 s instead of 30 s when every MIP forked).
IN_CHILD_FROM = 1_000
KEY_START = np.uint64(0xCBF29CE484222325)  # the key a row's words are folded into
_FEASIBLE = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit,
             highspy.HighsModelStatus.kSolutionLimit, highspy.HighsModelStatus.kInterrupt)


@dataclass(frozen=True)
class Classes:
    """``members[i]``: the class of customer i; ``first[c]``: the position of class c's first
    customer; ``counts[c]``: n_c."""

    members: NDArray[np.intp]
    first: NDArray[np.intp]
    counts: NDArray[np.int64]

    @property
    def size(self) -> int:
        return int(self.first.size)


def find_classes(priced: PricedProblem, most: int | None = None) -> Classes | None:
    """The classes of identical customers when there are at most ``most`` of them (default: at most
    CLASS_LIMIT, and at most TIED_SHARE of the customers); None otherwise (the per-customer solvers
    are then as good)."""
    n = priced.n_customers
    limit = min(CLASS_LIMIT, int(TIED_SHARE * n)) if most is None else most
    if limit < 1:
        return None
    if most is None and n > SAMPLE:  # a sample of mostly distinct rows: no few classes (C ≲ 12,000 pass)
        sample = sampled_positions(0, n, np.uint64(min(2**64 - 1, int(SAMPLE / n * 2**64))))
        if np.unique(row_keys(priced, sample)).size > TIED_SHARE * sample.size:
            return None
    keys = row_keys(priced, np.arange(n))
    _, first, members, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    if first.size > limit or not _rows_match(*_bits(priced), members.astype(np.intp), first.astype(np.intp)):
        return None  # too many classes, or two different rows share a key
    return Classes(members.astype(np.intp), first.astype(np.intp), counts.astype(np.int64))


def kept_classes(value: NDArray[Any], keep: NDArray[np.bool_], most: int) -> Classes | None:
    """The classes of customers whose kept rows are equal (``value`` where ``keep``, -inf elsewhere),
    found without writing those rows out (a 2.8M × 20 copy cost 0.9 s of fresh memory), when there
    are at most ``most``: the rows of restricted classes (optimizer/solve/restricted.py), whose
    weights are one per campaign, so the values alone tell customers apart."""
    keys = _kept_keys(value, keep)
    _, first, members, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    members, first = members.astype(np.intp), first.astype(np.intp)
    if first.size > most or not _kept_rows_match(value, keep, members, first):
        return None
    return Classes(members, first, counts.astype(np.int64))


def row_keys(priced: PricedProblem, rows: NDArray[np.integer[Any]]) -> NDArray[np.uint64]:
    """A 64-bit key of each given customer's row: equal rows, equal keys."""
    return _row_keys(*_bits(priced), rows.astype(np.int64))


def _bits(priced: PricedProblem) -> tuple[NDArray[Any], NDArray[Any]]:
    """The values and per-customer weights as unsigned integers of their width (weights shared by
    every customer are the same for all, so they are left out)."""
    unsigned = np.uint32 if priced.value.dtype == np.float32 else np.uint64
    weights = priced.weights if priced.weights.shape[1] > 1 else priced.weights[:0]
    weight_type = np.uint32 if weights.dtype == np.float32 else np.uint64
    return priced.value.view(unsigned), np.ascontiguousarray(weights).view(weight_type)


@numba.njit(cache=True, nogil=True)
def _row_keys(
    value: NDArray[Any], weights: NDArray[Any], rows: NDArray[np.int64]
) -> NDArray[np.uint64]:  # pragma: no cover
    out = np.empty(rows.size, dtype=np.uint64)
    for t in range(rows.size):
        i = rows[t]
        key = KEY_START
        for j in range(value.shape[1]):
            key = mix(key ^ np.uint64(value[i, j]))
        for q in range(weights.shape[0]):
            for j in range(weights.shape[2]):
                key = mix(key ^ np.uint64(weights[q, i, j]))
        out[t] = key
    return out


@numba.njit(cache=True, nogil=True)
def _rows_match(value: NDArray[Any], weights: NDArray[Any], members: NDArray[np.intp],
                first: NDArray[np.intp]) -> bool:  # pragma: no cover
    """Every customer's row equals its class's first customer's, bit for bit."""
    for i in range(value.shape[0]):
        f = first[members[i]]
        for j in range(value.shape[1]):
            if value[i, j] != value[f, j]:
                return False
        for q in range(weights.shape[0]):
            for j in range(weights.shape[2]):
                if weights[q, i, j] != weights[q, f, j]:
                    return False
    return True


@numba.njit(cache=True, nogil=True)
def _kept_keys(value: NDArray[Any], keep: NDArray[np.bool_]) -> NDArray[np.uint64]:  # pragma: no cover
    """_row_keys' folding of each customer's kept row, read as float64 (a lost option as -inf)."""
    out = np.empty(value.shape[0], dtype=np.uint64)
    word = np.empty(1, dtype=np.float64)
    bits = word.view(np.uint64)
    for i in range(value.shape[0]):
        key = KEY_START
        for j in range(value.shape[1]):
            word[0] = np.float64(value[i, j]) if keep[i, j] else -np.inf
            key = mix(key ^ bits[0])
        out[i] = key
    return out


@numba.njit(cache=True, nogil=True)
def _kept_rows_match(value: NDArray[Any], keep: NDArray[np.bool_], members: NDArray[np.intp],
                     first: NDArray[np.intp]) -> bool:  # pragma: no cover
    """Every customer's kept row equals its class's first customer's."""
    for i in range(value.shape[0]):
        f = first[members[i]]
        for j in range(value.shape[1]):
            if keep[i, j] != keep[f, j] or keep[i, j] and value[i, j] != value[f, j]:
                return False
    return True


def solve_classes(priced: PricedProblem, classes: Classes, options: SolverOptions,
                  tie_keys: NDArray[np.uint64] | None = None, with_lp: bool = True) -> SolveResult:
    """Proven-optimal plan of ``priced`` over its classes (or the best within the time limit, with
    its bound): the LP for the shadow prices (unless ``with_lp`` is False: the caller has them),
    the MIP over integer counts for the plan, handed out within each class in the order of
    ``tie_keys`` (module docstring)."""
    clock = Clock.start(options.time_limit_s)
    problem = class_problem(priced, classes)
    customers, campaigns = problem.candidate_pairs()
    model = _count_model(problem, classes.counts, customers, campaigns)
    build = clock.elapsed()
    prices, lp_bound = _lp_prices(model, len(problem.rows), clock) if with_lp else (None, np.inf)
    counts, objective, bound, termination = _integer_counts(model, options, clock)
    least = min(np.inf if bound is None else bound, lp_bound)  # the LP optimum bounds every plan too
    known = float(least) if np.isfinite(least) else None  # without one the plan is not proven, whatever it is
    if counts is None:
        return SolveResult(termination, SolutionStatus.NONE, None, None, known, build, clock.elapsed() - build,
                           "classes", int(customers.size), shadow_prices=prices)
    choice = plan_of(classes, customers, campaigns, counts, tie_keys)
    proven = None if known is None else max(known, objective)
    settled = SolveResult(termination, SolutionStatus.FEASIBLE, choice, objective, proven, build,
                          clock.elapsed() - build, "classes", int(customers.size), shadow_prices=prices)
    return settled.settled(options.mip_gap)


@dataclass(frozen=True)
class ClassPrices:
    """The coupling rows' duals in the LP over the classes' counts, with each row breakable at a
    penalty per unit, and the rows it broke."""

    prices: NDArray[np.float64]
    broken: NDArray[np.intp]


def class_prices(priced: PricedProblem, classes: Classes, penalties: NDArray[np.float64],
                 clock: Clock) -> ClassPrices | None:
    """The LP over the classes' counts with every coupling row r breakable both ways at
    ``penalties[r]`` per unit (two slack columns each): its duals, at most the penalties, exist even
    when no plan meets the rows. None: no optimum in the time ``clock`` leaves."""
    problem = class_problem(priced, classes)
    customers, campaigns = problem.candidate_pairs()
    model = _count_model(problem, classes.counts, customers, campaigns)
    m, pairs = len(problem.rows), model.cost.size
    identity = sp.identity(m, format="csr")
    slack = sp.vstack([sp.csr_matrix((model.matrix.shape[0] - m, 2 * m)), sp.hstack([identity, -identity])])
    elastic = _CountModel(np.r_[model.cost, -penalties, -penalties], np.r_[model.upper, np.full(2 * m, np.inf)],
                          sp.hstack([model.matrix, slack]).tocsr(), model.row_lower, model.row_upper)
    highs = highs_model(elastic.cost, np.zeros(elastic.cost.size), elastic.upper, elastic.matrix, elastic.row_lower,
                        elastic.row_upper, maximise=True)
    highs_time_limit(highs, clock.allow())
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    solution = highs.getSolution()
    duals = np.asarray(solution.row_dual)[elastic.matrix.shape[0] - m:].copy()
    broken = np.asarray(solution.col_value)[pairs:].reshape(2, m).max(axis=0) > 1e-9
    return ClassPrices(duals, np.flatnonzero(broken))


def class_problem(priced: PricedProblem, classes: Classes) -> Problem:
    """The classes' first customers as a float64 Problem (customer c = class c), every eligible pair."""
    first = priced.take(classes.first, np.arange(classes.size), shared=priced.weights.shape[1] == 1)
    return to_problem(first, np.isfinite(first.value), priced.rhs)


@dataclass(frozen=True)
class _CountModel:
    """The class problem as HiGHS takes it: costs, column and row bounds, the matrix."""

    cost: NDArray[np.float64]
    upper: NDArray[np.float64]
    matrix: sp.csr_matrix
    row_lower: NDArray[np.float64]
    row_upper: NDArray[np.float64]


def _count_model(problem: Problem, counts: NDArray[np.int64], customers: NDArray[np.intp],
                 campaigns: NDArray[np.intp]) -> _CountModel:
    """Columns y_cj <= n_c over the candidate pairs; a class row Σ_j y_cj <= n_c where a class has
    two or more (coupling_matrix writes those rows in the order of the sorted classes)."""
    matrix = coupling_matrix(problem, customers, campaigns)
    n_choice = matrix.shape[0] - len(problem.rows)
    row_lower, row_upper = row_bounds(problem, n_choice)
    classes, pairs = np.unique(customers, return_counts=True)
    row_upper[:n_choice] = counts[classes[pairs > 1]]
    return _CountModel(problem.value[customers, campaigns], counts[customers].astype(float), matrix, row_lower,
                       row_upper)


def _lp_prices(model: _CountModel, m: int, clock: Clock) -> tuple[NDArray[np.float64] | None, float]:
    """The coupling rows' duals in the LP over the counts (the per-customer LP's shadow prices) and
    its optimum (inf when it was not reached in LP_SHARE of the time left)."""
    if model.cost.size == 0:
        return np.zeros(m), np.inf
    highs = highs_model(model.cost, np.zeros(model.cost.size), model.upper, model.matrix, model.row_lower,
                        model.row_upper, maximise=True)
    highs_time_limit(highs, clock.allow(LP_SHARE * clock.remaining()))
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None, np.inf
    duals = np.asarray(highs.getSolution().row_dual)[model.matrix.shape[0] - m:].copy()
    return duals, float(highs.getInfo().objective_function_value)


def _integer_counts(
    model: _CountModel, options: SolverOptions, clock: Clock
) -> tuple[NDArray[np.int64] | None, float, float | None, Termination]:
    """(y per candidate pair, its value, the bound, why HiGHS stopped); y is None without a plan.
    HiGHS runs in a child process kept to the time left (optimizer/solve/child.py), from
    IN_CHILD_FROM pairs."""
    if model.cost.size == 0:  # nobody worth a column: the empty plan, if it meets every row
        if np.all(model.row_lower <= 0) and np.all(model.row_upper >= 0):
            return np.zeros(0, dtype=np.int64), 0.0, 0.0, Termination.OPTIMAL
        return None, 0.0, None, Termination.INFEASIBLE
    limit = clock.allow()
    if model.cost.size < IN_CHILD_FROM:
        return _count_mip(model, options.mip_gap, limit)
    inside = limit_inside(limit)  # the fork and the answer's way back are on top of HiGHS's run
    try:
        answered, found = in_child(functools.partial(_count_mip, model, options.mip_gap, inside), limit)
    except ChildLost:
        return None, 0.0, None, Termination.ERROR
    return found if answered and found is not None else (None, 0.0, None, Termination.TIME_LIMIT)


def _count_mip(
    model: _CountModel, mip_gap: float, time_limit: float
) -> tuple[NDArray[np.int64] | None, float, float | None, Termination]:
    """``_integer_counts``'s HiGHS run, here."""
    highs = highs_model(model.cost, np.zeros(model.cost.size), model.upper, model.matrix, model.row_lower,
                        model.row_upper, maximise=True, integer=model.cost.size)
    highs.setOptionValue("mip_rel_gap", mip_gap)
    highs_time_limit(highs, time_limit)
    highs.run()
    status, info = highs.getModelStatus(), highs.getInfo()
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return None, 0.0, None, Termination.INFEASIBLE
    termination = Termination.OPTIMAL if status == highspy.HighsModelStatus.kOptimal else Termination.TIME_LIMIT
    if status not in _FEASIBLE or not highs.getSolution().value_valid:
        return None, 0.0, bound, termination
    counts = np.rint(np.asarray(highs.getSolution().col_value)).astype(np.int64)
    return counts, float(model.cost @ counts), bound, termination


def plan_of(classes: Classes, customers: NDArray[np.intp], campaigns: NDArray[np.intp],
            counts: NDArray[np.int64], tie_keys: NDArray[np.uint64] | None = None) -> NDArray[np.intp]:
    """Each customer's campaign from the counts y of the class pairs (``customers`` are classes
    here): within a class, in the order of ``tie_keys`` (table order without), y of the first
    pair's campaign, then the next pair's."""
    choice = np.full(classes.members.size, NO_CAMPAIGN, dtype=np.intp)
    order = np.argsort(classes.members, kind="stable") if tie_keys is None else \
        np.lexsort((np.arange(classes.members.size), tie_keys, classes.members))  # each class's customers
    starts = np.r_[0, np.cumsum(classes.counts)[:-1]]
    taken = counts > 0
    customers, campaigns, counts = customers[taken], campaigns[taken], counts[taken]
    sort = np.lexsort((campaigns, customers))
    customers, campaigns, counts = customers[sort], campaigns[sort], counts[sort]
    before = np.cumsum(counts) - counts  # customers given a campaign earlier, over all classes
    class_before = before - before[np.searchsorted(customers, customers)]  # ... within this pair's class
    offsets = np.repeat(starts[customers] + class_before, counts)
    within = np.arange(int(counts.sum())) - np.repeat(before, counts)
    choice[order[offsets + within]] = np.repeat(campaigns, counts)
    return choice

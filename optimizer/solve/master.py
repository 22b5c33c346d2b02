"""The master LP of the decomposition: a few customers decided jointly, the rest held fixed.

    maximise    sum_p c_p x_p  -  sum_r penalty_r s_r
    subject to  sum_{p of customer i} x_p <= 1                 each master customer i
                sum_p a_rp x_p  (+/- s_r)  (<=|>=|==)  b_r - u_r     each coupling row r
                0 <= x_p <= 1,  s_r >= 0

u_r is what the fixed customers use of row r. The slacks s_r (elastic rows) keep it feasible
while the master is still too small to meet a limit; their price caps the row duals, and a
positive slack at the end means no plan meets the limits. The model lives in one Highs object:
customers and columns are added to it and the limits moved, so every re-solve starts from the
last basis (dual simplex), which is what keeps the price loop cheap. A re-solve that is still far
from its optimum after WARM_ITERATIONS pivots is finished by the interior point method instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.solve.clock import highs_time_limit
from optimizer.solve.lagrangian import PricedProblem, adjusted_values, price_out, stack, to_problem
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.relaxation import quiet_highs_banner

INF = highspy.kHighsInf
# Dual simplex pivots a warm re-solve may take before the interior point method takes over. Each
# pivot on a coupling row prices every column (the rows are dense), so a master far from its last
# optimum costs thousands of slow pivots. Measured per master solve (warm dual simplex / interior
# point): integer 10^6 × 20, 8,000-9,000 pivots a round, 2.3 / 1.8 s up to 10.0 / 2.4 s; the
# candidates of tight 10^7 × 20, 7,624 pivots in 27.4 / 4.1 s and 30,287 in 142 / 3.8 s; but tight
# 10^6's third round 306 pivots in 0.30 / 2.0 s. Whole solves (bench/trace.py, seed 2026, 120 s):
# integer 10^6 × 20 30.2 -> 11.5 s, custom 10^6 × 20 30.4 -> 18.7 s, tight 10^6 × 20 9.6 -> 10.4 s;
# custom 10^5 × 10 8.5 -> 20.3 s, its crossover's vertex giving a first core 1.4e-6 short of the
# bound where the simplex's gave one 9.6e-7 short (1e-6 asked), so that a widening had to prove it.
WARM_ITERATIONS = 1_000
ITERATIONS_UNLIMITED = 2**31 - 1  # HiGHS's default simplex_iteration_limit


@dataclass(frozen=True)
class MasterSolution:
    """The master's optimum: ``x``, ``reduced_costs`` and ``choice_duals`` (the dual of the column's
    customer's choice row) per column (see ``MasterLP.columns``)."""

    value: float
    prices: NDArray[np.float64]
    x: NDArray[np.float64]
    reduced_costs: NDArray[np.float64]
    violated: NDArray[np.int32]
    choice_duals: NDArray[np.float64]

    @property
    def feasible(self) -> bool:
        """True when no row needed its slack: the master meets every limit."""
        return self.violated.size == 0


class MasterLP:
    """The restricted LP over the master customers (module docstring), solved warm each time.

    It keeps the master customers' own rows (``store``: values and, unless shared, weights), so
    nothing of size n is needed; customers are named by global index and numbered by slot, the
    order they joined.
    """

    def __init__(
        self, rows: tuple[CouplingRow, ...], campaign_ids: tuple[str, ...], penalties: NDArray[np.float64]
    ) -> None:
        self.rows = rows
        self.campaign_ids = campaign_ids
        self.m, k = len(rows), len(campaign_ids)
        self.store: PricedProblem | None = None
        self.shared = True
        self.has = np.zeros((0, k), dtype=bool)
        self.position = np.zeros((0, k), dtype=np.int64)
        self.column_slot: list[NDArray[np.intp]] = []
        self.column_campaign: list[NDArray[np.intp]] = []
        quiet_highs_banner()
        self.highs = _master_highs("choose")  # HiGHS's default: dual simplex on an LP
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.highs.addRows(self.m, np.full(self.m, -INF), np.full(self.m, INF), 0, np.zeros(self.m, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
        self._add_slacks(penalties)
        # Solved once while empty (trivially), so there is a basis for the first customers' held
        # columns to enter: measured at 100k × 10, the first 10,000 customers' solve took 7,773
        # iterations (0.38 s) cold and 24 (0.07 s) from that basis.
        self.highs.run()

    @property
    def size(self) -> int:
        return len(self.has)

    @property
    def customers(self) -> NDArray[np.intp]:
        return np.zeros(0, dtype=np.int64) if self.store is None else self.store.customer_ids

    def sorted_customers(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(global indices sorted, their slots)."""
        order = np.argsort(self.customers, kind="stable")
        return self.customers[order], order

    def columns(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(slot, campaign) of every pair column, in column order."""
        if not self.column_slot:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.column_slot), np.concatenate(self.column_campaign)

    def adjusted(self, prices: NDArray[np.float64]) -> NDArray[np.float64]:
        """(size, k) priced-out values c_ij - sum_r λ_r a_rij of the master customers."""
        if self.store is None:
            return np.zeros((0, len(self.campaign_ids)))
        return adjusted_values(self.store, prices, np.arange(self.size))

    def best_at(self, prices: NDArray[np.float64]) -> NDArray[np.intp]:
        """Each master customer's best campaign at ``prices`` (-1: none pays), by the same pass that
        holds the customers outside the master (lagrangian.price_out), so the choice is theirs to the bit."""
        if self.store is None:
            return np.zeros(0, dtype=np.intp)
        return price_out(self.store, prices).choice.astype(np.intp)

    def _add_slacks(self, penalties: NDArray[np.float64]) -> None:
        signs = [(r, 1.0) for r, row in enumerate(self.rows) if row.sense is not Sense.LE]
        signs += [(r, -1.0) for r, row in enumerate(self.rows) if row.sense is not Sense.GE]
        self.n_slacks = len(signs)
        rows = np.array([r for r, _ in signs], dtype=np.int32)
        self.slack_rows = rows
        self.penalties = penalties.astype(float).copy()
        self.highs.addCols(len(signs), -penalties[rows], np.zeros(len(signs)), np.full(len(signs), INF),
                           len(signs), np.arange(len(signs), dtype=np.int32), rows,
                           np.array([s for _, s in signs]))

    def add_customers(
        self, joining: PricedProblem, shared: bool, columns: NDArray[np.bool_], held: NDArray[np.integer[Any]],
        prices: NDArray[np.float64] | None,
    ) -> None:
        """New customers (``joining``: their rows, named by global index, none yet in the master),
        a (c, k) mask of the campaigns they may get, and the campaign each held while fixed (-1:
        none). With ``prices`` (those the columns were chosen at: the duals of the master's last
        solve, or the start prices before its first), each held column starts at 1
        (``_start_at_held``), so the last solution stays primal feasible and, where the held
        campaign is still the customer's best, dual feasible too: the next solve starts from it
        (measured with every held column basic: 70k customers joining at 100k × 10 took 22 s to
        re-solve without this, 0.1 s with it). With None, the customers start at nothing: those
        who join to free <= rows their held choices overfill, as at their held columns those rows
        would stay overfull (measured: 104k such customers at 10^6 × 60 offers, 29 s to solve
        from nothing, over 100 s from their held columns)."""
        count = joining.n_customers
        if count == 0:
            return
        first = self.size
        self.store = joining if self.store is None else stack([self.store, joining], shared)
        self.has = np.vstack([self.has, np.zeros_like(columns)])
        self.position = np.vstack([self.position, np.full(columns.shape, -1)])
        self.highs.addRows(count, np.full(count, -INF), np.ones(count), 0, np.zeros(count, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
        rows = np.arange(count)
        columns = columns.copy()
        columns[rows[held >= 0], held[held >= 0]] = True
        self.add_columns(first + rows, columns)
        if prices is not None:
            alone = _alone(adjusted_values(joining, prices, rows), held)
            self._start_at_held(first + rows[held >= 0], held[held >= 0], alone[held >= 0])

    def _start_at_held(self, slots: NDArray[np.intp], campaigns: NDArray[np.integer[Any]],
                       alone: NDArray[np.bool_]) -> None:
        """Held columns at 1, in one of two ways. Where the held campaign is ``alone`` (no other
        campaign of the customer is worth anything at the prices), the column sits at its upper
        bound and the choice row stays basic, with dual 0: dual feasible wherever the held
        campaign itself is worth something, and the basis stays as sparse as it was. Elsewhere the
        column is basic and the choice row sits at its bound, so that the row's dual can keep the
        other campaigns no better than the held one. This second way costs more: the basic column
        links the choice row to the coupling rows, so each later pivot on that row must price
        every column, not just the customer's own. Measured on the fourth master of expected
        10^7 × 20 (61,658 customers): every held column basic, 4,293 pivots in 20 s; every one
        at its bound, 3,689 in 0.85 s; as here, 360 in 0.47 s. On the third of variants 10^6 × 20
        (36,190), whose customers have many offers worth something: 150 pivots in 0.19 s,
        20,074 in 7.9 s, and 549 in 0.21 s."""
        basis = self.highs.getBasis()
        if not basis.valid or slots.size == 0:
            return
        columns, rows = basis.col_status, basis.row_status
        for slot, column, sole in zip(slots, self.position[slots, campaigns], alone):
            if sole:
                columns[self.n_slacks + column] = highspy.HighsBasisStatus.kUpper
            else:
                columns[self.n_slacks + column] = highspy.HighsBasisStatus.kBasic
                rows[self.m + slot] = highspy.HighsBasisStatus.kUpper
        basis.col_status, basis.row_status = columns, rows
        self.highs.setBasis(basis)

    def _joined(self) -> PricedProblem:
        """The master customers' rows: AttributeError before any customer joined, as reading None's would be."""
        if self.store is None:
            raise AttributeError("the master LP has no customers yet")
        return self.store

    def add_columns(self, slots: NDArray[np.intp], columns: NDArray[np.bool_]) -> None:
        """Pair columns for master customers (by slot): every True of the mask not already there."""
        store = self._joined()
        columns = columns & ~self.has[slots] & np.isfinite(store.value[slots])
        local, campaigns = np.nonzero(columns)
        if local.size == 0:
            return
        slot = slots[local]
        self.has[slot, campaigns] = True
        self.position[slot, campaigns] = self.highs.getNumCol() - self.n_slacks + np.arange(local.size)
        matrix = sp.vstack([
            sp.csc_matrix(store.pair_coefficients(slot, campaigns)),
            sp.csc_matrix((np.ones(local.size), (slot, np.arange(local.size))), shape=(self.size, local.size)),
        ], format="csc")
        matrix.eliminate_zeros()
        cost = cast(NDArray[np.float64], store.value[slot, campaigns])  # the master's rows are gathered as float64
        self.highs.addCols(local.size, cost, np.zeros(local.size), np.ones(local.size),
                           matrix.nnz, matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32),
                           matrix.data)
        self.column_slot.append(slot)
        self.column_campaign.append(campaigns)

    def raise_penalties(self, rows: NDArray[np.int32], factor: float, cap: NDArray[np.float64]) -> None:
        """Multiply the price of breaking the given rows (their slack columns' cost), up to ``cap``."""
        self.penalties[rows] = np.minimum(self.penalties[rows] * factor, cap[rows])
        columns = np.flatnonzero(np.isin(self.slack_rows, rows)).astype(np.int32)
        self.highs.changeColsCost(columns.size, columns, -self.penalties[self.slack_rows[columns]])

    def set_limits(self, remaining: NDArray[np.float64]) -> None:
        """Coupling rows' limits once the fixed customers' use is taken off: b_r - u_r."""
        lower = np.array([-INF if row.sense is Sense.LE else b for row, b in zip(self.rows, remaining)])
        upper = np.array([INF if row.sense is Sense.GE else b for row, b in zip(self.rows, remaining)])
        self.highs.changeRowsBounds(  # type: ignore[attr-defined]  # highspy 1.16 has it, its stub omits it
            self.m, np.arange(self.m, dtype=np.int32), lower, upper)

    def solve(self, time_limit: float) -> MasterSolution | None:
        """The master's optimum within ``time_limit`` seconds (None if HiGHS stopped first: it is
        never infeasible, thanks to the slacks): dual simplex from the last basis for at most
        WARM_ITERATIONS pivots, then, if it is not there yet, the interior point method
        (``_interior``), whose basis the next solve starts from; should that fail other than by
        running out of time, dual simplex goes on from where it stopped."""
        started = time.perf_counter()
        self.highs.setOptionValue("simplex_iteration_limit", WARM_ITERATIONS)
        highs_time_limit(self.highs, time_limit)
        self.highs.run()
        if self.highs.getModelStatus() == highspy.HighsModelStatus.kIterationLimit:
            self.highs.setOptionValue("simplex_iteration_limit", ITERATIONS_UNLIMITED)
            if self._interior(time_limit - (time.perf_counter() - started)) == highspy.HighsModelStatus.kTimeLimit:
                return None
            highs_time_limit(self.highs, time_limit - (time.perf_counter() - started))
            self.highs.run()  # from the interior point's basis, no pivots; where it failed, from the simplex's
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kModelEmpty:
            return MasterSolution(0.0, np.zeros(self.m), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int32),
                                  np.zeros(0))
        if status != highspy.HighsModelStatus.kOptimal:
            return None
        solution = self.highs.getSolution()
        x = np.asarray(solution.col_value)
        reduced = np.asarray(solution.col_dual)
        return MasterSolution(
            value=self.highs.getInfo().objective_function_value,
            prices=np.asarray(solution.row_dual)[: self.m].copy(),
            x=x[self.n_slacks:].copy(),
            reduced_costs=reduced[self.n_slacks:].copy(),
            violated=np.unique(self.slack_rows[x[: self.n_slacks] > 1e-9]),
            choice_duals=np.asarray(solution.row_dual)[self.m + self.columns()[0]].copy(),
        )

    def _interior(self, time_limit: float) -> highspy.HighsModelStatus:
        """Solve the master by the interior point method (IPX, and its crossover) in a Highs object
        of its own and, when it is optimal, set its basis here; its status. Its own object, since in
        this one the interrupted simplex's state left IPX's crossover imprecise and its clean-up
        took 8,632 pivots (integer 10^6 × 20, fourth master: 11.0 s, against 1.9 s fresh)."""
        interior = _master_highs("ipx")
        interior.passModel(self.highs.getLp())
        highs_time_limit(interior, time_limit)
        interior.run()
        status = interior.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            self.highs.setBasis(interior.getBasis())
        return status

    def core_problem(self, remaining: NDArray[np.float64]) -> Problem:
        """The master customers as a Problem (customer i = slot i), its columns only, limits
        ``remaining``: what the exact core solves."""
        return to_problem(self._joined(), self.has, remaining)


def _master_highs(solver: str) -> highspy.Highs:
    """A quiet, single-threaded Highs object without presolve (the master is re-solved warm), running ``solver``."""
    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's Highs.__init__ is unannotated
    for option, value in (("output_flag", False), ("threads", 1), ("presolve", "off"), ("solver", solver)):
        highs.setOptionValue(option, value)
    return highs


def _alone(adjusted: NDArray[np.float64], held: NDArray[np.integer[Any]]) -> NDArray[np.bool_]:
    """Customers none of whose campaigns but the held one is worth anything at the prices
    (``adjusted``: their priced-out values, -inf where not eligible)."""
    worth = adjusted > 0
    held_worth = np.zeros(len(held), dtype=bool)
    holding = np.flatnonzero(held >= 0)
    held_worth[holding] = worth[holding, held[holding]]
    alone: NDArray[np.bool_] = worth.sum(axis=1) - held_worth == 0
    return alone


def held_campaigns(adjusted: NDArray[np.float64]) -> NDArray[np.intp]:
    """Each customer's best campaign (-1: none) from its priced-out values, as the pass picks it."""
    best = np.argmax(adjusted, axis=1)
    held: NDArray[np.intp] = np.where(adjusted[np.arange(len(best)), best] > 0, best, NO_CAMPAIGN)
    return held


def best_columns(adjusted: NDArray[np.float64], count: int) -> NDArray[np.bool_]:
    """(c, k) mask of each customer's ``count`` best eligible campaigns (by priced-out value)."""
    k = adjusted.shape[1]
    if k > count:
        cutoff = np.partition(adjusted, k - count, axis=1)[:, k - count][:, None]
        return (adjusted >= cutoff) & np.isfinite(adjusted)
    return np.isfinite(adjusted)

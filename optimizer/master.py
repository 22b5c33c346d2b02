"""The master LP of the decomposition: a few customers decided jointly, the rest held fixed.

    maximise    sum_p c_p x_p  -  sum_r penalty_r s_r
    subject to  sum_{p of customer i} x_p <= 1                 each master customer i
                sum_p a_rp x_p  (+/- s_r)  (<=|>=|==)  b_r - u_r     each coupling row r
                0 <= x_p <= 1,  s_r >= 0

u_r is what the fixed customers use of row r. The slacks s_r (elastic rows) keep it feasible
while the master is still too small to meet a limit; their price caps the row duals, and a
positive slack at the end means no plan meets the limits. The model lives in one Highs object:
customers and columns are added to it and the limits moved, so every re-solve starts from the
last basis (dual simplex), which is what keeps the price loop cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.lagrangian import PricedProblem
from optimizer.problem import Sense

INF = highspy.kHighsInf


@dataclass(frozen=True)
class MasterSolution:
    """The master's optimum: ``x`` and ``reduced_costs`` per column (see ``MasterLP.columns``)."""

    value: float
    prices: np.ndarray
    x: np.ndarray
    reduced_costs: np.ndarray
    violated: np.ndarray

    @property
    def feasible(self) -> bool:
        """True when no row needed its slack: the master meets every limit."""
        return self.violated.size == 0


class MasterLP:
    """The restricted LP over the master customers (module docstring), solved warm each time."""

    def __init__(self, priced: PricedProblem, penalties: np.ndarray) -> None:
        self.priced = priced
        self.m = len(priced.rows)
        self.slot = np.full(priced.n_customers, -1, dtype=np.int64)
        self.customers: list[np.ndarray] = []
        self.column_customer: list[np.ndarray] = []
        self.column_campaign: list[np.ndarray] = []
        self.has = np.zeros((0, priced.n_campaigns), dtype=bool)
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("threads", 1)
        self.highs.setOptionValue("presolve", "off")
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.highs.addRows(self.m, np.full(self.m, -INF), np.full(self.m, INF), 0, np.zeros(self.m, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
        self._add_slacks(penalties)

    @property
    def size(self) -> int:
        return len(self.has)

    def master_customers(self) -> np.ndarray:
        """Global indices of the master customers, in the order they joined."""
        return np.concatenate(self.customers) if self.customers else np.zeros(0, dtype=np.int64)

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(global customer, campaign) of every pair column, in column order."""
        if not self.column_customer:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.column_customer), np.concatenate(self.column_campaign)

    def _add_slacks(self, penalties: np.ndarray) -> None:
        signs = [(r, 1.0) for r, row in enumerate(self.priced.rows) if row.sense is not Sense.LE]
        signs += [(r, -1.0) for r, row in enumerate(self.priced.rows) if row.sense is not Sense.GE]
        self.n_slacks = len(signs)
        rows = np.array([r for r, _ in signs], dtype=np.int32)
        self.slack_rows = rows
        self.penalties = penalties.astype(float).copy()
        self.highs.addCols(len(signs), -penalties[rows], np.zeros(len(signs)), np.full(len(signs), INF),
                           len(signs), np.arange(len(signs), dtype=np.int32), rows,
                           np.array([s for _, s in signs]))

    def add_customers(self, customers: np.ndarray, columns: np.ndarray) -> None:
        """New customers (not yet in the master) with a (len, k) mask of the campaigns they may get."""
        customers = np.asarray(customers, dtype=np.int64)
        if customers.size == 0:
            return
        first = self.size
        self.slot[customers] = first + np.arange(customers.size)
        self.customers.append(customers)
        self.has = np.vstack([self.has, np.zeros_like(columns)])
        count = customers.size
        self.highs.addRows(count, np.full(count, -INF), np.ones(count), 0, np.zeros(count, np.int32),
                           np.zeros(0, np.int32), np.zeros(0))
        self.add_columns(customers, columns)

    def add_columns(self, customers: np.ndarray, columns: np.ndarray) -> None:
        """Pair columns for master customers: every True of the (len, k) mask not already there."""
        columns = columns & ~self.has[self.slot[customers]]
        local, campaigns = np.nonzero(columns)
        if local.size == 0:
            return
        self.has[self.slot[customers[local]], campaigns] = True
        coefficients = self.priced.coefficients(customers)[:, local, campaigns]  # (m, pairs)
        matrix = sp.vstack([
            sp.csc_matrix(coefficients),
            sp.csc_matrix((np.ones(local.size), (self.slot[customers[local]], np.arange(local.size))),
                          shape=(self.size, local.size)),
        ], format="csc")
        matrix.eliminate_zeros()
        cost = self.priced.value[customers[local], campaigns].astype(float)
        self.highs.addCols(local.size, cost, np.zeros(local.size), np.ones(local.size), matrix.nnz,
                           matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32), matrix.data)
        self.column_customer.append(customers[local])
        self.column_campaign.append(campaigns)

    def raise_penalties(self, rows: np.ndarray, factor: float, cap: np.ndarray) -> None:
        """Multiply the price of breaking the given rows (their slack columns' cost), up to ``cap``."""
        self.penalties[rows] = np.minimum(self.penalties[rows] * factor, cap[rows])
        columns = np.flatnonzero(np.isin(self.slack_rows, rows)).astype(np.int32)
        self.highs.changeColsCost(columns.size, columns, -self.penalties[self.slack_rows[columns]])

    def set_limits(self, remaining: np.ndarray) -> None:
        """Coupling rows' limits once the fixed customers' use is taken off: b_r - u_r."""
        lower = np.array([-INF if row.sense is Sense.LE else b for row, b in zip(self.priced.rows, remaining)])
        upper = np.array([INF if row.sense is Sense.GE else b for row, b in zip(self.priced.rows, remaining)])
        self.highs.changeRowsBounds(self.m, np.arange(self.m, dtype=np.int32), lower, upper)

    def solve(self, time_limit: float) -> MasterSolution | None:
        """The master's optimum from the last basis (None if HiGHS stopped first: it is never
        infeasible, thanks to the slacks)."""
        self.highs.setOptionValue("time_limit", float(time_limit))
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kModelEmpty:
            return MasterSolution(0.0, np.zeros(self.m), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int32))
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
        )

"""Matrix-built HiGHS models of a Problem: the LP relaxation and its shadow prices.

Built with numpy/scipy and handed to highspy in one ``passModel`` call: no Pyomo objects, so
these stay cheap even where the Pyomo model would be large.

Shadow price of row r: d(LP optimum)/d(b_r), what one more unit of that limit would add
(negative for a >= row that costs value to meet). ``move_costs`` turns the optimum's reduced costs
and choice-row duals into what a plan that changes a pair loses against the LP bound.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.solve.clock import highs_time_limit
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Problem, Sense

INF = highspy.kHighsInf
IPM_ABOVE = 50_000
_INFEASIBLE = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)


@dataclass(frozen=True)
class Relaxation:
    """LP relaxation over the candidate pairs (fields are None when it is infeasible).

    ``x``, ``reduced_costs`` and ``choice_duals`` are per candidate pair, the last the dual u_i >= 0
    of its customer's choice row (sum_j x_ij <= 1; 0 for a customer with one pair, who has none).
    At the optimum of this maximisation a pair at 0 has reduced cost <= 0 and a pair at 1 has
    reduced cost >= 0, and every feasible 0/1 plan x' is worth at most
    bound - sum_p |reduced_cost_p| * |x'_p - x_p| - sum_i u_i (1 - sum_j x'_ij).
    """

    feasible: bool
    bound: float | None
    shadow_prices: NDArray[np.float64] | None
    x: NDArray[np.float64] | None = None
    reduced_costs: NDArray[np.float64] | None = None
    proven: bool = True
    choice_duals: NDArray[np.float64] | None = None


def coupling_matrix(problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp]) -> sp.csr_matrix:
    """(customer rows with a choice, then coupling rows) × candidate pairs."""
    pairs = np.arange(len(customers))
    unique, inverse, counts = np.unique(customers, return_inverse=True, return_counts=True)
    keep = counts[inverse] > 1
    _, choice_row = np.unique(inverse[keep], return_inverse=True)
    n_choice = int(choice_row.max(initial=-1)) + 1
    blocks = [sp.csr_matrix((np.ones(keep.sum()), (choice_row, pairs[keep])), shape=(n_choice, len(pairs)))]
    for row in problem.rows:
        coefficients = problem.coefficients(row)[customers, campaigns]
        blocks.append(sp.csr_matrix(coefficients.reshape(1, -1)))
    matrix: sp.csr_matrix = sp.vstack(blocks, format="csr")
    return matrix


def row_bounds(problem: Problem, n_choice_rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lower = np.r_[np.full(n_choice_rows, -INF), [lower_limit(row) for row in problem.rows]]
    upper = np.r_[np.ones(n_choice_rows), [upper_limit(row) for row in problem.rows]]
    return lower, upper


def lower_limit(row: CouplingRow) -> float:
    """A row's lower bound as HiGHS takes it (-inf for a <= row)."""
    return -INF if row.sense is Sense.LE else row.rhs


def upper_limit(row: CouplingRow) -> float:
    """A row's upper bound as HiGHS takes it (inf for a >= row)."""
    return INF if row.sense is Sense.GE else row.rhs


@functools.cache
def quiet_highs_banner() -> None:
    """Build this process's first Highs with file descriptor 1 pointed at /dev/null.

    HiGHS 1.16 writes its banner to the process's standard output (the C stream, not sys.stdout)
    when the first Highs object is built, before any option can turn output off, and only then;
    after this, ``cvo optimize --json`` prints nothing but its JSON.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's Highs.__init__ is unannotated
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def highs_model(
    cost: NDArray[np.float64], lower: NDArray[np.float64], upper: NDArray[np.float64], matrix: sp.csr_matrix,
    row_lower: NDArray[np.float64], row_upper: NDArray[np.float64], *, maximise: bool, integer: int = 0,
) -> highspy.Highs:
    """A silent single-threaded Highs holding the model; ``integer`` = leading integer columns."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    columns = matrix.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = columns.indptr, columns.indices, columns.data
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * integer + [highspy.HighsVarType.kContinuous] * (
            lp.num_col_ - integer
        )
    quiet_highs_banner()
    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's Highs.__init__ is unannotated
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.passModel(lp)
    return highs


def solve_relaxation(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], time_limit: float | None = None
) -> Relaxation:
    """LP relaxation over the candidate pairs, with a shadow price per coupling row.

    ``proven`` is False when the time limit stopped it before it could say either way.
    """
    if customers.size == 0:
        feasible = not problem.violations(np.full(problem.n_customers, NO_CAMPAIGN))
        return Relaxation(feasible, 0.0 if feasible else None, np.zeros(len(problem.rows)) if feasible else None)
    matrix = coupling_matrix(problem, customers, campaigns)
    n_choice = matrix.shape[0] - len(problem.rows)
    row_lower, row_upper = row_bounds(problem, n_choice)
    value = problem.value[customers, campaigns]
    highs = highs_model(value, np.zeros(len(value)), np.ones(len(value)), matrix, row_lower, row_upper, maximise=True)
    if time_limit is not None:
        highs_time_limit(highs, time_limit)
    if len(value) > IPM_ABOVE:
        highs.setOptionValue("solver", "ipm")  # measured at 383k columns: 13 s, dual simplex 63 s
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        return Relaxation(False, None, None, proven=status in _INFEASIBLE)
    solution = highs.getSolution()
    duals = np.asarray(solution.row_dual)[n_choice:]
    return Relaxation(True, highs.getInfo().objective_function_value, duals,
                      np.asarray(solution.col_value), np.asarray(solution.col_dual),
                      choice_duals=_choice_duals(matrix, np.asarray(solution.row_dual)[:n_choice]))


def _choice_duals(matrix: sp.csr_matrix, duals: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per column, the dual of its customer's choice row (0 for a customer with one column: none)."""
    rows = matrix[: duals.size].tocsc()
    out = np.zeros(matrix.shape[1])
    counts = np.diff(rows.indptr)
    out[counts > 0] = duals[rows.indices]
    return out


def move_costs(customers: NDArray[np.intp], x: NDArray[np.float64], reduced_costs: NDArray[np.float64],
               choice_duals: NDArray[np.float64] | None) -> NDArray[np.float64]:
    """m_p per candidate pair p: the least a feasible plan that changes p (against x rounded at 0.5)
    loses against z_LP.

    With u_i >= 0 the dual of customer i's choice row (``choice_duals``, per pair; HiGHS's are >= 0
    to within its tolerance, and a negative one counts as 0), every feasible 0/1 plan x' is worth at
    most z_LP - sum_p |d_p| |x'_p - x_p| - sum_i u_i (1 - sum_j x'_ij) (complementary slackness: a
    pair with d_p != 0 sits at 0 or 1, a row with a dual is at its limit). Taking a pair at 0 costs
    m_p = |d_p|. Leaving one at 1 costs |d_p| and, as its customer then takes another pair o (one
    at x_o <= 0.5) or nothing, at least min(u_i, min_o |d_o|). With |d_p| alone, every pair at 1
    that is basic (d_p = 0) would cost nothing to leave, so a core would have to hold all of them
    before its bound could fall below z_LP: measured on variants 10^5 × 10, a widened core of 2,549
    pairs held 2,490 such pairs and let 56 customers choose. Without duals (None), m_p = |d_p|.
    """
    cost = np.abs(reduced_costs)
    if choice_duals is None or customers.size == 0:
        return cost
    _, slot = np.unique(customers, return_inverse=True)
    chosen = x > 0.5
    other = np.full(int(slot.max()) + 1, np.inf)
    np.minimum.at(other, slot[~chosen], cost[~chosen])
    cost[chosen] += np.minimum(np.maximum(choice_duals[chosen], 0.0), other[slot[chosen]])
    return cost

"""The audience-size bound: the Lagrangian bound with the audience sizes kept integer.

When every coupling row has one coefficient a_rj per campaign (audiences, capacities, budgets of
one cost per contact), the rows see a plan only through its audience sizes n_j = Σ_i x_ij, which
are integers. Dualising n_j = Σ_i x_ij with a price μ_j per campaign bounds every plan x:

    Σ_ij c_ij x_ij  <=  Φ(μ) + h(μ)
    Φ(μ) = Σ_i max(0, max_j c_ij - μ_j)                                   (the customers)
    h(μ) = max { μ·n : Σ_j a_rj n_j (<=|>=|==) b_r,  0 <= n_j <= N_j,  Σ_j n_j <= n,  n integer }

with N_j the customers eligible for campaign j: h is a MIP in k integer variables that HiGHS
closes in milliseconds, and any μ gives a valid bound. With μ = Aᵀλ from row prices λ,
Φ(μ) = L(λ) - λ·b, so the bound is L(λ) - λ·b + h(μ) <= L(λ) (λ·b >= μ·n for every n the rows
allow, when λ has the signs of its rows): the Lagrangian bound L(λ) lets the audience sizes be
fractional, this one does not. Where budgets leave an integrality gap the allowed 1e-6 cannot
absorb (about one customer's value at 10^5 customers), the LP bound cannot prove the optimal plan
and every pair within that gap of switching had to go into the exact core; this bound closes the
gap instead: on the benchmark's 100,000 × 10 instance with one cost per contact, L(λ*) - z = 1.206
and Φ(μ*) + h(μ*) - z = 0 (to 1e-9).
"""

from __future__ import annotations

from functools import reduce
from operator import add
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.clock import Clock, highs_time_limit
from optimizer.solve.customers import Customers
from optimizer.solve.problem import CouplingRow
from optimizer.solve.relaxation import highs_model, lower_limit, upper_limit

INF = highspy.kHighsInf
# HiGHS stops once h(μ) is within this relative gap, and its dual bound (still a valid bound) is
# used: at 0 it could stall proving the last 1e-9 (measured: 1e-7 gave the same bound in 0.14 s).
AUDIENCE_GAP = 1e-7
AUDIENCE_LIMIT_S = 10.0  # the MIP of k integers closes in milliseconds; a stop still bounds


def audience_bound(
    rows: tuple[CouplingRow, ...], coefficients: NDArray[np.float64], campaign_prices: NDArray[np.float64],
    customer_total: float, eligible: NDArray[np.number[Any]], n_customers: int, time_limit: float = 10.0,
) -> float:
    """Φ(μ) + h(μ) for μ = ``campaign_prices``, given ``customer_total`` = Φ(μ).

    ``coefficients`` is the (m, k) matrix A of a_rj, ``eligible`` the (k,) counts N_j. If HiGHS
    stops before closing h, its dual bound on h is used (still a valid bound); if it finds no
    integer audience sizes at all, no plan exists and the bound is -inf.
    """
    return customer_total + _largest_audience_value(rows, coefficients, campaign_prices, eligible, n_customers,
                                                    time_limit)


def audiences_exist(
    rows: tuple[CouplingRow, ...], coefficients: NDArray[np.float64], eligible: NDArray[np.number[Any]],
    n_customers: int, slack: NDArray[np.float64], time_limit: float = AUDIENCE_LIMIT_S,
) -> bool:
    """Whether some integer audience sizes meet every row to within its ``slack`` (0 <= n_j <= N_j,
    Σ_j n_j <= n), i.e. h(0) > -inf: when none do, no plan does either. A stop at the time limit
    answers True."""
    return _largest_audience_value(rows, coefficients, np.zeros(coefficients.shape[1]), eligible, n_customers,
                                   time_limit, slack) > -np.inf


def _largest_audience_value(
    rows: tuple[CouplingRow, ...], coefficients: NDArray[np.float64], campaign_prices: NDArray[np.float64],
    eligible: NDArray[np.number[Any]], n_customers: int, time_limit: float, slack: NDArray[np.float64] | float = 0.0,
) -> float:
    """h(μ): the most μ·n that integer audience sizes meeting every row (to within ``slack``) can reach."""
    highs = _audience_model(rows, coefficients, campaign_prices, eligible, n_customers, time_limit, slack)
    status = highs.getModelStatus()
    if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return -np.inf
    info = highs.getInfo()
    if status == highspy.HighsModelStatus.kOptimal:
        return max(info.objective_function_value, info.mip_dual_bound)
    return info.mip_dual_bound if np.isfinite(info.mip_dual_bound) else np.inf


def audience_sizes(
    rows: tuple[CouplingRow, ...], coefficients: NDArray[np.float64], near: NDArray[np.int64],
    eligible: NDArray[np.number[Any]], n_customers: int, time_limit: float,
) -> NDArray[np.int64] | None:
    """Integer audience sizes meeting every row and nearest ``near`` (least Σ_j |n_j - near_j|), or
    None when HiGHS found none in ``time_limit``:

        min Σ_j (p_j + q_j)  s.t.  rows on n,  Σ_j n_j <= n,  n_j - p_j + q_j = near_j,  0 <= n_j <= N_j.
    """
    k = len(near)
    identity = sp.identity(k, format="csr")
    matrix = sp.vstack([sp.hstack([sp.csr_matrix(coefficients), sp.csr_matrix((len(rows), 2 * k))]),
                        sp.hstack([sp.csr_matrix(np.ones((1, k))), sp.csr_matrix((1, 2 * k))]),
                        sp.hstack([identity, -identity, identity])], format="csr")
    target = np.asarray(near, dtype=float)
    row_lower = np.r_[[lower_limit(row) for row in rows], -INF, target]
    row_upper = np.r_[[upper_limit(row) for row in rows], float(n_customers), target]
    upper = np.r_[np.asarray(eligible, dtype=float), np.full(2 * k, INF)]
    highs = highs_model(np.r_[np.zeros(k), np.ones(2 * k)], np.zeros(3 * k), upper, matrix, row_lower, row_upper,
                        maximise=False, integer=k)
    highs_time_limit(highs, time_limit)
    highs.run()
    solution = highs.getSolution()
    if not solution.value_valid:
        return None
    sizes: NDArray[np.int64] = np.rint(np.asarray(solution.col_value)[:k]).astype(np.int64)
    return sizes


def _audience_model(
    rows: tuple[CouplingRow, ...], coefficients: NDArray[np.float64], campaign_prices: NDArray[np.float64],
    eligible: NDArray[np.number[Any]], n_customers: int, time_limit: float,
    slack: NDArray[np.float64] | float = 0.0,
) -> highspy.Highs:
    """max μ·n over integer audience sizes meeting every row (to within ``slack``), 0 <= n_j <= N_j,
    Σ_j n_j <= n: run."""
    k = len(campaign_prices)
    row_lower = np.r_[np.array([*map(lower_limit, rows)]) - slack, -INF]
    row_upper = np.r_[np.array([*map(upper_limit, rows)]) + slack, float(n_customers)]
    matrix = sp.csr_matrix(np.vstack([coefficients, np.ones(k)]))
    highs = highs_model(np.asarray(campaign_prices, dtype=float), np.zeros(k), np.asarray(eligible, dtype=float),
                        matrix, row_lower, row_upper, maximise=True, integer=k)
    highs.setOptionValue("mip_rel_gap", AUDIENCE_GAP)
    highs_time_limit(highs, time_limit)
    highs.run()
    return highs


def audience_bound_at(customers: Customers, prices: NDArray[np.float64], lagrangian: float, clock: Clock,
                      eligible: NDArray[np.number[Any]] | None = None) -> float:
    """The bound at row prices λ of all ``customers``, given L(λ) (``lagrangian``): Φ(μ) = L(λ) - λ·b,
    μ = Aᵀλ; the eligible counts N_j (unless given: a screening pass counts them) take one map."""
    coefficients = customers.coefficients
    if coefficients is None:
        raise TypeError("the audience-size bound needs one coefficient per campaign in every row")
    if eligible is None:
        eligible = reduce(add, customers.map(parts.eligible_counts, stage="audiences"))
    customer_total = lagrangian - float(prices @ customers.rhs)
    return audience_bound(customers.rows, coefficients, prices @ coefficients, customer_total, eligible,
                          customers.n, clock.allow(AUDIENCE_LIMIT_S))

"""Why a scenario has no plan: the elastic model, and its answer in words.

Every coupling row gets slack s_r >= 0 that relaxes it,

    min  sum_r s_r / max(1, |b_r|)   s.t.  the rows with slack,  assignment rows,  x binary,

so the optimal slacks say which limits must move, and by how much, for any plan to exist; each
of those rows relaxed alone says whether it could make a plan possible on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.solve.problem import CouplingRow, Problem, Sense
from optimizer.solve.relaxation import INF, coupling_matrix, highs_model, row_bounds


@dataclass(frozen=True)
class Conflict:
    """A row whose limit must move by ``change`` (signed, in its own units) for a plan to exist."""

    row: CouplingRow
    change: float


@dataclass(frozen=True)
class Diagnosis:
    """The least relaxation that makes a scenario feasible, the rows it conflicts with, and
    the single-row changes that would each make it feasible on their own."""

    conflicts: list[Conflict]
    binding: list[CouplingRow]
    alone: list[Conflict]


def _slack_columns(
    problem: Problem, relaxable: list[int], n_choice: int
) -> tuple[sp.csr_matrix, list[tuple[int, float]]]:
    """One slack column per way a row may give: +1 on >= rows (raise lhs), -1 on <= rows (lower
    lhs); == rows get both. Returns the columns and their (row, sign) pairs."""
    signs = [(r, +1.0) for r in relaxable if problem.rows[r].sense is not Sense.LE]
    signs += [(r, -1.0) for r in relaxable if problem.rows[r].sense is not Sense.GE]
    slack = sp.csr_matrix(
        ([s for _, s in signs], ([n_choice + r for r, _ in signs], range(len(signs)))),
        shape=(n_choice + len(problem.rows), len(signs)),
    )
    return slack, signs


def diagnose(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], time_limit: float = 60.0
) -> Diagnosis:
    """Why no plan exists: the least relaxation of all limits together, the limits it runs into,
    and each of those limits that could make a plan possible on its own (with its change)."""
    everything = list(range(len(problem.rows)))
    conflicts, binding = _elastic(problem, customers, campaigns, everything, time_limit)
    index = {id(row): r for r, row in enumerate(problem.rows)}
    involved = dict.fromkeys(index[id(row)] for row in [*(c.row for c in conflicts), *binding])
    alone = []
    for r in involved:
        single, _ = _elastic(problem, customers, campaigns, [r], time_limit)
        alone.extend(single)
    moved = {id(conflict.row) for conflict in conflicts}
    return Diagnosis(conflicts, [row for row in binding if id(row) not in moved], alone)


def _elastic(
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], relaxable: list[int],
    time_limit: float,
) -> tuple[list[Conflict], list[CouplingRow]]:
    """Elastic MIP in which only the ``relaxable`` rows may move; ([], []) if that cannot help."""
    matrix = coupling_matrix(problem, customers, campaigns)
    n_choice = matrix.shape[0] - len(problem.rows)
    n_pairs = matrix.shape[1]
    slack, signs = _slack_columns(problem, relaxable, n_choice)
    scale = np.array([1.0 / max(1.0, abs(problem.rows[r].rhs)) for r, _ in signs])
    cost = np.r_[np.zeros(n_pairs), scale]
    lower, upper = np.zeros(n_pairs + len(signs)), np.r_[np.ones(n_pairs), np.full(len(signs), INF)]
    row_lower, row_upper = row_bounds(problem, n_choice)
    full = sp.hstack([matrix, slack], format="csr")
    highs = highs_model(cost, lower, upper, full, row_lower, row_upper, maximise=False, integer=n_pairs)
    highs.setOptionValue("time_limit", float(time_limit))
    highs.run()
    if not highs.getSolution().value_valid:
        return [], []
    values = np.asarray(highs.getSolution().col_value)[n_pairs:]
    conflicts = [Conflict(problem.rows[r], -s * v) for (r, s), v in zip(signs, values) if v > 1e-7]
    return conflicts, _binding_partners(problem, full, cost, lower, upper, row_lower, row_upper, n_choice, n_pairs)


def _binding_partners(
    problem: Problem, full: sp.csr_matrix, cost: NDArray[np.float64], lower: NDArray[np.float64],
    upper: NDArray[np.float64], row_lower: NDArray[np.float64], row_upper: NDArray[np.float64], n_choice: int,
    n_pairs: int,
) -> list[CouplingRow]:
    """Rows with a non-zero dual in the elastic LP: the limits the relaxed rows run into."""
    highs = highs_model(cost, lower, upper, full, row_lower, row_upper, maximise=False)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return []
    duals = np.asarray(highs.getSolution().row_dual)[n_choice:]
    return [row for row, dual in zip(problem.rows, duals) if abs(dual) > 1e-9]


def describe_conflict(diagnosis: Diagnosis) -> str:
    """'These limits conflict: min_audience[x] (>= 3000, ...); budget (<= 2000, ...). Any one of
    these changes makes a plan possible: lower min_audience[x] by 1,250 (to 1,750); or raise ...'."""
    involved = [conflict.row for conflict in diagnosis.conflicts]
    if not involved:
        return "The solver proved the constraints cannot all hold, but no relaxation of the limits was found"
    text = "These limits conflict: " + "; ".join(_label(row) for row in [*involved, *diagnosis.binding])
    if diagnosis.alone:
        return f"{text}. Any one of these changes makes a plan possible: {'; or '.join(map(_change, diagnosis.alone))}"
    changes = ", and ".join(map(_change, diagnosis.conflicts))
    return f"{text}. No single limit can fix it; the smallest joint change: {changes}"


def _label(row: CouplingRow) -> str:
    return f"{row.name} ({row.sense} {row.rhs:,.6g}, {row.source})"


def _change(conflict: Conflict) -> str:
    verb = "raise" if conflict.change > 0 else "lower"
    row = conflict.row
    return f"{verb} {row.name} by {abs(conflict.change):,.6g} (to {row.rhs + conflict.change:,.6g})"

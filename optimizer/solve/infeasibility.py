"""Why a scenario has no plan: the elastic model, and what it found in words.

Conflicts seen before any solve (minimum audiences against <= limits) are optimizer/solve/shortfalls.py.

When the solver proves there is no plan, every coupling row gets slack s_r >= 0 that relaxes it,

    min  sum_r s_r / max(1, |b_r|)   s.t.  the rows with slack,  assignment rows,  0 <= x <= 1,

an LP (interior point when large: 1 s for the weekly example's 40,000 pairs, where the same model
as a MIP spent 8 s on its first LP). Its slacks name limits that conflict and one least change of
them together (least in that weighted sum, for fractional plans: an example, not a bound on each
row); its duals name the limits those run into. Each limit involved is then allowed to move
alone: an infeasible LP proves it cannot make a plan possible on its own; otherwise its least
change is a true "at least", and the problem is solved again with the limit moved a little more
(CHECK_MARGIN, rounded outwards): a plan found proves that change suffices. Every step shares one
clock, so the whole diagnosis keeps the time limit; a change not proven sufficient in time is
stated as "at least". Where fractional plans meet every limit and only whole customers cannot,
the same model with integer customers runs instead, and the changes its plan needs suffice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.solve.clock import LEAST_STEP, Clock, highs_time_limit
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense
from optimizer.solve.relaxation import INF, IPM_ABOVE, coupling_matrix, highs_model, row_bounds
from optimizer.solve.results import SolutionStatus
from optimizer.solve.rounding import rounded
from optimizer.solve.shortfalls import label
from optimizer.solve.solver import solve

JOINT_SHARE = 0.3  # of the time left: the LP with every row elastic; the rest is shared by the single rows
CHECK_MARGIN = 0.01  # a single change is checked 1 % above the LP's least
_INFEASIBLE = (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)


@dataclass(frozen=True)
class Conflict:
    """A row whose limit must move by ``change`` (signed, in its own units) for a plan to exist: at
    least that much; and enough when ``sufficient`` (a plan was found with it)."""

    row: CouplingRow
    change: float
    sufficient: bool = False
    plan: NDArray[np.integer[Any]] | None = field(default=None, compare=False, repr=False)  # one found with it


@dataclass(frozen=True)
class Diagnosis:
    """What the elastic LPs found: ``conflicts``, the least changes of all limits together;
    ``binding``, the limits they run into; ``alone``, changes of one limit each; ``not_alone``,
    limits proven unable to make a plan possible on their own."""

    conflicts: list[Conflict]
    binding: list[CouplingRow]
    alone: list[Conflict]
    not_alone: list[CouplingRow] = field(default_factory=list)


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
    problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp], clock: Clock
) -> Diagnosis:
    """Why no plan exists (module docstring), within ``clock``'s limit."""
    elastic = _Elastic(problem, customers, campaigns)
    everything = list(range(len(problem.rows)))
    joint = elastic.run(everything, clock.allow(JOINT_SHARE * clock.remaining()))
    if joint.changes == []:  # fractional plans meet every row: only whole customers cannot
        elastic.integer()
        joint = elastic.run(everything, clock.allow(JOINT_SHARE * clock.remaining()))
    if not joint.changes:
        return Diagnosis([], [], [])
    index = {id(row): r for r, row in enumerate(problem.rows)}
    involved = list(dict.fromkeys(index[id(row)] for row in [*(c.row for c in joint.changes), *joint.binding]))
    alone: list[Conflict] = []
    not_alone: list[CouplingRow] = []
    for number, r in enumerate(involved):
        if clock.expired():
            break  # the rows not tried stay unsettled: the message says "at least" for them
        share = clock.remaining() / (len(involved) - number)
        single = elastic.run([r], clock.allow((1.0 if elastic.whole else 0.3) * share))
        if single.changes is None:
            if single.impossible:
                not_alone.append(problem.rows[r])
            continue
        alone.extend(change if change.sufficient else _checked(problem, change, clock.allow(
            clock.remaining() / (len(involved) - number))) for change in single.changes)
    moved = {id(conflict.row) for conflict in joint.changes}
    return Diagnosis(joint.changes, [row for row in joint.binding if id(row) not in moved], alone, not_alone)


def _checked(problem: Problem, change: Conflict, seconds: float) -> Conflict:
    """The LP's least ``change`` of one row, checked: on a row that counts customers first the least
    change itself in whole customers, then with CHECK_MARGIN more, rounded outwards (whole units on
    a row that counts customers, else 4 significant digits), the problem is solved
    again, and a plan found makes that amount sufficient (the least change leaves integer plans on
    a knife edge, which a little more takes them off). Otherwise the LP's amount, rounded inwards,
    is what is known: at least that much."""
    row = change.row
    whole = row.weight == COUNT
    amounts = [_outwards(change.change, whole=True, outwards=True)] if whole else []  # customers come whole
    amounts.append(_outwards(change.change * (1.0 + CHECK_MARGIN), whole=whole, outwards=True))
    amounts, clock = list(dict.fromkeys(amounts)), Clock.start(seconds)
    for number, amount in enumerate(amounts):
        moved = tuple(replace(r, rhs=r.rhs + amount) if r is row else r for r in problem.rows)
        allowed = max(LEAST_STEP, clock.remaining() / (len(amounts) - number))
        result = solve(replace(problem, rows=moved), SolverOptions(time_limit_s=allowed, mip_gap=1e-2))
        if result.status is not SolutionStatus.NONE:
            return Conflict(row, amount, sufficient=True, plan=result.choice)
    return Conflict(row, _outwards(change.change, whole=False, outwards=False))


def _outwards(change: float, whole: bool, outwards: bool) -> float:
    """``change`` rounded (``rounded``) away from 0 when ``outwards``, towards it otherwise."""
    return rounded(change, up=(change > 0) == outwards, whole=whole)


@dataclass(frozen=True)
class _Run:
    """One elastic LP: the changes it needs (None when it has no optimum in time), the rows its
    duals name, and whether it proved that the rows allowed to move cannot make a plan possible."""

    changes: list[Conflict] | None
    binding: list[CouplingRow]
    impossible: bool


class _Elastic:
    """The elastic LP of the module docstring, built once; each run lets some rows move. Where
    fractional plans meet every row and only whole customers cannot, the same model with integer
    customers (``integer``): then a plan it finds has the changes it reports, so they suffice."""

    def __init__(self, problem: Problem, customers: NDArray[np.intp], campaigns: NDArray[np.intp]) -> None:
        self.problem, self.customers, self.campaigns = problem, customers, campaigns
        matrix = coupling_matrix(problem, customers, campaigns)
        self.n_choice = matrix.shape[0] - len(problem.rows)
        self.n_pairs = matrix.shape[1]
        slack, self.signs = _slack_columns(problem, list(range(len(problem.rows))), self.n_choice)
        scale = np.array([1.0 / max(1.0, abs(problem.rows[r].rhs)) for r, _ in self.signs])
        cost = np.r_[np.zeros(self.n_pairs), scale]
        upper = np.r_[np.ones(self.n_pairs), np.full(len(self.signs), INF)]
        row_lower, row_upper = row_bounds(problem, self.n_choice)
        full = sp.hstack([matrix, slack], format="csr")
        self.highs = highs_model(cost, np.zeros(cost.size), upper, full, row_lower, row_upper, maximise=False)
        self.whole = False
        if full.shape[1] > IPM_ABOVE:
            self.highs.setOptionValue("solver", "ipm")

    def _plan(self, chosen: NDArray[np.float64]) -> NDArray[np.intp]:
        return _elastic_plan(self.customers, self.campaigns, self.problem.n_customers, chosen)

    def integer(self) -> None:
        """Make every customer's columns integer (the slacks stay continuous); no presolve, which
        does not keep the time limit."""
        columns = np.arange(self.n_pairs, dtype=np.int32)
        self.highs.changeColsIntegrality(columns.size, columns, np.full(columns.size, highspy.HighsVarType.kInteger))
        self.highs.setOptionValue("presolve", "off")
        self.highs.setOptionValue("solver", "choose")
        self.whole = True

    def run(self, relaxable: list[int], seconds: float) -> _Run:
        """The elastic LP with only the ``relaxable`` rows' slacks free, for at most ``seconds``."""
        free = np.array([r in relaxable for r, _ in self.signs])
        columns = np.arange(self.n_pairs, self.n_pairs + len(self.signs), dtype=np.int32)
        self.highs.changeColsBounds(columns.size, columns, np.zeros(columns.size), np.where(free, INF, 0.0))
        highs_time_limit(self.highs, seconds)
        self.highs.run()
        status = self.highs.getModelStatus()
        solution = self.highs.getSolution()
        if status != highspy.HighsModelStatus.kOptimal and not (self.whole and solution.value_valid):
            return _Run(None, [], status in _INFEASIBLE)
        values = np.asarray(solution.col_value)[self.n_pairs:]
        plan = self._plan(np.asarray(solution.col_value)[:self.n_pairs]) if self.whole else None
        changes = [Conflict(self.problem.rows[r], -sign * v, sufficient=self.whole, plan=plan)
                   for (r, sign), v in zip(self.signs, values) if v > 1e-7]
        if self.whole:  # a MIP has no duals: the rows its plan meets exactly are those it runs into
            return _Run(changes, [], False)
        duals = np.asarray(solution.row_dual)[self.n_choice:]
        return _Run(changes, [row for row, dual in zip(self.problem.rows, duals) if abs(dual) > 1e-9], False)


def _elastic_plan(customers: NDArray[np.intp], campaigns: NDArray[np.intp], n: int,
                  chosen: NDArray[np.float64]) -> NDArray[np.intp]:
    """The plan of an integer elastic solution: each customer's pair at 1 (-1: none)."""
    plan = np.full(n, -1, dtype=np.intp)
    taken = chosen > 0.5
    plan[customers[taken]] = campaigns[taken]
    return plan


def describe_conflict(diagnosis: Diagnosis, words: Callable[[Conflict], str | None] | None = None) -> str:
    """'These limits conflict: min_audience[x] (>= 3000, ...); budget (<= 2000, ...). Any one of
    these changes makes a plan possible: lower min_audience[x] by 1,250 (to 1,750); or raise ...';
    each claim only as far as the diagnosis proved it. ``words`` may tell a change in the scenario's
    own terms (a ratio row's ratio rather than its linear form; None: as the row reads)."""
    def change(conflict: Conflict) -> str:
        return (words(conflict) if words else None) or _change(conflict)

    if not diagnosis.conflicts:
        return ("The solver proved the constraints cannot all hold, but found no change of the limits that makes a "
                "plan possible within the time limit")
    involved = [conflict.row for conflict in diagnosis.conflicts]
    text = "These limits conflict: " + "; ".join(label(row) for row in [*involved, *diagnosis.binding])
    enough = [change for change in diagnosis.alone if change.sufficient]
    if enough:
        text += f". Any one of these changes makes a plan possible: {'; or '.join(map(change, enough))}"
    unproven = [change for change in diagnosis.alone if not change.sufficient]
    if unproven:
        text += (f". {'Other' if enough else 'Single'} changes that may: {'; or '.join(map(change, unproven))} "
                 "(no plan was found with them within the time limit)")
    if not diagnosis.alone:
        settled = {id(row) for row in diagnosis.not_alone}
        alone = "No single limit can fix it" if all(id(row) in settled for row in involved) else \
            "No single limit was shown to fix it within the time limit"
        changes = ", and ".join((words(conflict) if words else None) or _move(conflict)
                                for conflict in diagnosis.conflicts)
        text += f". {alone}; changing them together, e.g. {changes}, at least lets fractional plans meet every limit"
    return text


def _move(conflict: Conflict) -> str:
    verb = "raise" if conflict.change > 0 else "lower"
    return f"{verb} {conflict.row.name} by {abs(conflict.change):,.6g}"


def _change(conflict: Conflict) -> str:
    verb = "raise" if conflict.change > 0 else "lower"
    row = conflict.row
    least = "" if conflict.sufficient else "at least "
    return f"{verb} {row.name} by {least}{abs(conflict.change):,.6g} (to {row.rhs + conflict.change:,.6g})"

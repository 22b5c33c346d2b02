"""Steps 4-5 of optimizer/solve/decompose.py: the exact core on the master LP, the plan and bound
it gives for all customers, and the master's widening.

The core (optimizer/solve/exact.py) solves the master's pairs of least move cost as a MIP,
the rest held at their LP values; every customer outside the master keeps its best at the start
prices. A plan that moves a fixed customer off its best, or uses a pair the master lacks, is worth
at most L(λ) - t, t the least such margin, so

    bound = min(L(λ), max(core bound + value of the fixed customers, L(λ) - t)).

Widening brings everything within L(λ) - z_plan of being chosen into the master, so that the next
core may prove the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from operator import add
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.audiences import audience_bound_at
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.exact import solve_with_relaxation
from optimizer.solve.master import MasterLP
from optimizer.solve.options import SolverOptions
from optimizer.solve.pricing import DualState, join
from optimizer.solve.problem import NO_CAMPAIGN
from optimizer.solve.relaxation import Relaxation
from optimizer.solve.results import SolveResult, Termination, gap_allowed

# Customers a widening adds to the master at most (measured: tight 10^6 × 20, the first widening
# gathered for 7 s and took the process from 0.5 to 2.9 GB, the second to 4.5 GB, and neither
# moved the plan or the bound).
MAX_WIDENED = 50_000


@dataclass(frozen=True)
class PlanSpec:
    """A plan without an n-sized array: each customer's best at ``start``, except the master
    customers (sorted global indices) who get ``master_choice``."""

    start: NDArray[np.float64]
    master: NDArray[np.intp]
    master_choice: NDArray[np.integer[Any]]


def solve_core(
    customers: Customers, master: MasterLP, state: DualState, start: NDArray[np.float64], options: SolverOptions,
    clock: Clock, plan: PlanSpec | None = None, attempt: int = 0, last: bool = False,
) -> tuple[SolveResult, PlanSpec]:
    """Steps 4-5: the exact core on the master, from ``plan`` (the best so far, if any), then the
    plan and bound for all customers; ``attempt`` numbers the master's widenings. A ``last`` core
    is widened even when its bound cannot prove the whole: the time left goes to a better plan."""
    solution = state.solution
    core = master.core_problem(state.remaining)
    slots, campaigns = master.columns()
    lp = Relaxation(True, solution.value, solution.prices, solution.x, solution.reduced_costs,
                    choice_duals=solution.choice_duals)
    allowed_gap = gap_allowed(options.mip_gap, state.latest.bound)
    outside = _least_margin_outside(master, state.latest.prices, state.least_outside)
    bound = state.latest.bound
    part = solve_with_relaxation(core, slots, campaigns, lp, options, clock, allowed_gap,
                                 -np.inf if last else bound - outside - state.fixed_value, in_slots(master, plan),
                                 attempt)
    in_core = -np.inf if part.termination is Termination.INFEASIBLE else (
        np.inf if part.bound is None else part.bound + state.fixed_value)
    bound = min(bound, max(in_core, bound - outside))
    termination = part.termination
    if termination is Termination.INFEASIBLE and np.isfinite(outside):
        termination = Termination.TIME_LIMIT  # only plans inside the master were shown impossible
    inside, order = master.sorted_customers()
    spec = PlanSpec(start, inside, np.full(inside.size, NO_CAMPAIGN) if part.choice is None else part.choice[order])
    result = SolveResult(termination, part.status, None, None, bound, part.build_seconds, 0.0, "decompose",
                         int(slots.size), core_pairs=part.core_pairs, shadow_prices=state.latest.prices)
    if part.choice is None:
        return result, spec
    objective = reduce(add, customers.map(parts.plan_totals, spec.start, spec.master, spec.master_choice,
                                          stage="plan")).value
    if bound - objective > allowed_gap and customers.coefficients is not None:
        bound = min(bound, audience_bound_at(customers, state.latest.prices, state.latest.bound, clock))
    return replace(result, objective=objective, bound=max(bound, objective)), spec


def in_slots(master: MasterLP, plan: PlanSpec | None) -> NDArray[np.intp] | None:
    """``plan`` as a campaign per master slot: the customers it decided keep their campaign, those
    who joined the master since keep their best at the plan's start prices, where it held them."""
    if plan is None:
        return None
    ids = master.customers
    choice = master.best_at(plan.start)
    position = np.minimum(np.searchsorted(plan.master, ids), max(plan.master.size - 1, 0))
    decided = plan.master[position] == ids if plan.master.size else np.zeros(ids.size, dtype=bool)
    choice[decided] = plan.master_choice[position[decided]]
    return choice


def _least_margin_outside(master: MasterLP, prices: NDArray[np.float64], fixed_least: float) -> float:
    """t: the least L(λ) loss of moving a fixed customer (``fixed_least``, from the last pass),
    or of a pair the master lacks."""
    t = fixed_least
    adjusted = master.adjusted(prices)
    best = np.maximum(0.0, adjusted.max(axis=1, initial=-np.inf))
    lacking = ~master.has & np.isfinite(adjusted)
    if lacking.any():
        t = min(t, float((best[:, None] - adjusted)[lacking].min()))
    return t


def widen(
    customers: Customers, master: MasterLP, prices: NDArray[np.float64], start: NDArray[np.float64], reach: float
) -> None:
    """Everything within ``reach`` of being chosen joins the master (no better plan lies outside),
    at most MAX_WIDENED customers of least margin (the bound stays true: it is L(λ) less the least
    margin of those left outside)."""
    inside, _ = master.sorted_customers()
    near = reduce(add, customers.map(parts.near, prices, reach + 1e-9, inside, MAX_WIDENED, stage="widen"))
    join(customers, master, near.nearest(MAX_WIDENED), prices, start)
    adjusted = master.adjusted(prices)
    best = np.maximum(0.0, adjusted.max(axis=1, initial=-np.inf))
    master.add_columns(np.arange(master.size), np.isfinite(adjusted) & (best[:, None] - adjusted <= reach + 1e-9))

"""Step 3 of optimizer/solve/decompose.py: the master LP, priced out over all customers.

The master LP (optimizer/solve/master.py) decides its few customers jointly; everyone else keeps
their best at the start prices λ0 and the master's limits shrink by what they use. Its duals λ
are priced out in one pass over all customers:

    L(λ) - z_master = sum over fixed customers of regret + sum over master customers of
                      (best_i - their master dual),

so fixed customers with positive regret join the master, master customers get the column of
their new best, until L(λ) is within DUAL_SHARE of the allowed gap of z_master (column
generation): L(λ) is then the LP optimum over all n·k pairs, found without building that LP.
Where the fixed customers alone overfill a row, those who free it at least loss per unit join
before the master is solved (``held_within``).

A master that cannot meet its rows (its few customers lack what a floor or a budget needs) has
duals set by its slacks' penalties, far from any plan's prices: priced out at them, the customers
who move are those the penalties favour, and the next masters swing (tight 10^7 × 20: L(λ) went
6.2 M, 263 M, 17.7 M, 4.57 M over four rounds of 5-7 s). Such a round is priced out at
λ = SMOOTHING λ_best + (1 - SMOOTHING) λ_master instead (Wentges' smoothing of column generation;
λ_best the prices of the lowest L so far, at first the start prices): L at any prices of their
rows' signs bounds every plan, so only which customers join changes; a master that meets its rows
is priced out at its own duals, so the loop ends as before, with L(λ) at the master's optimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.balancing import Pass, signed_prices
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.lagrangian import adjusted_values
from optimizer.solve.master import MasterLP, MasterSolution, best_columns, held_campaigns
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import NO_CAMPAIGN, CouplingRow, Sense
from optimizer.solve.screening import settled

COLUMNS = 3
MAX_JOINING = 20_000  # customers a partition offers a row at most to free it (releasing)
# Fixed customers whose best moved that join the master a round at most, largest regret first. The
# first masters' prices are far from the last (their few customers set them), so many who move at
# them would not at the optimum; fewer a round keeps the master smaller and each re-solve cheaper.
# Measured (seed 2026, one run each, in seconds, 20,000 -> 10,000 -> 5,000): 10^6 × 20 integer
# 31.4 -> 24.3 -> 24.4, custom 27.0 -> 19.2 -> 17.2, tight 8.7 -> 7.8 -> 6.2, expected 2.1 -> 2.3 -> 2.2;
# 10^7 × 20 expected 20.4 -> 17.5 -> 18.8, variants 48.3 -> 40.2 -> 39.0; 10^5 × 10 the same (fewer move).
# 10,000 rather than 5,000: every extra round is a pass over all customers, on a cluster too.
MAX_MOVERS = 10_000
# Customers each partition offers first to free an overfull row (releasing; a row is asked again
# only where a customer not offered may be cheaper than its last pick). Measured on expected 10^7 ×
# 20 (10 overfull rows, 1,014 customers joining): MAX_JOINING a row and partition took 7.9 s, 2,000
# took 4.2 s, and 2.8 s once only the row's users had their coefficients read; the same 1,014.
FIRST_RELEASE = 2_000
MAX_ROUNDS = 60
DUAL_SHARE = 0.01  # the master loop may leave this share of the allowed gap between L and z_master
RELEASE = 2.0  # customers joining to free an overfull row can give up this many times its excess
RELEASE_ROUNDS = 2  # joinings to free overfull rows before a master round; what is left, the slacks carry
# The weight of the best prices so far where an infeasible master's duals are priced out (module docstring).
# Measured (one run each, s, without -> with): tight 10^7 × 20 35.3 -> 21.1, 10^6 × 20 5.3 -> 1.9; custom 10^6 ×
# 20 11.2 -> 7.4; expected 10^7 × 20 9.8 -> 8.9; variants and wide 10^7 the same (their masters meet their rows).
SMOOTHING = 0.8


@dataclass(frozen=True)
class DualState:
    """Where the price loop ended: its master LP optimum, the last pass, the fixed part, the
    least margin of a fixed customer at the last prices, and the pass of the lowest L(λ) seen."""

    solution: MasterSolution
    latest: Pass
    fixed_value: float
    remaining: NDArray[np.float64]
    least_outside: float
    lowest: Pass


class OutOfTime(Exception):
    """The master LP stopped at the time limit before its optimum; ``lowest``: the pass of the
    lowest L(λ) the price loop had seen (None: none yet), the best prices a repair can start from."""

    def __init__(self, lowest: Pass | None) -> None:
        super().__init__("the master LP ran out of time")
        self.lowest = lowest


def lower(lowest: Pass, other: Pass | None) -> Pass:
    """The pass of the lower L(λ)."""
    return lowest if other is None or other.bound >= lowest.bound else other


def started_master(customers: Customers, balanced: Pass, cap: NDArray[np.float64]) -> MasterLP:
    """The master LP of the customers of smallest margin at the ``balanced`` pass's prices (its
    ``nearest``), each at its best there, its rows elastic at twice their price (at least 1e-6 of
    ``cap``) to begin with."""
    if balanced.nearest is None:
        raise TypeError("a balancing pass without its nearest customers")
    start = balanced.prices
    master = MasterLP(customers.rows, customers.campaign_ids, np.maximum(2.0 * np.abs(start), 1e-6 * cap))
    join(customers, master, balanced.nearest, start, start)
    return master


def join(
    customers: Customers, master: MasterLP, ids: NDArray[np.intp], prices: NDArray[np.float64],
    start: NDArray[np.float64], at_held: bool = True,
) -> None:
    """Gather the rows of new master customers; give each its COLUMNS best campaigns at ``prices``
    and the campaign it held while fixed (its best at ``start``). Unless ``at_held`` is False, the
    master's basis starts each at its held campaign, in the way ``prices`` say keeps the basis
    sparsest (MasterLP.add_customers)."""
    ids = np.sort(ids)
    if ids.size == 0:
        return
    joining = customers.gather(ids)
    everyone = np.arange(joining.n_customers)
    columns = best_columns(adjusted_values(joining, prices, everyone), COLUMNS)
    held = held_campaigns(adjusted_values(joining, start, everyone))
    master.add_customers(joining, customers.shared_weights, columns, held, prices if at_held else None)


def solve_prices(
    customers: Customers, master: MasterLP, start: NDArray[np.float64], cap: NDArray[np.float64],
    options: SolverOptions, clock: Clock,
) -> DualState | None:
    """Step 3: master LP and passes until L(λ) meets the master's value (None: no plan exists)."""
    state, lowest = None, None
    for number in range(MAX_ROUNDS):
        fixed, remaining = held_within(customers, master, start, clock)
        master.set_limits(remaining)
        solution = master.solve(clock.allow())
        if solution is None:
            raise OutOfTime(lowest)
        inside, _ = master.sorted_customers()
        center = start if lowest is None else lowest.prices
        latest, movers, least_outside = _priced_out(customers, start, solution, center, inside, fixed.value)
        lowest = lower(latest, lowest)
        state = DualState(solution, latest, fixed.value, remaining, least_outside, lowest)
        customers.standing(f"master LP {number + 1}", None, latest.bound)
        difference = latest.bound - (solution.value + fixed.value)
        closed = difference <= DUAL_SHARE * options.mip_gap * max(1.0, abs(latest.bound))
        if closed and solution.feasible or clock.expired() or number == MAX_ROUNDS - 1:
            return state  # the master as solved: the core is built on its columns
        lacking = _lacking(master, solution.prices)
        if not solution.feasible:
            if np.all(master.penalties[solution.violated] >= cap[solution.violated]) and movers.size == 0 \
                    and not lacking.any():
                return None  # with everyone priced in, breaking these rows pays at any price a plan could need
            master.raise_penalties(solution.violated, 4.0, cap)
        elif movers.size == 0 and not lacking.any():
            return state
        master.add_columns(np.arange(master.size), lacking)
        join(customers, master, movers, latest.prices, start)
    return state


def held_within(
    customers: Customers, master: MasterLP, start: NDArray[np.float64], clock: Clock
) -> tuple[parts.Totals, NDArray[np.float64]]:
    """The fixed customers' totals and the limits left for the master, b - u. Where the fixed
    customers alone overfill a row (the best at λ0 of everyone outside the master may: λ0
    balances L(λ), not each row), those who give up its room most cheaply join the master first;
    otherwise the master could meet the row only through its slack, and the prices the slack's
    penalty sets would be far from any plan's (measured on the variants kind at 10^6 × 20 from
    prices that left 11 rows overfull by up to 12 %: with the slacks alone L(λ) rose from 5.8 M to
    139 M over four rounds while the penalties grew; with 104k customers joining first, it fell to
    5.82 M in four)."""
    fixed, remaining = _fixed_part(customers, master, start)
    for _ in range(RELEASE_ROUNDS):
        if clock.expired():
            break
        over = overfull(customers.rows, remaining)
        joining = releasing(customers, start, master.sorted_customers()[0], over, -remaining[over])
        if joining.size == 0:
            break
        join(customers, master, joining, start, start, at_held=False)
        fixed, remaining = _fixed_part(customers, master, start)
    return fixed, remaining


def _fixed_part(
    customers: Customers, master: MasterLP, start: NDArray[np.float64]
) -> tuple[parts.Totals, NDArray[np.float64]]:
    """The totals of the customers outside the master (each at its best at ``start``) and b - u."""
    inside, _ = master.sorted_customers()
    fixed = reduce(add, customers.map(parts.plan_totals, start, inside, np.full(inside.size, NO_CAMPAIGN),
                                      stage="fixed"))
    return fixed, settled(customers.rhs - customers.usage(fixed))


def overfull(rows: tuple[CouplingRow, ...], remaining: NDArray[np.float64]) -> NDArray[np.intp]:
    """The <= and == rows the fixed customers alone overfill (the limit left for the master is below 0)."""
    tolerance = 1e-9 * np.maximum(1.0, np.abs([row.rhs for row in rows]))
    return np.flatnonzero((remaining < -tolerance) & np.array([row.sense is not Sense.GE for row in rows], dtype=bool))


def releasing(customers: Customers, start: NDArray[np.float64], inside: NDArray[np.intp], over: NDArray[np.intp],
               excess: NDArray[np.float64]) -> NDArray[np.intp]:
    """Per overfull row, the fixed customers who give up RELEASE × its excess at least loss per
    unit (partitions.releasing), ties broken by customer index. Each partition is asked for its
    FIRST_RELEASE cheapest first; a row whose picks those may not be is asked again for MAX_JOINING."""
    picks, unsure = _cheapest_picks(customers, start, inside, over, excess, FIRST_RELEASE)
    if unsure.any():
        again, _ = _cheapest_picks(customers, start, inside, over[unsure], excess[unsure], MAX_JOINING)
        picks = [pick for pick, redo in zip(picks, unsure) if not redo] + again
    return np.unique(np.concatenate([np.zeros(0, dtype=np.intp), *picks]))


def _cheapest_picks(customers: Customers, start: NDArray[np.float64], inside: NDArray[np.intp],
                    over: NDArray[np.intp], excess: NDArray[np.float64],
                    count: int) -> tuple[list[NDArray[np.intp]], NDArray[np.bool_]]:
    """Per row, the customers ``releasing`` picks from the ``count`` cheapest of each partition,
    and whether they may not be the cheapest of all: a customer some partition did not give may
    lose less than the last pick (or, where the picks cannot free the row, exists at all)."""
    if over.size == 0:
        return [], np.zeros(0, dtype=bool)
    found = reduce(add, customers.map(parts.releasing, start, inside, over, count, stage="release"))
    picks, unsure = [], np.zeros(over.size, dtype=bool)
    for position, (r, needed) in enumerate(zip(over, excess)):
        mine = np.flatnonzero(found.rows == r)
        order = mine[np.lexsort((found.customers[mine], found.loss[mine]))]
        freed = np.cumsum(found.units[order])
        enough = int(np.searchsorted(freed, RELEASE * needed)) + 1
        last = found.loss[order[enough - 1]] if enough <= order.size else np.inf  # inf: they cannot free it
        unsure[position] = last > found.least_unseen(int(r))
        picks.append(found.customers[order[:enough]])
    return picks, unsure


def _priced_out(customers: Customers, start: NDArray[np.float64], solution: MasterSolution,
                center: NDArray[np.float64], inside: NDArray[np.intp],
                fixed_value: float) -> tuple[Pass, NDArray[np.intp], float]:
    """``_price_round`` at the master's duals or, for a master that breaks its rows, at SMOOTHING ×
    ``center`` + (1 - SMOOTHING) × its duals (module docstring); at its duals after all when nobody
    moves at the smoothed prices, so that 'no plan exists' is only ever concluded at them."""
    value = solution.value + fixed_value
    if not solution.feasible:
        smoothed = _price_round(customers, start, SMOOTHING * center + (1.0 - SMOOTHING) * solution.prices, inside,
                                value)
        if smoothed[1].size:
            return smoothed
    return _price_round(customers, start, solution.prices, inside, value)


def _price_round(customers: Customers, start: NDArray[np.float64], prices: NDArray[np.float64],
                 inside: NDArray[np.intp], value: float) -> tuple[Pass, NDArray[np.intp], float]:
    """One pass at the master's prices (clipped to their rows' signs: HiGHS's duals may be a
    tolerance off, and only there does L bound every plan): L(λ) and usages, the fixed customers
    whose best moved (at most MAX_MOVERS, largest regret first; regret above 1e-9 of the plan's
    value per customer) and the least margin of the fixed customers that did not move."""
    prices = signed_prices(customers.rows, prices)
    least = 1e-9 * (1.0 + abs(value) / max(1, customers.n))
    found = reduce(add, customers.map(parts.price_round, start, prices, inside, MAX_MOVERS, least, stage="pass"))
    latest = Pass(prices, found.totals.value + float(prices @ customers.rhs), customers.usage(found.totals))
    return latest, parts.least_first(found.movers, -found.regret, MAX_MOVERS), found.least_outside


def _lacking(master: MasterLP, prices: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Mask (by slot) of each master customer's best campaign at ``prices`` where the master lacks it."""
    lacking = np.zeros_like(master.has)
    if master.size == 0:
        return lacking
    adjusted = master.adjusted(prices)  # -inf where not eligible: never the argmax of a finite row
    best = np.argmax(adjusted, axis=1)
    rows = np.arange(master.size)
    wants = (adjusted[rows, best] > 0) & ~master.has[rows, best]
    lacking[rows[wants], best[wants]] = True
    return lacking

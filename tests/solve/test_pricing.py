"""optimizer/solve/pricing.py: the master LP's price loop over all customers."""

from __future__ import annotations

from functools import reduce
from itertools import groupby
from operator import add

import highspy
import numpy as np
import pytest
from instances import medium_problem

from optimizer.solve import partitions as parts, pricing
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.master import MasterLP, held_campaigns
from optimizer.solve.problem import Sense
from optimizer.solve.relaxation import solve_relaxation


def test_fixed_customers_who_overfill_a_row_join_the_master_before_it_is_solved():
    """Held at prices 0 (everyone's best), the customers outside an empty master overfill the
    budget and budget[k1]; those who free twice the excess most cheaply join, after which no <=
    row is overfull and the master can meet every limit without its slack."""
    problem = medium_problem(2, n=600)
    customers = Customers(priced_problem(problem))
    master = MasterLP(customers.rows, customers.campaign_ids, np.full(4, 1e3))
    start = np.zeros(4)
    overfull = customers.usage(reduce(add, customers.map(parts.pass_totals, start))) - customers.rhs
    assert overfull[0] > 0 and overfull[1] > 0
    _, remaining = pricing.held_within(customers, master, start, Clock.start(60.0))
    assert 0 < master.size < 600
    le = [r for r, row in enumerate(customers.rows) if row.sense is Sense.LE]
    assert np.all(remaining[le] >= 0)
    master.set_limits(remaining)
    assert master.solve(60.0).feasible


def test_joining_customers_start_at_their_held_campaign_as_the_prices_they_join_at_say():
    """Held: their best at the start prices (0 here). Those with no other campaign worth anything
    at the prices they join at (the LP optimum's), not at the start prices, start with their held
    column at its upper bound and their choice row basic. Joining to free a row: at nothing."""
    problem = medium_problem(2)
    customers = Customers(priced_problem(problem))
    prices = solve_relaxation(problem, *problem.candidate_pairs()).shadow_prices
    start, ids = np.zeros(len(customers.rows)), np.arange(0, customers.n, 2)
    for at_held in (True, False):
        master = MasterLP(customers.rows, customers.campaign_ids, np.full(len(customers.rows), 1e6))
        pricing.join(customers, master, ids, prices, start, at_held)
        held = held_campaigns(master.adjusted(start))
        holding = np.flatnonzero(held >= 0)
        basis = master.highs.getBasis()
        column = np.array(basis.col_status)[master.n_slacks + master.position[holding, held[holding]]]
        row = np.array(basis.row_status)[master.m + holding]
        at_bound = column == highspy.HighsBasisStatus.kUpper
        if at_held:
            alone, alone_at_start = (_alone(master.adjusted(at)[holding], held[holding]) for at in (prices, start))
            assert 0 < alone.sum() < holding.size and (alone != alone_at_start).any()
            assert all(at_bound == alone) and all(row[alone] == highspy.HighsBasisStatus.kBasic)
            assert all(column[~alone] == highspy.HighsBasisStatus.kBasic)
        else:
            assert not at_bound.any() and all(row == highspy.HighsBasisStatus.kBasic)


def _alone(adjusted: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Customers with no campaign but the held one worth anything."""
    others = adjusted.copy()
    others[np.arange(held.size), held] = -np.inf
    return ~(others > 0).any(axis=1)


@pytest.mark.parametrize("partition_size", [2**20, 37])
@pytest.mark.parametrize("first", [1, 3, 40, 1_000])
def test_rows_whose_first_picks_may_not_be_the_cheapest_are_asked_again(monkeypatch, partition_size, first):
    """Whatever each partition gives first (FIRST_RELEASE customers a row) and however many
    partitions there are (1 or 17), the customers who join are the cheapest of all: those of one
    ask for MAX_JOINING, which no partition here has. Only rows whose first picks may not be the
    cheapest are asked again, not every row that needs more customers than each partition gave.
    Held at prices 0, the fixed customers overfill three rows; the test frees 120, 1 and 8 units."""
    monkeypatch.setattr("optimizer.solve.customers.CHUNK", partition_size)
    customers = Customers(priced_problem(medium_problem(2, n=600)))
    start, inside = np.zeros(4), np.zeros(0, dtype=np.intp)
    remaining = customers.rhs - customers.usage(reduce(add, customers.map(parts.pass_totals, start)))
    over = pricing.overfull(customers.rows, remaining)
    excess = np.minimum(-remaining[over], [120.0, 1.0, 8.0])
    assert over.size == 3 and len(customers.partitions) == (1 if partition_size > 600 else 17)
    asked: list[int] = []
    releasing = parts.releasing

    def recording(*args):
        asked.append(args[-1])
        return releasing(*args)

    monkeypatch.setattr(parts, "releasing", recording)
    at_once = pricing._cheapest_picks(customers, start, inside, over, excess, pricing.MAX_JOINING)[0]
    picks, unsure = pricing._cheapest_picks(customers, start, inside, over, excess, first)
    asked.clear()
    monkeypatch.setattr(pricing, "FIRST_RELEASE", first)
    assert np.array_equal(pricing.releasing(customers, start, inside, over, excess), np.unique(np.concatenate(at_once)))
    asks = [count for count, _ in groupby(asked)]  # every partition is asked once an ask
    assert asks == ([first, pricing.MAX_JOINING] if unsure.any() else [first])
    assert len(at_once[0]) == 137 and unsure.any() == (first * len(customers.partitions) < 137)
    if first == 3 and partition_size == 37:  # the last row's 16 picks are sure from 3 a partition
        assert len(picks[2]) == len(at_once[2]) == 16 and not unsure[2]


def test_a_master_that_breaks_its_rows_is_priced_out_nearer_the_best_prices(monkeypatch):
    """An infeasible master's duals are its slacks' penalties: priced out at SMOOTHING × the best
    prices so far + the rest × its duals, and at its duals when nobody moves there (so that 'no plan
    exists' is only concluded at them); a master that meets its rows, at its own duals."""
    from optimizer.solve.master import MasterSolution

    seen, moving = [], {"first": True}

    def recorded(customers, start, prices, inside, value):
        seen.append(np.asarray(prices, dtype=float))
        movers = np.arange(3) if len(seen) == 1 and moving["first"] else np.zeros(0, dtype=np.intp)
        return pricing.Pass(prices, 0.0, np.zeros(2)), movers, 0.0

    monkeypatch.setattr(pricing, "_price_round", recorded)
    center, duals = np.array([1.0, 0.0]), np.array([101.0, -50.0])
    broken = MasterSolution(0.0, duals, np.zeros(1), np.zeros(1), np.array([0], dtype=np.int32), np.zeros(1))
    for first, expected in ((True, [[21.0, -10.0]]), (False, [[21.0, -10.0], [101.0, -50.0]])):
        seen.clear()
        moving["first"] = first
        pricing._priced_out(None, center, broken, center, np.zeros(0, dtype=np.intp), 0.0)
        assert np.allclose(seen, expected)
    seen.clear()
    met = MasterSolution(0.0, duals, np.zeros(1), np.zeros(1), np.zeros(0, dtype=np.int32), np.zeros(1))
    pricing._priced_out(None, center, met, center, np.zeros(0, dtype=np.intp), 0.0)
    assert np.allclose(seen, [duals])

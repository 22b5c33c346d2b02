"""optimizer/solve/pricing.py: the master LP's price loop over all customers."""

from __future__ import annotations

from functools import reduce
from operator import add

import highspy
import numpy as np
from instances import medium_problem

from optimizer.solve import partitions as parts, pricing
from optimizer.solve.clock import Clock
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.master import MasterLP
from optimizer.solve.partitions import Customers
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
        held = pricing._held(master.adjusted(start))
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


def test_rows_the_first_customers_asked_cannot_free_are_asked_again_for_more(monkeypatch):
    """Held at prices 0, the fixed customers overfill rows by far more than one customer frees:
    with FIRST_RELEASE = 1 they are asked again for MAX_JOINING, and the customers who join are
    those asked for MAX_JOINING at once. With FIRST_RELEASE above the customers there are, one ask
    is enough (even where all of them cannot free RELEASE × the excess)."""
    problem = medium_problem(2, n=600)
    customers = Customers(priced_problem(problem))
    start, inside = np.zeros(4), np.zeros(0, dtype=np.intp)
    remaining = customers.rhs - customers.usage(reduce(add, customers.map(parts.pass_totals, start)))
    over = pricing._overfull(customers.rows, remaining)
    asked: list[int] = []
    releasing = parts.releasing

    def counted(*args):
        asked.append(args[-1])
        return releasing(*args)

    monkeypatch.setattr(parts, "releasing", counted)
    monkeypatch.setattr(pricing, "FIRST_RELEASE", 1_000)
    at_once = pricing._releasing(customers, start, inside, over, -remaining[over])
    assert asked == [1_000] and over.size >= 2 and 2 < at_once.size < 600
    asked.clear()
    monkeypatch.setattr(pricing, "FIRST_RELEASE", 1)
    again = pricing._releasing(customers, start, inside, over, -remaining[over])
    assert asked == [1, pricing.MAX_JOINING] and np.array_equal(again, at_once)

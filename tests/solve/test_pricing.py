"""optimizer/solve/pricing.py: the master LP's price loop over all customers."""

from __future__ import annotations

from functools import reduce
from operator import add

import numpy as np
from instances import medium_problem

from optimizer.solve import partitions as parts, pricing
from optimizer.solve.clock import Clock
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.master import MasterLP
from optimizer.solve.partitions import Customers
from optimizer.solve.problem import Sense


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

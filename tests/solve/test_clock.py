"""optimizer/solve/clock.py: every HiGHS run gets the time that is really left.

highspy counts a Highs object's run time over all its runs; a time limit set as "seconds from now"
would stop the later runs of one object at once. These tests fail with that mistake."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from instances import medium_problem

from optimizer.solve.clock import LEAST_STEP, Clock, highs_time_limit
from optimizer.solve.lagrangian import priced_problem
from optimizer.solve.master import MasterLP
from optimizer.solve.relaxation import INF, highs_model


def slow_lp(n: int = 1_000, m: int = 200):
    """An LP that takes about 0.04 s from scratch."""
    rng = np.random.default_rng(0)
    matrix = sp.random(m, n, density=0.05, random_state=1, format="csr")
    return highs_model(rng.random(n), np.zeros(n), np.ones(n), matrix, np.full(m, -INF), 3 * rng.random(m),
                       maximise=True)


def test_later_runs_of_one_highs_get_their_own_time() -> None:
    highs = slow_lp()
    statuses = []
    for _ in range(12):  # 12 runs of ~0.04 s: about twice 0.25 s in all
        highs.clearSolver()
        highs_time_limit(highs, 0.25)
        highs.run()
        statuses.append(highs.getModelStatus().name)
    assert statuses == ["kOptimal"] * 12
    assert highs.getRunTime() > 0.25, "the runs took more than one limit in all, as the test intends"


def test_the_master_lp_solves_again_and_again_within_its_limit() -> None:
    """Each master solve is given three times what the first took (at least 0.3 s, so a loaded
    machine does not fail it); forced to start afresh each time, the solves add up to several times
    that limit, and every one still finishes."""
    priced = priced_problem(medium_problem(3, n=3_000, k=6))
    master = MasterLP(priced.rows, priced.campaign_ids, np.full(len(priced.rows), 100.0))
    columns = np.isfinite(priced.value)
    master.add_customers(priced.take(np.arange(3_000), np.arange(3_000), shared=False), False, columns,
                         np.full(3_000, -1), None)
    started = time.perf_counter()
    assert master.solve(10.0) is not None
    limit = max(0.3, 3 * (time.perf_counter() - started))
    for round_number in range(1, 10):
        master.set_limits(priced.rhs * (1.0 + 0.01 * round_number))
        master.highs.clearSolver()
        assert master.solve(limit) is not None, f"solve {round_number + 1} had no time left"
    assert master.highs.getRunTime() > limit, "the solves took more than one limit in all, as the test intends"


def test_the_clock_gives_a_last_step_some_time() -> None:
    clock = Clock(started=0.0, limit=1.0)  # started long ago: expired
    assert clock.expired() and clock.remaining() == 0.0
    assert clock.allow() == LEAST_STEP
    assert Clock.start(10.0).allow(2.0) == 2.0
    assert Clock.start(10.0).reserving(3.0).limit == 7.0

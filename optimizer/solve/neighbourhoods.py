"""Neighbourhood search: a plan close to z_LP from many small cores around the LP optimum.

A core that frees every pair within reach of z_LP proves the gap, but HiGHS's branch and bound on
it is slow when rows weigh pairs unevenly (expected spend, custom rows): 8-120 s on ~10^4 pairs.
Most of that time goes to finding a plan, not to the bound: with the optimum given as a start the
same core closed in 1.0 s instead of 8.5 s (expected 100,000 × 10). And a plan within the allowed
gap of z_LP needs no core at all, z_LP bounds it. So before the wide core, rounds of small cores
improve the plan (large-neighbourhood search). Each round frees

- every fractional pair of the LP optimum,
- every pair where the plan so far differs from the LP optimum's rounding (so the plan is feasible
  in the round's core, given to HiGHS as its start, and the round can only improve it),
- PER_CAMPAIGN pairs drawn at random (seeded: the same rounds each run) from each campaign's POOL
  pairs of least |d_p|, where the LP is closest to choosing otherwise,

fixes the rest at the LP optimum and solves that core for at most ROUND_SECONDS of a CPU: a round
is given ROUND_SECONDS divided by the share of a CPU the round before got (its CPU over its wall
time; the first round, the solve's share so far, at least FIRST_SHARE). With the wall time
alone, a loaded machine's rounds did less, the first core's plan was worse, and the widened
master grew past recovery (variants 10^6 × 20 beside two busy processes: 95 s `time_limit`
against 6.9 s alone; with the share, 14.9-18.5 s, proven). Measured on the
bench (docs/benchmarks.md, 2026-12-05): expected spend at 100,000 × 10 is proven in 1.3 s in all,
where a first core of 10,000 pairs took 9.6 s; at 10^6 × 20 in 2.5 s against 6.1 s. On custom rows
the rounds stall 0.37 below z_LP (0.17 allowed) and the widened core has to prove it (15.2 s). The
instance matters: over five seeds (bench/seeds.py, 2026-12-05) expected spend at 10^5 × 10 took
1.6-61 s and one of the five stalled unproven (decompose.py then gives its master one last core).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.clock import Clock, cpu_seconds
from optimizer.solve.results import SolveResult

ROUNDS = 8
PER_CAMPAIGN = 100
POOL = 500
ROUND_SECONDS = 1.0  # of a whole CPU: a round that got a share of one has ROUND_SECONDS / share of wall time
LEAST_SHARE = 0.25  # a round's wall time is at most ROUND_SECONDS / LEAST_SHARE
SHARE_MIN_WALL = 0.2  # a round shorter than this (s) says nothing of the CPU it got
FIRST_SHARE = 0.5  # the least share the first round is given: a solve that waited on a cluster used little CPU
STALLED = 3  # rounds in a row that find no better plan end the search
KEPT_FOR_PROOF = 0.5  # the rounds stop once less than this share of the time they started with is left
SEED = 20_261_205

# A round: the pairs its core frees, the plan it starts from and improves, and its own clock.
SolveCore = Callable[[NDArray[np.bool_], SolveResult | None, Clock], SolveResult]


def improve(
    distance: NDArray[np.float64], campaigns: NDArray[np.intp], fractional: NDArray[np.bool_],
    plan: SolveResult | None, differs: Callable[[SolveResult | None], NDArray[np.bool_]],
    proven: Callable[[SolveResult | None], bool], solve_core: SolveCore, clock: Clock, attempt: int = 0,
) -> SolveResult | None:
    """The best plan of up to ROUNDS rounds (module docstring) started from ``plan`` (None: none yet).

    ``distance`` is |d_p| over the candidate pairs, ``differs(plan)`` the pairs where a plan
    differs from the LP optimum's rounding (none without a plan); the rounds stop once
    ``proven(plan)`` (its bound, at most z_LP, proves it), after STALLED rounds in a row without a
    better plan, or with KEPT_FOR_PROOF of the time they started with left. Each ``attempt`` (a
    caller's n-th search on the same customers) draws its own pairs, so a repeat does not only
    redo the last one's rounds.
    """
    rng = np.random.default_rng([SEED, attempt])
    pools = [_nearest(distance, np.flatnonzero(campaigns == j)) for j in np.unique(campaigns)]
    stop, stalled, share = clock.remaining() * KEPT_FOR_PROOF, 0, _first_share(clock)
    for _ in range(ROUNDS):
        if proven(plan) or clock.remaining() <= stop or stalled == STALLED:
            break
        core = fractional.copy()
        for pool in pools:
            core[rng.choice(pool, min(PER_CAMPAIGN, pool.size), replace=False)] = True
        core |= differs(plan)
        started, cpu = time.perf_counter(), cpu_seconds()
        found = solve_core(core, plan, Clock.start(clock.allow(ROUND_SECONDS / share)))
        share = _cpu_share(time.perf_counter() - started, cpu_seconds() - cpu, share)
        better = found.objective is not None and (plan is None or plan.objective is None
                                                  or found.objective > plan.objective)
        stalled = 0 if better else stalled + 1
        if found.choice is not None:
            plan = found
    return plan


def _first_share(clock: Clock) -> float:
    """The share of a CPU the first round is taken to get: the solve's so far (its CPU over its
    wall time, from ``clock``), at least FIRST_SHARE; 1 when the solve is too young to tell. A
    first round given a whole CPU's wall time on a loaded machine did half its work: the partitioned
    weekly example's second round needs 0.9 s of its 1 s alone."""
    used = clock.cpu_used()
    return 1.0 if used is None else max(FIRST_SHARE, _cpu_share(clock.elapsed(), used, 1.0))


def _cpu_share(wall: float, cpu: float, last: float) -> float:
    """The share of a CPU the last round got (its CPU over its wall seconds, between LEAST_SHARE and
    1), or ``last`` after a round too short to tell or one that hardly used a CPU at all (no HiGHS
    run in it, or a platform that cannot count a child's time)."""
    if wall < SHARE_MIN_WALL or cpu < 0.5 * LEAST_SHARE * wall:
        return last
    return min(1.0, max(LEAST_SHARE, cpu / wall))


def _nearest(distance: NDArray[np.float64], pairs: NDArray[np.intp]) -> NDArray[np.intp]:
    """The POOL of ``pairs`` with least |d_p|."""
    return pairs[np.argsort(distance[pairs], kind="stable")[:POOL]]

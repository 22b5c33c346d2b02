"""Start prices at scale: the LP optimum of the largest hashed sample, by the decomposition's own loop.

The passes over everyone (optimizer/solve/decompose.py, steps 2-3) start from the samples'
balanced prices. Balancing moves one row's price at a time, and where rows are coupled (a custom
cap and the minimum audiences that compete for the same customers, a budget just above what two
minimum audiences cost) it crawls along their ridge and stops (balancing.CRAWL) with rows still
off their limits by thousands of customers. At 10^6 customers the master LP's MASTER customers
(1 %) move the rows the rest of the way in a few rounds; at 10^7 (0.1 %) they cannot, its duals
fall to 0 on rows whose room they cannot use, and every customer priced out at 0 moves.

So above SAMPLE_LP_ABOVE customers the same loop runs first on the largest sample (about
balancing.COARSE[-1] customers, every limit scaled by its share): one balancing pass for its
customers of smallest margin, then the master LP priced out over the sample until L(λ) meets its
value (pricing.solve_prices). Its duals λ_s are the sample's LP optimum, the whole's up to the
sample's error, and the passes over everyone start there. They are kept only when they lower the
sample's L(λ) by more than SAMPLE_LP_GAPS allowed gaps: otherwise the balanced prices were
already the sample's optimum and the run goes on exactly as without.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from optimizer.solve.balancing import COARSE, balance, scaled_customers
from optimizer.solve.clock import Clock
from optimizer.solve.customers import Customers
from optimizer.solve.options import SolverOptions
from optimizer.solve.pricing import OutOfTime, solve_prices, started_master
from optimizer.solve.results import gap_allowed

# Customers above which the passes over everyone start from the largest sample's LP (as the screen,
# from screening.SCREEN_ABOVE: only a screen given up leads there). Measured (seed 2026, 120 s,
# 10^7 × 20, from the samples' prices -> from the sample's LP, traced; the bench's in brackets):
# tight 21.7 -> 10.6 s (10.4 s); custom stopped at the limit with gap 4.8e-2 (its masters' L 44-53 M
# against 22.6 M balanced) -> proven in 49.6 s (50.8 s); variants' sample LP lowered the sample's L
# by 2e-8 of it (kept out by SAMPLE_LP_GAPS). At 10^6 the master holds 1 % of the customers and
# meets the rows itself.
SAMPLE_LP_ABOVE = 4_000_000
SAMPLE_LP_GAPS = 10.0
SAMPLE_LP_SHARE = 0.25  # of the time left, at most, for the sample's loop
SAMPLE_LP_LEAST_S = 1.0  # and not at all with less than this (at 10^7 it took 0.7-13.8 s)


def sample_lp_prices(customers: Customers, prices: NDArray[np.float64], options: SolverOptions,
                     master_size: Callable[[int], int], clock: Clock) -> NDArray[np.float64]:
    """The largest sample's LP duals, started from the samples' balanced ``prices`` with the
    ``master_size(customers in the sample)`` of smallest margin in its master (module docstring);
    ``prices`` below SAMPLE_LP_ABOVE customers, with less than SAMPLE_LP_LEAST_S of its share of
    the time, or where the LP lowers the sample's L(λ) too little, has no plan, or its master LP
    is cut by the time limit. (The sample is drawn again rather than kept from the samples' prices:
    at 10^7 × 20 with custom rows it is a GB, and the screen in between needs the memory.)"""
    own = clock.reserving((1.0 - SAMPLE_LP_SHARE) * clock.remaining())
    if customers.n < SAMPLE_LP_ABOVE or own.remaining() < SAMPLE_LP_LEAST_S:
        return prices
    sample = customers.sample(COARSE[-1] / customers.n, keep_dtype=True)
    scaled = scaled_customers(sample, customers.n, sample.price_scale)
    cap = 1e4 * sample.price_scale
    balanced = balance(scaled, prices, cap, 0.0, own, master_size(scaled.n), passes=1)
    try:
        state = solve_prices(scaled, started_master(scaled, balanced, cap), balanced.prices, cap, options, own)
    except OutOfTime:
        return prices
    if state is None or balanced.bound - state.lowest.bound <= SAMPLE_LP_GAPS * gap_allowed(
            options.mip_gap, balanced.bound):
        return prices
    customers.standing("sample LP prices", None, None)
    return state.lowest.prices

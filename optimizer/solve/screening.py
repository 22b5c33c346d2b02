"""Screening: one pass over every customer, then the decomposition on the few whose choice is in doubt.

At prices λ̂ (from the sample levels, optimizer/solve/balancing.py) one pass gives every customer i its
priced-out best option c_i and its margin g_i over the runner-up. When every row has one
coefficient a_rj per campaign (audiences, capacities, budgets of one cost per contact), moving the
prices to λ changes the priced-out difference between any two options of any customer by at most

    shift(λ - λ̂) = max_j Δμ_j - min_j Δμ_j   over the campaigns and nothing (Δμ_none = 0),
                   Δμ = Aᵀ(λ - λ̂),

so every customer with g_i >= T keeps c_i at every λ of the region shift(λ - λ̂) < T. The customers
below T (the candidates, about SCREEN_SHARE of everyone, T read off the sampled margins) are
gathered; the others are fixed at c_i, and with V and U the value and row use of their choices,

    L(λ) = L_C(λ) + V   in the region,   L_C the Lagrangian of the candidates under limits b - U.

The candidates under b - U are an assignment problem of their own (the reduced problem), which
optimizer/solve/decompose.py solves from λ̂. Its plan and everyone else's c_i make a plan for all, and

    B = min(L(λ), Φ(μ) + h(μ)),   L(λ) = V + L_C(λ),
    bound = min(B, max(V + reduced bound, B - (T - shift(λ - λ̂))))

for the reduced problem's last prices λ, if they are in the region, with Φ + h the audience-size
bound at μ = Aᵀλ (optimizer/solve/audiences.py; the pass also counts each campaign's eligible
customers): a plan keeping every c_i is worth at most V + the reduced bound; one moving a customer
outside the candidates, whose margin at λ is at least T - shift, at most B minus that margin
(optimizer/solve/lagrangian.py). When the prices leave the region, or the bound does not prove the
plan, the decomposition runs over everyone. One pass over all customers and a few over the
candidates take the place of the passes over everyone.

With a weight that differs per customer (a budget of expected spend) a price move's effect on a
customer depends on that customer's coefficients, and the worst case over everyone (the most
expensive campaign's) left no useful region on the weekly scenario: those problems are not
screened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.audiences import AUDIENCE_LIMIT_S, audience_bound, audiences_exist
from optimizer.solve.lagrangian import PricedProblem, plan_sums, price_out
from optimizer.solve.partitions import Customers
from optimizer.solve.problem import CouplingRow

SCREEN_ABOVE = 4_000_000  # customers from which the decomposition screens
SCREEN_SHARE = 0.03  # measured at 10M × 20: the 1M sample's prices were 0.0049 from the optimum, the 1.4 % quantile
SCREEN_MAX = 2_000_000  # candidates gathered at most (their rows go to the driver: 160 MB at 20 campaigns)
LIMIT_DIGITS = 12  # significant digits limits are rounded to (``settled``)


@dataclass(frozen=True)
class Screen:
    """What the screening pass at ``prices`` fixed: the candidates (sorted global indices) and the
    reduced problem (their rows, named by position 0..K-1, under limits b - U), the region's
    radius T (the least margin of the others), the value and row use of the fixed customers,
    L(λ̂) over everyone; the rows, their coefficients A (m, k), each campaign's eligible
    customers and the number of customers (for the audience-size bound)."""

    prices: NDArray[np.float64]
    candidates: NDArray[np.intp]
    reduced: PricedProblem
    radius: float
    fixed_value: float
    fixed_usage: NDArray[np.float64]
    lagrangian: float
    coefficients: NDArray[np.float64]
    rows: tuple[CouplingRow, ...]
    eligible: NDArray[np.float64]
    n_customers: int

    def shift(self, prices: NDArray[np.float64]) -> float:
        """The most a move from λ̂ to ``prices`` changes any customer's priced-out difference of two options."""
        campaign_moves = np.r_[(np.asarray(prices, dtype=float) - self.prices) @ self.coefficients, 0.0]
        return float(campaign_moves.max() - campaign_moves.min())

    def covers(self, prices: NDArray[np.float64] | None) -> bool:
        """True when no fixed customer's choice can change at ``prices``."""
        return prices is not None and self.shift(prices) < self.radius * (1 - 1e-9) - 1e-12

    def bound(self, reduced_bound: float, reduced_lagrangian: float, prices: NDArray[np.float64],
              time_limit: float = AUDIENCE_LIMIT_S) -> float:
        """The bound for all customers (module docstring) from the reduced problem's bound and
        L_C at its last ``prices``, which must be covered."""
        lagrangian = self.fixed_value + reduced_lagrangian
        customer_total = lagrangian - float(prices @ np.array([row.rhs for row in self.rows]))
        audiences = audience_bound(self.rows, self.coefficients, prices @ self.coefficients, customer_total,
                                   self.eligible, self.n_customers, time_limit)
        whole = min(lagrangian, audiences)
        return min(whole, max(self.fixed_value + reduced_bound, whole - (self.radius - self.shift(prices))))

    def meetable(self, time_limit: float = AUDIENCE_LIMIT_S) -> bool:
        """Whether the candidates' audience sizes can meet the limits b - U the fixed customers
        leave (optimizer/solve/audiences.py). When they cannot, the sample prices fixed too many
        customers where a limit needs others, and the reduced problem has no plan (measured on
        tight 10^7 × 20: a budget left 6,846 for 172k more e-mails the minimum audiences need; its
        master LP raised its penalties for 37 s before it said so; this check takes 10 ms)."""
        eligible = np.isfinite(self.reduced.value).sum(axis=0)
        slack = np.array([row.slack() for row in self.rows])  # what the whole plan's rows allow
        return audiences_exist(self.reduced.rows, self.coefficients, eligible, self.reduced.n_customers, slack,
                               time_limit)

    def reduced_gap(self, mip_gap: float) -> float:
        """The relative gap that, on the reduced problem, is half the whole problem's allowed gap."""
        reduced = self.lagrangian - self.fixed_value
        return 0.5 * mip_gap * max(1.0, abs(self.lagrangian)) / max(1.0, abs(reduced))


def applies(customers: Customers, margins: NDArray[np.float64] | None) -> bool:
    """Screen when there are many customers, sampled margins, and one coefficient per campaign."""
    return customers.n >= SCREEN_ABOVE and margins is not None and customers.coefficients is not None


def threshold(margins: NDArray[np.float64], n_customers: int) -> float:
    """T: the quantile of sampled margins below which about SCREEN_SHARE of the customers fall,
    at most SCREEN_MAX of them (at least the smallest positive margin)."""
    share = min(SCREEN_SHARE, SCREEN_MAX / max(1, n_customers))
    smallest = margins[margins > 0].min(initial=np.inf)
    return float(max(np.quantile(margins, share), smallest if np.isfinite(smallest) else 0.0))


def screen(customers: Customers, prices: NDArray[np.float64], below: float) -> Screen:
    """One pass at ``prices``: the customers of margin below ``below`` are gathered as the reduced
    problem, everyone else is fixed."""
    if customers.coefficients is None:
        raise TypeError("screening needs one coefficient per campaign in every row (see applies)")
    found = reduce(add, customers.map(parts.screening_totals, prices, below, stage="screen"))
    candidates = np.sort(found.candidates)
    rows = customers.gather(candidates, keep_dtype=True)
    value, weight_sums, counts = plan_sums(rows, price_out(rows, prices).choice)
    usage = customers.usage(found.totals)
    fixed_usage = usage - rows.row_usage(weight_sums, counts)
    fixed_value = found.totals.value + float(prices @ usage) - value
    limits = settled(customers.rhs - fixed_usage)
    reduced = replace(rows, customer_ids=np.arange(rows.n_customers),
                      rows=tuple(replace(row, rhs=float(b)) for row, b in zip(rows.rows, limits)))
    return Screen(prices, candidates, reduced, found.least_outside, fixed_value, fixed_usage,
                  found.totals.value + float(prices @ customers.rhs), customers.coefficients, customers.rows,
                  found.eligible, customers.n)


def settled(limits: NDArray[np.float64]) -> NDArray[np.float64]:
    """Limits rounded to LIMIT_DIGITS significant digits. A sum of usages has last bits that
    depend on the order of summation (the number of partitions), while an integer combination of
    round costs can meet a limit exactly; rounded, what is solved is the same whatever the
    partitioning (the change is far below the 1e-6 feasibility tolerance)."""
    magnitude = np.floor(np.log10(np.maximum(np.abs(limits), 1.0)))
    scale = 10.0 ** (LIMIT_DIGITS - 1 - magnitude)
    return np.round(limits * scale) / scale

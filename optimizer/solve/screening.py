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
expensive campaign's) left no useful region on the weekly scenario. There the region is replaced
by a second pass, at the reduced problem's last prices λ: it gives L(λ) over everyone and t, the
least margin at λ of a fixed customer whose c_i is still its best (0 if some c_i is not), and

    bound = min(L(λ), max(V + reduced bound, L(λ) - t))

(``verified``: decompose.py's step 5 with the candidates as its master). Three passes over
everyone (the screen, the plan's value, this one) and a few over the candidates take the place of
the ten or more over everyone that the decomposition makes on such rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from operator import add

import numpy as np
from numpy.typing import NDArray

from optimizer.solve import partitions as parts
from optimizer.solve.audiences import AUDIENCE_LIMIT_S, audience_bound, audiences_exist
from optimizer.solve.customers import Customers
from optimizer.solve.lagrangian import PricedProblem, plan_sums, price_out, stack
from optimizer.solve.problem import CouplingRow, Sense

SCREEN_ABOVE = 4_000_000  # customers from which the decomposition screens
SCREEN_SHARE = 0.03  # measured at 10M × 20: the 1M sample's prices were 0.0049 from the optimum, the 1.4 % quantile
SCREEN_MAX = 2_000_000  # candidates gathered at most (their rows go to the driver: 160 MB at 20 campaigns)
LIMIT_DIGITS = 12  # significant digits limits are rounded to (``settled``)


@dataclass(frozen=True)
class Screen:
    """What the screening pass at ``prices`` fixed: the candidates (sorted global indices) and the
    reduced problem (their rows, named by position 0..K-1, under limits b - U), the region's
    radius T (the least margin of the others), the value and row use of the fixed customers,
    L(λ̂) over everyone; the rows, their coefficients A (m, k; None when a weight differs per
    customer: no region, see ``verified``), each campaign's eligible customers and the number of
    customers (for the audience-size bound)."""

    prices: NDArray[np.float64]
    candidates: NDArray[np.intp]
    reduced: PricedProblem
    radius: float
    fixed_value: float
    fixed_usage: NDArray[np.float64]
    lagrangian: float
    coefficients: NDArray[np.float64] | None
    rows: tuple[CouplingRow, ...]
    eligible: NDArray[np.float64]
    n_customers: int

    def shift(self, prices: NDArray[np.float64]) -> float:
        """The most a move from λ̂ to ``prices`` changes any customer's priced-out difference of two options."""
        campaign_moves = np.r_[(np.asarray(prices, dtype=float) - self.prices) @ self._coefficients(), 0.0]
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
        coefficients = self._coefficients()
        audiences = audience_bound(self.rows, coefficients, prices @ coefficients, customer_total,
                                   self.eligible, self.n_customers, time_limit)
        whole = min(lagrangian, audiences)
        return min(whole, max(self.fixed_value + reduced_bound, whole - (self.radius - self.shift(prices))))

    def meetable(self, time_limit: float = AUDIENCE_LIMIT_S) -> bool:
        """Whether the candidates' audience sizes can meet the limits b - U the fixed customers
        leave (optimizer/solve/audiences.py). When they cannot, the sample prices fixed too many
        customers where a limit needs others, and the reduced problem has no plan (measured on
        tight 10^7 × 20: a budget left 6,846 for 172k more e-mails the minimum audiences need; its
        master LP raised its penalties for 37 s before it said so; this check takes 10 ms). Where a
        weight differs per customer, row by row (``_rows_reachable``)."""
        slack = np.array([row.slack() for row in self.rows])  # what the whole plan's rows allow
        if self.coefficients is None:
            return _rows_reachable(self.reduced, slack)
        eligible = np.isfinite(self.reduced.value).sum(axis=0)
        return audiences_exist(self.reduced.rows, self.coefficients, eligible, self.reduced.n_customers, slack,
                               time_limit)

    def verified(self, customers: Customers, reduced_bound: float,
                 prices: NDArray[np.float64]) -> tuple[float, float]:
        """The bound for all customers from a pass at the reduced problem's last ``prices`` (sign-correct;
        module docstring), min(L(λ), max(V + reduced bound, L(λ) - t)), and L(λ) itself."""
        found = reduce(add, customers.map(parts.price_round, self.prices, prices, self.candidates, 0, np.inf,
                                          stage="pass"))
        lagrangian = found.totals.value + float(prices @ customers.rhs)
        return min(lagrangian, max(self.fixed_value + reduced_bound, lagrangian - found.least_outside)), lagrangian

    def _coefficients(self) -> NDArray[np.float64]:
        if self.coefficients is None:
            raise TypeError("a screen without one coefficient per campaign has no region (see verified)")
        return self.coefficients

    def reduced_gap(self, mip_gap: float) -> float:
        """The relative gap that, on the reduced problem, is half the whole problem's allowed gap."""
        reduced = self.lagrangian - self.fixed_value
        return 0.5 * mip_gap * max(1.0, abs(self.lagrangian)) / max(1.0, abs(reduced))


def applies(customers: Customers, margins: NDArray[np.float64] | None) -> bool:
    """Screen when there are many customers and sampled margins."""
    return customers.n >= SCREEN_ABOVE and margins is not None


def threshold(margins: NDArray[np.float64], n_customers: int) -> float:
    """T: the quantile of sampled margins below which about SCREEN_SHARE of the customers fall,
    at most SCREEN_MAX of them (at least the smallest positive margin)."""
    share = min(SCREEN_SHARE, SCREEN_MAX / max(1, n_customers))
    smallest = margins[margins > 0].min(initial=np.inf)
    return float(max(np.quantile(margins, share), smallest if np.isfinite(smallest) else 0.0))


def screen(customers: Customers, prices: NDArray[np.float64], below: float) -> Screen:
    """One pass at ``prices``: the customers of margin below ``below`` are gathered as the reduced
    problem, everyone else is fixed."""
    found = reduce(add, customers.map(parts.screening_totals, prices, below, stage="screen"))
    candidates = np.sort(found.candidates)
    rows = customers.gather(candidates, keep_dtype=True)
    value, used = _chosen(rows, prices)
    usage = customers.usage(found.totals)
    fixed_usage = usage - used
    fixed_value = found.totals.value + float(prices @ usage) - value
    return Screen(prices, candidates, _reduced(rows, customers.rhs - fixed_usage), found.least_outside, fixed_value,
                  fixed_usage, found.totals.value + float(prices @ customers.rhs), customers.coefficients,
                  customers.rows, found.eligible, customers.n)


def joined(customers: Customers, screen: Screen, extra: NDArray[np.intp]) -> Screen:
    """``screen`` with the ``extra`` customers (global indices, none a candidate) moved from the fixed
    customers to the candidates, at their choices at the screen's prices: no pass over everyone.
    The radius stays the least margin of the larger fixed set it was taken over (no larger than
    the smaller set's: it still bounds every fixed customer's)."""
    if extra.size == 0:
        return screen
    rows = customers.gather(np.sort(extra), keep_dtype=True)
    value, used = _chosen(rows, screen.prices)
    fixed_usage = screen.fixed_usage - used
    merged = stack([replace(screen.reduced, customer_ids=screen.candidates), rows], customers.shared_weights)
    order = np.argsort(merged.customer_ids, kind="stable")
    gathered = merged.take(order, merged.customer_ids[order], customers.shared_weights, keep_dtype=True)
    return replace(screen, candidates=gathered.customer_ids, reduced=_reduced(gathered, customers.rhs - fixed_usage),
                   fixed_value=screen.fixed_value - value, fixed_usage=fixed_usage)


def _chosen(rows: PricedProblem, prices: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """The value and row use of the given customers' best choices at ``prices``."""
    value, weight_sums, counts = plan_sums(rows, price_out(rows, prices).choice)
    return value, rows.row_usage(weight_sums, counts)


def _reduced(rows: PricedProblem, limits: NDArray[np.float64]) -> PricedProblem:
    """The candidates' rows named by position 0..K-1, under the (settled) limits left to them."""
    return replace(rows, customer_ids=np.arange(rows.n_customers),
                   rows=tuple(replace(row, rhs=float(b)) for row, b in zip(rows.rows, settled(limits))))


def _rows_reachable(reduced: PricedProblem, slack: NDArray[np.float64]) -> bool:
    """Row by row, whether the candidates can meet the limits b - U left to them (to within ``slack``):
    a <= row with room of at least 0, a >= row by every candidate taking its largest coefficient of the
    row. Necessary, not sufficient (the rows are not taken together): it catches what the sample
    prices fixed too many customers for."""
    everyone = np.arange(reduced.n_customers)
    for r, (row, allowed) in enumerate(zip(reduced.rows, slack)):
        if row.sense is not Sense.GE and row.rhs < -allowed:
            return False
        if row.sense is not Sense.LE:
            eligible = np.isfinite(reduced.value) & row.campaigns
            largest = np.where(eligible, reduced.row_coefficients(r, everyone), 0.0).max(axis=1, initial=0.0)
            if np.maximum(largest, 0.0).sum() < row.rhs - allowed:
                return False
    return True


def settled(limits: NDArray[np.float64]) -> NDArray[np.float64]:
    """Limits rounded to LIMIT_DIGITS significant digits. A sum of usages has last bits that
    depend on the order of summation (the number of partitions), while an integer combination of
    round costs can meet a limit exactly; rounded, what is solved is the same whatever the
    partitioning (the change is far below the 1e-6 feasibility tolerance)."""
    magnitude = np.floor(np.log10(np.maximum(np.abs(limits), 1.0)))
    scale = 10.0 ** (LIMIT_DIGITS - 1 - magnitude)
    return np.round(limits * scale) / scale

"""The array-based assignment problem every solver works on.

For customers i = 1..n and campaigns j = 1..k, choose x_ij in {0, 1}:

    maximise    sum_ij  c_ij x_ij                 c_ij = (1 - f_j) * v_ij
    subject to  sum_j x_ij <= 1                   for every customer i
                sum_ij a_rij x_ij  (<=|>=|==) b_r for every coupling row r
                x_ij = 0                          where (i, j) is not eligible

v_ij is the pair's value to the objective, f_j the campaign's control fraction (a selected
customer is held out with probability f_j, so c_ij is the value the plan expects to earn).
Coupling rows count the whole selected audience at full weight, so no control draw can push
the treated plan over a limit. Each row's coefficients are a shared (n, k) weight array times a
campaign mask, a_rij = W_r[i, j] * m_r[j], so many rows share one array.

A plan is a vector ``choice`` of length n: the campaign index of each customer, or -1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

NO_CAMPAIGN = -1
COUNT = "count"
ROW_TOLERANCE = 1e-6  # a plan meets a row to within this share of its limit (at least this much)


class Sense(StrEnum):
    LE = "<="
    GE = ">="
    EQ = "=="


@dataclass(frozen=True)
class CouplingRow:
    """One aggregate limit: sum over selected pairs of weights[weight][i, j] * campaigns[j]."""

    name: str
    family: str
    sense: Sense
    rhs: float
    weight: str
    campaigns: NDArray[np.bool_]
    source: str = ""

    def slack(self, tolerance: float = ROW_TOLERANCE) -> float:
        """How far a plan's lhs may pass the limit and still meet it: tolerance · max(1, |rhs|)."""
        return tolerance * max(1.0, abs(self.rhs))

    def satisfied(self, lhs: float, tolerance: float = ROW_TOLERANCE) -> bool:
        slack = self.slack(tolerance)
        if self.sense is Sense.LE:
            return lhs <= self.rhs + slack
        if self.sense is Sense.GE:
            return lhs >= self.rhs - slack
        return abs(lhs - self.rhs) <= slack


def broken_rows(rows: tuple[CouplingRow, ...], usage: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Per row, whether row sums ``usage`` break it (beyond CouplingRow.satisfied's tolerance)."""
    return np.array([not row.satisfied(float(used)) for row, used in zip(rows, usage)], dtype=bool)


@dataclass(frozen=True)
class Problem:
    """Values, spends, eligibility and coupling rows of one scenario, as arrays.

    ``weights`` maps a name to an (n, k) array; the name COUNT means all ones (not stored).
    ``pair_value`` and ``spend`` are per treated pair; ``treated_share`` is 1 - f_j.
    """

    customer_ids: NDArray[Any]
    campaign_ids: tuple[str, ...]
    channels: tuple[str, ...]
    pair_value: NDArray[np.float64]
    spend: NDArray[np.float64]
    eligible: NDArray[np.bool_]
    treated_share: NDArray[np.float64]
    rows: tuple[CouplingRow, ...]
    weights: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_campaigns(self) -> int:
        return len(self.campaign_ids)

    @property
    def value(self) -> NDArray[np.float64]:
        """Objective coefficient c_ij = (1 - f_j) v_ij."""
        return self.pair_value * self.treated_share

    def coefficients(self, row: CouplingRow) -> NDArray[np.float64]:
        """The (n, k) coefficient array a_r of one row."""
        if row.weight == COUNT:
            return np.broadcast_to(row.campaigns.astype(float), (self.n_customers, self.n_campaigns))
        return self.weights[row.weight] * row.campaigns

    def campaign_coefficients(
        self, customers: NDArray[np.intp], campaigns: NDArray[np.intp]
    ) -> NDArray[np.float64] | None:
        """(m, k) a_rj when, over these pairs, every row has one coefficient per campaign (the
        rows then see a plan only through its audience sizes); None otherwise."""
        per_row = [per_campaign(self.coefficients(row)[customers, campaigns], campaigns, self.n_campaigns)
                   for row in self.rows]
        if not per_row or any(row is None for row in per_row):
            return None
        return np.array(per_row)

    def candidate_pairs(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Pairs worth a variable: eligible, and of positive value or able to help some row.

        A pair with c_ij <= 0 can only matter if selecting it moves some >= row up, some <= row
        down, or enters an == row; any other such pair is never needed in an optimal plan.
        """
        useful = self.value > 0
        for row in self.rows:
            coefficients = self.coefficients(row)
            if row.sense is Sense.GE:
                useful |= coefficients > 0
            elif row.sense is Sense.LE:
                useful |= coefficients < 0
            else:
                useful |= coefficients != 0
        customers, campaigns = np.nonzero(self.eligible & useful)
        return customers, campaigns

    def row_activity(self, choice: NDArray[np.integer[Any]]) -> NDArray[np.float64]:
        """lhs of every coupling row for a plan."""
        customers = np.flatnonzero(choice != NO_CAMPAIGN)
        campaigns = choice[customers]
        return np.array([self.coefficients(row)[customers, campaigns].sum() for row in self.rows])

    def objective(self, choice: NDArray[np.integer[Any]]) -> float:
        customers = np.flatnonzero(choice != NO_CAMPAIGN)
        return float(self.value[customers, choice[customers]].sum())

    def violations(self, choice: NDArray[np.integer[Any]], tolerance: float = ROW_TOLERANCE) -> list[str]:
        """Human-readable list of what a plan breaks (empty when the plan is feasible)."""
        customers = np.flatnonzero(choice != NO_CAMPAIGN)
        problems = [
            f"customer {self.customer_ids[i]} is not eligible for {self.campaign_ids[choice[i]]}"
            for i in customers[~self.eligible[customers, choice[customers]]]
        ]
        for row, lhs in zip(self.rows, self.row_activity(choice)):
            if not row.satisfied(lhs, tolerance):
                problems.append(f"{row.name}: {lhs:g} {row.sense} {row.rhs:g} does not hold")
        return problems

    def restrict(self, free: NDArray[np.bool_], fixed: NDArray[np.integer[Any]]) -> Problem:
        """What is left to decide once each customer with ``fixed[i] != -1`` keeps that campaign
        and only pairs in the (n, k) mask ``free`` may still be chosen: rhs drop by the fixed use."""
        activity = self.row_activity(fixed)
        rows = tuple(replace(row, rhs=row.rhs - used) for row, used in zip(self.rows, activity))
        eligible = self.eligible & free & (fixed == NO_CAMPAIGN)[:, None]
        return replace(self, eligible=eligible, rows=rows)


def per_campaign(
    coefficients: NDArray[np.float64], campaigns: NDArray[np.intp], k: int
) -> NDArray[np.float64] | None:
    """a_j when every pair of campaign j has coefficient a_j (None if some campaign's vary)."""
    low = np.full(k, np.inf)
    high = np.full(k, -np.inf)
    np.minimum.at(low, campaigns, coefficients)
    np.maximum.at(high, campaigns, coefficients)
    present = np.isfinite(low)
    if not np.array_equal(low[present], high[present]):
        return None
    return np.where(present, low, 0.0)

"""Seeded random instances for the benchmark, shaped like a weekly marketing plan, built
straight into the lean float32 arrays the decomposition reads (no n×k float64 temporaries).

For customers i and campaigns j (campaign j of channel h(j)):

    w_i      ~ LogNormal(log 60, 0.9)                      value of a response
    p_c,ij   = 0.01 + 0.19 Beta(1.2, 5)                    1–20 %, mean ~4.6 %
    z_ij     = 0.6 u_i + 0.8 e_ij,   u_i, e_ij ~ N(0, 1)   customer-correlated responsiveness
    p_t,ij   = clip(p_c,ij (1 + m_j (1 + 0.965 z_ij)), 0, 1)   uplift < 0 for ~15 % of pairs
    c_ij     = (1 - f_j) ((p_t,ij - p_c,ij) w_i - cost_per_contact_j - p_t,ij cost_per_response_j)
    eligible ~ Bernoulli(0.6) per pair (c_ij = -inf where not)

Budgets count, with ``cost="planned"``, the planned cost of a contact, cost_per_contact_j +
5 % × cost_per_response_j, the same for every customer of a campaign (a (1, k) weight, so the
score matrix is the only n×k array); with ``cost="expected"``, each pair's expected spend
cost_per_contact_j + p_t,ij cost_per_response_j (a second n×k float32 array), as
optimizer/scenario/formulation.py builds budgets from a scenario. Ten coupling rows: a total budget of
30 % of the planned cost (or spend) of all eligible positive-value pairs; budgets of 20 % of
that on three campaigns (sms, direct mail, call); minimum audiences of 0.20 n on two email
campaigns; maximum audiences of 0.05 n on an email and an sms campaign; channel capacities of
0.06 n (sms) and 0.09 n (call).
"""

from __future__ import annotations

import hashlib

import numpy as np

from optimizer.solve.lagrangian import PricedProblem
from optimizer.solve.problem import COUNT, CouplingRow, Problem, Sense

# One block of ten campaigns, repeated for k > 10:
# (channel, cost_per_contact, cost_per_response, mean relative uplift m_j, control fraction).
CAMPAIGN_BLOCK = (
    ("email", 0.02, 0.5, 0.10, 0.10),
    ("email", 0.02, 1.0, 0.15, 0.10),
    ("email", 0.03, 0.5, 0.12, 0.05),
    ("sms", 0.08, 0.5, 0.20, 0.10),
    ("sms", 0.08, 1.0, 0.25, 0.10),
    ("direct_mail", 0.70, 2.0, 0.35, 0.05),
    ("direct_mail", 0.90, 2.0, 0.40, 0.05),
    ("call", 3.00, 5.0, 0.80, 0.05),
    ("call", 4.00, 5.0, 1.00, 0.05),
    ("email", 0.02, 0.5, 0.08, 0.20),
)
MIN_CAMPAIGNS = len(CAMPAIGN_BLOCK)
BLOCK = 25_000  # customers generated at a time (keeps generation temporaries ~25 MB)


def generate_scores(n: int, k: int, seed: int, cost: str = "planned") -> PricedProblem:
    """A random instance of n customers and k >= 10 campaigns (see the module docstring)."""
    block = [CAMPAIGN_BLOCK[j % len(CAMPAIGN_BLOCK)] for j in range(k)]
    channel, per_contact, per_response, lift, control = (np.array(column) for column in zip(*block))
    planned_cost = per_contact + 0.05 * per_response
    value = np.empty((n, k), dtype=np.float32)
    spend = np.empty((n, k), dtype=np.float32) if cost == "expected" else None
    positive, positive_spend = np.zeros(k), np.zeros(k)
    for number, start in enumerate(range(0, n, BLOCK)):
        rng = np.random.default_rng([seed, number])
        rows = min(BLOCK, n - start)
        worth = rng.lognormal(np.log(60.0), 0.9, size=(rows, 1))
        p_control = 0.01 + 0.19 * rng.beta(1.2, 5.0, size=(rows, k))
        responsiveness = 0.6 * rng.standard_normal((rows, 1)) + 0.8 * rng.standard_normal((rows, k))
        p_treat = np.clip(p_control * (1.0 + lift * (1.0 + 0.965 * responsiveness)), 0.0, 1.0)
        pair = (1.0 - control) * ((p_treat - p_control) * worth - per_contact - p_treat * per_response)
        eligible = rng.random((rows, k)) < 0.6
        positive += (eligible & (pair > 0)).sum(axis=0)
        value[start:start + rows] = np.where(eligible, pair, -np.inf)
        if spend is not None:
            expected = per_contact + p_treat * per_response
            spend[start:start + rows] = np.where(eligible, expected, 0.0)
            positive_spend += np.where(eligible & (pair > 0), expected, 0.0).sum(axis=0)
    campaign_ids = tuple(f"{name}_{j:02d}" for j, name in enumerate(channel))
    rows = coupling_rows(n, campaign_ids, channel, planned_cost * positive if spend is None else positive_spend)
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=campaign_ids, value=value,
        weights=planned_cost.astype(np.float32).reshape(1, 1, k) if spend is None else spend[None],
        row_weight=np.array([0 if row.weight == "cost" else -1 for row in rows]),
        campaigns=np.array([row.campaigns for row in rows]), rows=rows,
    )


def coupling_rows(n: int, campaign_ids: tuple[str, ...], channel: np.ndarray,
                  positive_cost: np.ndarray) -> tuple[CouplingRow, ...]:
    """The ten rows, as optimizer/scenario/formulation.py builds them from a scenario."""
    k = len(campaign_ids)

    def only(j: int) -> np.ndarray:
        return np.arange(k) == j

    budget = CouplingRow("budget", "budget", Sense.LE, 0.3 * positive_cost.sum(), "cost", np.ones(k, bool))
    campaign_budgets = [
        CouplingRow(f"budget[{campaign_ids[j]}]", "campaign_budget", Sense.LE, 0.2 * positive_cost[j], "cost",
                    only(j))
        for j in (3, 5, 7)
    ]
    audiences = [
        CouplingRow(f"min_audience[{campaign_ids[j]}]", "min_audience", Sense.GE, round(0.20 * n), COUNT, only(j))
        for j in (0, 9)
    ] + [
        CouplingRow(f"max_audience[{campaign_ids[j]}]", "max_audience", Sense.LE, round(0.05 * n), COUNT, only(j))
        for j in (1, 4)
    ]
    capacities = [
        CouplingRow(f"capacity[{name}]", "channel_capacity", Sense.LE, round(share * n), COUNT, channel == name)
        for name, share in (("sms", 0.06), ("call", 0.09))
    ]
    return (budget, *campaign_budgets, *audiences, *capacities)


def as_problem(priced: PricedProblem) -> Problem:
    """The same instance as a Problem (float64 n×k arrays), for the exact solver and the full model."""
    eligible = np.isfinite(priced.value)
    n, k = priced.value.shape
    cost = np.broadcast_to(priced.weights[0].astype(float), (n, k))  # (1, k) planned or (n, k) expected
    return Problem(
        customer_ids=priced.customer_ids, campaign_ids=priced.campaign_ids, channels=("",) * k,
        pair_value=np.where(eligible, priced.value, 0.0).astype(float), spend=cost, eligible=eligible,
        treated_share=np.ones(k), rows=priced.rows, weights={"cost": cost},
    )


def digest(priced: PricedProblem) -> str:
    """Short sha256 of an instance's arrays and limits: shows two processes solved the same one."""
    sha = hashlib.sha256()
    for array in (priced.value, priced.weights):
        for start in range(0, len(array), BLOCK):  # memoryviews of blocks: no copy of the matrix
            sha.update(memoryview(np.ascontiguousarray(array[start:start + BLOCK])))
    for row in priced.rows:
        sha.update(f"{row.name} {row.sense} {row.rhs!r}".encode())
    return sha.hexdigest()[:12]

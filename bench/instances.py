"""Seeded random Problems for the benchmark, shaped like a weekly marketing plan.

For customers i and campaigns j (campaign j of channel h(j)):

    w_i      ~ LogNormal(log 60, 0.9)                      value of a response
    p_c,ij   = 0.01 + 0.19 Beta(1.2, 5)                    1–20 %, mean ~4.6 %
    z_ij     = 0.6 u_i + 0.8 e_ij,   u_i, e_ij ~ N(0, 1)   customer-correlated responsiveness
    p_t,ij   = clip(p_c,ij (1 + m_j (1 + 0.965 z_ij)), 0, 1)   uplift < 0 for ~15 % of pairs
    spend_ij = cost_per_contact_j + p_t,ij cost_per_response_j
    v_ij     = (p_t,ij - p_c,ij) w_i - spend_ij
    eligible ~ Bernoulli(0.6) per pair

and ten coupling rows: a total budget of 30 % of the spend of all eligible positive-value
pairs; budgets of 20 % of that spend on three campaigns (one sms, one direct mail, one call);
minimum audiences of 0.20 n on two email campaigns; maximum audiences of 0.05 n on an email and
an sms campaign; channel capacities of 0.06 n (sms) and 0.09 n (call). At these levels all rows
but the sms campaign's budget and audience cap have a non-zero shadow price in the LP.
"""

from __future__ import annotations

import hashlib

import numpy as np

from optimizer.problem import COUNT, CouplingRow, Problem, Sense

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


def generate_problem(n: int, k: int, rng: np.random.Generator) -> Problem:
    """A random Problem of n customers and k >= 10 campaigns (see the module docstring)."""
    block = [CAMPAIGN_BLOCK[j % len(CAMPAIGN_BLOCK)] for j in range(k)]
    channel, per_contact, per_response, lift, control = (np.array(column) for column in zip(*block))
    worth = rng.lognormal(np.log(60.0), 0.9, size=n)
    p_control = 0.01 + 0.19 * rng.beta(1.2, 5.0, size=(n, k))
    responsiveness = 0.6 * rng.standard_normal((n, 1)) + 0.8 * rng.standard_normal((n, k))
    p_treat = np.clip(p_control * (1.0 + lift * (1.0 + 0.965 * responsiveness)), 0.0, 1.0)
    spend = per_contact + p_treat * per_response
    pair_value = (p_treat - p_control) * worth[:, None] - spend
    eligible = rng.random((n, k)) < 0.6
    campaign_ids = tuple(f"{name}_{j:02d}" for j, name in enumerate(channel))
    rows = coupling_rows(n, campaign_ids, channel, spend, pair_value, eligible)
    return Problem(
        customer_ids=np.arange(n), campaign_ids=campaign_ids, channels=tuple(channel),
        pair_value=pair_value, spend=spend, eligible=eligible, treated_share=1.0 - control,
        rows=rows, weights={"spend": spend},
    )


def coupling_rows(
    n: int, campaign_ids: tuple[str, ...], channel: np.ndarray, spend: np.ndarray,
    pair_value: np.ndarray, eligible: np.ndarray,
) -> tuple[CouplingRow, ...]:
    """The ten rows, built as optimizer/formulate.py builds them from a scenario."""
    k = len(campaign_ids)
    positive_spend = np.where(eligible & (pair_value > 0), spend, 0.0).sum(axis=0)

    def only(j: int) -> np.ndarray:
        return np.arange(k) == j

    budget = CouplingRow("budget", "budget", Sense.LE, 0.3 * positive_spend.sum(), "spend", np.ones(k, bool), "budget")
    campaign_budgets = [
        CouplingRow(f"budget[{campaign_ids[j]}]", "campaign_budget", Sense.LE, 0.2 * positive_spend[j], "spend",
                    only(j), f"campaigns[{j}].budget")
        for j in (3, 5, 7)
    ]
    audiences = [
        CouplingRow(f"min_audience[{campaign_ids[j]}]", "min_audience", Sense.GE, round(0.20 * n), COUNT,
                    only(j), f"campaigns[{j}].min_audience")
        for j in (0, 9)
    ] + [
        CouplingRow(f"max_audience[{campaign_ids[j]}]", "max_audience", Sense.LE, round(0.05 * n), COUNT,
                    only(j), f"campaigns[{j}].max_audience")
        for j in (1, 4)
    ]
    capacities = [
        CouplingRow(f"capacity[{name}]", "channel_capacity", Sense.LE, round(share * n), COUNT,
                    channel == name, f"channels.{name}.capacity")
        for name, share in (("sms", 0.06), ("call", 0.09))
    ]
    return (budget, *campaign_budgets, *audiences, *capacities)


def problem_digest(problem: Problem) -> str:
    """Short sha256 of a Problem's arrays and limits: shows two processes solved the same one."""
    digest = hashlib.sha256()
    for array in (problem.pair_value, problem.spend, problem.eligible, problem.treated_share):
        digest.update(np.ascontiguousarray(array).tobytes())
    for row in problem.rows:
        digest.update(f"{row.name} {row.sense} {row.rhs!r}".encode())
    return digest.hexdigest()[:12]

"""Seeded random instances for the benchmark, shaped like a weekly marketing plan, built
straight into the lean arrays the decomposition reads (no n×k temporaries): float32 scores, and
weights in float64 (WEIGHT), as optimizer/solve/lagrangian.py's ``priced_problem`` keeps them for
any scenario, so that the solver compiles and holds what a product run does.

For customers i and campaigns j (campaign j of channel h(j)):

    w_i      ~ LogNormal(log 60, 0.9)                      value of a response
    p_c,ij   = 0.01 + 0.19 Beta(1.2, 5)                    1–20 %, mean ~4.6 %
    z_ij     = 0.6 u_i + 0.8 e_ij,   u_i, e_ij ~ N(0, 1)   customer-correlated responsiveness
    p_t,ij   = clip(p_c,ij (1 + m_j (1 + 0.965 z_ij)), 0, 1)   uplift < 0 for ~15 % of pairs
    c_ij     = (1 - f_j) ((p_t,ij - p_c,ij) w_i - cost_per_contact_j - p_t,ij cost_per_response_j)
    eligible ~ Bernoulli(0.6) per pair (c_ij = -inf where not)

Kinds (``KINDS``), each what users bring:

- ``planned`` (the original kind): budgets count the planned cost of a contact, cost_per_contact_j +
  5 % × cost_per_response_j, one per campaign (a (1, k) weight: the score matrix is the only n×k
  array). Ten rows: a total budget of 30 % of the planned cost of all eligible positive-value pairs;
  budgets of 20 % of that on three campaigns (sms, direct mail, call); minimum audiences of 0.20 n
  on two email campaigns; maximum audiences of 0.05 n on an email and an sms campaign; channel
  capacities of 0.06 n (sms) and 0.09 n (call).
- ``expected``: budgets on each pair's expected spend cost_per_contact_j + p_t,ij cost_per_response_j
  (a second n×k array, of float64 weights), as optimizer/scenario/formulation.py builds them: a total budget
  (30 % of the expected spend of positive-value pairs) and one on every campaign (20 % of its own),
  the two maximum audiences and the two capacities: k + 5 rows.
- ``ties``: segment-level scores: every customer's row is one of SEGMENTS rows (a cell or rule
  model's output: thousands of customers share one), ``planned`` rows.
- ``integer``: sparse integer values: c_ij = w_i u_ij - cost_j with w_i in {3, 5, 8}, u_ij in
  {0, 1, 2} and cost_j in {1, 2}, budgets of cost_j: many exact ties between options.
- ``tight``: near-infeasible: ``planned`` rows with the total budget at 1.05 × the least the two
  minimum audiences cost.
- ``custom``: ``planned`` rows and five custom aggregate rows over per-customer attributes (n×k
  weights): a cap on a region's contacts, a floor of VIP customers in call and direct mail, a cap
  on risk, a cap on the expected responses of e-mail, a cap on the response value at stake.
- ``wide``: ``planned`` with many campaigns (the bench runs it at 50).
- ``variants``: every campaign at three offer levels (``VARIANTS``: a deeper offer costs more per
  response and lifts more), 3k columns of which a customer gets at most one, as
  optimizer/scenario/offers.py builds them; ``expected`` rows over each campaign's three columns
  together (a total budget, one per campaign, the two maximum audiences, the two capacities) and
  a cap of 0.01 n on the deepest offer of campaigns 0 and 5 (a stock of coupons): k + 7 rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

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
WEIGHT = np.float64  # the weights' dtype, as priced_problem keeps them
BLOCK = 25_000  # customers generated at a time (keeps generation temporaries ~25 MB)
KINDS = ("planned", "expected", "ties", "integer", "tight", "custom", "wide", "variants")
VARIANTS = ((1.0, 1.0), (1.8, 1.35), (3.0, 1.6))  # (cost_per_response ×, uplift ×) of each offer level
SEGMENTS = 50


def generate(n: int, k: int, seed: int, kind: str = "planned") -> PricedProblem:
    """A random instance of ``kind`` (module docstring) with n customers and k >= 10 campaigns."""
    if kind == "ties":
        return _segments(generate_scores(SEGMENTS, k, seed), n, seed)
    if kind == "integer":
        return _integer(n, k, seed)
    if kind == "custom":
        return _with_custom_rows(generate_scores(n, k, seed), seed)
    if kind == "variants":
        return _variants(n, k, seed)
    priced = generate_scores(n, k, seed, "expected" if kind == "expected" else "planned")
    return _tight(priced) if kind == "tight" else priced


def generate_scores(n: int, k: int, seed: int, cost: str = "planned") -> PricedProblem:
    """A ``planned`` or ``expected`` instance of n customers and k >= 10 campaigns."""
    block = [CAMPAIGN_BLOCK[j % len(CAMPAIGN_BLOCK)] for j in range(k)]
    channel, per_contact, per_response, lift, control = (np.array(column) for column in zip(*block))
    planned_cost = per_contact + 0.05 * per_response
    value = np.empty((n, k), dtype=np.float32)
    spend = np.empty((n, k), dtype=WEIGHT) if cost == "expected" else None
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
    rows = coupling_rows(n, campaign_ids, channel, planned_cost * positive) if spend is None else \
        spend_rows(n, campaign_ids, channel, positive_spend)
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=campaign_ids, value=value,
        weights=planned_cost.astype(WEIGHT).reshape(1, 1, k) if spend is None else spend[None],
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


def spend_rows(n: int, campaign_ids: tuple[str, ...], channel: np.ndarray,
               positive_spend: np.ndarray) -> tuple[CouplingRow, ...]:
    """The ``expected`` kind's k + 5 rows: a total budget, one budget per campaign, the two maximum
    audiences and the two capacities of ``coupling_rows``."""
    k = len(campaign_ids)
    total = CouplingRow("budget", "budget", Sense.LE, 0.3 * positive_spend.sum(), "cost", np.ones(k, bool))
    each = [CouplingRow(f"budget[{name}]", "campaign_budget", Sense.LE, 0.2 * positive_spend[j], "cost",
                        np.arange(k) == j) for j, name in enumerate(campaign_ids)]
    others = [row for row in coupling_rows(n, campaign_ids, channel, positive_spend)
              if row.family in ("max_audience", "channel_capacity")]
    return (total, *each, *others)


def _variants(n: int, k: int, seed: int) -> PricedProblem:
    """The ``variants`` kind (module docstring): offer v of campaign j is column m j + v, with
    p_t = clip(p_c (1 + m_j x_v (1 + 0.965 z)), 0, 1) and spend cost_per_contact_j + p_t y_v
    cost_per_response_j for (y_v, x_v) in VARIANTS."""
    block = [CAMPAIGN_BLOCK[j % len(CAMPAIGN_BLOCK)] for j in range(k)]
    channel, per_contact, per_response, lift, control = (np.array(column) for column in zip(*block))
    m = len(VARIANTS)
    value, spend = np.empty((n, k * m), dtype=np.float32), np.empty((n, k * m), dtype=WEIGHT)
    positive_spend = np.zeros(k)
    for number, start in enumerate(range(0, n, BLOCK)):
        rng = np.random.default_rng([seed, number, 17])
        rows = min(BLOCK, n - start)
        worth = rng.lognormal(np.log(60.0), 0.9, size=(rows, 1))
        p_control = 0.01 + 0.19 * rng.beta(1.2, 5.0, size=(rows, k))
        responsiveness = 0.6 * rng.standard_normal((rows, 1)) + 0.8 * rng.standard_normal((rows, k))
        eligible = rng.random((rows, k)) < 0.6
        for v, (cost_times, lift_times) in enumerate(VARIANTS):
            p_treat = np.clip(p_control * (1.0 + lift * lift_times * (1.0 + 0.965 * responsiveness)), 0.0, 1.0)
            expected = per_contact + p_treat * per_response * cost_times
            pair = (1.0 - control) * ((p_treat - p_control) * worth - expected)
            value[start:start + rows, v::m] = np.where(eligible, pair, -np.inf)
            spend[start:start + rows, v::m] = np.where(eligible, expected, 0.0)
            positive_spend += np.where(eligible & (pair > 0), expected, 0.0).sum(axis=0) / m
    campaign_ids = tuple(f"{name}_{j:02d}:v{v}" for j, name in enumerate(channel) for v in range(m))
    rows = tuple(replace(row, campaigns=np.repeat(row.campaigns, m), name=row.name.replace(":v0", ""))
                 for row in spend_rows(n, campaign_ids[::m], channel, positive_spend))
    caps = tuple(CouplingRow(f"max_audience[{campaign_ids[m * j + m - 1]}]", "max_audience", Sense.LE,
                             round(0.01 * n), COUNT, np.arange(k * m) == m * j + m - 1) for j in (0, 5))
    rows = (*rows, *caps)
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=campaign_ids, value=value, weights=spend[None],
        row_weight=np.array([0 if row.weight == "cost" else -1 for row in rows]),
        campaigns=np.array([row.campaigns for row in rows]), rows=rows,
    )


def _segments(segments: PricedProblem, n: int, seed: int) -> PricedProblem:
    """n customers, each with the row of one of the segments' customers (drawn uniformly); limits
    scaled from the segments' to n customers."""
    rng = np.random.default_rng([seed, 7])
    members = rng.integers(0, segments.n_customers, size=n)
    scale = n / segments.n_customers
    rows = tuple(replace(row, rhs=row.rhs * scale) for row in segments.rows)
    return replace(segments, customer_ids=np.arange(n), value=np.ascontiguousarray(segments.value[members]),
                   rows=rows)


def _integer(n: int, k: int, seed: int) -> PricedProblem:
    """The ``integer`` kind: values w_i u_ij - cost_j (module docstring), ``planned`` rows on cost_j."""
    cost = np.where(np.arange(k) % 3 == 0, 2.0, 1.0).astype(np.float32)
    value = np.empty((n, k), dtype=np.float32)
    positive = np.zeros(k)
    for number, start in enumerate(range(0, n, BLOCK)):
        rng = np.random.default_rng([seed, number, 11])
        rows = min(BLOCK, n - start)
        worth = rng.choice(np.array([3.0, 5.0, 8.0], dtype=np.float32), size=(rows, 1))
        pair = worth * rng.binomial(2, 0.3, size=(rows, k)).astype(np.float32) - cost
        eligible = rng.random((rows, k)) < 0.6
        positive += (eligible & (pair > 0)).sum(axis=0)
        value[start:start + rows] = np.where(eligible, pair, -np.inf)
    channel = np.array([CAMPAIGN_BLOCK[j % len(CAMPAIGN_BLOCK)][0] for j in range(k)])
    campaign_ids = tuple(f"{name}_{j:02d}" for j, name in enumerate(channel))
    rows = coupling_rows(n, campaign_ids, channel, cost * positive)
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=campaign_ids, value=value, weights=cost.astype(WEIGHT).reshape(1, 1, k),
        row_weight=np.array([0 if row.weight == "cost" else -1 for row in rows]),
        campaigns=np.array([row.campaigns for row in rows]), rows=rows,
    )


def _tight(priced: PricedProblem) -> PricedProblem:
    """The total budget at 1.05 × the least the minimum audiences cost (one cost per campaign)."""
    cost = priced.weights[0, 0].astype(float)
    least = sum(row.rhs * cost[row.campaigns].min() for row in priced.rows if row.family == "min_audience")
    rows = tuple(replace(row, rhs=1.05 * least) if row.name == "budget" else row for row in priced.rows)
    return replace(priced, rows=rows)


def _with_custom_rows(priced: PricedProblem, seed: int) -> PricedProblem:
    """Five custom rows on per-customer attributes (an n×k float64 weight each, as a scenario's custom
    row on a customer column is held today)."""
    n, k = priced.value.shape
    rng = np.random.default_rng([seed, 13])
    channel = np.array([CAMPAIGN_BLOCK[j % len(CAMPAIGN_BLOCK)][0] for j in range(k)])
    attributes = {
        "south": (rng.random(n) < 0.3).astype(np.float32),
        "vip": (rng.random(n) < 0.03).astype(np.float32),
        "risk": rng.random(n).astype(np.float32),
        "responses": np.clip(rng.normal(0.05, 0.02, n), 0.0, 1.0).astype(np.float32),
        "stake": rng.lognormal(np.log(60.0), 0.9, n).astype(np.float32),
    }
    limits = (
        ("south_share", Sense.LE, 0.12 * n, "south", np.ones(k, bool)),
        ("vip_floor", Sense.GE, 0.004 * n, "vip", np.isin(channel, ("call", "direct_mail"))),
        ("risk_cap", Sense.LE, 0.15 * n, "risk", np.ones(k, bool)),
        ("email_responses", Sense.LE, 0.025 * n, "responses", channel == "email"),
        ("stake_cap", Sense.LE, 30.0 * n, "stake", np.ones(k, bool)),
    )
    weights = np.empty((1 + len(limits), n, k), dtype=WEIGHT)
    weights[0] = np.broadcast_to(priced.weights[0], (n, k))
    for w, (_, _, _, name, _) in enumerate(limits, start=1):
        weights[w] = attributes[name][:, None]
    custom = tuple(CouplingRow(name, "custom", sense, rhs, f"custom:{attribute}", campaigns)
                   for name, sense, rhs, attribute, campaigns in limits)
    rows = (*priced.rows, *custom)
    return replace(priced, weights=weights, rows=rows,
                   row_weight=np.r_[priced.row_weight, np.arange(1, 1 + len(limits))],
                   campaigns=np.array([row.campaigns for row in rows]))


def as_problem(priced: PricedProblem) -> Problem:
    """The same instance as a Problem (float64 n×k arrays), for the exact solver and the full model."""
    eligible = np.isfinite(priced.value)
    n, k = priced.value.shape
    weights = {row.weight: np.broadcast_to(priced.weights[w].astype(float), (n, k))  # (1, k) or (n, k)
               for row, w in zip(priced.rows, priced.row_weight) if w >= 0}
    return Problem(
        customer_ids=priced.customer_ids, campaign_ids=priced.campaign_ids, channels=("",) * k,
        pair_value=np.where(eligible, priced.value, 0.0).astype(float), spend=weights["cost"], eligible=eligible,
        treated_share=np.ones(k), rows=priced.rows, weights=weights,
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

"""Generate a seeded, synthetic retailer customer base and the response scores of four campaigns.

One latent engagement factor ``z`` per customer ties recency, frequency and monetary value
together (all durations in days, ``sigmoid(x) = 1 / (1 + exp(-x))``):

    z         ~ N(0, 1)
    tenure    ~ U{1, ..., 89} with probability 0.08 (new customers), else 90 + min(LogNormal(6.7, 0.6), 5000)
    active    ~ Bernoulli(sigmoid(1.1 + 1.2 z))                    (has not dropped out)
    recency   = min(Exp(mean = exp(3.8 - 0.8 z)) if active else 180 + Exp(mean = 600), tenure)
    frequency = 0 if recency > 365 else 1 + Poisson(exp(0.9 + 0.7 z) (min(tenure, 365) - recency) / 365)
    region    ~ Categorical(0.22, 0.28, 0.20, 0.30)                (North, South, East, West)
    monetary  ~ LogNormal(3.9 + 0.25 z + b_region, 0.45)           (average order value)
    logit(churn_risk) = -4.2 + 0.85 log(1 + recency) - 0.5 z - 0.15 log(1 + frequency) + N(0, 0.35^2)
    orders    = (1 - churn_risk) (0.6 frequency + 0.4 exp(1.1 + 0.7 z)) exp(N(0, 0.3^2))  (next 12 months)
    ltv       = orders monetary
    opt_in_k  ~ Bernoulli(sigmoid(a_k + b_k z + age effect_k)),    k in {email, sms, phone}

R, F and M scores are quintiles (5 = best) and the segment follows from them and from tenure.
Without contact a customer buys as a Poisson process at the predicted rate, so over campaign
c's measurement window of w_c days

    p_control_ic = 1 - exp(-orders_i w_c / 365)                    (orders_i = ltv_i / monetary_i)
    p_treat_ic   = p_control_ic + tau_c(x_i) + (0.25 |tau_c(x_i)| + 0.002) eps_ic

with eps_ic ~ N(0, 1) and tau_c the campaign's mean uplift given the customer's features x_i;
tau_c < 0 for each campaign's "sleeping dogs", the customers whom contact puts off. Both
probabilities are clipped to [0.0005, 0.95] and rounded to 6 decimals.

    python examples/generate_data.py --customers 30000 --seed 2026 --out examples/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = ["North", "South", "East", "West"]
REGION_SHARES = [0.22, 0.28, 0.20, 0.30]
# b_region: the log-offset of the average basket; southern stores sell the dearer ranges.
REGION_BASKET = {"North": -0.08, "South": 0.12, "East": -0.05, "West": 0.0}
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
AGE_SHARES = [0.09, 0.19, 0.21, 0.20, 0.17, 0.14]
# The measurement window of each campaign in days; the scenarios use the same windows.
MEASUREMENT_WINDOW_DAYS = {"winback_coupon": 14, "cross_sell_email": 14, "vip_call": 14, "sms_reminder": 7}
P_MIN, P_MAX = 0.0005, 0.95


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x))."""
    return 1.0 / (1.0 + np.exp(-x))


def draw_tenure(rng: np.random.Generator, n: int) -> np.ndarray:
    """Days since first purchase: U{1..89} for the 8% new, else 90 + min(LogNormal(6.7, 0.6), 5000)."""
    is_new = rng.random(n) < 0.08
    established = 90 + np.minimum(rng.lognormal(6.7, 0.6, n), 5000)
    return np.where(is_new, rng.integers(1, 90, n), established).astype(np.int64)


def draw_recency(rng: np.random.Generator, z: np.ndarray, tenure: np.ndarray) -> np.ndarray:
    """Days since last purchase, never longer than the tenure.

    A customer is still active with probability sigmoid(1.1 + 1.2 z) and then buys again after
    Exp(mean = exp(3.8 - 0.8 z)) days; one who has dropped out last bought 180 + Exp(mean = 600) days ago.
    """
    n = len(z)
    active = rng.random(n) < sigmoid(1.1 + 1.2 * z)
    recency = np.where(active, rng.exponential(np.exp(3.8 - 0.8 * z)), 180 + rng.exponential(600.0, n))
    return np.minimum(np.floor(recency), tenure).astype(np.int64)


def draw_frequency(
    rng: np.random.Generator, z: np.ndarray, tenure: np.ndarray, recency: np.ndarray
) -> np.ndarray:
    """Orders in the last 12 months: the last one plus Poisson(exp(0.9 + 0.7 z) per year) before it.

    The earlier orders fall in the (min(tenure, 365) - recency) days before the last purchase; 0 if lapsed.
    """
    days_before_last = np.maximum(np.minimum(tenure, 365) - recency, 0)
    frequency = 1 + rng.poisson(np.exp(0.9 + 0.7 * z) * days_before_last / 365)
    return np.where(recency > 365, 0, frequency).astype(np.int64)


def draw_churn_risk(
    rng: np.random.Generator, z: np.ndarray, recency: np.ndarray, frequency: np.ndarray
) -> np.ndarray:
    """logit(churn) = -4.2 + 0.85 log(1 + recency) - 0.5 z - 0.15 log(1 + frequency) + N(0, 0.35^2)."""
    logit = -4.2 + 0.85 * np.log1p(recency) - 0.5 * z - 0.15 * np.log1p(frequency)
    return sigmoid(logit + rng.normal(0.0, 0.35, len(z)))


def draw_ltv(
    rng: np.random.Generator,
    z: np.ndarray,
    frequency: np.ndarray,
    monetary: np.ndarray,
    churn_risk: np.ndarray,
) -> np.ndarray:
    """Predicted 12-month value orders * M, with orders = (1 - churn) (0.6 F + 0.4 exp(1.1 + 0.7 z)) e,

    e ~ LogNormal(0, 0.3): 60% observed frequency, 40% the latent rate, discounted by the churn risk.
    """
    orders = (1 - churn_risk) * (0.6 * frequency + 0.4 * np.exp(1.1 + 0.7 * z))
    return orders * rng.lognormal(0.0, 0.3, len(z)) * monetary


def quintile_score(values: np.ndarray) -> np.ndarray:
    """Quintile of each value, 1 (lowest fifth) to 5 (highest fifth): ceil(5 rank / n), ties by row order."""
    ranks = pd.Series(values).rank(method="first")
    return np.ceil(5 * ranks.to_numpy() / len(values)).astype(np.int64)


def assign_segment(customers: pd.DataFrame) -> np.ndarray:
    """Retail RFM segments, first rule that matches wins.

    New: tenure < 90 days; Lapsed: no order for a year; VIP: R = F = M = 5;
    At Risk: no order for 120 days; Loyal: R >= 4 and F >= 4; Regular: everyone else.
    """
    c = customers
    rules = [
        c.tenure_days < 90,
        c.days_since_last_purchase > 365,
        (c.r_score == 5) & (c.f_score == 5) & (c.m_score == 5),
        c.days_since_last_purchase > 120,
        (c.r_score >= 4) & (c.f_score >= 4),
    ]
    names = ["New", "Lapsed", "VIP", "At Risk", "Loyal"]
    return np.select(rules, names, default="Regular")


def draw_opt_ins(
    rng: np.random.Generator, z: np.ndarray, age_band: np.ndarray
) -> dict[str, np.ndarray]:
    """Bernoulli(sigmoid(a_k + b_k z + age effect)): the young take SMS, the old take calls."""
    age = np.searchsorted(AGE_BANDS, age_band)  # 0 for 18-24 ... 5 for 65+
    logits = {
        "email_opt_in": 1.25 + 0.6 * z,
        "sms_opt_in": 0.0 + 0.5 * z - 0.25 * age,
        "phone_opt_in": -1.95 + 0.4 * z + 0.3 * age,
    }
    return {name: rng.random(len(z)) < sigmoid(logit) for name, logit in logits.items()}


def generate_customers(n_customers: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per customer: RFM, scores, segment, demographics, opt-ins, ltv and churn risk."""
    z = rng.standard_normal(n_customers)
    tenure = draw_tenure(rng, n_customers)
    recency = draw_recency(rng, z, tenure)
    frequency = draw_frequency(rng, z, tenure, recency)
    region = rng.choice(REGIONS, n_customers, p=REGION_SHARES)
    basket = pd.Series(region).map(REGION_BASKET).to_numpy()
    monetary = rng.lognormal(3.9 + 0.25 * z + basket, 0.45)
    churn_risk = draw_churn_risk(rng, z, recency, frequency)
    ltv = draw_ltv(rng, z, frequency, monetary, churn_risk)
    customers = pd.DataFrame(
        {
            "customer_id": pd.array([f"C{i:06d}" for i in range(1, n_customers + 1)], dtype="string"),
            "days_since_last_purchase": recency,
            "frequency": frequency,
            "monetary": np.round(monetary, 2),
            "tenure_days": tenure,
            # Recency ties are broken towards the higher frequency, as a retailer's report would.
            "r_score": quintile_score(-recency + frequency / (frequency.max() + 1)),
            "f_score": quintile_score(frequency + monetary / (monetary.max() + 1)),
            "m_score": quintile_score(monetary),
        }
    )
    customers["segment"] = pd.array(assign_segment(customers), dtype="string")
    customers["region"] = pd.array(region, dtype="string")
    customers["age_band"] = pd.array(rng.choice(AGE_BANDS, n_customers, p=AGE_SHARES), dtype="string")
    for name, opted_in in draw_opt_ins(rng, z, customers["age_band"].to_numpy(str)).items():
        customers[name] = opted_in
    customers["ltv"] = np.round(ltv, 2)
    customers["churn_risk"] = np.round(churn_risk, 4)
    return customers


def winback_uplift(c: pd.DataFrame) -> np.ndarray:
    """tau = 0.004 + 0.085 churn_risk (0.3 + 0.7 (M - 1) / 4), but -0.012 for R = 5 and F >= 4.

    Strongest for likely churners with a decent past basket; heavy buyers just wait for the next coupon.
    """
    tau = 0.004 + 0.085 * c.churn_risk * (0.3 + 0.7 * (c.m_score - 1) / 4)
    return np.where((c.r_score == 5) & (c.f_score >= 4), -0.012, tau)


def cross_sell_uplift(c: pd.DataFrame) -> np.ndarray:
    """tau = 0.005 + 0.05 (F - 1) / 4 for VIP, Loyal and Regular, else 0.006; -0.006 if Lapsed, churn > 0.72.

    Frequent buyers add a category; long-gone customers read one more email as a reason to unsubscribe.
    """
    engaged = c.segment.isin(["VIP", "Loyal", "Regular"])
    tau = np.where(engaged, 0.005 + 0.05 * (c.f_score - 1) / 4, 0.006)
    return np.where((c.segment == "Lapsed") & (c.churn_risk > 0.72), -0.006, tau)


def vip_call_uplift(c: pd.DataFrame) -> np.ndarray:
    """tau = 0.01 + 0.08 q^3 + 0.04 [VIP], q the ltv percentile; -0.015 for under-35s with q < 0.6.

    A personal call moves high-value customers a lot; young, low-value customers find it intrusive.
    """
    q = c.ltv.rank(pct=True).to_numpy()
    tau = 0.01 + 0.08 * q**3 + 0.04 * (c.segment == "VIP").to_numpy()
    intrusive = c.age_band.isin(["18-24", "25-34"]).to_numpy() & (q < 0.6)
    return np.where(intrusive, -0.015, tau)


def sms_uplift(c: pd.DataFrame) -> np.ndarray:
    """tau = 0.003 + 0.015 (1 - churn_risk) [R <= 4], but -0.007 for R = 5 and F >= 4.

    A small nudge for the moderately engaged; those who bought days ago get SMS fatigue.
    """
    tau = 0.003 + 0.015 * (1 - c.churn_risk) * (c.r_score <= 4)
    return np.where((c.r_score == 5) & (c.f_score >= 4), -0.007, tau)


MEAN_UPLIFT = {
    "winback_coupon": winback_uplift,
    "cross_sell_email": cross_sell_uplift,
    "vip_call": vip_call_uplift,
    "sms_reminder": sms_uplift,
}


def campaign_scores(campaign_id: str, customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The scores of one campaign for every customer.

    p_control = 1 - exp(-orders w_c / 365) and p_treat = p_control + tau_c(x) + (0.25 |tau_c(x)| + 0.002) eps.
    """
    orders = (customers.ltv / customers.monetary).to_numpy()
    window = MEASUREMENT_WINDOW_DAYS[campaign_id]
    p_control = np.clip(1 - np.exp(-orders * window / 365), P_MIN, P_MAX)
    tau = np.asarray(MEAN_UPLIFT[campaign_id](customers), dtype=float)
    uplift = tau + (0.25 * np.abs(tau) + 0.002) * rng.standard_normal(len(tau))
    return pd.DataFrame(
        {
            "customer_id": customers.customer_id,
            "campaign_id": pd.array([campaign_id] * len(customers), dtype="string"),
            "p_treat": np.round(np.clip(p_control + uplift, P_MIN, P_MAX), 6),
            "p_control": np.round(p_control, 6),
        }
    )


def generate(n_customers: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customer table and the long (customer, campaign) score table, both determined by the seed."""
    rng = np.random.default_rng(seed)
    customers = generate_customers(n_customers, rng)
    scores = pd.concat(
        [campaign_scores(campaign_id, customers, rng) for campaign_id in MEASUREMENT_WINDOW_DAYS],
        ignore_index=True,
    )
    return customers, scores


def simulate_history(customers: pd.DataFrame, scores: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Last wave's randomized test, from the true scores: who got which campaign and who bought.

    Each customer is in one of the four campaigns or the shared control with probability 1/5.
    Over a common 14-day window, with c = winback_coupon's p_control (a 14-day baseline),

        P(converted | control)    = c
        P(converted | campaign j) = c + (p_treat_j - p_control_j)
        revenue = converted * monetary * LogNormal(0, 0.25^2)
    """
    rng = np.random.default_rng([seed, 1])
    arms = np.array([*MEASUREMENT_WINDOW_DAYS, "control"], dtype=object)
    arm = arms[rng.integers(0, len(arms), len(customers))]
    wide = scores.pivot(index="customer_id", columns="campaign_id").loc[customers.customer_id]
    baseline = wide["p_control"]["winback_coupon"].to_numpy()
    uplift = {j: (wide["p_treat"][j] - wide["p_control"][j]).to_numpy() for j in MEASUREMENT_WINDOW_DAYS}
    treated = arm != "control"
    p = baseline + np.select([arm == j for j in uplift], list(uplift.values()), 0.0)
    converted = (rng.random(len(customers)) < np.clip(p, 0, 1)).astype(int)
    revenue = converted * customers.monetary.to_numpy() * rng.lognormal(0.0, 0.25, len(customers))
    return pd.DataFrame({
        "customer_id": customers.customer_id,
        "campaign_id": pd.array(arm, dtype="string"),
        "treated": treated.astype(int),
        "converted": converted,
        "revenue": np.round(revenue, 2),
    })


def planner_lists(customers: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planner scenario's lists: 20 customers promised a call by the account team and 10 a text
    (customer_id, campaign_id; each eligible for it under the weekly rules), and 300 others who asked
    not to be contacted plus 5 ids of closed accounts the customer table no longer has."""
    rng = np.random.default_rng(seed + 7)
    callable_ = customers["phone_opt_in"] & (customers["segment"].isin(["VIP", "Loyal"]) | (customers["ltv"] > 800))
    texted = customers["sms_opt_in"] & (customers["days_since_last_purchase"] <= 365) & ~callable_
    calls = rng.choice(customers["customer_id"][callable_].to_numpy(), 20, replace=False)
    texts = rng.choice(customers["customer_id"][texted].to_numpy(), 10, replace=False)
    promised = pd.DataFrame({"customer_id": [*calls, *texts], "campaign_id": ["vip_call"] * 20 + ["sms_reminder"] * 10})
    others = customers["customer_id"][~customers["customer_id"].isin(promised["customer_id"])].to_numpy()
    closed = [f"C9{k:05d}" for k in range(1, 6)]
    do_not_contact = pd.DataFrame({"customer_id": [*np.sort(rng.choice(others, 300, replace=False)), *closed]})
    return promised, do_not_contact


def main() -> None:
    """Parse the command line, generate, and write customers, scores and history parquet files and
    the planner scenario's two lists (csv)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000, help="number of customers (default 30000)")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the random generator (default 2026)")
    parser.add_argument("--out", type=Path, default=Path("examples/data"), help="output directory")
    args = parser.parse_args()
    customers, scores = generate(args.customers, args.seed)
    history = simulate_history(customers, scores, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, table in [("customers", customers), ("scores", scores), ("history", history)]:
        table.to_parquet(args.out / f"{name}.parquet", index=False, compression="zstd")
    promised, do_not_contact = planner_lists(customers, args.seed)
    promised.to_csv(args.out / "promised_contacts.csv", index=False)
    do_not_contact.to_csv(args.out / "do_not_contact.csv", index=False)
    print(f"Wrote {len(customers)} customers, {len(scores)} scores and a {len(history)}-row history to {args.out}/")


if __name__ == "__main__":
    main()

"""Small scenarios shared by several test modules: the 12-customer two-campaign one of the CLI and
report tests, and a two-campaign one with a contact policy, with one weekly run of it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize

MONDAY = dt.date(2026, 1, 5)


def write_scenario(folder: Path, n: int = 60, budget: float = 30.0) -> Path:
    """n customers, an e-mail and an SMS campaign with control groups and different windows."""
    rng = np.random.default_rng(3)
    ids = [f"k{i:03d}" for i in range(n)]
    pd.DataFrame({"customer_id": ids, "ltv": rng.uniform(50, 500, n)}).to_parquet(folder / "customers.parquet")
    pd.DataFrame({
        "customer_id": ids * 2,
        "campaign_id": ["mail"] * n + ["text"] * n,
        "p_treat": rng.uniform(0.1, 0.3, 2 * n),
        "p_control": rng.uniform(0.0, 0.1, 2 * n),
    }).to_parquet(folder / "scores.parquet")
    path = folder / "loop.yaml"
    path.write_text(yaml.safe_dump({
        "name": "loop", "customers": "customers.parquet", "scores": "scores.parquet", "budget": budget,
        "campaigns": [
            {"id": "mail", "channel": "email", "cost_per_contact": 0.5, "value_per_response": "ltv * 0.1",
             "control_fraction": 0.2, "measurement_window_days": 14, "max_audience": n // 3},
            {"id": "text", "channel": "sms", "cost_per_contact": 0.4, "value_per_response": "ltv * 0.08",
             "control_fraction": 0.25, "measurement_window_days": 7, "max_audience": n // 3},
        ],
        "contact_policy": {"history": "history.duckdb", "cooldowns": [{"campaign": "mail", "days": 21}]},
    }, sort_keys=False))
    return path


def run_week(scenario: Path, out: Path, day: dt.date) -> dict:
    return write_plan(optimize(scenario, run_date=day), out)


def write_small_scenario(folder: Path, name: str = "cli_demo") -> Path:
    """12 customers × 2 campaigns with a budget, a capacity, a custom constraint and a KPI."""
    i = np.arange(12)
    ids = [f"c{k:02d}" for k in i + 1]
    pd.DataFrame({"customer_id": ids, "ltv": 100.0 + 50.0 * i, "vip": i % 3 == 0}).to_parquet(
        folder / "customers.parquet", index=False)
    pd.DataFrame({
        "customer_id": ids * 2,
        "campaign_id": ["email_offer"] * 12 + ["call_offer"] * 12,
        "p_treat": np.r_[0.10 + 0.01 * i, 0.30 + 0.01 * i],
        "p_control": np.r_[np.full(12, 0.05), np.full(12, 0.10)],
    }).to_parquet(folder / "scores.parquet", index=False)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "customers": "customers.parquet", "scores": "scores.parquet", "budget": 20.0,
        "campaigns": [
            {"id": "email_offer", "channel": "email", "cost_per_contact": 0.5, "value_per_response": "ltv * 0.4",
             "min_audience": 2},
            {"id": "call_offer", "channel": "phone", "cost_per_contact": 4.0, "value_per_response": "ltv * 0.4",
             "eligible": "vip", "control_fraction": 0.25},
        ],
        "channels": {"email": {"capacity": 10}, "phone": {"capacity": 3}},
        "constraints": [{"name": "vip_contacts", "sense": "<=", "where": "vip", "rhs": 3}],
        "kpis": [{"name": "responses", "expression": "p_treat"}],
    }, sort_keys=False))
    return path

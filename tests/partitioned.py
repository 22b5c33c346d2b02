"""Partitioned copies of the weekly example, as the Dask tests run them: customers and scores split
into parquet parts, and a scenario over them beside one over the whole tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from optimizer.store.files import PLAN_FOLDER

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 15_000  # above decompose.MASTER: most customers are fixed outside the master LP


def write_scenario(folder: Path, partitions: int, per_contact: bool = False) -> Path:
    """The weekly scenario on the first CUSTOMERS example customers, split into ``partitions`` files
    (``per_contact``: no cost per response, so every budget row has one cost per campaign, and no
    audience limits, which samples of a few thousand customers price poorly)."""
    customers = pd.read_parquet(ROOT / "examples/data/customers.parquet").head(CUSTOMERS)
    scores = pd.read_parquet(ROOT / "examples/data/scores.parquet")
    scores = scores[scores["customer_id"].astype(str).isin(customers["customer_id"].astype(str))]
    whole = folder / "whole"
    whole.mkdir(parents=True)
    customers.to_parquet(whole / "customers.parquet")
    scores.to_parquet(whole / "scores.parquet")
    for name in ("customers", "scores"):
        (folder / name).mkdir()
    bounds = np.linspace(0, CUSTOMERS, partitions + 1).astype(int)
    for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = customers.iloc[lo:hi]
        part.to_parquet(folder / "customers" / f"part-{p:03d}.parquet")
        ids = set(part["customer_id"].astype(str))
        scores[scores["customer_id"].astype(str).isin(ids)].to_parquet(folder / "scores" / f"part-{p:03d}.parquet")
    scenario = yaml.safe_load((ROOT / "scenarios/weekly.yaml").read_text())
    scenario.update(customers="customers", scores="scores", budget=2_500 if per_contact else 4_500)
    for campaign in scenario["campaigns"]:
        if per_contact:
            campaign["cost_per_response"] = 0.0
            campaign.pop("min_audience", None)
            campaign.pop("max_audience", None)
        campaign["min_audience"] = campaign.get("min_audience", 0) // 2
        if campaign.get("max_audience") is not None:
            campaign["max_audience"] //= 2
    scenario["solver"] = {"method": "decompose", "time_limit_s": 120}
    path = folder / "partitioned.yaml"
    path.write_text(yaml.safe_dump(scenario))
    (folder / "whole.yaml").write_text(yaml.safe_dump({**scenario, "customers": "whole/customers.parquet",
                                                       "scores": "whole/scores.parquet"}))
    return path


WRITTEN = ["customer_id", "campaign_id", "group", "value_per_response"]  # the columns both plans write


def distributed_plan(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / PLAN_FOLDER).sort_values("customer_id").reset_index(drop=True)

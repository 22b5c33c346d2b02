"""examples/generate_data.py: seeded, and the bundled example data is exactly its output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_data", ROOT / "examples" / "generate_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_data_is_the_generators_output_for_its_default_seed():
    customers, scores = _generator().generate(30_000, 2026)
    pd.testing.assert_frame_equal(customers, pd.read_parquet(ROOT / "examples/data/customers.parquet"))
    pd.testing.assert_frame_equal(scores, pd.read_parquet(ROOT / "examples/data/scores.parquet"))


def test_same_seed_same_data_other_seed_other_data():
    generate = _generator().generate
    first, again, other = generate(500, 1), generate(500, 1), generate(500, 2)
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not np.allclose(first[1]["p_treat"], other[1]["p_treat"])


def test_scores_are_probabilities_with_some_negative_uplift():
    customers, scores = _generator().generate(2_000, 3)
    assert scores["customer_id"].isin(customers["customer_id"]).all()
    assert scores[["p_treat", "p_control"]].stack().between(0, 1).all()
    negative = (scores["p_treat"] < scores["p_control"]).groupby(scores["campaign_id"]).mean()
    assert ((negative > 0.05) & (negative < 0.4)).all(), negative

"""examples/generate_data.py: seeded, and the bundled example data is exactly its output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_data_is_the_generators_output_for_its_default_seed(generate_data):
    customers, scores = generate_data.generate(30_000, 2026)
    pd.testing.assert_frame_equal(customers, pd.read_parquet(ROOT / "examples/data/customers.parquet"))
    pd.testing.assert_frame_equal(scores, pd.read_parquet(ROOT / "examples/data/scores.parquet"))


def test_same_seed_same_data_other_seed_other_data(generate_data):
    generate = generate_data.generate
    first, again, other = generate(500, 1), generate(500, 1), generate(500, 2)
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not np.allclose(first[1]["p_treat"], other[1]["p_treat"])


def test_scores_are_probabilities_with_some_negative_uplift(generate_data):
    customers, scores = generate_data.generate(2_000, 3)
    assert scores["customer_id"].isin(customers["customer_id"]).all()
    assert scores[["p_treat", "p_control"]].stack().between(0, 1).all()
    negative = (scores["p_treat"] < scores["p_control"]).groupby(scores["campaign_id"]).mean()
    assert ((negative > 0.05) & (negative < 0.4)).all(), negative


def test_bundled_history_is_the_simulated_wave_of_the_bundled_data(generate_data):
    generator = generate_data
    customers, scores = generator.generate(30_000, 2026)
    history = generator.simulate_history(customers, scores, 2026)
    pd.testing.assert_frame_equal(history, pd.read_parquet(ROOT / "examples/data/history.parquet"))


def test_bundled_lists_are_the_generators_output(generate_data):
    customers, _ = generate_data.generate(30_000, 2026)
    promised, do_not_contact = generate_data.planner_lists(customers, 2026)
    pd.testing.assert_frame_equal(promised, pd.read_csv(ROOT / "examples/data/promised_contacts.csv", dtype=str))
    pd.testing.assert_frame_equal(do_not_contact, pd.read_csv(ROOT / "examples/data/do_not_contact.csv", dtype=str))
    assert not promised["customer_id"].isin(do_not_contact["customer_id"]).any()
    assert (~do_not_contact["customer_id"].isin(customers["customer_id"])).sum() == 5

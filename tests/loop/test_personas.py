"""optimizer/loop/personas.py: a planted group of worse (or better) uplift is found and its suggested rule
excludes (or selects) exactly it; with no planted effect Benjamini–Hochberg keeps (almost) nothing; every
rule parses in cvo's expression language and selects exactly its group's customers.

The simulation: customers with a segment (New 30%, Regular 50%, VIP 20%), a region (4 levels), ltv
(uniform on 0-200), email_opt_in (true/false) and visits (0-3), 75% treated, and

    converted ~ Bernoulli(0.10 + uplift(x) [treated])

with ``uplift`` given per test.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import DataError
from optimizer.loop.outcomes import join_outcomes
from optimizer.loop.personas import Group, feature_groups, format_personas, readable_edges, sub_personas
from optimizer.scenario.expressions import parse


def simulate(seed: int, n: int, uplift, campaigns: tuple[str, ...] = ("email",)):
    """(contacts, joined outcomes, features) of n customers spread over ``campaigns``."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({
        "customer_id": [f"p{i:06d}" for i in range(n)],
        "segment": rng.choice(["New", "Regular", "VIP"], n, p=[0.3, 0.5, 0.2]),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "ltv": np.round(rng.uniform(0, 200, n), 2),
        "email_opt_in": rng.random(n) < 0.6,
        "visits": rng.integers(0, 4, n),
    })
    treated = rng.random(n) < 0.75
    contacts = pd.DataFrame({"customer_id": features["customer_id"], "campaign_id": rng.choice(campaigns, n),
                             "channel": "email", "group": np.where(treated, "treatment", "control")})
    converted = rng.random(n) < 0.10 + uplift(features) * treated
    outcomes = pd.DataFrame({"customer_id": features["customer_id"], "converted": converted.astype(int)})
    return contacts, join_outcomes(contacts, outcomes, source="outcomes.csv"), features


def rule_columns(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """The feature columns as optimizer/scenario/formulation.py hands customer columns to expressions."""
    return {str(name): column.to_numpy(dtype=object)
            if column.dtype == object or pd.api.types.is_string_dtype(column) else column.to_numpy()
            for name, column in features.items()}


def selects(rule: str, features: pd.DataFrame) -> np.ndarray:
    return parse(rule, where="test").evaluate(rule_columns(features), len(features))


def expected_group(persona, features: pd.DataFrame) -> np.ndarray:
    """The persona's group recomputed from its level or range, without the expression language."""
    values = features[persona.feature]
    if persona.level is not None:
        return values.eq(persona.level).to_numpy(bool)
    x = values.to_numpy(float)
    return (x >= (-np.inf if persona.low is None else persona.low)) & (x < (np.inf if persona.high is None else persona.high))


def test_a_planted_worse_segment_is_found_and_its_rule_excludes_exactly_it() -> None:
    contacts, joined, features = simulate(1, 10_000, lambda f: np.where(f["segment"] == "New", -0.03, 0.06))
    personas = sub_personas(contacts, joined, features, outcome="converted")
    new = [p for p in personas if p.feature == "segment" and p.level == "New"]
    assert len(new) == 1
    persona = new[0]
    assert (persona.direction, persona.suggested_rule) == ("worse", "not (segment == 'New')")
    assert persona.uplift_group < 0 < persona.uplift_campaign and persona.p_adjusted < 0.05
    assert np.array_equal(selects(persona.suggested_rule, features), features["segment"].to_numpy() != "New")
    false_finds = [p for p in personas if p.feature != "segment"]
    assert len(false_finds) <= 1  # BH bounds the expected share of false finds, it does not exclude them


def test_a_planted_better_flag_suggests_the_positive_condition() -> None:
    contacts, joined, features = simulate(2, 10_000, lambda f: np.where(f["email_opt_in"], 0.08, 0.0))
    persona = next(p for p in sub_personas(contacts, joined, features, outcome="converted")
                   if p.feature == "email_opt_in")
    assert (persona.direction, persona.suggested_rule) == ("better", "email_opt_in")
    assert np.array_equal(selects(persona.suggested_rule, features), features["email_opt_in"].to_numpy())


def test_no_planted_effect_keeps_at_most_one_false_find() -> None:
    contacts, joined, features = simulate(3, 20_000, lambda f: np.full(len(f), 0.05), campaigns=("email", "sms"))
    assert len(sub_personas(contacts, joined, features, outcome="converted", alpha=0.05)) <= 1


def test_a_numeric_quartile_rule_selects_the_right_rows() -> None:
    contacts, joined, features = simulate(4, 12_000, lambda f: np.where(f["ltv"] >= 150, -0.04, 0.06))
    personas = sub_personas(contacts, joined, features, outcome="converted")
    top = next(p for p in personas if p.feature == "ltv" and p.high is None)
    assert top.direction == "worse" and top.low == pytest.approx(np.quantile(features["ltv"], 0.75), rel=0.01)
    assert top.suggested_rule == f"not (ltv >= {top.low:g})" and top.group == f"ltv >= {top.low:g}"
    assert np.array_equal(selects(top.suggested_rule, features), features["ltv"].to_numpy() < top.low)
    for persona in personas:
        assert np.array_equal(selects(persona.condition, features), expected_group(persona, features))
        assert persona.share == pytest.approx(expected_group(persona, features).mean(), abs=0.01)


def zoo() -> pd.DataFrame:
    """Columns of every kind a customer table may hold, with missing values and awkward text."""
    rng = np.random.default_rng(5)
    n = 400
    ltv = rng.normal(50, 80, n)
    ltv[::17] = np.nan
    return pd.DataFrame({
        "segment": pd.Series(rng.choice(["New", "O'Brien", 'say "hi"', None], n), dtype=object),
        "tier": pd.Categorical(rng.choice(["gold", "silver", "bronze"], n)),
        "plan": pd.Series(rng.choice(["basic", "pro"], n), dtype="string"),
        "vip": rng.random(n) < 0.3,
        "ltv": ltv,
        "visits": rng.integers(-2, 3, n),
        "score": 1000 + rng.integers(0, 100, n) / 1000,
        "rate": rng.choice([0.1, 0.25, 1e-05], n),
        "bad name": rng.random(n),
        "class": rng.random(n),
    })


def test_every_rule_parses_and_selects_exactly_its_group() -> None:
    features = zoo()
    groups: list[Group] = [g for name in features.columns for g in feature_groups(features[name], name)]
    assert {g.feature for g in groups} == {"segment", "tier", "plan", "vip", "ltv", "visits", "score", "rate"}
    for group in groups:
        assert group.mask.any(), group.label
        assert np.array_equal(selects(group.condition, features), group.mask), group.condition
        assert np.array_equal(selects(group.complement, features), ~group.mask), group.complement
    assert [g.condition for g in groups if g.feature == "plan"] == ["plan == 'basic'"]
    assert len([g for g in groups if g.feature == "ltv"]) == 4
    assert len({g.condition for g in groups if g.feature == "score"}) == 4


def test_quartile_edges_are_rounded_but_kept_apart() -> None:
    assert readable_edges(np.arange(1.0, 101.0)) == [25.8, 50.5, 75.2]
    assert readable_edges(np.array([1000.011, 1000.012, 1000.013, 1000.014, 1000.015])) == [1000.012, 1000.013,
                                                                                             1000.014]
    assert readable_edges(np.array([])) == []


def test_groups_under_min_group_are_not_tested() -> None:
    contacts, joined, features = simulate(1, 10_000, lambda f: np.where(f["segment"] == "New", -0.03, 0.06))
    assert sub_personas(contacts, joined, features, outcome="converted", min_group=5_000) == []
    text = format_personas([], min_group=5_000)
    assert text.startswith("No group's uplift differs") and "fewer than 5,000 customers in either arm" in text


def test_to_dict_and_format() -> None:
    contacts, joined, features = simulate(1, 10_000, lambda f: np.where(f["segment"] == "New", -0.03, 0.06))
    personas = sub_personas(contacts, joined, features, outcome="converted")
    data = json.loads(json.dumps([p.to_dict() for p in personas], allow_nan=False))
    assert list(data[0]) == ["campaign_id", "outcome", "feature", "group", "direction", "uplift_group", "uplift_rest",
                             "uplift_campaign", "difference", "std_error", "p_value", "p_adjusted", "n_treatment",
                             "n_control", "share", "condition", "suggested_rule", "level", "low", "high"]
    text = format_personas(personas)
    assert "not (segment == 'New')" in text and "worse" in text and " pp" in text


def test_bad_inputs_are_rejected() -> None:
    contacts, joined, features = simulate(1, 1_000, lambda f: np.zeros(len(f)))
    with pytest.raises(DataError, match="joined outcomes table has no column 'revenue'"):
        sub_personas(contacts, joined, features, outcome="revenue")
    with pytest.raises(DataError, match="The customer 'p000000' appears more than once in the features"):
        sub_personas(contacts, joined, pd.concat([features, features.iloc[:1]]), outcome="converted")
    with pytest.raises(DataError, match="Customer 'p000001' has no number as 'converted'"):
        sub_personas(contacts, joined.drop(index=1), features, outcome="converted")

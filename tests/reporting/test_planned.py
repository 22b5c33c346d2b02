"""optimizer/reporting/planned.py: the power of a campaign's controls to detect its planned uplift."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.reporting.planned import measurement_power


def simulated_power(p_t: float, p_c: float, n_t: int, n_c: int, runs: int = 20_000) -> float:
    """Share of simulated experiments whose Welch z test (two-sided 5%) finds the uplift."""
    rng = np.random.default_rng(0)
    treated, control = rng.binomial(n_t, p_t, runs) / n_t, rng.binomial(n_c, p_c, runs) / n_c
    se = np.sqrt(treated * (1 - treated) / n_t + control * (1 - control) / n_c)
    return float(np.mean(np.abs(treated - control) / np.where(se > 0, se, np.inf) > 1.959964))


@pytest.mark.parametrize(("p_t", "p_c", "n_t", "n_c"), [
    (0.12, 0.07, 2000, 230), (0.30, 0.18, 370, 93), (0.05, 0.03, 2000, 800), (0.2, 0.1, 1000, 1000)])
def test_power_is_what_simulated_experiments_find(p_t, p_c, n_t, n_c):
    """Arms with 10 or more expected responders (the normal approximation's range)."""
    figures = measurement_power(p_t, p_c, n_t, n_c)
    assert figures["power"] == pytest.approx(simulated_power(p_t, p_c, n_t, n_c), abs=0.03)


def test_the_controls_needed_are_the_fewest_that_reach_80_percent():
    needed = measurement_power(0.30, 0.18, 370, 93)["controls_needed"]
    assert measurement_power(0.30, 0.18, 370, needed)["power"] >= 0.8
    assert measurement_power(0.30, 0.18, 370, needed - 1)["power"] < 0.8


def test_an_uplift_too_small_for_the_treated_group_needs_no_control_size_but_says_so():
    """With 200 treated, 0.5pp is below what any control group can detect at 80%."""
    figures = measurement_power(0.105, 0.10, 200, 10_000)
    assert figures["controls_needed"] is None and figures["power"] < 0.1

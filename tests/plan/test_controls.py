"""Control groups: the size of each draw, where it comes from, and that it behaves like a fair lottery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from optimizer.plan.controls import draw_controls
from optimizer.solve.problem import NO_CAMPAIGN

CAMPAIGNS = ("winback", "cross_sell", "vip_call")


def ids(n: int) -> np.ndarray:
    return np.array([f"C{i:06d}" for i in range(1, n + 1)], dtype=object)


def random_choice(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(NO_CAMPAIGN, len(CAMPAIGNS), size=n)


@pytest.mark.parametrize(
    ("fraction", "audience", "controls"),
    [(0.0, 40, 0), (0.1, 40, 4), (0.1, 44, 4), (0.1, 46, 5), (0.25, 7, 2), (0.2, 2, 0), (0.3, 2, 1), (0.95, 1, 1)],
)
def test_draw_size_is_the_rounded_share_of_the_audience(fraction, audience, controls):
    choice = np.r_[np.zeros(audience, int), np.full(5, NO_CAMPAIGN)]
    control = draw_controls(choice, ids(len(choice)), ("only",), np.array([fraction]), seed=1)
    assert control.sum() == controls == round(fraction * audience)


def test_each_campaign_gets_its_own_share_and_controls_lie_in_the_audience():
    choice = random_choice(1000)
    fractions = np.array([0.1, 0.05, 0.2])
    control = draw_controls(choice, ids(1000), CAMPAIGNS, fractions, seed=7)
    assert not np.any(control & (choice == NO_CAMPAIGN))
    for j, fraction in enumerate(fractions):
        audience = int((choice == j).sum())
        assert int((control & (choice == j)).sum()) == round(fraction * audience)


def test_same_seed_same_controls_other_seed_other_controls():
    choice, customers, fractions = random_choice(500), ids(500), np.array([0.2, 0.2, 0.2])
    first = draw_controls(choice, customers, CAMPAIGNS, fractions, seed=11)
    assert np.array_equal(first, draw_controls(choice, customers, CAMPAIGNS, fractions, seed=11))
    other = draw_controls(choice, customers, CAMPAIGNS, fractions, seed=12)
    assert other.sum() == first.sum()
    assert not np.array_equal(first, other)


def test_controls_do_not_depend_on_row_order():
    choice, customers, fractions = random_choice(500, seed=3), ids(500), np.array([0.1, 0.3, 0.5])
    control = draw_controls(choice, customers, CAMPAIGNS, fractions, seed=5)
    order = np.random.default_rng(9).permutation(500)
    shuffled = draw_controls(choice[order], customers[order], CAMPAIGNS, fractions, seed=5)
    assert set(customers[order][shuffled]) == set(customers[control])


def test_controls_of_one_campaign_do_not_depend_on_other_campaigns():
    choice, customers, fractions = random_choice(500, seed=4), ids(500), np.array([0.2, 0.2, 0.2])
    before = draw_controls(choice, customers, CAMPAIGNS, fractions, seed=5)
    moved = choice.copy()
    moved[moved == 2] = 1  # vip_call's audience joins cross_sell; winback is untouched
    after = draw_controls(moved, customers, CAMPAIGNS, fractions, seed=5)
    assert np.array_equal(before[choice == 0], after[choice == 0])


def test_every_customer_is_equally_likely_to_be_a_control():
    """Over 2,000 seeds each of 50 customers is held out Binomial(2000, 0.2) times.

    The statistic sum (n_i - 400)^2 / (2000 * 0.2 * 0.8) is close to chi-square with 49 degrees
    of freedom for a fair draw; a draw that favours low ids, the first rows or any fixed subset
    lands far above the 1-in-10,000 threshold (~95). The seeds are fixed, so this cannot flake.
    """
    n, fraction, draws = 50, 0.2, 2000
    choice = np.zeros(n, int)
    counts = np.zeros(n)
    for seed in range(draws):
        counts += draw_controls(choice, ids(n), ("only",), np.array([fraction]), seed=seed)
    expected = draws * fraction
    statistic = ((counts - expected) ** 2).sum() / (expected * (1 - fraction))
    assert statistic < stats.chi2.ppf(0.9999, n - 1)
    # the same statistic for "the lowest ids" shows what the threshold rules out
    lowest = np.r_[np.full(10, draws), np.zeros(n - 10)]
    assert ((lowest - expected) ** 2).sum() / (expected * (1 - fraction)) > stats.chi2.ppf(0.9999, n - 1)


def test_controls_are_not_tied_between_campaigns():
    """Two campaigns with the same audience ids draw different controls (own salt per campaign)."""
    customers = ids(200)
    first = draw_controls(np.zeros(200, int), customers, ("a", "b"), np.array([0.5, 0.5]), seed=1)
    second = draw_controls(np.ones(200, int), customers, ("a", "b"), np.array([0.5, 0.5]), seed=1)
    overlap = int((first & second).sum())
    # a fair pair of independent halves overlaps in ~50 of 100; identical draws would give 100
    assert 30 <= overlap <= 70


def test_a_stratified_draw_holds_out_the_rounded_share_of_every_stratum():
    """Three strata of 40, 44 and 6 customers of one campaign at f = 0.1: 4 + 4 + 1 controls, each
    inside its own stratum; without strata, round(0.1 × 90) = 9 drawn from all; forced ones never."""
    choice = np.r_[np.zeros(90, int), np.full(5, NO_CAMPAIGN)]
    strata = np.r_[np.zeros(40, int), np.ones(44, int), np.full(6, 2), np.zeros(5, int)]
    control = draw_controls(choice, ids(95), ("only",), np.array([0.1]), seed=3, strata=strata)
    assert [int(control[strata == s].sum()) for s in range(3)] == [4, 4, 1]
    assert int(draw_controls(choice, ids(95), ("only",), np.array([0.1]), seed=3).sum()) == 9
    exempt = np.zeros(95, bool)
    exempt[:10] = True
    held = draw_controls(choice, ids(95), ("only",), np.array([0.1]), seed=3, exempt=exempt, strata=strata)
    assert not held[:10].any() and int(held[strata == 0].sum()) == 3


def test_within_a_stratum_the_draw_is_the_unstratified_draw_of_that_stratum():
    """Stratifying changes who is compared with whom, not the lottery: in each stratum the controls
    are the ones an unstratified draw of that stratum alone would pick."""
    choice, customers = np.zeros(300, int), ids(300)
    strata = np.random.default_rng(2).integers(0, 3, 300)
    control = draw_controls(choice, customers, ("only",), np.array([0.2]), seed=9, strata=strata)
    for s in range(3):
        alone = draw_controls(choice[strata == s], customers[strata == s], ("only",), np.array([0.2]), seed=9)
        assert np.array_equal(control[strata == s], alone)

"""Partition functions: split the customers any way, reduce, and get what one partition gives."""

from __future__ import annotations

import dataclasses
from functools import reduce
from operator import add

import numpy as np
import pytest
from instances import medium_problem

from optimizer.solve import partitions as parts
from optimizer.solve.lagrangian import adjusted_values, breakpoint_scale, price_out, priced_problem, stack
from optimizer.solve.partitions import Partition


def split(priced, bounds: list[int]) -> list[Partition]:
    """Partitions of ``priced`` between the given customer positions."""
    edges = [0, *bounds, priced.n_customers]
    return [Partition(dataclasses.replace(priced, customer_ids=priced.customer_ids[lo:hi], value=priced.value[lo:hi],
                                          weights=priced.weights[:, lo:hi]), lo) for lo, hi in zip(edges, edges[1:])]


@pytest.fixture
def setting():
    priced = priced_problem(medium_problem(9, n=500))
    rng = np.random.default_rng(1)
    start = np.array([0.4, 0.2, -0.3, 0.5])
    prices = start * rng.uniform(0.8, 1.2, size=4)
    master = np.sort(rng.choice(500, size=60, replace=False))
    return priced, start, prices, master


@pytest.mark.parametrize("bounds", [[], [1], [137, 138, 400]])
def test_reductions_do_not_depend_on_the_split(setting, bounds):
    priced, start, prices, master = setting
    whole, pieces = split(priced, []), split(priced, bounds)
    scale = breakpoint_scale(priced.price_scale, prices)
    one = parts.balancing_totals(whole[0], prices, scale, 50)
    many = reduce(add, [parts.balancing_totals(p, prices, scale, 50) for p in pieces])
    assert many.value == pytest.approx(one.value) and np.allclose(many.histogram, one.histogram)
    assert np.allclose(many.weight_sums, one.weight_sums) and np.array_equal(many.counts, one.counts)
    whole_nearest = parts.nearest_customers(whole[0], prices, 50).nearest(50)
    assert np.array_equal(reduce(add, [parts.nearest_customers(p, prices, 50) for p in pieces]).nearest(50),
                          whole_nearest)
    assert one.value == pytest.approx(parts.pass_totals(whole[0], prices).value)
    choice = np.full(master.size, -1)
    assert reduce(add, [parts.plan_totals(p, start, master, choice) for p in pieces]).value == pytest.approx(
        parts.plan_totals(whole[0], start, master, choice).value)
    assert np.array_equal(np.concatenate([parts.partition_plan(p, start, master, choice) for p in pieces]),
                          parts.partition_plan(whole[0], start, master, choice))
    rounds = reduce(add, [parts.price_round(p, start, prices, master, 1_000, 0.0) for p in pieces])
    whole_round = parts.price_round(whole[0], start, prices, master, 1_000, 0.0)
    assert np.array_equal(np.sort(rounds.movers), np.sort(whole_round.movers))
    assert rounds.least_outside == pytest.approx(whole_round.least_outside)
    assert rounds.totals.value == pytest.approx(parts.pass_totals(whole[0], prices).value)
    assert np.array_equal(rounds.totals.counts, parts.pass_totals(whole[0], prices).counts)


def test_movers_are_outside_the_master_and_really_regret(setting):
    priced, start, prices, master = setting
    found = parts.price_round(split(priced, [])[0], start, prices, master, 1_000, 0.0)
    ids, regret = found.movers, found.regret
    assert ids.size > 0 and not np.isin(ids, master).any() and np.all(regret > 0)
    held, now = price_out(priced, start).choice, price_out(priced, prices).choice
    assert np.all(held[ids] != now[ids])


def test_the_plan_gives_master_customers_their_master_choice(setting):
    priced, start, _, master = setting
    choice = np.random.default_rng(2).integers(-1, 4, size=master.size)
    plan = parts.partition_plan(split(priced, [])[0], start, master, choice)
    assert np.array_equal(plan[master], choice)
    outside = np.setdiff1d(np.arange(500), master)
    assert np.array_equal(plan[outside], price_out(priced, start).choice[outside])


def test_the_sample_and_the_rows_of_customers_cross_partitions(setting):
    priced = setting[0]
    pieces = split(priced, [100, 250])
    ids = np.concatenate([parts.sample_rows(p, 0.2, False).customer_ids for p in pieces])
    assert np.array_equal(ids, parts.sample_rows(split(priced, [])[0], 0.2, False).customer_ids)
    wanted = np.array([5, 120, 300, 499])
    rows = stack([parts.customer_rows(p, wanted, False) for p in pieces], False)
    assert np.array_equal(rows.customer_ids, wanted)
    assert np.array_equal(rows.value, priced.value[wanted].astype(float))
    assert np.array_equal(rows.weights, priced.weights[:, wanted])


def test_a_smaller_sample_drawn_from_a_larger_one_is_the_direct_draw(setting):
    """coarse_balance's nested samples: the 10% drawn from the 40% sample are the 10% sample itself,
    and a sample that keeps the dtype keeps float32 scores as they are."""
    priced = setting[0]
    low = dataclasses.replace(priced, value=priced.value.astype(np.float32))
    pieces = split(low, [100, 250])
    larger = stack([parts.sample_rows(p, 0.4, False, True) for p in pieces], False)
    assert larger.value.dtype == np.float32
    nested = parts.subsample(larger, 0.1, False)
    direct = parts.sample_rows(split(low, [])[0], 0.1, False, True)
    assert 0 < nested.n_customers < larger.n_customers
    assert np.array_equal(nested.customer_ids, direct.customer_ids)
    assert np.array_equal(nested.value, direct.value) and np.array_equal(nested.weights, direct.weights)


def test_the_least_margin_outside_is_that_of_the_fixed_customers_that_did_not_move(setting):
    priced, start, prices, master = setting
    found = parts.price_round(split(priced, [])[0], start, prices, master, 1_000, 0.0)
    held, latest = price_out(priced, start).choice, price_out(priced, prices)
    outside = np.setdiff1d(np.arange(500), master)
    moved = outside[latest.choice[outside] != held[outside]]
    stayed = outside[latest.choice[outside] == held[outside]]
    expected = min(latest.margin[stayed].min(), 0.0) if moved.size else latest.margin[stayed].min()
    assert found.least_outside == pytest.approx(expected)


def test_a_balancing_pass_remembers_its_plan_and_finds_the_smallest_margins(setting):
    priced, _, prices, _ = setting
    part = split(priced, [])[0]
    parts.balancing_totals(part, prices, breakpoint_scale(priced.price_scale, prices), 25)
    latest = price_out(priced, prices)
    remembered = parts.nearest_customers(part, prices, 25)
    assert remembered is part.memo["nearest"][1]  # handed over from the pass, not found again
    assert np.array_equal(np.sort(remembered.customers), np.sort(np.argsort(latest.margin, kind="stable")[:25]))
    assert part.memo["start"] == prices.tobytes() and np.array_equal(part.held(prices), latest.choice)
    other = prices * 1.01  # prices of another pass: found by a pass of their own
    found = parts.nearest_customers(part, other, 25)
    assert found is not part.memo["nearest"][1]
    assert np.array_equal(np.sort(found.customers), np.sort(np.argsort(price_out(priced, other).margin,
                                                                       kind="stable")[:25]))


def _release_by_hand(priced, prices, customer: int, held: int, r: int) -> tuple[float, float]:
    """min over alternatives j' (nothing included) using less of row r of the loss per unit freed,
    and the units that alternative frees."""
    adjusted = np.r_[adjusted_values(priced, prices, np.array([customer]))[0], 0.0]
    units = np.r_[priced.coefficients(np.array([customer]))[r, 0], 0.0]
    moves = [((adjusted[held] - adjusted[j]) / (units[held] - units[j]), units[held] - units[j])
             for j in range(len(units)) if units[j] < units[held] and np.isfinite(adjusted[j])]
    loss, freed = min(moves)
    return max(0.0, loss), freed


@pytest.mark.parametrize("bounds", [[], [137, 138, 400]])
@pytest.mark.parametrize("case", ["zero prices", "start prices", "a negative cost"])
def test_the_customers_releasing_an_overfull_row_give_up_its_room_most_cheaply(setting, bounds, case):
    """Each of the budget's (row 0) and budget[k1]'s (row 1) 40 customers of least loss per unit
    freed, outside the master, with the units their cheapest move frees, whatever the split: at
    prices 0 (everyone's best), at other prices, and with a negative cost somewhere (no shortlist
    by margin then, whose bound needs coefficients >= 0)."""
    priced, start, _, master = setting
    prices = start if case == "start prices" else np.zeros(4)
    if case == "a negative cost":
        weights = priced.weights.copy()
        weights[0, :7, 2] = -1.0
        priced = dataclasses.replace(priced, weights=weights)
    assert priced.negative_rows[0] == (case == "a negative cost")
    found = reduce(add, [parts.releasing(p, prices, master, np.array([0, 1]), 40) for p in split(priced, bounds)])
    held = price_out(priced, prices).choice
    for r in (0, 1):
        mine = found.rows == r
        users = [i for i in np.setdiff1d(np.arange(500), master)
                 if held[i] >= 0 and priced.coefficients(np.array([i]))[r, 0, held[i]] > 0]
        by_hand = {i: _release_by_hand(priced, prices, i, held[i], r) for i in users}
        chosen = found.customers[mine]
        assert 40 <= chosen.size <= 40 * (len(bounds) + 1) and not np.isin(chosen, master).any()
        assert np.allclose(found.loss[mine], [by_hand[i][0] for i in chosen])
        assert np.allclose(found.units[mine], [by_hand[i][1] for i in chosen])
        least = np.sort(found.loss[mine])[:40]
        assert np.allclose(least, np.sort([loss for loss, _ in by_hand.values()])[:40])


@pytest.mark.parametrize("bounds", [[], [137, 138, 400]])
def test_the_customers_near_a_tie_are_those_of_least_margin_within_reach(setting, bounds):
    """Outside the master, within reach of another choice, the ``count`` of least margin; whatever the split."""
    priced, _, prices, master = setting
    margin = price_out(priced, prices).margin
    outside = np.setdiff1d(np.arange(500), master)
    reach = float(np.quantile(margin[outside], 0.3))
    within = outside[margin[outside] <= reach]
    found = reduce(add, [parts.near(p, prices, reach, master, 25) for p in split(priced, bounds)])
    nearest = found.nearest(25)
    assert nearest.size == 25 and np.all(np.isin(nearest, within))
    assert np.allclose(np.sort(margin[nearest]), np.sort(margin[within])[:25])
    assert np.array_equal(np.sort(reduce(add, [parts.near(p, prices, reach, master, 500)
                                                for p in split(priced, bounds)]).customers), within)

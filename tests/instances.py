"""Instances the solver tests share: tiny random problems with their brute-force optimum, a
Hypothesis strategy of them, a medium instance for the decomposition, and small variants."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import strategies as st

from optimizer.solve.decompose import solve_decompose
from optimizer.solve.exact import solve_exact
from optimizer.solve.lagrangian import PricedProblem
from optimizer.solve.options import SolverOptions
from optimizer.solve.problem import COUNT, NO_CAMPAIGN, CouplingRow, Problem, Sense
from optimizer.solve.results import SolutionStatus, Termination

TOLERANCE = 1e-6


FAMILIES = ("budget", "campaign_budget", "min_audience", "max_audience", "channel_capacity", "custom")


def _row_coefficients(problem: Problem, row: CouplingRow) -> np.ndarray:
    """a_r = W_r * m_r, computed here rather than with Problem.coefficients."""
    weight = np.ones((problem.n_customers, problem.n_campaigns)) if row.weight == COUNT else problem.weights[row.weight]
    return weight * row.campaigns.astype(float)


def _holds(sense: Sense, lhs: np.ndarray, rhs: float) -> np.ndarray:
    slack = TOLERANCE * max(1.0, abs(rhs))
    if sense is Sense.LE:
        return lhs <= rhs + slack
    if sense is Sense.GE:
        return lhs >= rhs - slack
    return np.abs(lhs - rhs) <= slack


def all_plans(problem: Problem, allowed: np.ndarray | None = None) -> np.ndarray:
    """Every choice vector: one row per plan, each customer none or one allowed campaign."""
    allowed = problem.eligible if allowed is None else allowed
    options = [[NO_CAMPAIGN, *np.flatnonzero(allowed[i])] for i in range(problem.n_customers)]
    return np.array(list(itertools.product(*options)), dtype=int).reshape(-1, problem.n_customers)


def feasible_plans(problem: Problem, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every plan that meets every row (one row per plan, as ``all_plans``) and its objective."""
    plans = all_plans(problem, allowed)
    customers = np.arange(problem.n_customers)
    # a zero column at index -1 (= NO_CAMPAIGN) makes "no campaign" contribute nothing
    pad = lambda array: np.c_[array, np.zeros(problem.n_customers)]  # noqa: E731
    value = pad(problem.pair_value * problem.treated_share)[customers, plans].sum(axis=1)
    feasible = np.ones(len(plans), dtype=bool)
    for row in problem.rows:
        lhs = pad(_row_coefficients(problem, row))[customers, plans].sum(axis=1)
        feasible &= _holds(row.sense, lhs, row.rhs)
    return plans[feasible], value[feasible]


def brute_force(problem: Problem, allowed: np.ndarray | None = None) -> float | None:
    """Best objective over all plans that meet every row, or None when no plan does."""
    _, value = feasible_plans(problem, allowed)
    return float(value.max()) if value.size else None


def random_problem(rng: np.random.Generator, n: int | None = None, k: int | None = None) -> Problem:
    """A tiny instance with rows drawn from every family; some instances are infeasible."""
    n = int(rng.integers(1, 9)) if n is None else n
    k = int(rng.integers(1, 4)) if k is None else k
    spend = rng.integers(1, 11, size=(n, k)) / 2
    weights = {"spend": spend}
    rows = []
    for r in range(int(rng.integers(0, 5))):
        family = FAMILIES[int(rng.integers(len(FAMILIES)))]
        rows.append(_random_row(rng, family, f"{family}[{r}]", n, k, spend, weights))
    return Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        campaign_ids=tuple(f"k{j}" for j in range(k)),
        channels=tuple(rng.choice(["email", "sms"], size=k)),
        pair_value=np.round(rng.normal(0.5, 3.0, size=(n, k)), 2),
        spend=spend,
        eligible=rng.random((n, k)) < 0.7,
        treated_share=rng.choice([1.0, 0.9, 0.75, 0.5], size=k),
        rows=tuple(rows),
        weights=weights,
    )


def _random_row(rng, family: str, name: str, n: int, k: int, spend: np.ndarray, weights: dict) -> CouplingRow:
    one = np.arange(k) == rng.integers(k)
    if family == "budget":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, 2 * n + 1)), "spend", np.ones(k, bool))
    if family == "campaign_budget":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, n + 1)), "spend", one)
    if family == "min_audience":
        return CouplingRow(name, family, Sense.GE, float(rng.integers(0, n + 1)), COUNT, one)
    if family == "max_audience":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, n + 1)), COUNT, one)
    subset = rng.random(k) < 0.6
    subset[rng.integers(k)] = True
    if family == "channel_capacity":
        return CouplingRow(name, family, Sense.LE, float(rng.integers(0, n + 1)), COUNT, subset)
    weights[f"custom:{name}"] = rng.integers(-3, 4, size=(n, k)).astype(float)
    sense = (Sense.LE, Sense.GE, Sense.EQ)[int(rng.integers(3))]
    return CouplingRow(name, "custom", sense, float(rng.integers(-n, n + 1)), f"custom:{name}", subset)


def assert_matches_brute_force(problem: Problem) -> bool:
    """The exact solver's answer agrees with brute force; returns whether a plan exists."""
    best = brute_force(problem)
    result = solve_exact(problem, SolverOptions())
    if best is None:
        assert result.termination is Termination.INFEASIBLE
        assert result.status is SolutionStatus.NONE and result.choice is None
        return False
    assert result.termination is Termination.OPTIMAL
    assert result.status is SolutionStatus.OPTIMAL
    assert problem.violations(result.choice) == []
    assert np.all(problem.eligible[result.choice >= 0, result.choice[result.choice >= 0]])
    assert result.objective == pytest.approx(problem.objective(result.choice), abs=1e-9)
    assert abs(result.objective - best) <= 1e-6 + 1e-6 * abs(best)
    assert result.bound >= result.objective - 1e-9
    assert result.bound >= best - 1e-6 - 1e-6 * abs(best), "the bound must hold for every plan"
    assert result.gap <= 1e-6
    return True


@st.composite
def problems(draw) -> Problem:
    """Tiny instances from Hypothesis: integer coefficients, any signs, any senses."""
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 3))

    def matrix(elements) -> np.ndarray:
        return np.array(draw(st.lists(elements, min_size=n * k, max_size=n * k))).reshape(n, k)

    spend = matrix(st.integers(1, 6)).astype(float)
    weights = {"spend": spend}
    rows = []
    for r in range(draw(st.integers(0, 3))):
        mask = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))
        kind = draw(st.sampled_from(["spend", COUNT, "custom"]))
        if kind == "custom":
            weights[f"w{r}"] = matrix(st.integers(-3, 3)).astype(float)
            kind = f"w{r}"
        sense = draw(st.sampled_from(list(Sense)))
        rows.append(CouplingRow(f"row{r}", "custom", sense, float(draw(st.integers(-6, 12))), kind, mask))
    return Problem(
        customer_ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        campaign_ids=tuple(f"k{j}" for j in range(k)), channels=("email",) * k,
        pair_value=matrix(st.integers(-20, 20)) / 4, spend=spend,
        eligible=matrix(st.booleans()).astype(bool),
        treated_share=np.array(draw(st.lists(st.sampled_from([1.0, 0.8, 0.5]), min_size=k, max_size=k))),
        rows=tuple(rows), weights=weights,
    )


GAP = 1e-6


def assert_agrees_with_exact(problem: Problem) -> None:
    """Same verdict and objective (within the gap) as solve_exact; a bound above a feasible plan."""
    exact = solve_exact(problem, SolverOptions(mip_gap=GAP))
    result = solve_decompose(problem, SolverOptions(mip_gap=GAP))
    if exact.termination is Termination.INFEASIBLE:
        assert result.termination is Termination.INFEASIBLE
        assert result.choice is None
        return
    assert result.termination is Termination.OPTIMAL and result.status is SolutionStatus.OPTIMAL
    assert result.method == "decompose"
    assert problem.violations(result.choice) == []
    assert result.objective == pytest.approx(problem.objective(result.choice), rel=1e-9, abs=1e-9)
    assert result.bound >= result.objective - 1e-9
    assert result.gap <= GAP * (1 + 1e-9)
    scale = max(1.0, abs(exact.objective))
    assert abs(result.objective - exact.objective) <= 2 * GAP * scale + 1e-9


def medium_problem(seed: int, n: int = 400, k: int = 4) -> Problem:
    """A weekly-plan-like instance: a budget, a campaign budget, a minimum and a maximum audience."""
    rng = np.random.default_rng(seed)
    spend = np.round(rng.uniform(0.5, 3.0, size=(n, k)), 2)
    value = np.round(rng.normal(1.0, 2.0, size=(n, k)), 3)
    eligible = rng.random((n, k)) < 0.7
    positive = np.where(eligible & (value > 0), spend, 0).sum()
    only = lambda j: np.arange(k) == j  # noqa: E731
    rows = (
        CouplingRow("budget", "budget", Sense.LE, round(0.3 * positive, 2), "spend", np.ones(k, bool)),
        CouplingRow("budget[k1]", "campaign_budget", Sense.LE, round(0.05 * positive, 2), "spend", only(1)),
        CouplingRow("min_audience[k0]", "min_audience", Sense.GE, float(n // 6), COUNT, only(0)),
        CouplingRow("max_audience[k2]", "max_audience", Sense.LE, float(n // 10), COUNT, only(2)),
    )
    return Problem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)), channels=("email",) * k,
        pair_value=value, spend=spend, eligible=eligible, treated_share=np.full(k, 0.9), rows=rows,
        weights={"spend": spend},
    )


def budget_only(n: int) -> Problem:
    problem = medium_problem(7, n=n)
    return dataclasses.replace(problem, rows=problem.rows[:1])


def per_campaign_costs(problem: Problem, rng: np.random.Generator) -> Problem:
    """The same instance with one cost per contact per campaign (budgets become audience rows)."""
    cost = rng.integers(1, 11, size=problem.n_campaigns) / 2
    spend = np.broadcast_to(cost, problem.spend.shape).copy()
    weights = {**problem.weights, "spend": spend}
    custom = [row for row in problem.rows if row.family == "custom"]
    return dataclasses.replace(problem, spend=spend, weights=weights,
                               rows=tuple(row for row in problem.rows if row not in custom))


def tied(problem: Problem, copies: np.ndarray, scale: float = 1.0) -> Problem:
    """``problem`` with customer i repeated ``copies[i]`` times (identical rows, new ids) and every
    limit multiplied by ``scale``: an instance full of exact ties, as segment-level scores give."""
    rows = np.repeat(np.arange(problem.n_customers), copies)
    return dataclasses.replace(
        problem,
        customer_ids=np.array([f"c{t}" for t in range(rows.size)], dtype=object),
        pair_value=problem.pair_value[rows], spend=problem.spend[rows], eligible=problem.eligible[rows],
        weights={name: weight[rows] for name, weight in problem.weights.items()},
        rows=tuple(dataclasses.replace(row, rhs=row.rhs * scale) for row in problem.rows),
    )


def integer_valued(problem: Problem, rng: np.random.Generator) -> Problem:
    """``problem`` with values from a few small integers and spends from two levels: degenerate
    (many exact ties between options) though customers differ."""
    n, k = problem.pair_value.shape
    spend = rng.choice([1.0, 2.0], size=(n, k))
    weights = {**problem.weights, "spend": spend}
    return dataclasses.replace(problem, pair_value=rng.choice([-1.0, 0.0, 3.0, 5.0, 8.0], size=(n, k)),
                               spend=spend, weights=weights)


def assert_plan_and_bound(problem: Problem, result, best: float | None = None) -> None:
    """A result with a plan meets every row, its objective is the plan's value and its bound is at
    least the objective (and at least ``best``, the optimum, when known)."""
    assert result.choice is not None and result.objective is not None
    assert problem.violations(result.choice) == []
    assert result.objective == pytest.approx(problem.objective(result.choice), rel=1e-9, abs=1e-9)
    assert result.bound is not None and result.bound >= result.objective - 1e-9
    if best is not None:
        assert result.objective <= best + 1e-6 * max(1.0, abs(best))
        assert result.bound >= best - 1e-6 * max(1.0, abs(best)), "the bound must hold for every plan"


def two_minimums(budget: float) -> Problem:
    """Six customers, two campaigns: each needs 2 customers; spends 1..6 on campaign 0, 10..60 on 1."""
    spend = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [5.0, 50.0], [6.0, 60.0]])
    rows = (
        CouplingRow("min_audience[a]", "min_audience", Sense.GE, 2, COUNT, np.array([True, False]), "a"),
        CouplingRow("min_audience[b]", "min_audience", Sense.GE, 2, COUNT, np.array([False, True]), "b"),
        CouplingRow("budget", "budget", Sense.LE, budget, "spend", np.array([True, True]), "budget"),
    )
    return Problem(np.array([f"c{i}" for i in range(6)], dtype=object), ("a", "b"), ("email", "email"),
                   np.ones((6, 2)), spend, np.ones((6, 2), bool), np.ones(2), rows, {"spend": spend})


# (channel, cost per contact, cost per response, relative uplift) of ten campaigns, as bench/instances.py draws them.
OFFER_CAMPAIGNS = (("email", 0.02, 0.5, 0.10), ("email", 0.02, 1.0, 0.15), ("email", 0.03, 0.5, 0.12),
                   ("sms", 0.08, 0.5, 0.20), ("sms", 0.08, 1.0, 0.25), ("direct_mail", 0.70, 2.0, 0.35),
                   ("direct_mail", 0.90, 2.0, 0.40), ("call", 3.00, 5.0, 0.80), ("call", 4.00, 5.0, 1.00),
                   ("email", 0.02, 0.5, 0.08))


def offer_levels(n: int, seed: int = 3) -> Problem:
    """Offer variants as the bench's ``variants`` kind draws them, small: ten campaigns at three
    levels (a deeper offer lifts more and costs more per response), columns 3j + v; a total
    budget and one per campaign on expected spend over its three levels, the sms and call
    capacities, and caps on campaign 1's audience and campaign 0's deepest offer."""
    rng = np.random.default_rng(seed)
    channel, per_contact, per_response, lift = (np.array(column) for column in zip(*OFFER_CAMPAIGNS))
    k = len(channel)
    worth = rng.lognormal(np.log(60.0), 0.9, size=(n, 1, 1))
    p_control = 0.01 + 0.19 * rng.beta(1.2, 5.0, size=(n, k, 1))
    responsiveness = 0.6 * rng.standard_normal((n, 1, 1)) + 0.8 * rng.standard_normal((n, k, 1))
    depth, cost_times = np.array([0.7, 1.0, 1.4]), np.array([0.6, 1.0, 1.6])
    p_treat = np.clip(p_control * (1.0 + lift[:, None] * depth * (1.0 + 0.965 * responsiveness)), 0.0, 1.0)
    spend = (per_contact[:, None] + p_treat * per_response[:, None] * cost_times).reshape(n, 3 * k)
    value = 0.95 * ((p_treat - p_control) * worth).reshape(n, 3 * k) - spend
    eligible = np.repeat(rng.random((n, k)) < 0.6, 3, axis=1)
    positive = np.where(eligible & (value > 0), spend, 0.0).sum(axis=0) / 3
    campaign, channels = np.repeat(np.arange(k), 3), np.repeat(channel, 3)
    rows = (
        CouplingRow("budget", "budget", Sense.LE, 0.3 * positive.sum(), "spend", np.ones(3 * k, bool)),
        *(CouplingRow(f"budget[c{j}]", "campaign_budget", Sense.LE, 0.2 * positive[3 * j:3 * j + 3].sum(), "spend",
                      campaign == j) for j in range(k)),
        CouplingRow("max_audience[c1]", "max_audience", Sense.LE, round(0.05 * n), COUNT, campaign == 1),
        *(CouplingRow(f"capacity[{name}]", "channel_capacity", Sense.LE, round(share * n), COUNT, channels == name)
          for name, share in (("sms", 0.06), ("call", 0.09))),
        CouplingRow("max_audience[c0:v2]", "max_audience", Sense.LE, round(0.01 * n), COUNT, np.arange(3 * k) == 2),
    )
    return Problem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"c{j}:v{v}" for j in range(k) for v in range(3)),
        channels=tuple(channels), pair_value=np.where(eligible, value, 0.0), spend=spend, eligible=eligible,
        treated_share=np.ones(3 * k), rows=rows, weights={"spend": spend},
    )


class Standings:
    """A progress watcher that keeps every pass (stage, done, customers) and (phase, plan, bound) told."""

    def __init__(self) -> None:
        self.passes: list[tuple[str, int, int]] = []
        self.told: list[tuple[str, float | None, float | None]] = []

    def __call__(self, stage: str, done: int, customers: int) -> None:
        self.passes.append((stage, done, customers))

    def standing(self, phase: str, objective: float | None, bound: float | None) -> None:
        self.told.append((phase, objective, bound))


def competing(n: int, seed: int = 5) -> PricedProblem:
    """n customers × 6 campaigns (0-2 e-mail, 3-4 sms, 5 a call): minimum audiences of 0.3 n on
    e-mails 0 and 1, a cap on the e-mails' expected responses (a per-customer weight) at 0.6 × what
    those audiences would bring on average, a floor of VIP customers called, a total budget."""
    rng = np.random.default_rng(seed)
    k = 6
    response = rng.beta(1.2, 12.0, size=(n, k))
    worth = rng.lognormal(np.log(60.0), 0.9, size=(n, 1))
    cost = np.array([0.02, 0.03, 0.02, 0.08, 0.08, 3.0])
    value = response * worth - cost
    value[rng.random((n, k)) < 0.3] = -np.inf
    vip = (rng.random((n, 1)) < 0.05) * np.ones((1, k))
    email, only = np.arange(k) < 3, lambda j: np.arange(k) == j  # noqa: E731
    rows = (
        CouplingRow("min_audience[k0]", "min_audience", Sense.GE, 0.3 * n, COUNT, only(0)),
        CouplingRow("min_audience[k1]", "min_audience", Sense.GE, 0.3 * n, COUNT, only(1)),
        CouplingRow("email_responses", "custom", Sense.LE, 0.6 * 0.6 * n * response[:, :2].mean(), "response", email),
        CouplingRow("vip_called", "custom", Sense.GE, 0.02 * n, "vip", only(5)),
        CouplingRow("budget", "budget", Sense.LE, 0.1 * n, "cost", np.ones(k, bool)),
    )
    weights = np.stack([np.broadcast_to(cost, (n, k)), response, vip]).astype(np.float64)
    return PricedProblem(
        customer_ids=np.arange(n), campaign_ids=tuple(f"k{j}" for j in range(k)), value=value,
        weights=weights, row_weight=np.array([-1, -1, 1, 2, 0]), campaigns=np.array([r.campaigns for r in rows]),
        rows=rows,
    )

"""The readable Pyomo model of a Problem, one builder per constraint family.

Variables exist only for candidate pairs p = (i, j) (see Problem.candidate_pairs):

    max  sum_p c_p assign_p
    s.t. sum_{p of customer i} assign_p <= 1             one_campaign_per_customer[i]
         sum_p spend_p assign_p <= budget                  budget[...]
         min_audience_j <= sum_{p of j} assign_p <= max_audience_j
         sum_{p on channel h} assign_p <= capacity_h       channel_capacity[...]
         sum_p a_rp assign_p (<=|>=|==) b_r                custom[...]
         assign_p in {0, 1}
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyomo.environ as pyo

from optimizer.problem import CouplingRow, Problem, Sense

FAMILIES = {
    "budget": "budget",
    "campaign_budget": "budget",
    "min_audience": "audience",
    "max_audience": "audience",
    "channel_capacity": "channel_capacity",
    "custom": "custom",
}


def build_model(problem: Problem, customers: np.ndarray, campaigns: np.ndarray) -> pyo.ConcreteModel:
    """Pyomo model over the candidate pairs (customers[p], campaigns[p])."""
    model = pyo.ConcreteModel(name="cvo_assignment")
    model.pairs = pyo.RangeSet(0, len(customers) - 1) if len(customers) else pyo.Set(initialize=[])
    model.assign = pyo.Var(model.pairs, domain=pyo.Binary)
    add_objective(model, problem.value[customers, campaigns])
    add_one_campaign_per_customer(model, customers)
    add_budget_rows(model, problem, customers, campaigns)
    add_audience_rows(model, problem, customers, campaigns)
    add_channel_capacity(model, problem, customers, campaigns)
    add_custom_constraints(model, problem, customers, campaigns)
    return model


def add_objective(model: pyo.ConcreteModel, value: np.ndarray) -> None:
    model.incremental_value = pyo.Objective(
        expr=pyo.quicksum(float(value[p]) * model.assign[p] for p in model.pairs), sense=pyo.maximize
    )


def add_one_campaign_per_customer(model: pyo.ConcreteModel, customers: np.ndarray) -> None:
    """sum_j assign_ij <= 1, written only for customers with two or more candidate campaigns."""
    order = np.argsort(customers, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(customers[order]) != 0])
    groups = {int(customers[order[s]]): order[s:e] for s, e in zip(starts, np.r_[starts[1:], len(order)]) if e - s > 1}
    model.customers_with_choice = pyo.Set(initialize=sorted(groups))
    model.one_campaign_per_customer = pyo.Constraint(
        model.customers_with_choice,
        rule=lambda m, i: pyo.quicksum(m.assign[int(p)] for p in groups[i]) <= 1,
    )


def add_budget_rows(model: pyo.ConcreteModel, problem: Problem, customers: np.ndarray, campaigns: np.ndarray) -> None:
    """Total and per-campaign caps on expected spend."""
    _add_rows(model, "budget", _family(problem, "budget"), problem, customers, campaigns)


def add_audience_rows(model: pyo.ConcreteModel, problem: Problem, customers: np.ndarray, campaigns: np.ndarray) -> None:
    """Minimum and maximum audience (treatment plus control) of each campaign."""
    _add_rows(model, "audience", _family(problem, "audience"), problem, customers, campaigns)


def add_channel_capacity(
    model: pyo.ConcreteModel, problem: Problem, customers: np.ndarray, campaigns: np.ndarray
) -> None:
    """Contacts each channel can carry."""
    _add_rows(model, "channel_capacity", _family(problem, "channel_capacity"), problem, customers, campaigns)


def add_custom_constraints(
    model: pyo.ConcreteModel, problem: Problem, customers: np.ndarray, campaigns: np.ndarray
) -> None:
    """The scenario's own aggregate constraints."""
    _add_rows(model, "custom", _family(problem, "custom"), problem, customers, campaigns)


def row_component(model: pyo.ConcreteModel, row: CouplingRow) -> pyo.Constraint:
    """The Pyomo constraint that holds a coupling row."""
    return getattr(model, FAMILIES[row.family])[row.name]


def _family(problem: Problem, family: str) -> list[CouplingRow]:
    return [row for row in problem.rows if FAMILIES[row.family] == family]


def _add_rows(
    model: pyo.ConcreteModel, component: str, rows: Iterable[CouplingRow],
    problem: Problem, customers: np.ndarray, campaigns: np.ndarray,
) -> None:
    rows = {row.name: row for row in rows}

    def rule(m: pyo.ConcreteModel, name: str) -> object:
        row = rows[name]
        coefficients = problem.coefficients(row)[customers, campaigns]
        nonzero = np.flatnonzero(coefficients)
        if nonzero.size == 0:
            return pyo.Constraint.Feasible if row.satisfied(0.0) else pyo.Constraint.Infeasible
        lhs = pyo.quicksum(float(coefficients[p]) * m.assign[int(p)] for p in nonzero)
        if row.sense is Sense.LE:
            return lhs <= row.rhs
        if row.sense is Sense.GE:
            return lhs >= row.rhs
        return lhs == row.rhs

    setattr(model, component, pyo.Constraint(list(rows), rule=rule))

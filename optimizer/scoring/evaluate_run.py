"""Evaluating a cvo optimize run's plan from files (``cvo evaluate``): the plan and the randomized
history read, the run's scenario charging each campaign its cost per contact, and the printed table.
The estimator itself is optimizer/scoring/evaluate.py's.

    from optimizer.scoring.evaluate_run import evaluate_files, format_evaluation
    print(format_evaluation(evaluate_files("out/weekly", Path("examples/data/history.parquet"))))
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import ScenarioError
from optimizer.scoring.evaluate import COLUMNS, EvaluateOptions, Evaluation, evaluate_plan
from optimizer.scoring.uplift import HistoryColumns, campaign_arms, read_history
from optimizer.store.files import PLAN_FILE, PLAN_FOLDER, SUMMARY_FILE
from optimizer.store.object_runs import object_store_url, readable_run
from optimizer.store.runs import read_run
from optimizer.store.tables import flag_values, read_table


def evaluate_files(plan_path: Path | str, history_path: Path, columns: HistoryColumns = COLUMNS,
                   options: EvaluateOptions | None = None) -> Evaluation:
    """``cvo evaluate PLAN --history H``: read both files and evaluate. Without costs in
    ``options``, a plan in its ``cvo optimize`` folder is charged its scenario's cost per contact.
    PLAN may also be a run on an object store (OUT, OUT/runs/<run_id>, or its plan.parquet),
    read through its checked local copy (optimizer/store/object_runs.py)."""
    options = options or EvaluateOptions()
    url = object_store_url(plan_path)
    if url is not None:
        with readable_run(url.removesuffix(f"/{PLAN_FILE}")) as (folder, _):
            plan_file = folder / PLAN_FILE if (folder / PLAN_FILE).is_file() else folder / PLAN_FOLDER
            return evaluate_files(plan_file, history_path, columns, options)
    plan = read_table(Path(plan_path), what="plan", text_columns=("customer_id", "campaign_id"))
    history = read_history(Path(history_path), columns)
    costs, source = (tested_costs(run_costs(Path(plan_path)), history, columns) if options.costs is None
                     else (dict(options.costs), "given"))
    if _is_flag(history, options.outcome):  # money off a 0/1 rate means nothing
        if options.costs:
            raise ScenarioError(f"Contact costs were given, but the outcome '{options.outcome}' is 0/1, not money",
                                where="--cost", fix="Value the plan by a money outcome (--outcome revenue) to "
                                "charge costs, or leave out --cost to compare conversion rates")
        costs, source = {}, f"none: '{options.outcome}' is 0/1, not money"
    evaluation = evaluate_plan(plan, history, columns, replace(options, costs=costs or None,
                                                               some_costs=options.costs is None))
    return replace(evaluation, costs=costs, costs_source=source)


def _is_flag(history: pd.DataFrame, outcome: str) -> bool:
    """Whether the history's ``outcome`` column holds only 0 and 1 (a conversion, not money)."""
    if outcome not in history:
        return False  # randomized_history names the missing column
    return len(history) > 0 and not np.isnan(flag_values(history[outcome])).any()


def run_costs(plan_path: Path) -> tuple[dict[str, float], str]:
    """Each campaign's cost per contact from the run folder ``plan_path`` is or sits in (its checked
    summary.json), and where they came from; none when the plan is not in such a folder. A campaign
    with offer variants costs the mean of its variants' costs over the customers the plan sends each."""
    folder = next((found for found in (plan_path, plan_path.parent) if (found / SUMMARY_FILE).is_file()), None)
    if folder is None:
        return {}, "none given (give --cost, or evaluate a cvo optimize folder or the plan.parquet in it)"
    summary = read_run(folder).summary
    costs = {str(c["id"]): _contact_cost(c) for c in summary.get("campaigns", [])}
    return costs, f"the scenario's cost per contact ({folder / SUMMARY_FILE})"


def tested_costs(costs: tuple[dict[str, float], str], history: pd.DataFrame,
                 columns: HistoryColumns) -> tuple[dict[str, float], str]:
    """The scenario's costs of the campaigns some history customer got: a scenario campaign the history
    never tested cannot be charged, and its cost is not the user's mistake (a plan giving it fails later)."""
    charged, source = costs
    if not {columns.campaign, columns.treated} <= set(map(str, history.columns)):
        return charged, source  # randomized_history names the missing column
    labels, treated = campaign_arms(history, columns)
    tested = {str(label) for label in labels[treated == 1]}
    return {name: cost for name, cost in charged.items() if name in tested}, source


def _contact_cost(campaign: dict[str, Any]) -> float:
    """A campaign's cost per contact: its own, or its variants' weighted by the customers sent each."""
    variants = [v for v in campaign.get("variants") or [] if v.get("treatment")]
    if not variants:
        return float(campaign.get("cost_per_contact") or 0.0)
    sent = sum(v["treatment"] for v in variants)
    return float(sum(v["treatment"] * (v.get("cost_per_contact") or 0.0) for v in variants) / sent)


def format_evaluation(evaluation: Evaluation) -> str:
    """A plain-text table: policy, share treated, value per customer with its 95% interval, and the
    plan's difference to each baseline with its 95% interval."""
    differences = {d.baseline: d for d in evaluation.differences()}
    lines = [f"Plan value on {evaluation.n_customers:,} customers ({evaluation.estimator}, propensities "
             f"{evaluation.propensity}, {evaluation.interval} 95% interval)",
             f"value = {evaluation.value_basis}",
             f"{'policy':<32} {'treated':>8} {'value':>10} {'95% interval':>22} {'plan - this (95% interval)':>36}"]
    for v in (evaluation.plan, *evaluation.baselines):
        d = differences.get(v.name)
        versus = "" if d is None else f"{d.difference:,.4f} [{d.ci_low:,.4f}, {d.ci_high:,.4f}]"
        lines.append(f"{v.name:<32} {v.treated_share:>8.1%} {v.value:>10,.4f} "
                     f"{f'[{v.ci_low:,.4f}, {v.ci_high:,.4f}]':>22} {versus:>36}")
    if evaluation.n_unmatched:
        lines.append(f"{evaluation.n_unmatched:,} history customer(s) are not in the plan: left out")
    if evaluation.uncharged:
        lines.append("History campaigns without a cost, left out of the best-campaign baseline: "
                     + ", ".join(repr(name) for name in evaluation.uncharged))
    return "\n".join(lines)

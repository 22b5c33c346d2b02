"""Three consecutive weekly runs of scenarios/weekly.yaml with simulated outcomes: the weekly loop.

    python examples/weekly/run.py            # or: make weekly

Each week (Mondays 2026-01-05, -12, -19): optimise against the contact history, commit the
plan, simulate what the customers did over each campaign's measurement window, and measure the
campaign from its control group. Then check, straight from the history file, that no customer
was contacted inside a cool-down or an open measurement window, and compare each measured uplift
with the simulation's truth. Files go to out/weekly_loop/ (the history is rebuilt from scratch);
the table is printed and stored in OUT/results.json; with --update-readme also in
examples/weekly/results.json and copied into the README.

The simulation's truth is the example's score table itself: a treated customer converts with
probability p_treat, a control customer with p_control, and a conversion is worth
monetary * LogNormal(0, 0.25^2). So the true uplift of campaign j in week w is the mean of
p_treat - p_control over the audience selected for it (treated and control alike, as the
control group is a random share of that audience).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from optimizer.loop.commits import commit
from optimizer.loop.measurement import measure_run, write_measurement
from optimizer.plan.outputs import write_plan
from optimizer.plan.workflow import optimize
from optimizer.reporting.report import write_report
from optimizer.scenario.schema import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "examples" / "weekly"
SCENARIO = ROOT / "scenarios" / "weekly.yaml"
FIRST_MONDAY = dt.date(2026, 1, 5)
WEEKS = 3
REVENUE_SIGMA = 0.25
MARKERS = ("<!-- weekly-results -->", "<!-- /weekly-results -->")


def simulate_outcomes(plan: pd.DataFrame, customers: pd.DataFrame, scores: pd.DataFrame,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outcomes of the customers given a campaign, and the truth per campaign.

    converted ~ Bernoulli(p_treat if treated else p_control); revenue = converted * monetary * e^Z,
    Z ~ N(0, REVENUE_SIGMA^2). Truth: mean p_treat - p_control over the audience, and the same
    times monetary * E[e^Z] for revenue.
    """
    given = plan.dropna(subset=["campaign_id"]).merge(scores, on=["customer_id", "campaign_id"])
    given = given.merge(customers[["customer_id", "monetary"]], on="customer_id")
    treated = (given["group"] == "treatment").to_numpy()
    p = np.where(treated, given["p_treat"], given["p_control"])
    converted = rng.random(len(given)) < p
    revenue = converted * given["monetary"] * np.exp(rng.normal(0.0, REVENUE_SIGMA, len(given)))
    outcomes = pd.DataFrame({"customer_id": given["customer_id"], "converted": converted.astype(int),
                             "revenue": revenue.round(2)})
    lift = given["p_treat"] - given["p_control"]
    truth = given.assign(uplift=lift, revenue_uplift=lift * given["monetary"] * np.exp(REVENUE_SIGMA**2 / 2))
    return outcomes, truth.groupby("campaign_id")[["uplift", "revenue_uplift"]].mean()


def run_week(week: int, folder: Path, history: Path, data: tuple[pd.DataFrame, pd.DataFrame],
             rng: np.random.Generator) -> dict[str, Any]:
    """Optimise, commit, simulate and measure one week; return its figures."""
    day = FIRST_MONDAY + dt.timedelta(days=7 * week)
    out = folder / f"week{week + 1}"
    plan = optimize(_with_history(history), run_date=day)
    summary = write_plan(plan, out)
    commit(out, history)
    outcomes, truth = simulate_outcomes(plan.assignments, *data, rng)
    outcomes.to_csv(out / "outcomes.csv", index=False)
    result = measure_run(out, out / "outcomes.csv")
    write_measurement(result, out)
    write_report(out)
    return {"week": week + 1, "date": day.isoformat(), "summary": summary, "truth": truth, "result": result}


def _with_history(history: Path) -> Scenario:
    scenario = load_scenario(SCENARIO)
    policy = scenario.contact_policy.model_copy(update={"history": str(history)})
    return scenario.model_copy(update={"contact_policy": policy})


def policy_breaches(history: Path) -> dict[str, int]:
    """Contacts that broke the contact policy, counted straight from the history file with SQL."""
    scenario = load_scenario(SCENARIO)
    cooldowns = {rule.campaign or rule.channel: rule.days for rule in scenario.contact_policy.cooldowns}
    with duckdb.connect(str(history), read_only=True) as connection:
        pairs = """FROM contacts later JOIN contacts earlier ON later.customer_id = earlier.customer_id
                   AND earlier.sent_on < later.sent_on"""
        windows = connection.execute(f"SELECT count(*) {pairs} WHERE earlier.window_end > later.sent_on").fetchone()
        cooled = sum(connection.execute(
            f"""SELECT count(*) {pairs} WHERE later."group" = 'treatment' AND earlier."group" = 'treatment'
                AND (later.campaign_id = ? AND earlier.campaign_id = ? OR later.channel = ? AND earlier.channel = ?)
                AND date_diff('day', earlier.sent_on, later.sent_on) < ?""", [key, key, key, key, days]).fetchone()[0]
            for key, days in cooldowns.items())
        total = connection.execute("SELECT count(*) FROM contacts").fetchone()[0]
    return {"contacts": int(total), "inside_open_window": int(windows[0]), "inside_cooldown": int(cooled)}


def results_rows(weeks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per week and campaign: audience, measured uplift with its CI, the truth, covered or not."""
    rows = []
    for week in weeks:
        for campaign in week["result"].measurement.campaigns:
            truth = week["truth"].loc[campaign.campaign_id]
            rows.append({
                "week": week["week"], "campaign": campaign.campaign_id, "treated": campaign.n_treatment,
                "control": campaign.n_control, **_versus("uplift", campaign.response_uplift, truth["uplift"]),
                **_versus("revenue", campaign.incremental_revenue_per_customer, truth["revenue_uplift"]),
            })
    return rows


def _versus(name: str, estimate: Any, truth: float) -> dict[str, Any]:
    return {f"{name}_measured": estimate.estimate, f"{name}_low": estimate.ci_low, f"{name}_high": estimate.ci_high,
            f"{name}_true": float(truth), f"{name}_covered": bool(estimate.ci_low <= truth <= estimate.ci_high)}


def format_results(results: dict[str, Any]) -> str:
    """The README table: the policy check, then measured against true uplift per week and campaign."""
    breaches = results["breaches"]
    lines = [
        f"Contacts recorded over {WEEKS} weeks: {breaches['contacts']:,}; inside an open measurement window: "
        f"{breaches['inside_open_window']}; inside a cool-down: {breaches['inside_cooldown']}.",
        "Kept out by the contact policy: " + "; ".join(
            f"week {w['week']} {w['blocked']:,} customers" for w in results["weeks"]) + ".",
        "",
        "| week | campaign | treated | control | response uplift, measured [95% CI] | true | covered "
        "| revenue uplift / customer, measured [95% CI] | true | covered |",
        "| --- | --- | ---: | ---: | --- | ---: | --- | --- | ---: | --- |",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['week']} | {r['campaign']} | {r['treated']:,} | {r['control']:,} | "
            f"{r['uplift_measured']:+.4f} [{r['uplift_low']:+.4f}, {r['uplift_high']:+.4f}] | {r['uplift_true']:+.4f} "
            f"| {'yes' if r['uplift_covered'] else '**no**'} | {r['revenue_measured']:+.2f} [{r['revenue_low']:+.2f}, "
            f"{r['revenue_high']:+.2f}] | {r['revenue_true']:+.2f} | {'yes' if r['revenue_covered'] else '**no**'} |")
    covered = sum(r["uplift_covered"] for r in results["rows"]) + sum(r["revenue_covered"] for r in results["rows"])
    lines += ["", f"{covered} of {2 * len(results['rows'])} 95% intervals cover the simulation's true uplift."]
    return "\n".join(lines)


def main(folder: Path, seed: int) -> dict[str, Any]:
    """The three weeks from an empty history; results stored beside this script."""
    shutil.rmtree(folder, ignore_errors=True)
    history = folder / "history.duckdb"
    scenario = load_scenario(SCENARIO)
    data = (pd.read_parquet(scenario.resolve(scenario.customers)), pd.read_parquet(scenario.resolve(scenario.scores)))
    rng = np.random.default_rng(seed)
    weeks = [run_week(week, folder, history, data, rng) for week in range(WEEKS)]
    blocked = [{"week": w["week"], "blocked": next(r["customers"] for r in w["summary"]["unassigned"]["reasons"]
                                                   if "contact policy" in r["reason"])} for w in weeks]
    return {"seed": seed, "breaches": policy_breaches(history), "weeks": blocked, "rows": results_rows(weeks)}


def update_readme(table: str) -> None:
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    readme.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "weekly_loop")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--update-readme", action="store_true",
                        help="also store the results in examples/weekly/results.json and its README (make "
                        "weekly-readme); by default only --out is written, so the checkout stays clean")
    args = parser.parse_args()
    results = main(args.out, args.seed)
    table = format_results(results)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.update_readme:
        (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        update_readme(table)
    print(table)
    print(f"Plans, outcomes, measurements and reports: {args.out}/week1..{WEEKS}")

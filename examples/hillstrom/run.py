"""Hillstrom e-mail experiment end to end: fit uplift models, plan a 30% e-mail, value the plan by IPW.

    python examples/hillstrom/run.py            # or: make hillstrom

Reads ../shared/data/hillstrom/hillstrom.csv beside the project root, checks its known figures,
splits the 64,000 customers 50/50 (seed 2008) and runs the chain of cvo commands twice: `cvo score`
fits the cells model (--model cells: mean revenue per arm in each mens x womens x newbie cell) or,
for comparison, the conversion T-learner on one half and scores the other; `cvo optimize` plans it
(at most 30% may be e-mailed); `cvo evaluate` values the plan on that half. The commands run in
this process, through the console script's own code, and are printed in the table. The peers
(examples/hillstrom/peers.py) and the baselines are valued with optimizer.evaluate, by the same
estimate, on value (revenue minus the e-mail cost), visits and conversions; the whole is repeated
on SPLITS split seeds and the goals (GOALS) are judged over them. Files go to out/hillstrom/; the results
table is printed and stored in OUT/results.json; with --update-readme also in
examples/hillstrom/results.json and copied into examples/hillstrom/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
import yaml
from numpy.typing import NDArray

from optimizer.cli import app
from optimizer.scoring.evaluate import (
    EvaluateOptions,
    PolicyValue,
    deterministic_policy,
    plan_arms,
    policy_value,
    random_policy,
    randomized_history,
)
from optimizer.store.tables import read_table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the example's own modules, however it is loaded
from peers import PEERS, targeted  # noqa: E402
from tables import (  # noqa: E402
    EMAIL_SHARE,
    EVERYBODY,
    MAIN,
    MIX,
    OUTCOMES,
    RANDOM,
    render_table,
    update_readme,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "hillstrom" / "hillstrom.csv"
HERE = ROOT / "examples" / "hillstrom"
ARMS = {"Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email", "No E-Mail": None}
# Known figures of the data (data README): customers, conversion rate, mean spend per arm.
KNOWN = {"Mens E-Mail": (21_307, 0.01253, 1.423), "Womens E-Mail": (21_387, 0.00884, 1.077),
         "No E-Mail": (21_306, 0.00573, 0.653)}
# 'channel' (Phone/Web/Multichannel: how the customer bought) is renamed: cvo reserves 'channel'.
FEATURES = ("recency", "history", "mens", "womens", "zip_code", "newbie", "purchase_channel")
SEED = 2008
COST_PER_EMAIL = 0.10
OBJECTIVE = "incremental_value"
COMPARISON = "cvo plan (T-learner)"
SPLITS = 10
CELLS, SHRINKAGE = ("mens", "womens", "newbie"), 100.0  # the cells model (cvo score --model cells)
MIN_RESPONDERS = 30


@dataclass(frozen=True)
class Halves:
    """The two halves of the customers as campaign histories (optimizer.uplift's columns)."""

    fit: pd.DataFrame
    evaluation: pd.DataFrame


def load_hillstrom(path: Path = DATA) -> pd.DataFrame:
    """The raw table; a clear message when ../shared/data is not beside the project."""
    if not path.is_file():
        raise SystemExit(f"{path} not found: the Hillstrom data must be in ../shared/data beside the project root")
    return pd.read_csv(path)


def check_known_figures(data: pd.DataFrame) -> None:
    """Stop unless the arm sizes, conversion rates and mean spends are the published ones."""
    stats = data.groupby("segment").agg(n=("conversion", "size"), rate=("conversion", "mean"),
                                        spend=("spend", "mean"))
    for arm, (n, rate, spend) in KNOWN.items():
        got = stats.loc[arm]
        if int(got.n) != n or round(float(got.rate), 5) != rate or round(float(got.spend), 3) != spend:
            raise SystemExit(f"{arm}: {int(got.n)} customers, conversion {got.rate:.5f}, spend {got.spend:.3f}; "
                             f"expected {n}, {rate}, {spend}. Is {DATA} the original file?")


def to_history(data: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: id, campaign (None for the shared 'No E-Mail' control), outcomes, features."""
    campaign = data["segment"].map(ARMS).astype(object)
    return pd.DataFrame({
        "customer_id": [f"h{i:05d}" for i in range(len(data))],
        "campaign_id": campaign.where(campaign.notna(), None),
        "treated": campaign.notna().astype(int),
        "converted": data["conversion"].astype(int),
        "revenue": data["spend"].astype(float),
        "visited": data["visit"].astype(int),  # only for valuing policies on visits: never in a file cvo reads
        **{name: data[name] for name in FEATURES if name != "purchase_channel"},
        "purchase_channel": data["channel"],
    })


def split(history: pd.DataFrame, seed: int = SEED, sample: int | None = None) -> Halves:
    """A seeded 50/50 split of the customers (of a random ``sample`` of them when given)."""
    order = np.random.default_rng(seed).permutation(len(history))[: sample or len(history)]
    half = len(order) // 2
    return Halves(history.iloc[np.sort(order[:half])].reset_index(drop=True),
                  history.iloc[np.sort(order[half:])].reset_index(drop=True))


def cvo(*args: str | Path) -> str:
    """Run one ``cvo`` command in this process (the console script's own code) and return what it printed.

    A failing command stops the example with the command line and its exit code; its message is on stderr.
    """
    command = typer.main.get_command(app)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = command.main(args=[str(a) for a in args], prog_name="cvo", standalone_mode=False)
    if code:
        raise SystemExit(f"cvo {' '.join(map(str, args))} exited with {code}")
    return printed.getvalue()


def shell_line(args: tuple[str | Path, ...]) -> str:
    """The command as a user types it from the project root."""
    return "cvo " + " ".join(shlex.quote(os.path.relpath(a, ROOT) if isinstance(a, Path) else a) for a in args)


def write_halves(halves: Halves, folder: Path) -> dict[str, Path]:
    """The fitting half's history, the evaluation half's customers and history, as cvo reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"fit": folder / "fit_history.parquet", "customers": folder / "evaluation_customers.parquet",
             "evaluation": folder / "evaluation_history.parquet"}
    halves.fit.drop(columns="visited").to_parquet(files["fit"], index=False)
    halves.evaluation[["customer_id", *FEATURES]].to_parquet(files["customers"], index=False)
    halves.evaluation.drop(columns="visited").to_parquet(files["evaluation"], index=False)
    return files


def write_scenario(values: dict[str, float], n_customers: int, out: Path, objective: str) -> Path:
    """A cvo scenario: both e-mails on one channel that carries at most 30% of the customers."""
    scenario = {
        "name": f"hillstrom_{objective}", "customers": "customers.parquet", "scores": "scores.parquet",
        "seed": SEED, "objective": objective,
        "campaigns": [{"id": j, "channel": "email", "cost_per_contact": COST_PER_EMAIL,
                       "value_per_response": round(w, 4), "control_fraction": 0.0} for j, w in values.items()],
        "channels": {"email": {"capacity": int(EMAIL_SHARE * n_customers)}},
    }
    path = out / f"hillstrom_{objective}.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


@dataclass(frozen=True)
class Chain:
    """One model's ``cvo score`` → ``cvo optimize`` → ``cvo evaluate`` on a split, as the commands left it."""

    commands: tuple[str, ...]  # as a user types them
    report: str  # the model report cvo score printed
    value_per_response: dict[str, float]
    scores: pd.DataFrame
    arms: pd.Series  # each evaluation customer's e-mail in the plan, or None
    evaluated: float  # the plan's value per customer as cvo evaluate printed it


def run_chain(model: str, files: dict[str, Path], n_customers: int, seed: int, folder: Path,
              min_responders: int) -> Chain:
    """Score the evaluation customers with a model fit on the fitting half, plan them, evaluate the plan."""
    model_options = ("--model", "cells", "--cells", ",".join(CELLS), "--shrinkage", f"{SHRINKAGE:g}") \
        if model == MAIN else ("--model", "t-learner")
    score = ("score", "--history", files["fit"], "--customers", files["customers"], *model_options,
             "--seed", str(seed), "--min-responders", str(min_responders), "--out", folder)
    printed = cvo(*score)
    values = json.loads((folder / "score_report.json").read_text())["value_per_response"]
    optimize = ("optimize", write_scenario(values, n_customers, folder, OBJECTIVE), "--out", folder / OBJECTIVE,
                "--json")
    cvo(*optimize)
    costs = [arg for j in values for arg in ("--cost", f"{j}={COST_PER_EMAIL:g}")]
    evaluate = ("evaluate", folder / OBJECTIVE / "plan.parquet", "--history", files["evaluation"], *costs, "--json")
    evaluated = json.loads(cvo(*evaluate))["plan"]["value"]
    plan = read_table(folder / OBJECTIVE / "plan.parquet", what="plan", text_columns=("customer_id", "campaign_id"))
    return Chain(tuple(shell_line(c) for c in (score, optimize, evaluate)), printed.split("\nWrote ")[0].strip(),
                 values, pd.read_parquet(folder / "scores.parquet"), plan_arms(plan), evaluated)


def better_campaign(fit: pd.DataFrame) -> str:
    """The campaign with the higher mean revenue on the fitting half (chosen without the evaluation half)."""
    return str(fit[fit.treated == 1].groupby("campaign_id")["revenue"].mean().idxmax())


def ratio(policy: PolicyValue, reference: PolicyValue, nobody: PolicyValue) -> dict[str, float]:
    """Gain over nobody of ``policy`` / that of ``reference``, with a paired delta-method 95% interval.

    R = mean(g_p) / mean(g_r), g = t - t_nobody per customer; se(R) = sd(g_p - R g_r) / (sqrt(n) |mean(g_r)|).
    """
    g_p, g_r = policy.terms - nobody.terms, reference.terms - nobody.terms
    r = g_p.mean() / g_r.mean()
    se = (g_p - r * g_r).std(ddof=1) / (np.sqrt(len(g_p)) * abs(g_r.mean()))
    return {"ratio": float(r), "low": float(r - 1.96 * se), "high": float(r + 1.96 * se)}


def policies(halves: Halves, chains: dict[str, Chain], seed: int) -> dict[str, NDArray[np.object_]]:
    """Each policy's e-mail per evaluation customer (None: none): the cvo plans, then the peers
    (examples/hillstrom/peers.py), fit on the fitting half with the split's ``seed``."""
    ids = halves.evaluation.customer_id.to_numpy()
    arms = {name: chain.arms.loc[ids].to_numpy() for name, chain in chains.items()}
    visits = halves.fit.visited.to_numpy(float)
    for name, peer in PEERS.items():
        arms[name] = targeted(peer(halves.fit, visits, halves.evaluation, COST_PER_EMAIL, seed), EMAIL_SHARE, seed)
    return arms


def value_policies(halves: Halves, arms: dict[str, NDArray[np.object_]], outcome: str) -> dict[str, PolicyValue]:
    """IPW value per customer of each policy of ``arms`` and of the baselines on the evaluation half.

    ``outcome`` 'value' is revenue minus the e-mail cost (the plans' objective), 'visits' and
    'conversions' the visit and conversion rates (no cost). The random baseline at the plan's volume
    and mix copies the first policy (the main plan).
    """
    costs = dict.fromkeys(("mens_email", "womens_email"), COST_PER_EMAIL if outcome == "value" else 0.0)
    options = EvaluateOptions(outcome=OUTCOMES[outcome], costs=costs)
    data = randomized_history(halves.evaluation, options=options)
    better = better_campaign(halves.fit)  # chosen on the fitting half
    valued = {name: deterministic_policy(data, policy) for name, policy in arms.items()}
    plan = next(iter(valued.values()))
    valued.update({
        "nobody": random_policy(data, {}),
        EVERYBODY: random_policy(data, {better: 1.0}),
        RANDOM: random_policy(data, {better: EMAIL_SHARE}),
        MIX: random_policy(data, {arm: float(plan[:, a].mean()) for a, arm in enumerate(data.arms) if a}),
    })
    return {name: policy_value(data, name, policy, options) for name, policy in valued.items()}


def check_evaluated(values: dict[str, PolicyValue], chains: dict[str, Chain]) -> None:
    """cvo evaluate's value of each plan is the table's (the same IPW estimate); stop if they differ."""
    for name, chain in chains.items():
        if abs(chain.evaluated - values[name].value) > 1e-9:
            raise SystemExit(f"{name}: cvo evaluate printed {chain.evaluated}, the table has {values[name].value}")


def run_split(history: pd.DataFrame, seed: int, out: Path, sample: int | None = None,
              min_responders: int = MIN_RESPONDERS) -> tuple[dict[str, dict[str, PolicyValue]], dict[str, Chain]]:
    """Split; per model cvo score, optimize and evaluate; fit the peers; value every policy on the
    evaluation half for each outcome (``OUTCOMES``).

    The main plan's (cells) files are in ``out``, the comparison's (T-learner) in ``out/t_learner``.
    """
    halves = split(history, seed, sample)
    files = write_halves(halves, out)
    chains = {name: run_chain(name, files, len(halves.evaluation), seed, out / folder, min_responders)
              for name, folder in ((MAIN, "."), (COMPARISON, "t_learner"))}
    arms = policies(halves, chains, seed)
    values = {outcome: value_policies(halves, arms, outcome) for outcome in OUTCOMES}
    check_evaluated(values["value"], chains)
    return values, chains


def goal_ratios(values: dict[str, PolicyValue]) -> dict[str, dict[str, float]]:
    plan, nobody = values[MAIN], values["nobody"]
    return {"random": ratio(plan, values[RANDOM], nobody), "everybody": ratio(plan, values[EVERYBODY], nobody)}


def policy_rows(values: dict[str, PolicyValue]) -> list[dict[str, Any]]:
    """One row per policy: share e-mailed, value and gain over nobody with their 95% intervals."""
    rows = []
    for name, v in values.items():
        gain, se = v.minus(values["nobody"])
        rows.append({"policy": name, "emailed": v.treated_share, "value": v.value, "low": v.ci_low,
                     "high": v.ci_high, "gain": gain, "gain_low": gain - 1.96 * se, "gain_high": gain + 1.96 * se})
    return rows


def split_gains(seed: int, values: dict[str, dict[str, PolicyValue]]) -> dict[str, Any]:
    """Every policy's gain over nobody on one split, per outcome."""
    return {"seed": seed, **{outcome: {name: v.value - valued["nobody"].value for name, v in valued.items()}
                             for outcome, valued in values.items()}}


def run(seed: int = SEED, splits: int = SPLITS, sample: int | None = None, out: Path = ROOT / "out" / "hillstrom",
        min_responders: int = MIN_RESPONDERS) -> dict[str, Any]:
    """The experiment on split ``seed``, then every policy's gains on ``splits`` - 1 further splits.

    ``sample`` and ``min_responders`` make a quick version for the tests (fewer customers, fewer responders).
    """
    data = load_hillstrom()
    check_known_figures(data)
    history = to_history(data)
    values, chains = run_split(history, seed, out, sample, min_responders)
    rows = [split_gains(seed, values)]
    for other in range(seed + 1, seed + splits):
        rows.append(split_gains(other, run_split(history, other, out / f"split_{other}", sample, min_responders)[0]))
    settings = {"seed": seed, "customers_evaluated": (sample or len(history)) - (sample or len(history)) // 2,
                "cost_per_email": COST_PER_EMAIL, "email_share": EMAIL_SHARE,
                "value_per_response": chains[MAIN].value_per_response, "better_campaign": better_campaign(
                    split(history, seed, sample).fit)}
    return {"settings": settings, "commands": list(chains[MAIN].commands), "rows": policy_rows(values["value"]),
            "goals": goal_ratios(values["value"]), "splits": rows,
            "model_report": "\n".join(chain.report for chain in chains.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED, help=f"split and model seed (default {SEED})")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "hillstrom", help="folder for the files")
    parser.add_argument("--update-readme", action="store_true",
                        help="also store the results in examples/hillstrom/results.json and its README (make "
                        "hillstrom-readme); by default only --out is written, so the checkout stays clean")
    args = parser.parse_args()
    start = time.perf_counter()
    results = run(args.seed, out=args.out)
    table = render_table(results)
    print(table, "", sep="\n")
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.update_readme:
        (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        update_readme(table)
    print(f"Wrote {args.out}/ ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

"""The Hillstrom example's tables: the results block README.md holds between its markers, and the
goals judged over the splits (examples/hillstrom/run.py computes what they show)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

HERE = Path(__file__).resolve().parent
EMAIL_SHARE = 0.30
MARKERS = ("<!-- hillstrom-results -->", "<!-- /hillstrom-results -->")
# Issue 18's goals, over the splits (value = revenue minus the e-mail cost, gains over e-mailing nobody):
# the plan's gain / random 30%'s: >= 1.5 on average and >= 1.0 on 9 of 10 splits; the plan's gain / the gain of
# e-mailing everybody the better e-mail: >= 0.5 on average; the plan's ratio to random >= the best peer's + 0.2.
GOALS = {"random": 1.5, "random_each": 1.0, "random_splits": 0.9, "everybody": 0.5, "peers": 0.2}
MAIN = "cvo plan (cells)"
RANDOM, EVERYBODY = f"random {EMAIL_SHARE:.0%}, better e-mail", "everybody, better e-mail"
MIX = "random at the plan's volume and mix"
# what each outcome is: the value (revenue minus the e-mail cost, the plans' objective), visits and conversions
OUTCOMES = {"value": "revenue", "visits": "visited", "conversions": "converted"}


def verdict(r: dict[str, float], goal: float) -> str:
    """Whether a ratio meets its goal, by the point estimate and by its 95% interval."""
    if r["low"] >= goal:
        return "met (the whole interval is above the goal)"
    if r["ratio"] >= goal:
        return "met by the estimate, not established (the interval reaches below the goal)"
    if r["high"] >= goal:
        return "not met by the estimate (the interval does not exclude the goal)"
    return "not met (the whole interval is below the goal)"


def render_table(results: dict[str, Any]) -> str:
    """The results as the markdown the command prints and README.md holds between the markers."""
    s = results["settings"]
    lines = ["The chain for the cells plan, as run (the T-learner's is the same with --model t-learner, in "
             "t_learner/):", "", "```console", *(f"$ {command}" for command in results["commands"]), "```", "",
             "What `cvo score` printed for each model:", "",
             "```text", results["model_report"], "```", "",
             f"Split seed {s['seed']}: value per customer = revenue over the two weeks minus "
             f"${s['cost_per_email']:.2f} per e-mail, by IPW on the {s['customers_evaluated']:,} customers of the "
             f"evaluation half; the better e-mail (on the fitting half) is {s['better_campaign']}; value per "
             "response " + ", ".join(f"{j} {w:.2f}" for j, w in s["value_per_response"].items()) + ".",
             "",
             "| policy | e-mailed | value per customer | 95% interval | gain over nobody | 95% interval |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in results["rows"]:
        lines.append(f"| {row['policy']} | {row['emailed']:.1%} | {row['value']:.3f} | "
                     f"{row['low']:.3f} to {row['high']:.3f} | {row['gain']:+.3f} | "
                     f"{row['gain_low']:+.3f} to {row['gain_high']:+.3f} |")
    lines.append("")
    for key, reference in (("random", RANDOM), ("everybody", EVERYBODY)):
        r, goal = results["goals"][key], GOALS[key]
        lines.append(f"- On this split, gain of the cvo plan (cells) / gain of '{reference}': {r['ratio']:.2f} "
                     f"(95% interval {r['low']:.2f} to {r['high']:.2f}); the goal of {goal:g} on average over the "
                     f"splits, here {verdict(r, goal)}.")
    return "\n".join(lines + ["", *render_splits(results["splits"])])


def targeting(splits: list[dict[str, Any]]) -> list[str]:
    """The policies that choose whom to e-mail (the plans and the peers), in the results' order."""
    return [name for name in splits[0]["value"] if name not in ("nobody", EVERYBODY, RANDOM, MIX)]


def render_splits(splits: list[dict[str, Any]]) -> list[str]:
    """Value gains per split seed, the goals over the splits, and each outcome's ratios."""
    names = targeting(splits)
    lines = [f"The same pipeline and the peers (examples/hillstrom/peers.py) on {len(splits)} splits: gain of "
             "value over e-mailing nobody, per customer, and each policy's gain / random 30%'s:", "",
             "| split seed | " + " | ".join(names) + f" | {RANDOM} | {EVERYBODY} |",
             "| --- |" + " ---: |" * (len(names) + 2)]
    for row in splits:
        gain = row["value"]
        lines.append(f"| {row['seed']} | " + " | ".join(f"{gain[name]:+.3f} ({gain[name] / gain[RANDOM]:.2f})"
                                                        for name in names)
                     + f" | {gain[RANDOM]:+.3f} | {gain[EVERYBODY]:+.3f} |")
    lines += ["", *render_goals(splits), "", *render_outcomes(splits)]
    return lines


def per_split(splits: list[dict[str, Any]], outcome: str, name: str, reference: str) -> NDArray[np.float64]:
    """``name``'s gain / ``reference``'s gain on each split, for ``outcome``."""
    return np.array([row[outcome][name] / row[outcome][reference] for row in splits])


def render_goals(splits: list[dict[str, Any]]) -> list[str]:
    """The restated goals (``GOALS``), each judged by the ratio of the mean gains over the splits (a
    mean of per-split ratios leans high, their denominators being noisy), shown beside the per-split
    ratios' mean ± SD."""
    to_random, ratio = per_split(splits, "value", MAIN, RANDOM), mean_ratio(splits, MAIN, RANDOM)
    share = mean_ratio(splits, MAIN, EVERYBODY)
    peers = {name: mean_ratio(splits, name, RANDOM) for name in targeting(splits) if name != MAIN}
    best = max(peers, key=peers.__getitem__)
    at_least = int((to_random >= GOALS["random_each"]).sum())
    needed = int(np.ceil(GOALS["random_splits"] * len(splits)))
    return [
        f"Goals, over the {len(splits)} splits, by the ratio of the mean gains (the per-split ratios' mean ± SD "
        "in brackets):", "",
        f"- cvo plan (cells) / random 30%: {ratio:.2f} [{spread(to_random)}] (goal >= {GOALS['random']:g}): "
        f"{met(ratio >= GOALS['random'])}; >= {GOALS['random_each']:g} on {at_least} of {len(splits)} splits "
        f"(goal: {needed}): {met(at_least >= needed)}.",
        f"- cvo plan (cells) / everybody e-mailed the better e-mail: {share:.2f} "
        f"[{spread(per_split(splits, 'value', MAIN, EVERYBODY))}] (goal >= {GOALS['everybody']:g}): "
        f"{met(share >= GOALS['everybody'])}. (Random 30% adds 0.3 of everybody's gain by construction, so this "
        f"goal is the plan at {GOALS['everybody'] / EMAIL_SHARE:.2f} x random 30%.)",
        f"- Best other policy by its ratio to random: {best}, {peers[best]:.2f}; the cells plan's lead "
        f"{ratio - peers[best]:+.2f} (goal >= +{GOALS['peers']:g}): {met(ratio - peers[best] >= GOALS['peers'])}.",
    ]


def mean_ratio(splits: list[dict[str, Any]], name: str, reference: str) -> float:
    """The mean value gain of ``name`` over the splits / that of ``reference``."""
    return float(np.mean([row["value"][name] for row in splits]) / np.mean([row["value"][reference]
                                                                            for row in splits]))


def spread(ratios: NDArray[np.float64]) -> str:
    """'mean ± SD' of per-split ratios (the SD only over two splits or more)."""
    return f"{ratios.mean():.2f} ± {ratios.std(ddof=1):.2f}" if len(ratios) > 1 else f"{ratios.mean():.2f}"


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render_outcomes(splits: list[dict[str, Any]]) -> list[str]:
    """Per outcome, each policy's mean gain and mean per-split ratios to random 30% and to everybody."""
    names = targeting(splits)
    lines = ["Every outcome, mean over the splits: gain over nobody per customer (value in $, visits and "
             "conversions as rates), the mean per-split ratio to random 30%'s gain, and to everybody's:", "",
             "| outcome | " + " | ".join(names) + f" | {RANDOM} | {EVERYBODY} |",
             "| --- |" + " ---: |" * (len(names) + 2)]
    for outcome in OUTCOMES:
        mean = {name: float(np.mean([row[outcome][name] for row in splits])) for name in (*names, RANDOM, EVERYBODY)}
        cells = [f"{mean[name]:+.4f} ({per_split(splits, outcome, name, RANDOM).mean():.2f} / "
                 f"{per_split(splits, outcome, name, EVERYBODY).mean():.2f})" for name in names]
        lines.append(f"| {outcome} | " + " | ".join(cells) + f" | {mean[RANDOM]:+.4f} | {mean[EVERYBODY]:+.4f} |")
    return lines


def update_readme(table: str, markers: tuple[str, str] = MARKERS, readme: Path = HERE / "README.md") -> None:
    """Replace the text between ``markers`` in the README with ``table``."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(markers[0]) + len(markers[0]), text.index(markers[1])
    readme.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")


def readme_table(markers: tuple[str, str] = MARKERS, readme: Path = HERE / "README.md") -> str:
    text = readme.read_text(encoding="utf-8")
    return text[text.index(markers[0]) + len(markers[0]): text.index(markers[1])].strip("\n")



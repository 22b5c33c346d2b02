"""What was tried to make the Hillstrom plan better: model settings and objectives over the same splits.

    python examples/hillstrom/tuning.py        # about 10 minutes; prints the table and puts it in README.md

Each variant runs run.py's pipeline (fit on one half, plan 30% with cvo, value by IPW on the
other) on the split seeds 2008-2013 and reports the mean gains over nobody per customer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from optimizer.uplift import Calibration, UpliftOptions

HERE = Path(__file__).resolve().parent
MARKERS = ("<!-- hillstrom-tuning -->", "<!-- /hillstrom-tuning -->")
VARIANTS = {
    "default: 8 leaves >= 100, rate 0.05, sigmoid": UpliftOptions(),
    "isotonic calibration": UpliftOptions(calibration=Calibration.ISOTONIC),
    "no calibration": UpliftOptions(calibration=Calibration.NONE),
    "smaller trees: 4 leaves >= 300, 300 rounds": UpliftOptions(max_leaf_nodes=4, min_samples_leaf=300, max_iter=300),
    "larger trees: 31 leaves >= 20, rate 0.1": UpliftOptions(max_leaf_nodes=31, min_samples_leaf=20,
                                                             learning_rate=0.1, max_iter=100),
}


def load_run():
    spec = importlib.util.spec_from_file_location("hillstrom_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variant_rows(run, history, name: str, options: UpliftOptions) -> list[str]:
    """Mean gains over nobody per customer on the split seeds, one row per objective."""
    gains = {objective: [] for objective in run.OBJECTIVES}
    for seed in range(run.SEED, run.SEED + run.SPLITS):
        values, _ = run.run_split(history, seed, run.ROOT / "out" / "hillstrom_tuning", run.OBJECTIVES,
                                  options=options)
        nobody = values["nobody"].value
        for objective in run.OBJECTIVES:
            gains[objective].append([values[f"cvo plan ({objective})"].value - nobody,
                                     values[run.RANDOM].value - nobody, values[run.UNCONSTRAINED].value - nobody])
    rows = []
    for objective, split_gains in gains.items():
        plan, random, unconstrained = np.mean(split_gains, axis=0)
        rows.append(f"| {name} | {objective} | {plan:+.3f} | {random:+.3f} | {unconstrained:+.3f} | "
                    f"{plan / random:.2f} | {plan / unconstrained:.2f} |")
    return rows


def main() -> None:
    run = load_run()
    history = run.to_history(run.load_hillstrom())
    lines = ["| variant | objective | cvo plan | random 30% | unconstrained | plan / random | plan / unconstrained |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    print(*lines, sep="\n")
    for name, options in VARIANTS.items():
        rows = variant_rows(run, history, name, options)
        print(*rows, sep="\n", flush=True)
        lines += rows
    run.update_readme("\n".join(lines), MARKERS)


if __name__ == "__main__":
    main()

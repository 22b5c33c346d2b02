"""cvo on a Dask LocalCluster: wall time, client and worker peak memory and network bytes per pass,
by customers and partitions, written into a marked section of a markdown file (`make bench-dask`
writes out/scaling.md, `make bench-dask-docs` the table of docs/scaling.md; about 6 minutes).

Each case generates the weekly example's customers and scores (examples/generate_data.py) at the
given size, writes them as co-partitioned parquet parts (and, in the "routed" case, the scores as
three files split by campaign, so they are joined to the customers by id), and runs
``optimize_distributed`` on a LocalCluster of two single-threaded process workers, in a fresh
process per case. Bytes per pass are the pickled results the client gathers from the partitions
in each balancing pass, measured around
``optimizer.solve.distributed.gathered``; peak memory is each process's ru_maxrss.

    python bench/dask_scaling.py --cases 100000x4 1000000x4 1000000x20 --out docs/scaling.md
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("<!-- dask-scaling -->", "<!-- /dask-scaling -->")
SEED = 2026


def write_case(folder: Path, customers: int, partitions: int, routed: bool, float32: bool = False) -> Path:
    """The weekly scenario over generated data in ``partitions`` parquet parts (kept arrays in
    float32 when ``float32``: solver.precision); returns its path."""
    sys.path.insert(0, str(ROOT / "examples"))
    from generate_data import generate

    table, scores = generate(customers, SEED)
    bounds = np.linspace(0, customers, partitions + 1).astype(int)
    (folder / "customers").mkdir()
    (folder / "scores").mkdir()
    for number, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = table.iloc[lo:hi]
        part.to_parquet(folder / "customers" / f"part-{number:05d}.parquet")
        if not routed:
            rows = scores[scores["customer_id"].isin(part["customer_id"])]
            rows.to_parquet(folder / "scores" / f"part-{number:05d}.parquet")
    if routed:
        for number, (_, rows) in enumerate(scores.groupby(pd.factorize(scores["campaign_id"])[0] % 3)):
            rows.to_parquet(folder / "scores" / f"chunk-{number}.parquet")
    scenario = yaml.safe_load((ROOT / "scenarios" / "weekly.yaml").read_text())
    scale = customers / 30_000  # the weekly scenario's limits are for its 30,000 customers
    scenario.update(customers="customers", scores="scores", budget=scenario["budget"] * scale)
    for campaign in scenario["campaigns"]:
        for key in ("min_audience", "max_audience", "budget"):
            if campaign.get(key) is not None:
                campaign[key] = round(campaign[key] * scale)
    for channel in scenario.get("channels", {}).values():
        if channel.get("capacity") is not None:
            channel["capacity"] = round(channel["capacity"] * scale)
    scenario["contact_policy"] = {"history": "history.duckdb"}
    scenario["solver"] = {"method": "decompose", "time_limit_s": 600,
                          "precision": "float32" if float32 else "float64"}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def measured_run(scenario_path: Path, out: Path) -> dict[str, Any]:
    """One distributed run with its wall time, peak memories and bytes per map stage."""
    import distributed

    import optimizer.plan.distributed as distributed_run
    import optimizer.plan.partitioned_data as loading
    import optimizer.solve.distributed as dask_customers
    from optimizer.plan.distributed import optimize_distributed
    from optimizer.scenario.schema import load_scenario

    traffic: dict[str, list[int]] = {}
    original = dask_customers.gathered

    def counted(client: Any, futures: list[Any], progress: Any, stage: str, n: int | None = None) -> list[Any]:
        results = original(client, futures, progress, stage, n)
        traffic.setdefault(stage, []).append(sum(len(pickle.dumps(result)) for result in results))
        return results

    dask_customers.gathered = counted
    loading.gathered = counted
    kept: list[float] = []
    load = distributed_run.loaded_data

    def loaded(client: Any, *args: Any, **kwargs: Any) -> Any:
        data = load(client, *args, **kwargs)
        kept.append(sum(client.run(_kept_mb).values()))  # while the partitions are held
        return data

    distributed_run.loaded_data = loaded
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        baseline = max(client.run(_peak_mb).values())
        started = time.perf_counter()
        run = optimize_distributed(load_scenario(scenario_path), client, out)
        wall = time.perf_counter() - started
        workers = max(client.run(_peak_mb).values())
    return {"wall_s": wall, "load_s": run.summary["load_seconds"], "status": run.summary["status"],
            "gap": run.summary["gap"], "client_mb": _peak_mb(), "worker_mb": workers, "worker_start_mb": baseline,
            "kept_mb": kept[0],
            "traffic": {stage: (len(sizes), sum(sizes)) for stage, sizes in traffic.items()}}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _kept_mb(dask_worker: Any) -> float:
    """What the worker keeps between passes: its partitions' arrays (pickled size, ids included)."""
    from optimizer.solve.partitions import Partition

    held = [value for value in dask_worker.data.values() if isinstance(value, Partition)]
    return sum(len(pickle.dumps(part.priced)) for part in held) / 2**20


def case_name(customers: int, partitions: int, routed: bool, float32: bool) -> str:
    return f"{customers}x{partitions}{'r' if routed else ''}{'f' if float32 else ''}"


def child(customers: int, partitions: int, routed: bool, float32: bool) -> None:
    """Run one case in this process, its data written by another (so that this process's peak
    memory is the client's); print its figures as JSON."""
    with tempfile.TemporaryDirectory() as folder:
        case = case_name(customers, partitions, routed, float32)
        subprocess.run([sys.executable, __file__, "--write", folder, "--child", case], check=True, cwd=ROOT)
        pairs = int(pd.read_parquet(Path(folder) / "scores", columns=["p_treat"]).shape[0])
        figures = measured_run(Path(folder) / "scenario.yaml", Path(folder) / "out")
    print(json.dumps({"customers": customers, "partitions": partitions, "routed": routed, "float32": float32,
                      "score_rows": pairs, **figures}))


def case_row(figures: dict[str, Any]) -> str:
    traffic = figures["traffic"]
    passes, balance_bytes = traffic.get("balance", (0, 0))
    per_pass = balance_bytes / max(1, passes)
    worker_growth = figures["worker_mb"] - figures["worker_start_mb"]
    kept_per_million = figures.get("kept_mb", float("nan")) / (figures["score_rows"] / 1e6)
    return (f"| {figures['customers']:,} | {figures['partitions']} | {'by id' if figures['routed'] else 'by name'} "
            f"| {'float32' if figures.get('float32') else 'float64'} "
            f"| {figures['wall_s']:.1f} s ({figures['load_s']:.1f} s loading) | {figures['status']}, "
            f"{figures['gap']:.1e} | {figures['client_mb']:,.0f} MB | {figures['worker_mb']:,.0f} MB "
            f"(+{worker_growth:,.0f}) | {kept_per_million:,.0f} MB | {passes} | "
            f"{per_pass / 1024:,.1f} KB ({per_pass / figures['partitions'] / 1024:,.1f} KB per partition) |")


def section(cases: list[tuple[int, int, bool, bool]]) -> str:
    rows = []
    for case in cases:
        command = [sys.executable, __file__, "--child", case_name(*case)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(case_row(figures), file=sys.stderr)
        rows.append(case_row(figures))
    header = ("| customers | partitions | scores joined | kept arrays | wall | status, gap | client peak | "
              "worker peak (growth) | kept per 10^6 pairs | balancing passes | bytes per balancing pass |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")
    stamp = f"{platform.node()}, {platform.processor() or platform.machine()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    return "\n".join([MARKERS[0], f"Measured by `python bench/dask_scaling.py` on {stamp}:", "", header, *rows,
                      MARKERS[1]])


def parse_case(text: str) -> tuple[int, int, bool, bool]:
    """CUSTOMERSxPARTITIONS[r][f]: r, scores joined by id; f, kept arrays in float32."""
    float32 = text.endswith("f")
    routed = text.removesuffix("f").endswith("r")
    customers, partitions = text.removesuffix("f").removesuffix("r").split("x")
    return int(float(customers)), int(partitions), routed, float32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["100000x4", "1000000x4", "1000000x4f", "1000000x20",
                                                       "1000000x20f", "1000000x20r"],
                        help="CUSTOMERSxPARTITIONS, then r for scores joined by id, f for float32 kept arrays")
    parser.add_argument("--out", type=Path, help="markdown file whose marked section to replace")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_case(args.write, *parse_case(args.child))
        return
    if args.child:
        child(*parse_case(args.child))
        return
    text = section([parse_case(case) for case in args.cases])
    if args.out is None:
        print(text)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    page = args.out.read_text() if args.out.is_file() else ""
    start, end = page.find(MARKERS[0]), page.find(MARKERS[1])
    page = page[:start] + text + page[end + len(MARKERS[1]):] if start >= 0 and end >= 0 else page + "\n" + text + "\n"
    args.out.write_text(page)


if __name__ == "__main__":
    main()

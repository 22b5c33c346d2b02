"""cvo beyond one machine: the decomposition over the partitions of a Dask cluster.

The customer table is a parquet dataset (optimizer/plan/partitioned_data.py loads it: each part
a partition, kept as lean arrays by the worker that loaded it); from then on every step of
optimizer/solve/decompose.py is a map over partitions returning a few numbers (a pass: L(λ) and m
row sums) or a few customers (the master's). The plan is written back as one parquet file per
partition, with the in-memory plan's columns, contact lists and control groups (the hashed keys
of optimizer/plan/controls.py, cut per offer and stratum: optimizer/plan/distributed_controls.py),
and a summary of every figure the in-memory one has (optimizer/reporting/partition_summary.py).

Needs the optional extra: ``pip install 'cvo[dask]'``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from numpy.typing import NDArray

from optimizer.errors import ScenarioError
from optimizer.plan.distributed_controls import ControlCuts, audiences, control_cuts
from optimizer.plan.outputs import contact_lists, csv_writer, list_names
from optimizer.plan.partitioned_data import LoadedData, PartSource, loaded_data, partition_scenario
from optimizer.plan.workflow import plan_table
from optimizer.reporting.partition_summary import Figures, merged_figures, partition_figures
from optimizer.reporting.summary import solver_figures, unassigned_reasons
from optimizer.scenario.data import contact_rules, load_data, policy_lookback
from optimizer.scenario.formulation import Formulation, formulate, planned_rates, response_values
from optimizer.scenario.offers import offer_fractions, offers
from optimizer.scenario.schema import Scenario
from optimizer.solve.customers import Progress
from optimizer.solve.decompose import decompose
from optimizer.solve.distributed import gathered
from optimizer.solve.master_core import PlanSpec
from optimizer.solve.partitions import Partition
from optimizer.solve.results import SolveResult
from optimizer.store.datasets import local_path
from optimizer.store.files import (
    PLAN_FOLDER,
    RUN_ID_KEY,
    SCENARIO_FILE,
    SUMMARY_FILE,
    Writer,
    staging_folder,
    write_run,
)
from optimizer.store.folders import check_output_folder, check_run_folder
from optimizer.store.history_file import history_state
from optimizer.store.history_versions import history_of, pinned
from optimizer.store.object_runs import PartFolder, check_object_location, object_store_url, publish, run_url

CONTACTS_FOLDER = "contacts"  # OUT/contacts/<channel>/part-NNNNN.csv: a --dask run's contact lists
Source = tuple[Scenario, dt.date, SolveResult]  # what each worker needs to formulate its partition again


def anchored(scenario: Scenario) -> Scenario:
    """The scenario with every path in it absolute, as the client resolves it: a worker runs in its
    own folder, where a relative path means another file (or none, and a history that is missing
    there would read as no contacts). A history on an object store is pinned to its newest version
    (optimizer/store/history_versions.py): every worker reads the contacts the client read, whatever
    is committed meanwhile."""
    history = scenario.contact_policy.model_copy(
        update={"history": pinned(scenario.history_location(), scenario.storage_options)})
    update: dict[str, Any] = {"customers": scenario.location(scenario.customers), "contact_policy": history,
                              "path": None if scenario.path is None else scenario.path.resolve()}
    if scenario.scores is not None:
        update["scores"] = scenario.location(scenario.scores)
    return scenario.model_copy(update=update)


@dataclass(frozen=True)
class DistributedRun:
    """What a distributed run wrote and proved."""

    result: SolveResult
    out_dir: Path | str  # a folder, or the run's URL on an object store
    summary: dict[str, Any]


def check_distributable(scenario: Scenario) -> None:
    """ScenarioError for what a partitioned run cannot do yet: forced lists (the forced customers'
    use must come off the whole limits, and each worker sees its own customers only)."""
    keys = [key for key in ("forced",) if getattr(scenario, key)]
    if keys:
        raise ScenarioError(f"A run with --dask does not read {' or '.join(keys)} yet",
                            where=f"{scenario.source}, {keys[0]}",
                            fix="Run without --dask, or leave those keys out of this scenario")


def optimize_distributed(
    scenario: Scenario, client: Any, out_dir: Path | str, run_date: dt.date | None = None,
    progress: Progress | None = None,
) -> DistributedRun:
    """Solve a scenario over a partitioned dataset on a Dask cluster and write the plan partitioned
    (sent on ``run_date``, default today, for the contact policy and ``cvo commit``); ``progress``
    hears every map over the partitions and the decomposition's standing."""
    check_distributable(scenario)
    run_date, scenario, url = run_date or dt.date.today(), anchored(scenario), object_store_url(out_dir)
    if url is None:
        out_dir = local_path(out_dir).resolve()
        check_output_folder(out_dir)
        check_run_folder(out_dir)
    else:
        check_object_location(url, scenario.storage_options)
    seen = history_state(scenario.history_location(), scenario.storage_options)  # before the workers read it
    started = time.perf_counter()
    data = loaded_data(client, scenario, run_date, progress, history_expected=seen[0] is not None)
    loading = time.perf_counter() - started
    customers = data.customers
    result, plan = decompose(customers, scenario.solver)
    if plan is None:
        return DistributedRun(result, out_dir, {})
    cuts = control_cuts(client, customers.futures, data.strata, plan, offer_fractions(scenario), scenario.seed,
                        data.levels)
    head = _summary_head(scenario, result, len(customers.files), run_date, seen, loading)
    head.update(control_strata=list(map(str, scenario.control_strata)),
                strata=len(data.levels) if scenario.control_strata else None)
    if url is None:
        summary = write_partitioned(data, plan, cuts, Path(out_dir), head, (scenario, run_date, result))
        return DistributedRun(result, out_dir, summary)
    summary, where = published_partitioned(data, plan, cuts, url, head, (scenario, run_date, result))
    return DistributedRun(result, where, summary)


def write_partitioned(data: LoadedData, plan: PlanSpec, cuts: ControlCuts, out_dir: Path,
                      head: dict[str, Any], source: Source) -> dict[str, Any]:
    """One plan file per partition (part-00000.parquet, ... in the partitions' order, with the
    columns of the in-memory plan.parquet) and its rows of each contact list, written by the
    workers into fresh folders that then replace OUT/plan and OUT/contacts by renames (one after
    the other: a crash between them leaves the new plan/ beside the old contacts/, under the old
    summary and manifest, which readers then refuse); summary.json (``head`` and the partitions'
    figures added up: optimizer/reporting/partition_summary.py) and the manifest last
    (``write_run``). ``source`` (the scenario, run date and result) lets each worker formulate its
    partition again for the plan's columns and its figures. Returns the summary written."""
    summary = dict(head)

    def stage(folder: Path) -> list[str]:
        fresh = {name: staging_folder(folder, name) for name in (PLAN_FOLDER, CONTACTS_FOLDER)}
        try:
            _write_parts(data, plan, cuts, {name: PartFolder(str(path)) for name, path in fresh.items()}, summary,
                         source)
        except BaseException:
            for staged in fresh.values():
                shutil.rmtree(staged, ignore_errors=True)
            raise
        return [name for target, staged in fresh.items() for name in _swapped_in(folder, target, staged)]

    write_run(out_dir, head["run_id"], _run_files(source[0], summary), stage)
    return summary  # complete once ``stage`` has gathered the figures, before write_run writes it


def published_partitioned(data: LoadedData, plan: PlanSpec, cuts: ControlCuts, url: str, head: dict[str, Any],
                          source: Source) -> tuple[dict[str, Any], str]:
    """``write_partitioned`` into a run's prefix on an object store (optimizer/store/object_runs.py):
    the workers write their plan and list parts under OUT/runs/<run_id>/ and hand back each part's
    SHA-256; the client then writes scenario.yaml, summary.json and the manifest naming every part
    there, and points OUT/current.json at the run last. Returns the summary and the run's URL."""
    run_id, options, summary = head["run_id"], source[0].storage_options, dict(head)
    prefix = run_url(url, run_id)
    folders = {name: PartFolder(f"{prefix}/{name}", options) for name in (PLAN_FOLDER, CONTACTS_FOLDER)}
    digests = _write_parts(data, plan, cuts, folders, summary, source)
    with tempfile.TemporaryDirectory(prefix="cvo-run-") as temp:
        write_run(Path(temp), run_id, _run_files(source[0], summary), listed=digests)
        return summary, publish(Path(temp), url, run_id, options)


def _write_parts(data: LoadedData, plan: PlanSpec, cuts: ControlCuts, folders: dict[str, PartFolder],
                 summary: dict[str, Any], source: Source) -> dict[str, str]:
    """Every partition's plan file and list parts written by its worker into ``folders``; their
    figures added up into ``summary``; each file's SHA-256 by its name in the run (PartFolder.write)."""
    scenario, result, client = source[0], source[2], data.customers.client
    written = client.map(_write_plan, data.customers.futures, data.sources, data.routed(), data.strata,
                         range(len(data.sources)), plan=plan, cuts=cuts, levels=data.levels, source=source,
                         folders=folders, run_id=summary["run_id"], pure=False)
    parts = gathered(client, written, data.customers.progress, "write", data.customers.n)
    summary.update(merged_figures([figures for figures, _ in parts], data.customers.rows, result.shadow_prices,
                                  scenario.objective_name, scenario.budget_counts_controls),
                   contact_lists=contact_folders(scenario, _channels(scenario)))
    return {name: digest for _, files in parts for name, digest in files.items()}


def _run_files(scenario: Scenario, summary: dict[str, Any]) -> dict[str, Writer]:
    """scenario.yaml and summary.json: what the client writes of a partitioned run."""
    effective = yaml.safe_dump(scenario.effective(), sort_keys=False, allow_unicode=True)
    return {SCENARIO_FILE: lambda temp: temp.write_text(effective, encoding="utf-8"),
            SUMMARY_FILE: lambda temp: temp.write_text(json.dumps(summary, indent=2) + "\n")}


def _swapped_in(folder: Path, name: str, fresh: Path) -> list[str]:
    """FOLDER/NAME replaced by the staged folder ``fresh`` (renames: a reader sees the old one or
    the new one); the paths of its files, relative to FOLDER."""
    for left in [path for path in fresh.rglob(".*") if path.is_file()]:
        left.unlink()  # a temporary of a worker killed mid-write: its task ran again and wrote the file
    names = sorted(f"{name}/{path.relative_to(fresh).as_posix()}" for path in fresh.rglob("*") if path.is_file())
    target = folder / name
    if target.exists():
        stale = staging_folder(folder, f"{name}-old")
        stale.rmdir()
        target.rename(stale)
        fresh.rename(target)
        shutil.rmtree(stale)
    else:
        fresh.rename(target)
    return names


def _write_plan(part: Partition, part_source: PartSource, routed: pd.DataFrame | None,
                labels: NDArray[np.object_] | None, number: int, *, plan: PlanSpec, cuts: ControlCuts,
                levels: list[str], source: Source, folders: dict[str, PartFolder],
                run_id: str) -> tuple[Figures, dict[str, str]]:
    """Write one partition's plan file and its rows of the contact lists into ``folders``; return
    its figures for the summary and each file's SHA-256 by its name in the run."""
    scenario, run_date, _ = source
    found = audiences(part, plan, scenario.seed, labels, levels)
    choice, control = found.choice, cuts.control(found)
    tables = part_source.tables(routed)
    data = load_data(partition_scenario(scenario, part_source), run_date, tables=tables)
    formulation = formulate(data, whole=False)
    worth = response_values(data, choice)
    table = plan_table(formulation.problem, choice, control, worth, unassigned_reasons(formulation, choice),
                       offers=formulation.offers)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({RUN_ID_KEY: run_id.encode()})
    name, digest = folders[PLAN_FOLDER].write(f"part-{number:05d}.parquet",
                                              lambda temp: pq.write_table(arrow, temp, compression="zstd"))
    files = {f"{PLAN_FOLDER}/{name}": digest,
             **_write_contacts(table, formulation, folders[CONTACTS_FOLDER], number, run_date)}
    return partition_figures(formulation, choice, control, (*planned_rates(data, choice), worth)), files


def _write_contacts(table: pd.DataFrame, formulation: Formulation, folder: PartFolder, number: int,
                    run_date: dt.date) -> dict[str, str]:
    """The partition's rows of each channel's (or campaign's) contact list, as the in-memory run
    writes them (optimizer/plan/outputs.py ``contact_lists``), into FOLDER/contacts_email/part-NNNNN.csv
    (the in-memory list's name without .csv): every partition writes every list, its header at
    least. Returns each file's SHA-256 by its name in the run (PartFolder.write)."""
    scenario = formulation.scenario
    by_campaign = scenario.contact_lists == "campaign"
    keys = scenario.campaign_ids() if by_campaign else formulation.problem.channels
    lists = contact_lists(table, run_date.isoformat(), keys, "campaign_id" if by_campaign else "channel")
    written = [folder.write(f"{_list_folder(name)}/part-{number:05d}.csv", csv_writer(rows))
               for name, rows in lists.values()]
    return {f"{CONTACTS_FOLDER}/{name}": digest for name, digest in written}


def _channels(scenario: Scenario) -> tuple[str, ...]:
    """The channel of each offer (the problem's column), as formulate names them."""
    return tuple(offer.campaign.channel for offer in offers(scenario))


def contact_folders(scenario: Scenario, channels: tuple[str, ...]) -> dict[str, str]:
    """summary.json's ``contact_lists`` of a --dask run: each list's folder of CSV parts in OUT."""
    keys = scenario.campaign_ids() if scenario.contact_lists == "campaign" else channels
    return {key: f"{CONTACTS_FOLDER}/{_list_folder(name)}/" for key, name in list_names(keys).items()}


def _list_folder(name: str) -> str:
    """contacts_email.csv's folder of parts: contacts_email (never '.', '..' or '', whatever the channel)."""
    return name.removesuffix(".csv")


def _summary_head(scenario: Scenario, result: SolveResult, partitions: int, run_date: dt.date,
                  seen: tuple[str | None, int], load_seconds: float) -> dict[str, Any]:
    """The summary's figures that are not sums over customers, as the in-memory summary has them
    (optimizer/reporting/summary.py ``build_summary``), and the partitioned run's own."""
    return {
        "run_id": uuid.uuid4().hex,
        "scenario": scenario.name,
        "scenario_file": scenario.source,
        "scenario_path": None if scenario.path is None else str(scenario.path.resolve()),
        **scenario.layers,
        "objective_name": scenario.objective_name,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_date": run_date.isoformat(),
        "contact_history": history_of(scenario.history_location()),
        "contact_history_found": seen[0] is not None,
        "history_id": seen[0],
        "history_seq": seen[1],
        "policy_lookback_days": policy_lookback(scenario.contact_policy),
        "contact_rules": contact_rules(scenario.contact_policy),
        "seed": scenario.seed,
        **solver_figures(result, str(scenario.solver.method)),
        "partitions": partitions,
        "load_seconds": round(load_seconds, 3),
        "currency": scenario.currency,
        "budget_counts_controls": scenario.budget_counts_controls,
        "forced": 0,
        "sample": None,
    }

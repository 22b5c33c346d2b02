"""A plan written to its run folder: plan.parquet, scenario.yaml, summary.json and the manifest
naming them, with one run id (optimizer/store/files.py)."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from optimizer.plan.workflow import Plan
from optimizer.store.files import (
    CONTACTS_FOLDER,
    PLAN_FILE,
    PLAN_FOLDER,
    RUN_ID_KEY,
    SCENARIO_FILE,
    SUMMARY_FILE,
    write_run,
)


def write_plan(plan: Plan, out_dir: str | Path) -> dict[str, Any]:
    """Write plan.parquet, scenario.yaml (the scenario as run: ``Scenario.effective``), summary.json
    and the contact lists (none for a plan of a sample: not a plan to send) into ``out_dir`` as one
    run; return the summary written."""
    run_id = uuid.uuid4().hex
    summary = {"run_id": run_id, **plan.summary}
    table = pa.Table.from_pandas(plan.assignments, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), RUN_ID_KEY: run_id.encode()})
    effective = yaml.safe_dump(plan.formulation.scenario.effective(), sort_keys=False, allow_unicode=True)
    scenario, problem = plan.formulation.scenario, plan.formulation.problem
    by_campaign = scenario.contact_lists == "campaign"
    lists = {} if summary.get("sample") else contact_lists(  # a sample's plan is a quick look, not one to send
        plan.assignments, summary["run_date"], scenario.campaign_ids() if by_campaign else problem.channels,
        "campaign_id" if by_campaign else "channel")
    summary["contact_lists"] = {channel: name for channel, (name, _) in lists.items()}
    write_run(Path(out_dir), run_id, {
        PLAN_FILE: lambda temp: pq.write_table(table, temp, compression="zstd"),
        SCENARIO_FILE: lambda temp: temp.write_text(effective, encoding="utf-8"),
        **{name: csv_writer(rows) for name, rows in lists.values()},
        SUMMARY_FILE: lambda temp: temp.write_text(json.dumps(summary, indent=2) + "\n"),
    })
    for folder in (CONTACTS_FOLDER, PLAN_FOLDER):  # an earlier --dask run's lists and plan parts
        shutil.rmtree(Path(out_dir) / folder, ignore_errors=True)
    return summary


LIST_COLUMNS = ["customer_id", "campaign_id", "channel", "send_date", "variant", "group"]  # added since: at the end


def contact_lists(assignments: pd.DataFrame, send_date: str, keys: Sequence[str],
                  by: str = "channel") -> dict[str, tuple[str, pd.DataFrame]]:
    """Per channel of the scenario (or per campaign, ``by="campaign_id"``), the file name and rows of
    its contact list: the treated and forced customers (controls are not contacted) with
    customer_id, campaign_id, channel, send_date, the offer variant (blank for a campaign without)
    and group (treatment or forced), for the system that sends; a channel or campaign nobody is sent
    gets a list with its header only, never an old one."""
    treated = assignments[assignments["group"].isin(["treatment", "forced"])]
    lists: dict[str, tuple[str, pd.DataFrame]] = {}
    for key, name in list_names(keys).items():
        rows = treated[treated[by] == key].assign(send_date=send_date).reindex(columns=LIST_COLUMNS)
        lists[key] = (name, rows.reset_index(drop=True))
    return lists


def list_names(keys: Sequence[str]) -> dict[str, str]:
    """Each channel's (or campaign's) contact list file name, in the order of the keys' names."""
    taken: set[str] = set()
    return {key: _file_name(key, taken) for key in sorted(set(keys))}


def _file_name(channel: str, taken: set[str]) -> str:
    """contacts_<channel or campaign>.csv with the characters a file name cannot hold as '_', numbered when two
    channels would share a name (on case-blind file systems too)."""
    base = "contacts_" + re.sub(r"[^\w.-]", "_", channel)
    name, number = f"{base}.csv", 2
    while name.lower() in taken:
        name, number = f"{base}_{number}.csv", number + 1
    taken.add(name.lower())
    return name


def csv_writer(rows: pd.DataFrame) -> Callable[[Path], None]:
    return lambda temp: rows.to_csv(temp, index=False)

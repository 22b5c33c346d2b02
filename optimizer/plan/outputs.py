"""A plan written to its run folder: plan.parquet, scenario.yaml, summary.json and the manifest
naming them, with one run id (optimizer/store/files.py)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from optimizer.plan.workflow import Plan
from optimizer.store.files import PLAN_FILE, RUN_ID_KEY, SCENARIO_FILE, SUMMARY_FILE, write_run


def write_plan(plan: Plan, out_dir: str | Path) -> dict[str, Any]:
    """Write plan.parquet, scenario.yaml (the scenario as run: ``Scenario.effective``) and summary.json
    into ``out_dir`` as one run; return the summary written."""
    run_id = uuid.uuid4().hex
    summary = {"run_id": run_id, **plan.summary}
    table = pa.Table.from_pandas(plan.assignments, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), RUN_ID_KEY: run_id.encode()})
    effective = yaml.safe_dump(plan.formulation.scenario.effective(), sort_keys=False, allow_unicode=True)
    lists = contact_lists(plan.assignments, summary["run_date"])
    summary["contact_lists"] = {channel: name for channel, (name, _) in lists.items()}
    write_run(Path(out_dir), run_id, {
        PLAN_FILE: lambda temp: pq.write_table(table, temp, compression="zstd"),
        SCENARIO_FILE: lambda temp: temp.write_text(effective, encoding="utf-8"),
        **{name: _csv_writer(rows) for name, rows in lists.values()},
        SUMMARY_FILE: lambda temp: temp.write_text(json.dumps(summary, indent=2) + "\n"),
    })
    return summary


def contact_lists(assignments: pd.DataFrame, send_date: str) -> dict[str, tuple[str, pd.DataFrame]]:
    """Per channel, the file name and rows of its contact list: the treated customers (controls are
    not contacted) with customer_id, campaign_id, channel and send_date, for the system that sends."""
    treated = assignments[assignments["group"] == "treatment"]
    lists = {}
    for channel, rows in treated.groupby("channel", sort=True):
        table = rows[["customer_id", "campaign_id", "channel"]].assign(send_date=send_date)
        lists[str(channel)] = (f"contacts_{_file_safe(str(channel))}.csv", table.reset_index(drop=True))
    return lists


def _file_safe(name: str) -> str:
    """A channel name as part of a file name: letters, digits, '-', '_' and '.' kept, others '_'."""
    return re.sub(r"[^\w.-]", "_", name)


def _csv_writer(rows: pd.DataFrame) -> Callable[[Path], None]:
    return lambda temp: rows.to_csv(temp, index=False)

"""A plan written to its run folder: plan.parquet, scenario.yaml, summary.json and the manifest
naming them, with one run id (optimizer/store/files.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

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
    write_run(Path(out_dir), run_id, {
        PLAN_FILE: lambda temp: pq.write_table(table, temp, compression="zstd"),
        SCENARIO_FILE: lambda temp: temp.write_text(effective, encoding="utf-8"),
        SUMMARY_FILE: lambda temp: temp.write_text(json.dumps(summary, indent=2) + "\n"),
    })
    return summary

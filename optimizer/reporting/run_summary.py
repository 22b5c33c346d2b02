"""A run's summary.json as the report reads it: the figures it cannot do without, checked first.

The report shows what an older summary lacks as "not recorded" where it can (a run date, contact
costs, eligibility rules); the keys below it cannot: a summary without them, or whose campaign,
channel, limit or KPI entries lack theirs (of another cvo, or edited by hand), is refused with
the entries named, not met as a traceback halfway through the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optimizer.errors import DataError
from optimizer.store.files import SUMMARY_FILE
from optimizer.store.runs import read_run

REQUIRED_KEYS = ("scenario", "status", "objective", "customers", "treatment", "control", "expected_spend",
                 "expected_value", "campaigns", "channels", "constraints", "kpis")
ENTRY_KEYS = {  # each entry of these lists, and the keys the page shows of it
    "campaigns": ("id", "channel", "eligible", "audience", "treatment", "control", "expected_spend",
                  "expected_value"),
    "channels": ("channel", "contacts"),
    "constraints": ("name", "lhs", "rhs", "slack", "binding"),
    "kpis": ("name", "value"),
}
SHOWN = 3  # entries named in the message at most


def load_summary(out_dir: Path) -> dict[str, Any]:
    """OUT_DIR/summary.json as a dict, once the folder is shown to hold one run's files
    (optimizer/store/runs.py); a DataError saying how to make one when it lacks a figure."""
    summary = read_run(out_dir).summary
    where, fix = str(out_dir / SUMMARY_FILE), f"Run cvo optimize SCENARIO --out {out_dir} again with this cvo"
    missing = [key for key in REQUIRED_KEYS if key not in summary]
    if missing and "partitions" in summary:
        raise DataError("The folder holds a --dask run, whose summary records status, objective, bound, gap and "
                        "audiences only, not the tables of the report", where=where,
                        fix="Run the scenario without --dask (a partitioned scenario runs in memory too) into "
                        "another folder and report that one")
    if missing:
        raise DataError(f"The plan summary lacks {', '.join(repr(k) for k in missing)}", where=where, fix=fix)
    lacking = incomplete_entries(summary)
    if lacking:
        more = f" and {len(lacking) - SHOWN:,} more" if len(lacking) > SHOWN else ""
        raise DataError(f"The plan summary's entries lack figures the report shows: {'; '.join(lacking[:SHOWN])}"
                        f"{more} (written by another version of cvo, or edited)", where=where, fix=fix)
    return summary


def incomplete_entries(summary: dict[str, Any]) -> list[str]:
    """'campaigns[0] lacks 'eligible'' for each entry of ENTRY_KEYS' lists that lacks a key (or is no
    list of entries), and 'gross_value' when the summary has an ROI without it."""
    lacking = []
    for name, keys in ENTRY_KEYS.items():
        entries = summary[name]
        if not isinstance(entries, list):
            lacking.append(f"'{name}' is not a list")
            continue
        for number, entry in enumerate(entries):
            absent = list(keys) if not isinstance(entry, dict) else [key for key in keys if key not in entry]
            if absent:
                lacking.append(f"{name}[{number}] lacks {', '.join(repr(key) for key in absent)}")
    if summary.get("roi") is not None and summary.get("gross_value") is None:
        lacking.append("'roi' is given without 'gross_value'")
    return lacking

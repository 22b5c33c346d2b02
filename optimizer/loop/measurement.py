"""The measure workflow: a committed run and its outcomes file → per-campaign uplift and sub-personas.

Everything ``cvo measure`` does is one call here::

    from optimizer.loop.measurement import measure_run
    result = measure_run("out/weekly", "outcomes.csv")
    result.measurement.total.incremental_revenue, [p.suggested_rule for p in result.personas]

The run's contacts (treated and control, per campaign) come from the contact history; the
customer features for the sub-personas from ``customers`` or, by default, the run's scenario.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import CvoError, HistoryError, RunFolderError, ScenarioError
from optimizer.loop.lift import Measurement, measure
from optimizer.loop.outcomes import join_outcomes, outcomes_of
from optimizer.loop.personas import Persona, sub_personas
from optimizer.scenario.data import load_customers
from optimizer.scenario.schema import load_scenario
from optimizer.store.files import MEASUREMENT_FILE, SUMMARY_FILE, atomic_write
from optimizer.store.folders import folder_lock
from optimizer.store.history_file import recorded_history, run_record
from optimizer.store.runs import read_summary, run_storage_options
from optimizer.store.tables import read_table, renamed_id


@dataclass(frozen=True)
class RunMeasurement:
    """A run measured: the campaigns' uplift, the sub-personas, why personas are missing if so, and
    a warning when the run was voided (``cvo void``: taken back, perhaps never sent)."""

    run_id: str
    measurement: Measurement
    personas: list[Persona]
    personas_note: str | None
    voided: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "voided": self.voided, **self.measurement.to_dict(),
            "personas": [persona.to_dict() for persona in self.personas], "personas_note": self.personas_note,
        }


def measure_run(
    run: str | Path, outcomes: Path, history: Path | str | None = None, customers: Path | None = None,
    alpha: float = 0.05, stage: Callable[[str], None] | None = None, customers_column: str | None = None,
) -> RunMeasurement:
    """Measure ``run`` (an optimize output folder, or a run id in ``history``) on ``outcomes``;
    ``customers``: a customer table for the sub-personas, its id column ``customers_column`` (default:
    the run's scenario's); ``stage`` hears each step as it starts."""
    if customers_column is not None and customers is None:
        raise ScenarioError(f"--customers-column names the id column ('{customers_column}') of a --customers "
                            "table, but none was given", where="cvo measure",
                            fix="Drop --customers-column, or give the table with --customers")
    tell = stage or (lambda text: None)
    tell("Reading the run from the contact history …")
    run_id, history, options = resolve_run(run, history)
    record, campaigns, contacts = run_record(history, run_id, options)
    tell(f"Reading {Path(outcomes).name} …")
    table = read_table(Path(outcomes), what="outcomes", text_columns=("customer_id",))
    costs = {campaign: (per_contact, per_response) for campaign, per_contact, per_response in zip(
        campaigns["campaign_id"], campaigns["cost_per_contact"], campaigns["cost_per_response"])}
    plan = f"run {record['run_id']}"
    table, others = outcomes_of(contacts, table)
    tell(f"Measuring {len(contacts):,} contacts against their control groups …")
    measured = measure(contacts, table, costs, source=str(outcomes), plan=plan, others=others)
    features, note = _features(record, customers, customers_column)
    personas: list[Persona] = []
    if features is not None:
        joined = join_outcomes(contacts, table, source=str(outcomes), plan=plan)
        outcome = "revenue" if measured.has_revenue else "converted"
        tell("Searching the sub-groups where it worked or did not …")
        personas = sub_personas(contacts, joined, features, outcome=outcome, alpha=alpha)
    return RunMeasurement(record["run_id"], measured, personas, note, _voided(record))


def _voided(record: dict[str, Any]) -> str | None:
    """The warning for a run ``cvo void`` took back, or None for a live run."""
    if pd.isna(record.get("voided_at")):
        return None
    reason = "" if pd.isna(record.get("void_note")) else f" ({record['void_note']})"
    return (f"run {record['run_id']} was voided on {record['voided_at']}{reason}: its contacts no longer count "
            "for the contact policy and may never have been sent, so these figures hold only if it was sent as "
            "recorded; `cvo history` lists the live runs to measure")


def resolve_run(run: str | Path, history: Path | str | None) -> tuple[str, Path | str, dict[str, Any]]:
    """(run id or prefix, history: a file, or an object-store URL, and the fsspec options to read it
    with: the run's scenario's) from an optimize output folder or a run id."""
    folder = Path(run)
    if folder.is_dir():
        summary = read_summary(folder)
        return summary["run_id"], recorded_history(summary, history, folder), run_storage_options(folder)
    if history is None:
        raise HistoryError(f"'{run}' is not a folder, so it is taken as a run id, but no history was given",
                           where="RUN", fix="Give --history PATH (the DuckDB file cvo commit wrote)")
    return str(run), recorded_history({}, history, "--history"), {}


def _features(record: dict[str, Any], customers: Path | None,
              id_column: str | None) -> tuple[pd.DataFrame | None, str | None]:
    """Customer features for the personas, keyed customer_id: the given table (its id column
    ``id_column``, by default the run's scenario's), else the run's scenario's customers."""
    if customers is not None:
        id_column = id_column or _scenario_id(record)
        return _keyed(load_customers(Path(customers), id_column, key=None), id_column, customers), None
    try:
        scenario = load_scenario(record["scenario_file"])
        where = scenario.location(scenario.customers)
        return _keyed(load_customers(where, scenario.customer_id, scenario.storage_options), scenario.customer_id,
                      where), None
    except CvoError as error:
        return None, f"no sub-personas: the run's customer table could not be read ({error.problem})"


def _keyed(table: pd.DataFrame, id_column: str, where: Path | str) -> pd.DataFrame:
    """The customer table with its id column named customer_id, as the contacts name it."""
    return renamed_id(table, id_column, "customer_id", f"The customer table has a column 'customer_id' besides its "
                      f"id column '{id_column}', and the run's contacts name the id 'customer_id': the two would "
                      "clash", where, "Rename or drop the column 'customer_id' in the customer table")


def _scenario_id(record: dict[str, Any]) -> str:
    """The id column the run's scenario names its customers by (customer_id when it cannot be read)."""
    try:
        return load_scenario(record["scenario_file"]).customer_id
    except CvoError:
        return "customer_id"


def write_measurement(result: RunMeasurement, out_dir: Path, held_before: str | None = None) -> Path:
    """measurement.json in ``out_dir``, written atomically; RunFolderError when the folder holds
    another run (``held_before``: the run it held when the measurement started, ``run_held``)."""
    path = Path(out_dir) / MEASUREMENT_FILE
    text = json.dumps(result.to_dict(), indent=2, allow_nan=False, default=str) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunFolderError(f"The output folder cannot be created: {error.strerror or error}",
                             where=str(path.parent), fix="Give --out a folder you may write to") from None
    with folder_lock(path.parent):  # not while a run replaces the folder's files
        holds = run_held(path.parent)
        if holds not in (None, result.run_id) and holds == held_before:
            raise RunFolderError(f"The folder holds run {holds}, not the measured run {result.run_id}: its "
                                 "measurement.json belongs beside its own run", where=str(path.parent),
                                 fix="Give --out the measured run's own folder, or a folder of its own")
        if holds not in (None, result.run_id):
            raise RunFolderError(f"The folder now holds run {holds}, not the measured run {result.run_id}: a run was "
                                 "written into it while this one was measured", where=str(path.parent),
                                 fix="Measure the run again (cvo measure RUN_ID names it wherever it was written)")
        atomic_write(path, lambda temp: temp.write_text(text))
    return path


def run_held(folder: Path) -> str | None:
    """The id of the run whose summary.json ``folder`` holds (None: none)."""
    return str(read_summary(folder).get("run_id")) if (Path(folder) / SUMMARY_FILE).is_file() else None

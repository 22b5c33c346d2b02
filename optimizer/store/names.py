"""The names of the files cvo writes into a run's folder (optimizer/store/files.py writes them,
optimizer/store/runs.py reads them, optimizer/store/folders.py guards the folder)."""

from __future__ import annotations

PLAN_FILE, PLAN_FOLDER, SUMMARY_FILE = "plan.parquet", "plan", "summary.json"  # plan/: a --dask run's
SCENARIO_FILE = "scenario.yaml"  # the scenario as run: bases and --set overrides applied, paths absolute
CONTACTS_FOLDER = "contacts"  # a --dask run's contact lists: contacts/contacts_<channel>/part-NNNNN.csv
MANIFEST_FILE = "manifest.json"
NOT_KEPT = "<not kept>"  # what scenario.yaml holds in place of a secret storage option
RUNS_FOLDER = "runs"  # an object store's OUT/runs/<run_id>/: each run's own prefix (optimizer/store/object_runs.py)
MEASUREMENT_FILE = "measurement.json"
SWEEP_FILE, SWEEP_CSV, FRONTIER_FILE = "sweep.json", "sweep.csv", "frontier.png"
SWEEP_FOLDER = "sweep"  # cvo sweep's own folder beside a plan's: out/<scenario name>/sweep by default
REPORT_FILE = "report.html"
COMPARE_FILE, COMPARE_PLOT, COMPARE_PAGE = "compare.json", "compare.png", "compare.html"  # cvo compare's folder
RULES_FILE, RULES_TEXT = "rules.json", "rules.txt"  # the plan as rules: cvo rules
MIGRATION_FILE = "migration.json"  # customers' moves between segments: cvo segments
RUN_ID_KEY = b"cvo_run_id"  # the plan's parquet metadata key holding its run's id
RUN_FILES = (PLAN_FILE, PLAN_FOLDER, SCENARIO_FILE, SUMMARY_FILE, CONTACTS_FOLDER)  # and contacts_*.csv
ABOUT_RUN = (REPORT_FILE, RULES_FILE, RULES_TEXT, MEASUREMENT_FILE)  # written beside a run, about that run only

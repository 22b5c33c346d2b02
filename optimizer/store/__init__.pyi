"""Public names of optimizer.store, for type checkers; loaded lazily at run time (lazy_loader)."""

from .files import (
    FRONTIER_FILE as FRONTIER_FILE,
    MEASUREMENT_FILE as MEASUREMENT_FILE,
    PLAN_FILE as PLAN_FILE,
    PLAN_FOLDER as PLAN_FOLDER,
    REPORT_FILE as REPORT_FILE,
    SUMMARY_FILE as SUMMARY_FILE,
    SWEEP_CSV as SWEEP_CSV,
    SWEEP_FILE as SWEEP_FILE,
    atomic_write as atomic_write,
    plan_files as plan_files,
    read_plan as read_plan,
    read_summary as read_summary,
)
from .ledger import (
    Commit as Commit,
    commit as commit,
    contacts_around as contacts_around,
    recorded_history as recorded_history,
    run_record as run_record,
    runs as runs,
)
from .tables import (
    read_table as read_table,
    require_columns as require_columns,
    require_file as require_file,
    row_label as row_label,
    show as show,
)

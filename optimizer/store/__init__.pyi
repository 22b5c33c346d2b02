"""Public names of optimizer.store, for type checkers; loaded lazily at run time (lazy_loader)."""

from .events import stale_customers as stale_customers
from .files import (
    FRONTIER_FILE as FRONTIER_FILE,
    MANIFEST_FILE as MANIFEST_FILE,
    MEASUREMENT_FILE as MEASUREMENT_FILE,
    PLAN_FILE as PLAN_FILE,
    PLAN_FOLDER as PLAN_FOLDER,
    REPORT_FILE as REPORT_FILE,
    SUMMARY_FILE as SUMMARY_FILE,
    SWEEP_CSV as SWEEP_CSV,
    SWEEP_FILE as SWEEP_FILE,
    atomic_write as atomic_write,
    write_run as write_run,
)
from .folders import check_output_folder as check_output_folder
from .history_file import (
    check_history_path as check_history_path,
    contacts_around as contacts_around,
    history_state as history_state,
    recorded_history as recorded_history,
    run_record as run_record,
    runs as runs,
)
from .ledger import Commit as Commit, commit as commit, void as void
from .runs import RunFolder as RunFolder, read_plan as read_plan, read_run as read_run, read_summary as read_summary
from .tables import (
    read_table as read_table,
    require_columns as require_columns,
    require_file as require_file,
    row_label as row_label,
    show as show,
)

"""optimizer/store/history_file.py: the contact history read as it is: a missing file says how to
make one, an unknown run lists the known ones, a folder is refused, and a file of an older cvo
is read (and upgraded when it may be written)."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.errors import HistoryError, RunFolderError
from optimizer.store import history_file, ledger
from optimizer.store.history_file import contacts_around, run_record, runs
from optimizer.store.runs import read_run


def test_reading_a_history_that_does_not_exist_says_how_to_make_one(tmp_path):
    with pytest.raises(HistoryError, match="cvo commit OUT_DIR"):
        runs(tmp_path / "none.duckdb")
    assert contacts_around(tmp_path / "none.duckdb", MONDAY, 30).empty


def test_an_unknown_run_lists_the_known_ones(tmp_path):
    scenario = write_scenario(tmp_path)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    ledger.commit(read_run(tmp_path / "w1"), tmp_path / "history.duckdb")
    with pytest.raises(HistoryError, match=summary["run_id"]):
        run_record(tmp_path / "history.duckdb", "nope")


def test_a_history_path_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / "history.duckdb").mkdir()
    with pytest.raises(HistoryError, match="The contact history path is a folder"):
        contacts_around(tmp_path / "history.duckdb", MONDAY, 30)


@pytest.mark.parametrize(("tables", "message"), [
    ("CREATE TABLE sales (a INTEGER)", "a DuckDB database of other tables \\(sales\\), not a contact history"),
    ("CREATE TABLE runs (a INTEGER)", "its table runs lacks the columns run_id, scenario"),
])
def test_a_duckdb_file_of_other_tables_is_refused_and_left_as_it_was(tmp_path, tables: str, message: str):
    """Neither read (cvo history, optimize) nor written into (cvo commit): cvo's tables are never
    added to a database of the user's."""
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as connection:
        connection.execute(tables)
    scenario = write_scenario(tmp_path)
    run_week(scenario, tmp_path / "w1", MONDAY)
    for use in (lambda: runs(other), lambda: contacts_around(other, MONDAY, 30),
                lambda: ledger.commit(read_run(tmp_path / "w1"), other)):
        with pytest.raises(HistoryError, match=message):
            use()
    with duckdb.connect(str(other), read_only=True) as connection:
        assert [name for (name,) in connection.execute("SHOW TABLES").fetchall()] == [tables.split()[2]]


def test_a_history_written_by_an_older_cvo_is_read_and_upgraded(tmp_path):
    history = tmp_path / "old.duckdb"
    with duckdb.connect(str(history)) as connection:
        connection.execute(history_file.SCHEMA.split("CREATE TABLE IF NOT EXISTS events")[0])
        connection.execute("INSERT INTO contacts VALUES ('r0', 'k001', 'mail', 'email', 'treatment', "
                           "DATE '2026-01-01', DATE '2026-01-15')")
    around = contacts_around(history, MONDAY, 30)
    assert len(around) == 1 and around["value_per_response"].isna().all()
    assert history_file.history_state(history)[1] == 0 and history_file.history_state(history)[0]


def test_a_history_without_response_values_is_read_even_when_it_cannot_be_upgraded(tmp_path, monkeypatch):
    """A file written before contacts.value_per_response (and the variant and own costs added since),
    on a read-only disk (or with a writer busy): read as it is, those values NULL, rather than refused."""
    history = tmp_path / "before.duckdb"
    with duckdb.connect(str(history)) as connection:
        connection.execute("\n".join(line for line in history_file.SCHEMA.splitlines()
                                     if not line.startswith("ALTER TABLE contacts ADD COLUMN")))
        connection.execute("INSERT INTO contacts VALUES ('r0', 'k001', 'mail', 'email', 'treatment', "
                           "DATE '2026-01-01', DATE '2026-01-15')")
    writable = history_file.connect

    def read_only_disk(path, read_only=False):
        if not read_only:
            raise HistoryError("The contact history cannot be opened: read-only file system", where=str(path))
        return writable(path, read_only=True)

    monkeypatch.setattr(history_file, "connect", read_only_disk)
    around = contacts_around(history, MONDAY, 30)
    assert len(around) == 1 and around[list(history_file.LATER_COLUMNS)].isna().all().all()


HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
connection.close()
"""


def _held_by_another_process(path, seconds: float) -> subprocess.Popen:
    """A process holding DuckDB's write lock on ``path`` for ``seconds`` (started once it holds it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_history_another_process_is_writing_is_waited_for(tmp_path):
    """Two commits at once: the second waits for the first's lock instead of failing with DuckDB's error."""
    path = tmp_path / "history.duckdb"
    history_file.connect(path).close()
    holder = _held_by_another_process(path, 1.0)
    started = time.monotonic()
    history_file.connect(path).close()
    assert time.monotonic() - started >= 0.5
    holder.wait(timeout=10)


def test_a_lock_held_past_the_wait_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(history_file, "LOCK_WAIT_S", 0.3)
    path = tmp_path / "history.duckdb"
    history_file.connect(path).close()
    holder = _held_by_another_process(path, 5.0)
    try:
        with pytest.raises(HistoryError, match=r"cannot be opened: .*lock.*\(waited 0.3 s for it\)") as raised:
            history_file.connect(path)
        assert "wait for it to finish" in raised.value.fix
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_committed_runs_folder_is_not_run_into_again_until_it_is_voided(tmp_path):
    """A new run over the folder of a committed run would replace the plan that was sent (cvo measure
    reads it there); a run not committed, a voided one, or no history at all leave the folder free."""
    scenario = write_scenario(tmp_path)
    history = tmp_path / "history.duckdb"
    history_file.check_not_committed(tmp_path / "w1", history)  # no history yet
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    history_file.check_not_committed(tmp_path / "w1", history)
    ledger.commit(read_run(tmp_path / "w1"), history)
    with pytest.raises(RunFolderError, match=f"holds run {summary['run_id']}, committed to the contact history"):
        history_file.check_not_committed(tmp_path / "w1", history)
    history_file.check_not_committed(tmp_path / "elsewhere", history)
    ledger.void(history, summary["run_id"])
    history_file.check_not_committed(tmp_path / "w1", history)


def test_a_corrupt_history_is_reported_at_once_not_waited_for_as_a_lock(tmp_path, monkeypatch):
    """DuckDB's corruption error speaks of a 'block': only its lock errors are waited on."""
    monkeypatch.setattr(history_file, "LOCK_WAIT_S", 5.0)
    path = tmp_path / "history.duckdb"
    history_file.connect(path).close()
    with open(path, "r+b") as stream:
        stream.seek(8192)
        stream.write(b"\xff" * 64)
    started = time.monotonic()
    with pytest.raises(HistoryError, match="cannot be opened") as raised:
        history_file.connect(path, read_only=True)
    assert time.monotonic() - started < 2.0 and "waited" not in raised.value.message

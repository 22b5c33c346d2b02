"""optimizer/store/history_versions.py: a contact history on an object store (fsspec's memory://
here) is a folder of numbered DuckDB versions; a commit writes the next one only if nobody has, and
is made again on top of a writer that landed first; the weekly loop reads and writes it as it does
a local file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import fsspec
import fsspec.implementations.memory
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner
from weekly_loop import MONDAY, run_week, write_scenario

from optimizer.cli import app
from optimizer.errors import HistoryError
from optimizer.store import history_file, history_versions, ledger
from optimizer.store.history_versions import (
    KEEP,
    change,
    history_of,
    latest_version,
    pinned,
    readable_history,
    version_url,
)
from optimizer.store.runs import read_run


@pytest.fixture
def history(bucket):
    """A contact history location in a fresh memory:// bucket."""
    return f"{bucket}/contact_history.duckdb"


def versions(url: str) -> list[str]:
    return sorted(Path(name).name for name in fsspec.filesystem("memory").ls(url.removeprefix("memory:/"),
                                                                             detail=False))


def scenario_with_history(folder: Path, history: str | Path) -> Path:
    path = write_scenario(folder)
    loaded = yaml.safe_load(path.read_text())
    loaded["contact_policy"]["history"] = str(history)
    path.write_text(yaml.safe_dump(loaded, sort_keys=False))
    return path


def other_customers(folder: Path, history: str) -> Path:
    """The loop's scenario over other customers (ids prefixed 'x'): its commits never make a plan of
    the first one stale."""
    folder.mkdir()
    path = scenario_with_history(folder, history)
    for table in ("customers", "scores"):
        frame = pd.read_parquet(folder / f"{table}.parquet")
        frame.assign(customer_id="x" + frame["customer_id"]).to_parquet(folder / f"{table}.parquet")
    return path


def test_the_weekly_loop_plans_the_same_on_an_object_store_history_as_on_a_local_one(tmp_path, history):
    """Two weeks, committed after each: the second week's plan keeps the 21-day mail cool-down,
    customer for customer as with a local history; each commit is one version."""
    plans = {}
    for name, location in (("local", tmp_path / "local" / "history.duckdb"), ("store", history)):
        (tmp_path / name).mkdir()
        scenario = scenario_with_history(tmp_path / name, location)
        first = run_week(scenario, tmp_path / name / "w1", MONDAY)
        assert first["contact_history"] == str(location) and not first["contact_history_found"]
        done = ledger.commit(read_run(tmp_path / name / "w1"), first["contact_history"])
        assert done.created and done.recorded and done.history == location
        second = run_week(scenario, tmp_path / name / "w2", MONDAY + dt.timedelta(days=7))
        assert second["contact_history_found"] and second["history_seq"] == 1
        ledger.commit(read_run(tmp_path / name / "w2"), second["contact_history"])
        plans[name] = pd.read_parquet(tmp_path / name / "w2" / "plan.parquet")
    pd.testing.assert_frame_equal(plans["local"], plans["store"])
    sent = history_file.run_record(history, first["run_id"])[2]
    week_one_mail = set(sent.loc[(sent["campaign_id"] == "mail") & (sent["group"] == "treatment"), "customer_id"])
    again = plans["store"].loc[plans["store"]["campaign_id"] == "mail", "customer_id"]
    assert week_one_mail and not week_one_mail & set(again)
    assert versions(history) == ["000000000001.duckdb", "000000000002.duckdb"]
    assert [run["run_date"] for run in history_file.runs(history)] == [MONDAY + dt.timedelta(days=7), MONDAY]


def test_a_commit_that_changes_nothing_writes_no_version(tmp_path, history):
    scenario = scenario_with_history(tmp_path, history)
    run_week(scenario, tmp_path / "w1", MONDAY)
    assert ledger.commit(read_run(tmp_path / "w1"), history).recorded
    again = ledger.commit(read_run(tmp_path / "w1"), history)
    assert not again.recorded and not again.created and versions(history) == ["000000000001.duckdb"]


def race(monkeypatch, other) -> list[int]:
    """Make ``other()`` run (and land its version) right after the next commit copied the history."""
    fetch, fetched = history_versions._fetch, []

    def fetch_then_other(url, local, storage_options):
        version = fetch(url, local, storage_options)
        fetched.append(version)
        if len(fetched) == 1:
            other()
        return version

    monkeypatch.setattr(history_versions, "_fetch", fetch_then_other)
    return fetched


def test_a_writer_that_lands_first_makes_the_plan_stale_and_it_is_refused(tmp_path, history, monkeypatch):
    """Two plans of the same day saw no history; while the first is being committed, the second is
    committed and lands version 1. The first's version 1 is refused by the store, its commit is made
    again on version 1, and is then stale: refused, nothing of it recorded."""
    scenario = scenario_with_history(tmp_path, history)
    run_week(scenario, tmp_path / "first", MONDAY)
    second = run_week(scenario, tmp_path / "second", MONDAY)
    fetched = race(monkeypatch, lambda: ledger.commit(read_run(tmp_path / "second"), history))
    with pytest.raises(HistoryError, match=f"stale: it saw the contact history before run {second['run_id'][:8]}"):
        ledger.commit(read_run(tmp_path / "first"), history)
    assert fetched == [0, 0, 1]  # the first copy, the other writer's, the first's again on version 1
    assert versions(history) == ["000000000001.duckdb"]
    assert [run["run_id"] for run in history_file.runs(history)] == [second["run_id"]]


def test_a_writer_that_lands_first_keeps_its_commit_and_this_one_lands_on_top(tmp_path, history, monkeypatch):
    scenario = scenario_with_history(tmp_path, history)
    first = run_week(scenario, tmp_path / "first", MONDAY)
    other = run_week(other_customers(tmp_path / "other", history), tmp_path / "other" / "w", MONDAY)
    race(monkeypatch, lambda: ledger.commit(read_run(tmp_path / "other" / "w"), history))
    assert ledger.commit(read_run(tmp_path / "first"), history).recorded
    assert versions(history) == ["000000000001.duckdb", "000000000002.duckdb"]
    assert {run["run_id"] for run in history_file.runs(history)} == {first["run_id"], other["run_id"]}
    assert history_file.history_state(history)[1] == 2


def test_writers_that_keep_landing_first_end_in_a_clear_error(history, monkeypatch):
    monkeypatch.setattr(history_versions, "_create", lambda *args: False)
    with pytest.raises(HistoryError, match="Other commands wrote the contact history first 5 times in a row; "
                       "nothing was recorded by this one"):
        change(history, lambda local: local.write_bytes(b"change"))


def test_a_file_system_too_old_to_create_only_if_absent_is_refused_before_any_change(history, monkeypatch):
    monkeypatch.setitem(history_versions.EXCLUSIVE, "fsspec", (9999, 1, 0))
    changed = []
    with pytest.raises(HistoryError, match=r"fsspec 9999.1.0 or later is needed .* pip install -U 'fsspec>=9999.1.0'"):
        change(history, changed.append)
    assert not changed and latest_version(history) == 0


def test_the_newest_versions_are_kept_and_older_ones_emptied(history):
    for number in range(1, KEEP + 3):
        change(history, lambda local, number=number: local.write_bytes(f"version {number}".encode()))
    fs = fsspec.filesystem("memory")
    held = [fs.cat_file(version_url(history, number).removeprefix("memory:/")) for number in range(1, KEEP + 3)]
    assert held == [history_versions.PRUNED] * 2 + [f"version {number}".encode() for number in range(3, KEEP + 3)]
    assert latest_version(history) == KEEP + 2


def test_a_version_is_pinned_and_names_its_history(history):
    """Pinned before the first commit, version 0: no contacts, whatever lands meanwhile."""
    before = pinned(history)
    assert before == version_url(history, 0) and history_of(before) == history
    change(history, lambda local: local.write_bytes(b"one"))
    assert pinned(history) == version_url(history, 1) and history_of(pinned(history)) == history
    with readable_history(before) as local:
        assert not local.exists()
    assert history_of("/data/000000000001.duckdb") == "/data/000000000001.duckdb"  # a local file is itself


def test_a_writer_that_read_a_version_since_emptied_does_not_create_it_again(history, monkeypatch):
    """A commit copies version 0; meanwhile KEEP + 1 others land, and version 1 is emptied. The
    commit cannot create version 1 again (its number stays taken): it is made again on the newest."""
    def others():
        for number in range(1, KEEP + 2):
            change(history, lambda local, number=number: local.write_bytes(f"other {number}".encode()))

    fetched = race(monkeypatch, others)
    change(history, lambda local: local.write_bytes(local.read_bytes() + b" then mine" if local.exists() else b"mine"))
    newest = KEEP + 2
    assert fetched[0] == 0 and fetched[-1] == newest - 1 and latest_version(history) == newest
    fs = fsspec.filesystem("memory")
    assert fs.cat_file(version_url(history, newest).removeprefix("memory:/")) == f"other {KEEP + 1} then mine".encode()
    assert fs.cat_file(version_url(history, 1).removeprefix("memory:/")) == history_versions.PRUNED
    with pytest.raises(HistoryError, match=f"Version 1 of the contact history was emptied.*{version_url(history, 1)}"):
        with readable_history(version_url(history, 1)):
            pass


def test_a_change_left_in_duckdbs_write_ahead_log_is_written_with_the_version(history):
    def insert_without_checkpoint(local):
        connection = duckdb.connect(str(local))
        connection.execute("PRAGMA disable_checkpoint_on_shutdown")
        connection.execute("CREATE TABLE kept AS SELECT 42 AS answer")
        connection.close()
        assert local.with_name(local.name + ".wal").exists()

    change(history, insert_without_checkpoint)
    with readable_history(history) as local, duckdb.connect(str(local), read_only=True) as connection:
        assert connection.execute("SELECT answer FROM kept").fetchone() == (42,)


def test_an_upload_retried_after_it_landed_is_this_write(history, monkeypatch):
    memory = fsspec.implementations.memory.MemoryFileSystem
    put_file = memory.put_file

    def landed_then_retried(self, lpath, rpath, *args, **kwargs):
        put_file(self, lpath, rpath, *args, **kwargs)
        put_file(self, lpath, rpath, *args, **kwargs)  # the retry finds its own object

    monkeypatch.setattr(memory, "put_file", landed_then_retried)
    assert change(history, lambda local: (local.write_bytes(b"once"), "done")[1]) == "done"
    assert versions(history) == ["000000000001.duckdb"]


def test_a_writer_that_lands_first_is_met_past_a_cached_listing(tmp_path, history, monkeypatch):
    """Object stores' file systems cache listings: the object another writer created is not in the
    cache, so asking for it there says 'not found'. That is a lost race, made again, not a crash."""
    memory = fsspec.implementations.memory.MemoryFileSystem
    info, ls, put_file, listed = memory.info, memory.ls, memory.put_file, {"cached": False}

    def listing(self, path, *args, **kwargs):  # a listing is cached, as s3fs and gcsfs do
        listed["cached"] = True
        return ls(self, path, *args, **kwargs)

    def cached(self, path, **kwargs):  # answered from the cached listing, which predates the object
        if listed["cached"]:
            raise FileNotFoundError(path)
        return info(self, path, **kwargs)

    def created_on_the_server(self, lpath, rpath, *args, mode="overwrite", **kwargs):  # not from the cache
        if mode == "create" and self._strip_protocol(rpath) in self.store:
            raise FileExistsError(rpath)
        return put_file(self, lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(memory, "ls", listing)
    monkeypatch.setattr(memory, "info", cached)
    monkeypatch.setattr(memory, "put_file", created_on_the_server)
    monkeypatch.setattr(memory, "invalidate_cache", lambda self, path=None: listed.update(cached=False))
    scenario = scenario_with_history(tmp_path, history)
    run_week(scenario, tmp_path / "first", MONDAY)
    run_week(other_customers(tmp_path / "other", history), tmp_path / "other" / "w", MONDAY)
    race(monkeypatch, lambda: ledger.commit(read_run(tmp_path / "other" / "w"), history))
    assert ledger.commit(read_run(tmp_path / "first"), history).recorded and latest_version(history) == 2


def test_a_pinned_copy_being_read_is_never_removed(history):
    for number in range(1, 5):
        change(history, lambda local, number=number: local.write_bytes(f"version {number}".encode()))
    with history_versions.pinned_copy(version_url(history, 1)) as first:
        for number in range(2, 5):
            with history_versions.pinned_copy(version_url(history, number)):
                pass
        assert first.read_bytes() == b"version 1"  # three newer copies made while it was read
    with history_versions.pinned_copy(version_url(history, 3)) as again:  # made anew: it was removed
        assert again.read_bytes() == b"version 3"
    assert not first.exists()  # let go, it is the oldest of three


def test_a_version_or_a_file_system_that_cannot_create_only_if_absent_is_not_written(history, monkeypatch):
    change(history, lambda local: local.write_bytes(b"one"))
    with pytest.raises(HistoryError, match="names one version of a contact history, which is never changed"):
        change(version_url(history, 1), lambda local: local.write_bytes(b"two"))
    monkeypatch.delitem(history_versions.EXCLUSIVE, "fsspec")
    with pytest.raises(HistoryError, match="cannot be written with MemoryFileSystem: it cannot create a file only "
                       "if it is absent"):
        change(history, lambda local: local.write_bytes(b"two"))
    assert versions(history) == ["000000000001.duckdb"]


def test_a_broken_version_is_named_by_its_url(history):
    fsspec.filesystem("memory").pipe_file(version_url(history, 1).removeprefix("memory:/"), b"not a database")
    for location in (history, version_url(history, 1)):
        with pytest.raises(HistoryError, match="not a DuckDB database") as error:
            history_file.runs(location)
        assert history in error.value.message and "/tmp" not in error.value.message


def test_a_history_url_file_is_a_local_file(tmp_path):
    scenario = scenario_with_history(tmp_path, f"file://{tmp_path}/h.duckdb")
    run_week(scenario, tmp_path / "w1", MONDAY)
    assert ledger.commit(read_run(tmp_path / "w1"), f"file://{tmp_path}/h.duckdb").recorded
    assert (tmp_path / "h.duckdb").is_file()
    assert run_week(scenario, tmp_path / "w2", MONDAY + dt.timedelta(days=7))["history_seq"] == 1


def test_commit_void_and_history_open_the_store_with_the_scenarios_options(tmp_path, history, monkeypatch):
    seen = []
    filesystem = history_versions.filesystem

    def recorded(location, storage_options=None):
        seen.append(storage_options)
        return filesystem(location, storage_options)

    monkeypatch.setattr(history_versions, "filesystem", recorded)
    scenario = scenario_with_history(tmp_path, history)
    loaded = yaml.safe_load(scenario.read_text())
    given = {"skip_instance_cache": True, "key": "an-access-key"}
    scenario.write_text(yaml.safe_dump({**loaded, "storage_options": given}))
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    kept = {"skip_instance_cache": True}  # the run's scenario.yaml keeps no secret: the environment gives it
    for command, expected in ((["commit", str(tmp_path / "w1")], kept), (["history", str(scenario)], given),
                              (["history", str(tmp_path / "w1")], kept), (["void", str(tmp_path / "w1")], kept)):
        seen.clear()
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
        assert seen and all(options == expected for options in seen), (command, seen)
    assert history_file.runs(history)[0]["run_id"] == summary["run_id"]


def test_a_folder_of_other_files_is_not_a_history(history):
    fsspec.filesystem("memory").pipe_file(f"{history.removeprefix('memory:/')}/notes.txt", b"x")
    with pytest.raises(HistoryError, match="holds files but no contact history versions"):
        latest_version(history)


def test_the_loop_commands_take_a_history_url_and_name_it(tmp_path, history):
    scenario = scenario_with_history(tmp_path, history)
    summary = run_week(scenario, tmp_path / "w1", MONDAY)
    empty = CliRunner().invoke(app, ["history", history])
    assert empty.exit_code == 6 and f"There is no contact history here yet ({history})" in empty.output
    committed = CliRunner().invoke(app, ["commit", str(tmp_path / "w1")])
    assert committed.exit_code == 0, committed.output
    assert f"Created the contact history {history}" in committed.output
    listed = CliRunner().invoke(app, ["history", str(scenario), "--json"])
    assert listed.exit_code == 0 and summary["run_id"] in listed.output
    voided = CliRunner().invoke(app, ["void", summary["run_id"][:8], "--history", history, "--reason", "test"])
    assert voided.exit_code == 0, voided.output
    assert f"({history})" in voided.output and versions(history)[-1] == "000000000002.duckdb"
    unknown = CliRunner().invoke(app, ["void", "nosuchrun", "--history", history])
    assert unknown.exit_code == 6 and f"matches 'nosuchrun' ({history})" in unknown.output
    assert "Traceback" not in unknown.output


def test_optimize_reads_a_history_url_given_with_history_and_refuses_one_never_written(tmp_path, history):
    scenario = scenario_with_history(tmp_path, tmp_path / "unused.duckdb")
    missing = CliRunner().invoke(app, ["optimize", str(scenario), "--history", history, "--quiet"])
    assert missing.exit_code == 6 and f"The contact history given with --history is missing ({history})" in \
        missing.output
    run_week(scenario_with_history(tmp_path, history), tmp_path / "w1", MONDAY)
    ledger.commit(read_run(tmp_path / "w1"), history)
    planned = CliRunner().invoke(app, ["optimize", str(scenario_with_history(tmp_path, tmp_path / "unused.duckdb")),
                                       "--history", history, "--out", str(tmp_path / "w2"), "--json", "--quiet",
                                       "--date", str(MONDAY + dt.timedelta(days=7))])
    assert planned.exit_code == 0, planned.output
    assert '"history_seq": 1' in planned.stdout and f'"contact_history": "{history}"' in planned.stdout


def test_a_history_url_with_no_bucket_is_refused(tmp_path):
    scenario = scenario_with_history(tmp_path, "s3://")
    result = CliRunner().invoke(app, ["optimize", str(scenario), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 6 and "names no bucket or folder" in result.output

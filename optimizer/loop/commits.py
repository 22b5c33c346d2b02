"""Committing a plan to the contact history: the whole plan when the history has not moved
since the plan was computed; forced, only the rows the contact policy still allows.

A plan saw the history as of event ``history_seq``. When runs committed since then contacted
its customers within the policy's reach, the plan is stale (optimizer/store/ledger.py refuses
it). ``force`` re-applies the scenario's contact policy (optimizer/scenario/policy.py) to the
plan's rows against the history as it is now, and records only the rows no rule blocks.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import DataError, HistoryError, RunFolderError, ScenarioError
from optimizer.plan.outputs import csv_writer
from optimizer.scenario.offers import planned_offers
from optimizer.scenario.policy import policy_rules
from optimizer.scenario.schema import Scenario, load_scenario
from optimizer.store import ledger
from optimizer.store.files import SCENARIO_FILE, SUMMARY_FILE, Writer, replace_run_files
from optimizer.store.folders import committed_places
from optimizer.store.history_file import recorded_history, run_record
from optimizer.store.history_versions import history_url
from optimizer.store.ledger import Commit
from optimizer.store.object_runs import readable_run
from optimizer.store.runs import RunFolder, read_run, run_storage_options


def commit(out_dir: Path | str, history: Path | str | None = None, force: bool = False) -> Commit:
    """Record the plan in ``out_dir`` (a folder, or a run on an object store: its copy, read through
    optimizer/store/object_runs.py) as sent (a stale plan only with ``force``, and then only the
    rows the contact policy still allows). ``history``: default, the one the summary names."""
    with readable_run(out_dir) as (folder, origin):
        return _commit_run(read_run(folder, origin), history, force)


def _commit_run(run: RunFolder, history: Path | str | None, force: bool) -> Commit:
    if run.summary.get("sample"):
        share = run.summary["sample"]["share"]
        raise DataError(f"The run is a plan of a {share:g} sample of the customers (cvo optimize --sample), a quick "
                        "look whose limits were scaled: it is not a plan to send", where=run.shown,
                        fix="Run cvo optimize without --sample, then commit that run")
    target = recorded_history(run.summary, history, run.shown)
    _check_history_seen(run, history, target)
    if not force:
        done = ledger.commit(run, target, None, run_storage_options(run.path))
        return _remembered(run, done)[1]
    plan, kept = _plan(run), []  # the plan read once for the re-check, the notes and the count

    def recheck(run: RunFolder, contacts: pd.DataFrame) -> pd.DataFrame:
        kept.append(still_allowed(run, contacts, plan))
        return kept[-1]

    run, done = _remembered(run, ledger.commit(run, target, recheck, run_storage_options(run.path)))
    if not done.recorded and "forced_commit" not in run.summary:  # recorded before, the lists not yet cut
        recorded = run_record(target, run.run_id, run_storage_options(run.path))[2]
        kept, done = [recorded], replace(done, dropped=len(plan) - len(recorded))
    if done.dropped > 0 and kept:
        done = replace(done, notes=(*done.notes, *short_audiences(_run_scenario(run), kept[-1]),
                                    *_promises_left(plan, kept[-1])))
        cut_send_lists(run, kept[-1], done)
    return done


def _remembered(run: RunFolder, done: Commit) -> tuple[RunFolder, Commit]:
    """The run with the history it went to added to ``committed_to`` in its summary.json (a list, in
    the order of the commits) when that is not the one the summary names (``--history`` elsewhere),
    or is, after one elsewhere: cvo measure, history and void, given the folder,
    then read that history (they found none: 'no contact history here yet'), and a new run is not
    written over it (history_file.check_not_committed). A run on an object store keeps its summary,
    as does one whose folder cannot be rewritten now: a note says to give --history."""
    named, before = run.summary.get("contact_history"), committed_places(run.summary)
    if any(_same_history(place, done.history) for place in before or (named,)):
        return run, done
    note = (f"give --history {done.history} to cvo measure, history and void: the run's folder "
            f"names {named or 'no history'}")
    if run.origin:
        return run, replace(done, notes=(*done.notes, note))
    place = done.history if isinstance(done.history, str) else done.history.resolve()  # read from any folder
    summary = {**run.summary, "committed_to": [*before, str(place)]}
    try:
        replace_run_files(run.path, run.run_id, {SUMMARY_FILE: lambda temp: temp.write_text(
            json.dumps(summary, indent=2) + "\n")})
    except RunFolderError as error:  # another command holds the folder: the commit stands
        return run, replace(done, notes=(*done.notes, f"{error.problem}; {note}"))
    return replace(run, summary=summary), done


def _same_history(one: object, other: Path | str) -> bool:
    """Whether a summary's history (a path or URL as text, or None) is ``other``."""
    if one is None:
        return False
    if isinstance(other, Path) and history_url(str(one)) is None:
        return Path(str(one)).resolve() == other.resolve()
    return str(one) == str(other)


def _check_history_seen(run: RunFolder, history: Path | str | None, target: Path | str) -> None:
    """HistoryError when the plan saw a contact history and ``target`` is missing: a --history typo,
    or the file moved since, would start a second history that the next plans never read."""
    if not (run.summary.get("contact_history_found") and isinstance(target, Path) and target.parent.is_dir()
            and not target.exists()):
        return
    given = "given with --history" if history is not None else "the plan names"
    raise HistoryError(
        f"The contact history {given} is missing, and the plan was made against the history "
        f"{run.summary['contact_history']}", where=f"{run.shown}, {target}",
        fix="Give the path of the history the plan saw with --history (or restore the file)")


def _plan(run: RunFolder) -> pd.DataFrame:
    """The plan's rows of a campaign (treated, forced and control)."""
    plan = pd.concat([pd.read_parquet(file) for file in run.plan], ignore_index=True)
    return plan.dropna(subset=["campaign_id"]).reset_index(drop=True)


def _promises_left(plan: pd.DataFrame, kept: pd.DataFrame) -> tuple[str, ...]:
    """A note naming the forced (promised) customers of ``plan`` the recorded rows ``kept`` leave out, if any."""
    promised = set(plan.loc[plan["group"] == "forced", "customer_id"].astype(str))
    left = sorted(promised - set(kept["customer_id"].astype(str)))
    if not left:
        return ()
    return (f"{len(left):,} promised (forced) customers are left out, who the contact policy now blocks: "
            f"{', '.join(left[:5])}{' ...' if len(left) > 5 else ''}",)


def short_audiences(scenario: Scenario, kept: pd.DataFrame) -> tuple[str, ...]:
    """The campaigns whose audience (treated, forced and control) the recorded rows ``kept`` leave
    below their min_audience: a forced commit keeps no limit the plan met."""
    counts = kept["campaign_id"].astype(str).value_counts()
    return tuple(f"campaign '{campaign.id}' keeps {int(counts.get(campaign.id, 0)):,} customers, below its "
                 f"min_audience of {campaign.min_audience:,}" for campaign in scenario.campaigns
                 if int(counts.get(campaign.id, 0)) < campaign.min_audience)


def cut_send_lists(run: RunFolder, kept: pd.DataFrame, done: Commit) -> None:
    """After a forced commit that left customers out: the run's send lists (contacts_*.csv) keep
    only the rows recorded (``kept``: customer_id, campaign_id), and summary.json says so
    (``forced_commit``), so that no list names a customer the contact policy now blocks. A run on
    an object store or written by --dask keeps its lists; HistoryError says so (it is recorded)."""
    lists = sorted(set(run.summary.get("contact_lists", {}).values()))
    if run.origin or any("/" in name for name in lists):
        raise HistoryError(
            f"Recorded run {run.run_id} without {done.dropped:,} customers the contact policy no longer allows, "
            "but its send lists (a --dask run's or an object store's) still name them",
            where=run.shown, fix="Send only to the customers the history holds for this run, or re-plan with "
            "`cvo optimize` and send that plan's lists")
    allowed = set(zip(kept["customer_id"].astype(str), kept["campaign_id"].astype(str), strict=True))
    files: dict[str, Writer] = {}
    for name in lists:
        rows = pd.read_csv(run.path / name, dtype=str, keep_default_na=False)  # every value kept as written
        keep = np.array([pair in allowed for pair in zip(rows["customer_id"], rows["campaign_id"], strict=True)],
                        dtype=bool)
        files[name] = csv_writer(rows.loc[keep])
    summary = {**run.summary, "forced_commit": {"left_out": done.dropped, "recorded": len(kept),
                                                "notes": list(done.notes)}}
    files[SUMMARY_FILE] = lambda temp: temp.write_text(json.dumps(summary, indent=2) + "\n")
    try:
        replace_run_files(run.path, run.run_id, files)
    except RunFolderError as error:  # another command holds the folder, or a full disk: the commit stands
        raise HistoryError(
            f"Recorded run {run.run_id} without {done.dropped:,} customers the contact policy no longer allows, but "
            f"its send lists could not be cut: {error.problem}", where=run.shown,
            fix=f"Run `cvo commit {run.shown} --force` again once that is fixed: it cuts them") from None


def still_allowed(run: RunFolder, contacts: pd.DataFrame, plan: pd.DataFrame | None = None) -> pd.DataFrame:
    """The plan's rows (customer_id, campaign_id, group, and the expected figures when the plan
    has them) that no rule of the run's scenario's contact policy blocks against ``contacts``,
    the history's live contacts around its date; ``plan``: the run's plan when already read."""
    scenario = _run_scenario(run)
    plan = _plan(run) if plan is None else plan
    campaigns = planned_offers(scenario, plan)
    if (campaigns < 0).any():
        raise _unknown_offer(scenario, plan, int(np.flatnonzero(campaigns < 0)[0]))
    customers = plan["customer_id"].astype(str).to_numpy(dtype=object)
    run_date = dt.date.fromisoformat(run.summary["run_date"])
    rows = np.arange(len(plan))
    blocked = np.zeros(len(plan), dtype=bool)
    for rule in policy_rules(scenario, customers, contacts, run_date):
        blocked |= rule.blocked[rows, campaigns]
    return plan[~blocked].reset_index(drop=True)


def _unknown_offer(scenario: Scenario, plan: pd.DataFrame, row: int) -> ScenarioError:
    """The plan's row names a campaign the scenario no longer has, or a variant it no longer offers."""
    campaign = str(plan["campaign_id"].iloc[row])
    variant = plan["variant"].iloc[row] if "variant" in plan and pd.notna(plan["variant"].iloc[row]) else None
    fix = "Re-plan with `cvo optimize` instead of forcing the commit"
    if campaign not in scenario.campaign_ids():
        return ScenarioError(f"The plan's campaign '{campaign}' is no longer in the scenario, so its contact policy "
                             "cannot be checked", where=scenario.source, fix=fix)
    variants = [v.id for v in scenario.campaigns[scenario.campaign_ids().index(campaign)].variants]
    given = f"its variant '{variant}'" if variant is not None else "no variant"
    now = f"the variants {', '.join(variants)}" if variants else "no variants"
    return ScenarioError(f"The plan gives campaign '{campaign}' with {given}, and the scenario now offers it with "
                         f"{now}, so its contact policy cannot be checked", where=scenario.source, fix=fix)


def _run_scenario(run: RunFolder) -> Scenario:
    """The scenario as the run used it: its scenario.yaml (bases and --set overrides applied), or,
    for a run of a cvo that kept none, the scenario file it names, as that file is now."""
    if (run.path / SCENARIO_FILE).is_file():
        return load_scenario(run.path / SCENARIO_FILE)
    source = run.summary.get("scenario_path") or run.summary.get("scenario_file")
    if not source or not Path(source).is_file():
        raise DataError("The run's scenario file is needed to re-check its contact policy, and it is not there",
                        where=f"{run.shown}, scenario_file: {source}",
                        fix="Restore the scenario file, or re-plan with `cvo optimize`")
    return load_scenario(source)

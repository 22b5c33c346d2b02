"""The Typer app every command registers on, and what the commands share."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from optimizer.errors import CvoError, HistoryError
from optimizer.solve.method import Method

if TYPE_CHECKING:
    from optimizer.scenario.schema import Scenario

app = typer.Typer(
    name="cvo",
    help="Decide which marketing campaign each customer should get: a proven-optimal plan under budgets, "
    "channel capacities and contact rules.\n\nExample: cvo optimize scenarios/weekly.yaml --out out/weekly",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(context: typer.Context) -> None:
    """Decide which marketing campaign each customer should get."""
    if threading.current_thread() is threading.main_thread():
        caught = [number for number in (signal.SIGTERM, signal.SIGINT) if signal.getsignal(number) != signal.SIG_IGN]
        before = {number: signal.signal(number, _interrupted) for number in caught}  # an ignored signal stays so
        context.call_on_close(lambda: [signal.signal(number, handler) for number, handler in before.items()])


def _interrupted(number: int, frame: object) -> None:
    """SIGTERM (``kill``, a scheduler's stop) ends a command as Ctrl-C does, through its cleanup:
    a solve's HiGHS child stopped, the output folder's lock and temporary files let go; both say
    so on stderr, so that a scheduler's log shows why the command ended (exit 130)."""
    name = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
    with contextlib.suppress(OSError, RuntimeError):  # stderr closed, or the signal came amid a write to it
        Console(stderr=True, soft_wrap=True).print(Text.assemble(
            ("stopped: ", "bold red"), f"{name} ended the command before it finished. Each file it writes is "
            "replaced whole or not at all: a run folder holds one whole run, old or new, and the contact history "
            "each commit whole or not at all."), highlight=False)
    raise KeyboardInterrupt  # the exit code says it when the message could not be written


def fail(error: CvoError) -> typer.Exit:
    """The error's message (and its notes: the checks its problems kept from running) on stderr, and its exit code."""
    notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))
    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "bold red"), error.message + notes),
                                               highlight=False)
    return typer.Exit(error.exit_code)


SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="Change one value of the scenario for this run: KEY=VALUE, KEY a dotted path, e.g. budget=12000 "
    "or campaigns.vip_call.max_audience=500 (VALUE read as YAML); repeatable. The scenario as run is saved with "
    "the outputs (scenario.yaml).", show_default=False)]


QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", metavar="",
help="Show no progress. Progress goes to stderr, only when stderr is a terminal, so it never "
    "mixes with --json output or a log file.")]


def progress_console(quiet: bool) -> Console:
    """The console progress is drawn on: stderr, silent with --quiet or when stderr is not a terminal."""
    console = Console(stderr=True)
    console.quiet = quiet or not console.is_terminal
    return console


def shown(path: Path | str) -> Path | str:
    """``path`` relative to the working folder when it lies below it, as the user would type it (an
    object-store URL as it is)."""
    if isinstance(path, str):
        return path
    return path.relative_to(Path.cwd()) if path.is_absolute() and path.is_relative_to(Path.cwd()) else path


ScenarioArg = Annotated[
    Path, typer.Argument(metavar="SCENARIO", help="Scenario YAML file, e.g. scenarios/weekly.yaml.", show_default=False)
]


MethodOption = Annotated[Method | None, typer.Option(
    "--method", help="auto (by size), exact or decompose, for every solve. Default: the scenario's solver.method, "
    "else auto.", show_default=False)]

DateOption = Annotated[dt.datetime | None, typer.Option(
    "--date", formats=["%Y-%m-%d"], help="The day the plan is sent (default: today); the contact policy "
    "(cool-downs, caps, open measurement windows) is checked against the contact history on this day.",
    show_default=False)]


def folder(text: str) -> Path:
    """A --out folder: an empty value (``--out "$OUT"`` with OUT unset) is an error, not the current folder."""
    return Path(_given(text))


def given(text: str | None) -> str | None:
    """A --out that may be a URL: checked as ``folder``, kept as written (a URL's slashes are its own)."""
    return None if text is None else _given(text)


def _given(text: str) -> str:
    if not text.strip():
        raise typer.BadParameter("is empty (an unset shell variable?): give a folder, or leave --out out for the "
                                 "default")
    return text


def day(date: dt.datetime | None) -> dt.date | None:
    """The date of a --date option."""
    return date.date() if date is not None else None


HistoryOption = Annotated[str | None, typer.Option(
    "--history", help="Contact history file (DuckDB), or its object-store URL, that the contact policy reads. "
    "Default: the scenario's contact_policy.history, next to the scenario file.", show_default=False)]


def with_history(scenario: Scenario, history: str | None) -> Scenario:
    """The scenario reading its contact history from ``history`` (a file, or an object-store URL:
    optimizer/store/history_versions.py) when one is given; a given history must exist (only
    ``cvo commit`` creates one)."""
    if history is None:
        return scenario
    from optimizer.store.datasets import local_path
    from optimizer.store.history_versions import history_url, latest_version

    url = history_url(history)
    found = latest_version(url, scenario.storage_options) > 0 if url is not None else local_path(history).is_file()
    if not found:
        kind = "a folder" if url is None and local_path(history).is_dir() else "missing"
        raise HistoryError(f"The contact history given with --history is {kind}", where=history,
                           fix="Give the DuckDB file (or object-store URL) `cvo commit` wrote; leave out --history "
                           "to use the scenario's contact_policy.history (on a first run there is none yet)")
    policy = scenario.contact_policy.model_copy(update={"history": url or str(local_path(history).resolve())})
    return scenario.model_copy(update={"contact_policy": policy})

"""The errors cvo raises for bad input, infeasible scenarios and solver failures.

Every message follows one template: what is wrong, where (file, row or key), what was
expected, and how to fix it, e.g.

    The 'min_audience' of campaign 'winback' (5000) exceeds its 3120 eligible customers
    (scenarios/weekly.yaml, campaigns[2]). Lower min_audience or widen 'eligible'.

The CLI turns each class into its own non-zero exit code. Checks that do not depend on each other
keep what they find (``Findings``) and raise it as one error listing every problem (``Problems``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec, TypeVar


class CvoError(Exception):
    """Base class of the errors a user can fix; ``exit_code`` is the CLI's exit status."""

    exit_code = 1

    def __init__(self, problem: str, *, where: str | None = None, fix: str | None = None):
        self.problem = problem
        self.where = where
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.problem.rstrip(".")
        if self.where:
            text += f" ({self.where})"
        text += "."
        if self.fix:
            text += " " + self.fix.rstrip(".") + "."
        return text


class ScenarioError(CvoError):
    """The scenario file is missing, malformed, or names something that does not exist."""

    exit_code = 2


class ExpressionError(ScenarioError):
    """An expression in the scenario cannot be parsed or names an unknown column."""


class DataError(CvoError):
    """A customer or score table has a wrong column, a duplicate id, a NaN or a bad value."""

    exit_code = 3


class InfeasibleError(CvoError):
    """No plan satisfies every constraint; the message names the conflict and its size."""

    exit_code = 4


class SolverError(CvoError):
    """The solver stopped without a usable plan (time limit with no plan, numerical trouble)."""

    exit_code = 5


class HistoryError(CvoError):
    """The contact history file cannot be opened, is locked, or does not hold what was asked."""

    exit_code = 6


class RunFolderError(CvoError):
    """An output folder cannot be written, is busy, or holds files that are not of one run."""

    exit_code = 7


class Problems(CvoError):
    """Several problems of one scenario (its file, its data, its limits), each a CvoError with its
    own location, all listed at once. The exit code is the lowest of theirs: a problem of the file
    (2) comes before one of the data (3), before limits that conflict (4)."""

    def __init__(self, errors: Sequence[CvoError], subject: str):
        self.errors = list(errors)
        self.exit_code = min(error.exit_code for error in self.errors)
        count = f"{len(self.errors)} problem{'s' if len(self.errors) != 1 else ''}"
        lines = "\n".join(f"  - {error.message}" for error in self.errors)
        super().__init__(f"{subject} has {count}:\n{lines}\n")

    @property
    def message(self) -> str:
        return self.problem.rstrip()

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled whole, its problems and notes with it: raised on a Dask worker, it reaches the
        CLI as itself (an exception that cannot be rebuilt from its args arrives as a bare Exception)."""
        return _restored, (type(self), self.args, dict(self.__dict__))


def _restored(kind: type[Problems], args: tuple[object, ...], state: dict[str, object]) -> Problems:
    """A Problems unpickled: its args and attributes (errors, exit code, notes) as they were."""
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class ScenarioInvalid(Problems, ScenarioError):
    """Several problems found while validating one scenario file, all listed at once."""

    def __init__(self, errors: Sequence[ScenarioError], path: str):
        self.path = path
        super().__init__(errors, f"The scenario {path}")


class DataProblems(Problems, DataError):
    """Several problems of a scenario's data (its tables, its expressions' values), all listed at once."""


class InfeasibleProblems(Problems, InfeasibleError):
    """Several conflicts that leave a scenario without a plan (minimum audiences of several campaigns)."""


def listed(errors: Sequence[CvoError], subject: str) -> CvoError:
    """One error for the problems found: the problem itself when there is one, else one that lists
    each, of the kind they all are when they share one (a ScenarioError, a DataError, an InfeasibleError)."""
    if len(errors) == 1:
        return errors[0]
    scenario = [error for error in errors if isinstance(error, ScenarioError)]
    if len(scenario) == len(errors):
        return ScenarioInvalid(scenario, subject.removeprefix("The scenario "))
    if all(isinstance(error, DataError) for error in errors):
        return DataProblems(errors, subject)
    if all(isinstance(error, InfeasibleError) for error in errors):
        return InfeasibleProblems(errors, subject)
    return Problems(errors, subject)


Checked = TypeVar("Checked")
Arguments = ParamSpec("Arguments")


class Findings:
    """The problems of one scenario found by checks that do not depend on each other, kept so that
    one error lists them all (``cvo validate`` promises every problem at once, not one per run),
    with the ``failed`` parts later checks need, and a line for each check they kept from running
    (``unchecked``: the error's notes, so that a list never reads as complete when it is not)."""

    def __init__(self, subject: str):
        self.subject = subject
        self.errors: list[CvoError] = []
        self.failed: set[str] = set()
        self.unchecked: list[str] = []

    def attempt(self, part: str | None, check: Callable[Arguments, Checked], *args: Arguments.args,
                **kwargs: Arguments.kwargs) -> Checked | None:
        """What ``check(*args, **kwargs)`` returns, or None when it raises a CvoError: the error is
        kept and ``part`` (when given) marked as failed."""
        try:
            return check(*args, **kwargs)
        except CvoError as error:
            self.add(error)
            if part is not None:
                self.failed.add(part)
            return None

    def add(self, error: CvoError) -> None:
        """Keep ``error``, once: the offers of one campaign share its expressions and their errors."""
        if all(error.message != known.message for known in self.errors):
            self.errors.append(error)

    def skip(self, line: str) -> None:
        """Say, in one line, which check the problems found kept from running and why."""
        if line not in self.unchecked:
            self.unchecked.append(line)

    def error(self) -> CvoError:
        """The one error of every problem found (there is at least one), each unchecked line a note of it."""
        error = listed(self.errors, self.subject)
        for line in self.unchecked:
            if line not in getattr(error, "__notes__", ()):
                error.add_note(line)
        return error

    def check(self) -> None:
        """Raise the problems found, if any."""
        if self.errors:
            raise self.error()


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean 'x'?' hint for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'?" if close else ""


def byte_position(data: bytes, offset: int) -> str:
    """Where byte ``offset`` of a text file is, as an editor shows it: 'line 3, byte 7 (0xe9)'.

    >>> byte_position(b"name: x\\n# caf\\xe9\\n", 13)
    'line 2, byte 6 (0xe9)'
    """
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, byte {offset - line_start + 1} (0x{data[offset]:02x})"

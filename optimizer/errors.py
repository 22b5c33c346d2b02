"""The errors cvo raises for bad input, infeasible scenarios and solver failures.

Every message follows one template: what is wrong, where (file, row or key), what was
expected, and how to fix it, e.g.

    The 'min_audience' of campaign 'winback' (5000) exceeds its 3120 eligible customers
    (scenarios/weekly.yaml, campaigns[2]). Lower min_audience or widen 'eligible'.

The CLI turns each class into its own non-zero exit code.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class ScenarioInvalid(ScenarioError):
    """Several problems found while validating one scenario file, all listed at once."""

    def __init__(self, errors: list[ScenarioError], path: str):
        self.errors = errors
        self.path = path
        count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
        lines = "\n".join(f"  - {error.message}" for error in errors)
        super().__init__(f"The scenario {path} has {count}:\n{lines}\n")

    @property
    def message(self) -> str:
        return self.problem.rstrip()


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

"""The solver's choices, which solver runs and how precisely it keeps the values: their own module,
so that the CLI and the solver's kernels can name them without loading pydantic."""

from __future__ import annotations

from enum import StrEnum


class Precision(StrEnum):
    """How the decomposition keeps each pair's value: ``float64`` (default), or ``float32``, half
    the memory of the values (the weights and limits stay float64, so every limit holds as
    exactly); the plan is then optimal for the values rounded to 7 significant digits, and its bound
    is that of the rounded values (within 2^-24 of the sum of the largest |value| per customer), in
    memory and on a cluster alike."""

    FLOAT64 = "float64"
    FLOAT32 = "float32"


class Method(StrEnum):
    """Which solver runs: ``auto`` picks ``decompose`` from AUTO_DECOMPOSE_PAIRS eligible pairs up."""

    AUTO = "auto"
    EXACT = "exact"
    DECOMPOSE = "decompose"

"""Which solver runs: its own module, so that the CLI can offer the choice without loading pydantic."""

from __future__ import annotations

from enum import StrEnum


class Precision(StrEnum):
    """How the decomposition keeps each pair's value and weights: ``float64`` (default), or
    ``float32``, half the memory (on a Dask worker: ~10 instead of ~18 MB per 10^6 pairs), the plan
    then optimal for the values and weights rounded to 7 significant digits, in memory and on a
    cluster alike."""

    FLOAT64 = "float64"
    FLOAT32 = "float32"


class Method(StrEnum):
    """Which solver runs: ``auto`` picks ``decompose`` from AUTO_DECOMPOSE_PAIRS eligible pairs up."""

    AUTO = "auto"
    EXACT = "exact"
    DECOMPOSE = "decompose"

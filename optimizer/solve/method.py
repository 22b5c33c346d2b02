"""Which solver runs: its own module, so that the CLI can offer the choice without loading pydantic."""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    """Which solver runs: ``auto`` picks ``decompose`` from AUTO_DECOMPOSE_PAIRS eligible pairs up."""

    AUTO = "auto"
    EXACT = "exact"
    DECOMPOSE = "decompose"

"""Shared test helpers: the example scripts loaded as modules, and the repository root."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_example(relative: str) -> ModuleType:
    """Import a script under examples/ (they are not a package) by its path."""
    path = ROOT / "examples" / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generate_data() -> ModuleType:
    """examples/generate_data.py: generate(n, seed) and simulate_history(customers, scores, seed)."""
    return load_example("generate_data.py")

"""Shared test helpers: the example scripts loaded as modules, the repository root, a memory:// bucket, the evaluation tests' simulated randomized history and the example history scored once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import fsspec
import numpy as np
import pytest
from evaluation_history import simulate

ROOT = Path(__file__).resolve().parents[1]


def load_example(relative: str) -> ModuleType:
    """Import a script under examples/ (they are not a package) by its path, as module examples.<relative>.

    It is registered in sys.modules first, as an import would, so its dataclasses can resolve their annotations.
    """
    path = ROOT / "examples" / relative
    name = "examples." + relative.removesuffix(".py").replace("/", ".")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generate_data() -> ModuleType:
    """examples/generate_data.py: generate(n, seed) and simulate_history(customers, scores, seed)."""
    return load_example("generate_data.py")


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two process workers for the Dask tests, one per test module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  worker_dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def bucket(request):
    """A fresh memory:// 'bucket' for one test (the memory file system is one per process)."""
    fs = fsspec.filesystem("memory")
    root = f"/cvo-{request.node.name.replace('[', '-').replace(']', '')}"
    yield f"memory://{root.lstrip('/')}"
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(scope="session")
def simulated():
    """The randomized history of tests/evaluation_history.py, 40,000 customers (the evaluation tests'
    own). A 95% interval from one seed misses the truth one time in twenty; how often it covers is
    tested over 300 simulations in tests/scoring/test_evaluate.py."""
    return simulate(40_000, np.random.default_rng(6))


@pytest.fixture(scope="session")
def example_scoring():
    """`cvo score` of the example history and customers (examples/data) as run from the repository
    root: the run and the stages it announced. About 10 s, so once for every test that needs it."""
    from optimizer.scoring.workflow import score

    heard: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        run = score(history=Path("examples/data/history.parquet"), customers=Path("examples/data/customers.parquet"),
                    stage=heard.append)
    return run, tuple(heard)

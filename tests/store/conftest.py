"""Fixtures of the store's tests."""

from __future__ import annotations

import fsspec
import pytest


@pytest.fixture
def bucket(request):
    """A fresh memory:// 'bucket' for one test (the memory file system is one per process)."""
    fs = fsspec.filesystem("memory")
    root = f"/cvo-{request.node.name.replace('[', '-').replace(']', '')}"
    yield f"memory://{root.lstrip('/')}"
    if fs.exists(root):
        fs.rm(root, recursive=True)

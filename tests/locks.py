"""Another process holding an output folder's lock (optimizer/store/files.py), for tests of a busy folder."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOLD = """
import pathlib, sys, time
from optimizer.store.folders import folder_lock
with folder_lock(pathlib.Path(sys.argv[1])):
    pathlib.Path(sys.argv[2]).write_text("holding")
    time.sleep(60)
"""


@contextmanager
def held_by_another_process(folder: Path, marker: Path) -> Iterator[None]:
    """``folder``'s lock held by a child process until the block ends (``marker`` is its signal, removed)."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(marker)])
    try:  # a loaded CI machine took over 30 s to start the child and import the package
        deadline = time.monotonic() + 180
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the child never took the lock (exit status {child.poll()})"
        marker.unlink()
        yield
    finally:
        child.kill()
        child.wait()

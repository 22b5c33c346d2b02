"""The ``cvo`` command line: a thin layer over the workflows, one module per group of commands.

Importing a module registers its commands on ``app``, in the order ``cvo --help`` lists them.
"""

from optimizer.cli.app import app

# isort: off
from optimizer.cli import plan  # noqa: F401  cvo optimize, validate
from optimizer.cli import loop  # noqa: F401  cvo commit, history, measure, report
from optimizer.cli import whatif  # noqa: F401  cvo sweep, compare
from optimizer.cli import models  # noqa: F401  cvo score, evaluate
# isort: on

__all__ = ["app"]

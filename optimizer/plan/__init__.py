"""The optimize workflow: a scenario and its data to a plan with its control groups and summary (workflow),
written to its run folder (outputs); the control-group draw (controls) and the same workflow on a Dask
cluster (distributed)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

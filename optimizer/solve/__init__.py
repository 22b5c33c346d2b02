"""The solver: from the array Problem (problem) to a plan with its proven bound (results). The exact
solver (relaxation, model, exact, audiences), the decomposition at scale (lagrangian, kernels, partitions,
balancing, master, screening, decompose, distributed), why no plan exists (infeasibility), and which runs (solver)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

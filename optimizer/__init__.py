"""cvo's Python API: everything the ``cvo`` command line does, as functions for a notebook.

    import optimizer as cvo
    plan = cvo.optimize("scenarios/weekly.yaml")
    cvo.write_plan(plan, "out/weekly")

Names are loaded when first used (lazy_loader), so ``import optimizer`` is instant.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

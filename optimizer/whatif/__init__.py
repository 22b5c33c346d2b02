"""The planner's what-ifs: several scenarios solved and compared side by side (comparison), and one limit
swept over values to read off the frontier (frontier)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

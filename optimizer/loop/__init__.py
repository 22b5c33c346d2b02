"""The weekly loop after a plan is sent: its lift measured against the control groups (lift), the
sub-groups where it worked better or worse (personas), and the measure workflow (measurement)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

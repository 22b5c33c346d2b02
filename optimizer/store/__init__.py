"""What cvo keeps on disk: the tables users hand it (tables), a run's folder with its file names and
atomic writes (files), and the contact history of every plan sent (ledger, DuckDB)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

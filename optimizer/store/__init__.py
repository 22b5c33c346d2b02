"""What cvo keeps on disk: the tables users hand it (tables), a run's folder with its file names and
atomic writes (files) and as read back (runs), and the contact history of every plan sent: a DuckDB
file read by history_file and written by ledger, or its versions on an object store (history_versions)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

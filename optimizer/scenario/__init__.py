"""The scenario file and its data, made concrete: the file read as YAML (yaml_file), the schema (the Scenario
and its loading in schema, its parts in campaigns, limits, contact_policy and objective) and its expression
language (expressions), the tables it reads, read once (data), the contact policy (policy), what the
expressions give, checked per customer (checks), and the array Problem built from them (formulation). A new
constraint family starts in limits.py and formulation.py."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

"""Public names of optimizer.loop, for type checkers; loaded lazily at run time (lazy_loader)."""

from .commits import commit as commit, still_allowed as still_allowed
from .lift import Measurement as Measurement, measure as measure
from .lift_text import format_measurement as format_measurement
from .measurement import (
    RunMeasurement as RunMeasurement,
    measure_run as measure_run,
    write_measurement as write_measurement,
)
from .personas import Persona as Persona, format_personas as format_personas, sub_personas as sub_personas

"""Public names of optimizer.whatif, for type checkers; loaded lazily at run time (lazy_loader)."""

from .comparison import (
    Comparison as Comparison,
    compare as compare,
    format_comparison as format_comparison,
    write_comparison as write_comparison,
)
from .frontier import (
    Sweep as Sweep,
    SweepPoint as SweepPoint,
    format_sweep as format_sweep,
    parse_limit as parse_limit,
    parse_range as parse_range,
    sweep as sweep,
    write_sweep as write_sweep,
)

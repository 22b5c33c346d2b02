"""Figures in words for the HTML pages (the plan report, the comparison): numbers with their
separators and signs, shares, intervals and gaps as Jinja filters; ``missing`` is what a figure
a summary lacks shows. And the Jinja environment that has them, and PNGs as data URIs.
"""

from __future__ import annotations

import base64
import math
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

NOT_RECORDED = "not recorded"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja environment: templates from optimizer/reporting/templates, HTML autoescaping, strict undefineds."""
    environment = Environment(loader=PackageLoader("optimizer.reporting", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(money=money, count=count, percent=percent, gap_words=gap_words, interval=interval,
                               signed=signed)
    return environment


def interval(estimate: dict[str, Any] | None, factor: float = 1.0, unit: str = "", digits: int = 0) -> str:
    """'+3.77pp [+2.36, +5.17]' from a measured estimate (scaled by ``factor``); '—' when missing.

    >>> interval({"estimate": 0.0377, "ci_low": 0.0236, "ci_high": 0.0517}, 100, "pp", 2)
    '+3.77pp [+2.36, +5.17]'
    """
    if not estimate or estimate.get("estimate") is None:
        return "—"
    shown = f"{estimate['estimate'] * factor:+,.{digits}f}{unit}"
    if estimate.get("ci_low") is None:
        return shown
    return f"{shown} [{estimate['ci_low'] * factor:+,.{digits}f}, {estimate['ci_high'] * factor:+,.{digits}f}]"


def money(value: float | None, missing: str = NOT_RECORDED) -> str:
    """A sum of money or value with two decimals: 1,234.50 (anything not a number as it is)."""
    return _number(value, ",.2f", missing)


def signed(value: float | None, digits: int = 2) -> str:
    """A difference with its sign and thousands separators: +1,234.50, -12 (empty when there is none)."""
    return "" if value is None else f"{value:+,.{digits}f}"


def count(value: float | None, missing: str = NOT_RECORDED) -> str:
    """A whole number with thousands separators: 12,345 (anything not a number as it is)."""
    return _number(value, ",.0f", missing)


def _number(value: Any, spec: str, missing: str) -> str:
    if value is None:
        return missing
    return format(value, spec) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def percent(share: float | None, missing: str = NOT_RECORDED) -> str:
    """A share (0.35) as a whole percentage (35%), or '<1%' for a small non-zero one."""
    if share is None:
        return missing
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def gap_words(gap: float | None, missing: str = NOT_RECORDED) -> str:
    """A relative gap as a percentage rounded up (never understated): 3.6e-7 -> '0.00004%'.

    >>> gap_words(3.58e-7), gap_words(0.0231), gap_words(0.0)
    ('0.00004%', '2.4%', '0%')
    """
    if gap is None:
        return missing
    value = 100 * gap
    if value <= 0:
        return "0%"
    digits = 1 if value < 1 else 2
    exponent = math.floor(math.log10(value)) - digits + 1
    step = 10.0**exponent
    return f"{math.ceil(value / step - 1e-9) * step:.{max(0, -exponent)}f}%"


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI for an <img> src."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

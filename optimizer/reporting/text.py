"""Plain-text tables for the commands that print figures (measure, sweep, compare)."""

from __future__ import annotations

from collections.abc import Collection


def text_table(header: list[str], rows: list[list[str]], left: Collection[int] = (0,)) -> str:
    """Columns padded to their widest cell: those in ``left`` left-aligned, the others (numbers)
    right-aligned, a rule under the header.

    >>> print(text_table(["campaign", "n"], [["a", "10"], ["bb", "200"]]))
    campaign    n
    ────────  ───
    a          10
    bb        200
    """
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: list[str]) -> str:
        aligned = (c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(aligned).rstrip()

    return "\n".join([line(header), "  ".join("─" * w for w in widths), *map(line, rows)])

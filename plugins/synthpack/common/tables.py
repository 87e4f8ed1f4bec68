"""Terminal tables: one layout for every command that prints results."""

from __future__ import annotations

from collections.abc import Sequence


def is_number(cell) -> bool:
    """Cells such as `12`, `0.654`, `+0.019` or `40.0%` are right-aligned."""
    try:
        float(str(cell).rstrip("%"))
        return True
    except ValueError:
        return False


def format_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """Aligned columns (numbers right, text left) with a rule under the header."""
    table = [[str(c) for c in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if is_number(c) else c.ljust(w) for c, w in zip(cells, widths, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(table[0]), rule, *(line(row) for row in table[1:])])


def format_records(records: Sequence[dict], columns: Sequence[str]) -> str:
    """A table of dicts, one column per key (missing keys print empty)."""
    return format_table(columns, [[r.get(c, "") for c in columns] for r in records])

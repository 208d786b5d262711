"""Tables that never cut a number or an id.

rich shortens a cell that does not fit with an ellipsis (``tiktoken…``, ``(8,234-…``), which
turns a number into a different number and an id into one that cannot be copied. Tables here
keep numbers on one line (``no_wrap``), let text wrap whole (``overflow="fold"``), and when
even that does not fit the terminal, leave out whole columns, least useful first, and say so
(``--json`` always has everything).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["fill", "fitted_table", "least_width"]


def fitted_table(console: Console, build: Callable[[frozenset[str]], Table],
                 droppable: Sequence[str]) -> tuple[Table, list[str]]:
    """The table ``build(left_out)`` makes, leaving out columns until it fits the console.

    Args:
        console: where the table will be printed (its width decides).
        build: makes the table without the named columns.
        droppable: column names that may be left out, least useful first.

    Returns:
        The table and the names of the columns left out.
    """
    dropped: list[str] = []
    table = build(frozenset())
    for name in droppable:
        if least_width(table) <= console.width:
            break
        dropped.append(name)
        table = build(frozenset(dropped))
    return table, dropped


def least_width(table: Table) -> int:
    """The narrowest ``table`` prints without cutting: its columns' ``min_width`` (set them
    to the widest number or word), their padding, and a rule between columns and at the
    edges (counted even when the box draws them as spaces)."""
    _, right, _, left = table.padding
    columns = table.columns
    return (sum(c.min_width or 1 for c in columns) + len(columns) * (left + right)
            + len(columns) + 1)


def fill(table: Table, columns: Sequence[str], rows: Sequence[dict[str, str]], *,
         text: Sequence[str] = (), left: Sequence[str] = (), headers: dict[str, str] | None = None,
         styles: Sequence[str | None] | None = None) -> Table:
    """Add ``columns`` and ``rows`` (dicts by column, rich markup) to ``table``, uncuttable.

    Number columns (all but ``text``) stay on one line and are at least as wide as their
    widest line; ``text`` columns wrap, and are at least as wide as their longest word (up
    to 18), so :func:`least_width` tells truly whether the table fits.
    """
    from rich.text import Text

    for name in columns:
        wraps = name in text
        plain = [Text.from_markup(row[name]).plain for row in rows]
        header = (headers or {}).get(name, name)
        words = [w for cell in [*plain, header] for line in cell.split("\n")
                 for w in (line.split() if wraps else [line])]
        widest = max((len(w) for w in words), default=1)
        table.add_column(header, justify="left" if wraps or name in left else "right",
                         overflow="fold", no_wrap=not wraps,
                         min_width=min(widest, 18) if wraps else widest)
    for i, row in enumerate(rows):
        table.add_row(*(row[name] for name in columns),
                      style=styles[i] if styles is not None else None)
    return table

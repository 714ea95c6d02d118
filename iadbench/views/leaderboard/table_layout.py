"""The terminal tables' layout: one style and one width rule for every table iadbench prints.

Apart from :mod:`iadbench.views.leaderboard.terminal` because the run summary
(:mod:`iadbench.cli.display`) uses the same layout and, printed after every ``iadbench run``, must
not import the leaderboard's model and renderers (a finished re-run stays fast).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text


def table_overhead(columns: int) -> int:
    """Characters a :func:`new_table` adds to its cells' widths (padding and separators).

    Each column is padded by one space on either side except at the outer edges, and columns are
    separated by one (blank) box character.

    Example:
        >>> table_overhead(3)
        6
    """
    return 3 * (columns - 1)


def new_table(title: str) -> Table:
    """An empty table in the terminal style: a rule under the header, no outer frame."""
    return Table(
        title=Text(title, style="bold"), title_justify="left", box=box.SIMPLE_HEAD,
        show_edge=False, pad_edge=False, padding=(0, 1),
    )  # fmt: skip


def add_number_column(table: Table, header: str, cells: Sequence[str]) -> int:
    """Add a right-aligned number column; returns the width of its widest cell or header line.

    Callers reserve that width and give the label column what is left, so numbers keep their
    width; on a console too narrow for them, a number folds onto two lines instead of being cut
    to "…".
    """
    width = max([len(cell) for cell in cells] + [len(line) for line in header.split("\n")])
    # No min_width: rich re-applies it after shrinking a table that is too wide, and the
    # console then crops the lines, silently dropping the last columns.
    table.add_column(header, justify="right", overflow="fold")
    return width

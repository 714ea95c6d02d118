"""The terminal tables' layout: one style and one width rule for every table iadbench prints.

Apart from :mod:`iadbench.views.leaderboard.terminal` because the run summary
(:mod:`iadbench.cli.display`) uses the same layout and, printed after every ``iadbench run``, must
not import the leaderboard's model and renderers (a finished re-run stays fast).
"""

from __future__ import annotations

import re
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


# Where a long token may break: after ":" or "/", or after "." or "-" followed by a letter (a
# module path, a hyphenated name), never inside a number ("0.95") or a word.
_BREAKS = re.compile(r"(?<=[:/])(?=\S)|(?<=[.-])(?=[A-Za-z_])")


def _pieces(token: str) -> list[str]:
    starts = [0, *(m.start() for m in _BREAKS.finditer(token)), len(token)]
    return [token[a:b] for a, b in zip(starts, starts[1:], strict=False) if b > a]


def narrowest(text: str | Text) -> int:
    """The narrowest width at which ``text`` wraps without splitting a token mid-way.

    Words break at spaces; a long token also after ``:``, ``/`` or a ``.`` / ``-`` before a letter
    (``iadbench_methods.baselines:`` / ``AlwaysDefect``, ``normal-quantile:`` / ``0.95``).
    """
    plain = text.plain if isinstance(text, Text) else text
    return max((len(piece) for word in plain.split() for piece in _pieces(word)), default=0)


def break_tokens(text: str | Text, width: int) -> Text:
    r"""``text`` with line breaks in its tokens wider than ``width``, at :func:`narrowest`'s points.

    Rich's word wrap then never has to split them at an arbitrary character.

    Example:
        >>> break_tokens("iadbench_methods.baselines:AlwaysDefect", 30).plain
        'iadbench_methods.baselines:\nAlwaysDefect'
    """
    rich_text = text.copy() if isinstance(text, Text) else Text(text)
    offsets: list[int] = []
    for word in re.finditer(r"\S+", rich_text.plain):
        if len(word.group()) <= width:
            continue
        used, position = 0, word.start()
        for piece in _pieces(word.group()):
            if used and used + len(piece) > width:
                offsets.append(position)
                used = 0
            used += len(piece)
            position += len(piece)
    if not offsets:
        return rich_text
    return Text("\n").join(rich_text.divide(offsets))


def chunk_columns(widths: Sequence[int], base: int, width: int) -> list[list[int]]:
    """Split columns (their widths) into groups that fit ``width`` beside ``base`` characters.

    ``base`` is what every part repeats (label columns and their padding); each column adds its
    width and 3 (padding and separator). A column never moves out of order.
    """
    chunks: list[list[int]] = [[]]
    used = base
    for column, column_width in enumerate(widths):
        if chunks[-1] and used + column_width + 3 > width:
            chunks.append([])
            used = base
        chunks[-1].append(column)
        used += column_width + 3
    return chunks

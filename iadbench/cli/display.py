"""What the CLI prints: progress (a live bar on a terminal, plain lines in a log) and tables.

The tables fit the console's width, which rich sets to 80 when stdout is not a terminal: a
redirected log gets whole cells, never "…".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from iadbench.cli.app import console
from iadbench.contract.progress import LineProgress
from iadbench.views.catalogue import CATALOGUE, percent

if TYPE_CHECKING:
    from iadbench.views.leaderboard import CollectedRuns, PaperReference

PROGRESS_LOGGER = "iadbench.contract.progress"


class RichProgress:
    """Progress hook: one live rich bar per piece of work on a terminal, plain lines otherwise.

    Redirected (nohup, SLURM, CI, a pipe), a live bar is a blank line or a carriage-return
    redraw per refresh; there :class:`~iadbench.contract.progress.LineProgress` writes a line to
    stderr
    (the ``iadbench.contract.progress`` logger) every 30 s and one when the work ends.

    Args:
        terminal: Draw the live bar; default: whether the console is a terminal.
        log: Where the plain lines go; default: the ``iadbench.contract.progress`` logger's
        ``info``.
    """

    def __init__(
        self, terminal: bool | None = None, log: Callable[[str], None] | None = None
    ) -> None:
        self._progress: Progress | None = None
        self._task: Any = None
        self._terminal = console.is_terminal if terminal is None else terminal
        self._lines = None
        if not self._terminal:
            self._lines = LineProgress(log or logging.getLogger(PROGRESS_LOGGER).info)

    def start(self, description: str, total: int) -> None:  # noqa: D102
        self.finish()
        if self._lines is not None:
            self._lines.start(description, total)
            return
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        )  # fmt: skip
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, count: int) -> None:  # noqa: D102
        if self._lines is not None:
            self._lines.advance(count)
        elif self._progress is not None:
            self._progress.advance(self._task, count)

    def finish(self) -> None:  # noqa: D102
        if self._lines is not None:
            self._lines.finish()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


# The catalogue's metrics with their terminal headers; n and Errors are counts.
_SUMMARY_COLUMNS = (
    ("n", None),
    *((CATALOGUE[key].short, key) for key in ("accuracy", "f1_macro", "balanced_accuracy",
                                              "invalid_rate")),
    ("Errors", None),
    *((CATALOGUE[key].short, key) for key in ("auroc", "ap")),
)  # fmt: skip


def summary_table(summary: dict[str, Any], width: int | None = None) -> RenderableType:
    """Per-category, pooled and class-mean metrics of one run, in percent.

    The table fits ``width`` columns (the console's by default; 80 when it is not a terminal):
    number columns keep their width, category names wrap (long ones at ``-`` / ``.``), and no
    cell is cut to "…" or split mid-number. Where the numbers do not fit beside the names, they
    are split over two or more tables, each with the category column.
    """
    from iadbench.contract.text import terminal_text
    from iadbench.runs.schema import train_source
    from iadbench.views.leaderboard.table_layout import (
        add_number_column,
        break_tokens,
        chunk_columns,
        narrowest,
        new_table,
        table_overhead,
    )

    width = width or console.width
    test = summary["test"]
    title = (
        f"{summary['method']}  train {train_source(summary, split=True)} → "
        f"test {test['dataset']}/{test['split']}  threshold {summary.get('threshold') or '—'}"
        + ("  (tiny random weights)" if summary.get("tiny") else "")
    )
    pixel = _pixel_sentence(summary.get("pixel_metrics"))  # map methods only
    caption = Text(
        "Percent. BAcc = balanced accuracy, Inv = invalid answers; † after Acc: one label for "
        "≥95% of the category's images (collapsed)." + pixel
    )
    rows = [
        *summary["per_class"].items(),
        ("pooled", summary["overall"]),
        ("class mean", summary["class_mean"]),
    ]
    names = [terminal_text(name) for name, _ in rows]
    columns = []
    for header, key in _SUMMARY_COLUMNS:
        if key is None:
            columns.append([str(m["n" if header == "n" else "errors"]) for _, m in rows])
        else:
            marked = key == "accuracy"  # collapse is marked after the accuracy, as in the tables
            columns.append([percent(m.get(key)) + "†" * bool(marked and m.get("collapsed"))
                            for _, m in rows])  # fmt: skip
    widths = [
        max([len(header), *(len(cell) for cell in cells)])
        for (header, _), cells in zip(_SUMMARY_COLUMNS, columns, strict=True)
    ]
    name_need = max(len("category"), 10, *(narrowest(name) for name in names))
    room = width - sum(widths) - table_overhead(len(widths) + 1)
    if room >= name_need:
        chunks = [list(range(len(widths)))]
    else:  # too narrow: the names keep their narrowest width, the numbers go into parts
        room = name_need
        chunks = chunk_columns(widths, name_need + table_overhead(1), width)
    parts: list[Table] = []
    for index, chunk in enumerate(chunks):
        table = new_table(terminal_text(title) if index == 0 else "")
        table.add_column("category", overflow="fold", max_width=room)
        for column in chunk:
            add_number_column(table, _SUMMARY_COLUMNS[column][0], columns[column])
        for line, name in enumerate(names):
            table.add_row(
                break_tokens(name, room), *(columns[column][line] for column in chunk),
                end_section=line == len(summary["per_class"]) - 1,
            )  # fmt: skip
        parts.append(table)
    if len(parts) > 1:
        return Group(*parts, caption)  # under all the parts, at the full width
    parts[0].caption = caption
    parts[0].caption_justify = "left"
    return parts[0]


def _pixel_sentence(block: Any) -> str:
    """`` Pixel AUROC … / AUPRO … (pooled; class mean …)`` of a map run, else ``""``."""
    if not isinstance(block, dict):
        return ""
    pooled, mean = block.get("pooled") or {}, block.get("class_mean") or {}
    auroc, aupro = CATALOGUE["pixel_auroc"].name, CATALOGUE["aupro"].name.split(" (")[0]
    return (
        f" From the stored maps: {auroc} {percent(pooled.get('auroc'))}, {aupro} "
        f"{percent(pooled.get('aupro'))} pooled (class mean {percent(mean.get('auroc'))}, "
        f"{percent(mean.get('aupro'))}); per category: iadbench leaderboard."
    )


def print_leaderboard(runs: CollectedRuns, reference: PaperReference | None, *, title: str) -> None:
    """Print the leaderboard's terminal tables at the console's width (80 when redirected)."""
    from iadbench.views.leaderboard.terminal import render_terminal

    console.print(render_terminal(runs, reference, title=title, width=console.width))


# A role (:func:`~a.b`), a literal (``x``) or interpreted text / a link (`x`, `text <url>`_).
_RST_MARKUP = re.compile(r"(?::[\w.:-]+:)?(``|`)(~?)(.+?)\1_{0,2}")
_RST_TARGET = re.compile(r"^(.*?)\s+<[^<>]+>$", re.DOTALL)


def plain_help(text: str) -> str:
    """Docstring help (reStructuredText) as the plain text a terminal shows.

    Options' help comes from dataclass docstrings written for Sphinx; in a table, ``x``,
    ``:data:`NAME``` and ```text <url>`_`` read as noise. Roles and literals keep their text
    (``~a.b.c`` its last part, ``text <target>`` its text); nothing else changes.

    Example:
        >>> plain_help("``fp16`` as :data:`OFFICIAL` or :func:`~iadbench.x.natural_name`")
        'fp16 as OFFICIAL or natural_name'
    """

    def plain(match: re.Match[str]) -> str:
        quotes, tilde, body = match.group(1), match.group(2), match.group(3)
        target = _RST_TARGET.match(body) if quotes == "`" else None  # a literal is verbatim
        if target is not None and target.group(1):
            return target.group(1)
        return body.rsplit(".", 1)[-1] if tilde else body

    return _RST_MARKUP.sub(plain, text)


def method_table(
    rows: list[tuple[str, str, str, str | None, str | None]], *, details: bool, width: int
) -> Table:
    """``iadbench list``'s table at ``width`` columns: no name cut, no token split mid-way.

    Each row is (name, origin, target, needs / gives, description); the last two are ``None``
    without ``details``. Names never wrap; a target (``module.path:Attr``) wraps only after a
    ``.`` or ``:`` (:func:`~iadbench.views.leaderboard.table_layout.break_tokens`). With
    ``details`` each method gets one cell of lines (from, target, needs / gives, description)
    beside its name: five columns side by side cut names and words at 80 columns.

    Args:
        rows: One tuple per listed method (or per declaration of a clashing name).
        details: Whether the rows carry needs / gives and a description.
        width: The console's width.
    """
    from iadbench.contract.text import terminal_text
    from iadbench.views.leaderboard.table_layout import (
        break_tokens,
        narrowest,
        new_table,
        table_overhead,
    )

    table = new_table("Registered methods")
    name_width = max([len("name"), *(len(row[0]) for row in rows)])
    table.add_column("name", no_wrap=True, style="bold", min_width=name_width)
    origins = [terminal_text(row[1]) for row in rows]
    targets = [terminal_text(row[2]) for row in rows]
    origin_header = "from (distribution or plugin file)"
    origin_need = max(narrowest(origin_header), *map(narrowest, origins))
    target_need = max(len("target"), *map(narrowest, targets))
    room = width - name_width - table_overhead(3)
    if details or room < origin_need + target_need:  # one cell of lines beside each name
        room = max(20, width - name_width - table_overhead(2))
        header = "from, target" + (", needs / gives, description" if details else "")
        table.add_column(header, width=room)
        for name, origin, target, gives, description in rows:
            cell = Text(f"from {terminal_text(origin)}\n", style="dim")
            cell.append_text(break_tokens(Text(terminal_text(target), style="dim"), room))
            if gives:
                cell.append(f"\n{gives}")
            if description:
                text = plain_help(terminal_text(description))
                cell.append("\n").append_text(break_tokens(Text(text), room))
            table.add_row(Text(terminal_text(name)), cell)
        return table
    # The target gets its whole width if the origin still fits beside it, else what is left
    # beside the origin's longest unbreakable piece, but never less than its own.
    target_width = min(
        max([len("target"), *(len(t) for t in targets)]),
        max(room - min(origin_need, max(len(o) for o in origins)), target_need),
    )
    origin_width = room - target_width
    table.add_column(origin_header, overflow="fold")
    table.add_column("target", width=target_width, overflow="fold")
    for (name, _, _, _, _), origin, target in zip(rows, origins, targets, strict=True):
        table.add_row(
            Text(terminal_text(name)), break_tokens(origin, origin_width),
            break_tokens(target, target_width),
        )  # fmt: skip
    return table


def options_table(title: str, rows: list[tuple[str, str, str, str]], *, width: int) -> Table:
    """``iadbench list --options``'s table of one method at ``width`` columns, never cut.

    Each row is (key, type, default, help); help is docstring text, shown as plain text
    (:func:`plain_help`). Type and default get the width of their longest unbreakable piece (at
    most their whole text) and wrap at ``.`` / ``:`` / ``-``; help wraps at spaces in the rest.
    """
    from iadbench.contract.text import terminal_text
    from iadbench.views.leaderboard.table_layout import break_tokens, narrowest

    table = Table(title=terminal_text(title), title_justify="left", show_edge=False)
    clean = [tuple(terminal_text(cell) for cell in row) for row in rows] or [("—", "", "", "")]
    key_width = max(len("--set KEY"), *(len(row[0]) for row in clean))
    fitted = []
    for column, floor in ((1, 12), (2, 14)):
        cells = [row[column] for row in clean]
        longest = max(len(cell) for cell in cells)
        fitted.append(min(longest, max(floor, len(("type", "default")[column - 1]),
                                       *map(narrowest, cells))))  # fmt: skip
    help_width = width - key_width - sum(fitted) - 11  # 11: padding and rules
    if help_width < 20:  # too narrow for four columns: key, type and default stacked
        return _stacked_options(table, clean, width)
    table.add_column("--set KEY", no_wrap=True)
    table.add_column("type", width=fitted[0], overflow="fold")
    table.add_column("default", width=fitted[1], overflow="fold")
    table.add_column("help", width=help_width, overflow="fold")
    for key, kind, default, help_text in clean:
        table.add_row(
            Text(key), break_tokens(kind, fitted[0]), break_tokens(default, fitted[1]),
            break_tokens(_option_help(key, help_text), help_width),
        )  # fmt: skip
    return table


def _option_help(key: str, help_text: str) -> str:
    return plain_help(help_text) or ("no options" if key == "—" else "")


def _stacked_options(table: Table, rows: list[tuple[str, ...]], width: int) -> Table:
    """:func:`options_table`'s two-column form: key, type and default on lines of one cell."""
    from iadbench.views.leaderboard.table_layout import break_tokens, narrowest

    left = max(len("--set KEY"), *(max(len(r[0]), narrowest(r[1]), narrowest(r[2])) for r in rows))
    left = min(left, max(12, width // 2))
    help_width = max(20, width - left - 5)  # 5: padding and one rule
    table.add_column("--set KEY / type / default", width=left, overflow="fold")
    table.add_column("help", width=help_width, overflow="fold")
    for key, kind, default, help_text in rows:
        cell = Text(key).append_text(Text("\n")).append_text(break_tokens(kind, left))
        cell.append_text(Text("\n")).append_text(break_tokens(default, left))
        table.add_row(cell, break_tokens(_option_help(key, help_text), help_width))
    return table

"""What the CLI prints: progress (a live bar on a terminal, plain lines in a log) and tables.

The tables fit the console's width, which rich sets to 80 when stdout is not a terminal: a
redirected log gets whole cells, never "…".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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


def summary_table(summary: dict[str, Any], width: int | None = None) -> Table:
    """Per-category, pooled and class-mean metrics of one run, in percent.

    The table fits ``width`` columns (the console's by default; 80 when it is not a terminal):
    number columns keep their width, category names wrap, and no cell is cut to "…".
    """
    from iadbench.contract.text import terminal_text
    from iadbench.runs.schema import train_source
    from iadbench.views.leaderboard.table_layout import add_number_column, new_table, table_overhead

    test = summary["test"]
    title = (
        f"{summary['method']}  train {train_source(summary, split=True)} → "
        f"test {test['dataset']}/{test['split']}  threshold {summary.get('threshold') or '—'}"
        + ("  (tiny random weights)" if summary.get("tiny") else "")
    )
    table = new_table(terminal_text(title))
    table.caption = Text(
        "Percent. BAcc = balanced accuracy, Inv = invalid answers; † after Acc: one label for "
        "≥95% of the category's images (collapsed)."
    )
    table.caption_justify = "left"
    rows = [
        *summary["per_class"].items(),
        ("pooled", summary["overall"]),
        ("class mean", summary["class_mean"]),
    ]
    columns = []
    for header, key in _SUMMARY_COLUMNS:
        if key is None:
            columns.append([str(m["n" if header == "n" else "errors"]) for _, m in rows])
        else:
            marked = key == "accuracy"  # collapse is marked after the accuracy, as in the tables
            columns.append([percent(m.get(key)) + "†" * bool(marked and m.get("collapsed"))
                            for _, m in rows])  # fmt: skip
    table.add_column("category", overflow="fold")
    widths = [
        add_number_column(table, header, cells)
        for (header, _), cells in zip(_SUMMARY_COLUMNS, columns, strict=True)
    ]
    room = (width or console.width) - sum(widths) - table_overhead(len(widths) + 1)
    table.columns[0].max_width = max(10, room)
    for index, (name, _) in enumerate(rows):
        table.add_row(
            Text(terminal_text(name)), *(cells[index] for cells in columns),
            end_section=index == len(summary["per_class"]) - 1,
        )  # fmt: skip
    return table


def print_leaderboard(runs: CollectedRuns, reference: PaperReference | None, *, title: str) -> None:
    """Print the leaderboard's terminal tables at the console's width (80 when redirected)."""
    from iadbench.views.leaderboard.terminal import render_terminal

    console.print(render_terminal(runs, reference, title=title, width=console.width))

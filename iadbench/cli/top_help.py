"""The top-level ``iadbench --help`` page, drawn from an index instead of the command modules.

Importing the modules that define the commands (run, predict, report, ...) is most of what
``iadbench --help`` cost beyond typer and rich (issue 17: the page must take at most 2x a bare
``python -c "import typer, rich"``). The page lists each command's name, panel and first help
paragraph only, so :data:`COMMANDS` holds exactly that and :func:`listing_group` builds the
group with one placeholder per command; every other page (``iadbench run --help``, a command
itself) goes through the full application. ``tests/core/cli/test_top_help.py`` renders this page
both ways and fails when the index and the commands' own help differ.
"""

from __future__ import annotations

from typing import NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from iadbench.cli.app import EVALUATE, RESULTS, SETUP, _Typer, app


class IndexedCommand(NamedTuple):
    """One row of the top-level page: what ``--help`` shows of a command."""

    name: str
    panel: str
    summary: str  # the first paragraph of the command's help, as the page prints it


#: In the order the full application lists them (its modules' import order, then ``data``).
COMMANDS: tuple[IndexedCommand, ...] = (
    IndexedCommand(
        "run",
        EVALUATE,
        "Evaluate one method on one train→test cell; re-running the same command resumes.",
    ),
    IndexedCommand(
        "matrix",
        EVALUATE,
        "Run methods over every ordered pair of different datasets, then write the leaderboard.",
    ),
    IndexedCommand(
        "train",
        EVALUATE,
        "Run only the training stage; `run` with the same settings reuses what it stores.",
    ),
    IndexedCommand(
        "predict",
        EVALUATE,
        "Label unlabeled images with a method; the run's threshold policy applies (--from-run).",
    ),
    IndexedCommand(
        "leaderboard",
        RESULTS,
        "Render the leaderboard from stored results only (never edit it by hand).",
    ),
    IndexedCommand(
        "list",
        SETUP,
        "List registered methods and where they come from, from metadata alone.",
    ),
    IndexedCommand(
        "report",
        RESULTS,
        "Write one self-contained HTML page: verdict, tables, charts, reasoning gallery.",
    ),
    IndexedCommand(
        "compare",
        RESULTS,
        "McNemar's exact test between two stored runs, image by image; AUROC where both score.",
    ),
    IndexedCommand(
        "demo",
        SETUP,
        "Synthesise MVTec-AD/VisA trees, run every method (--tiny) both ways, show the "
        "leaderboard.",
    ),
    IndexedCommand(
        "data",
        SETUP,
        "Synthesise, check or split dataset trees (split: train/test for your own parts).",
    ),
)


def listing_group() -> TyperGroup:
    """The application's group (its options, usage and help) with placeholder commands.

    Calling it with ``--help`` prints the same page as the full application, having imported
    none of the command modules.
    """
    _Typer.listing_only = True
    try:
        group = typer.main.get_command(app)
    finally:
        _Typer.listing_only = False
    if not isinstance(group, TyperGroup):  # pragma: no cover - app is always a group
        raise TypeError("iadbench's application is not a command group")
    group.commands = {
        entry.name: TyperCommand(entry.name, help=entry.summary, rich_help_panel=entry.panel)
        for entry in COMMANDS
    }
    return group

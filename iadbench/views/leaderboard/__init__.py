"""Leaderboard markdown from stored runs: collect them, look up the paper's numbers, render.

Modules: ``collect`` reads run directories, ``rows`` groups them by direction (derived
baselines included), ``reference`` holds the paper's numbers and places them, ``notes`` writes
the legend and notes under the tables, ``escape`` makes text safe and names datasets; the
presentation model (:mod:`iadbench.views.model`) builds the tables from them, and ``markdown``,
``terminal``, ``statistics_table`` and ``export`` lay it out.

Example:
    >>> from pathlib import Path
    >>> from iadbench.views.leaderboard import collect_runs, load_paper_reference
    >>> from iadbench.views.leaderboard import render_leaderboard
    >>> markdown = render_leaderboard(collect_runs(Path("results")), load_paper_reference())
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iadbench.contract.lazy import lazy_exports

if TYPE_CHECKING:
    from iadbench.runs.reader import StoredRun
    from iadbench.views.leaderboard.collect import CollectedRuns, SkippedRun, collect_runs
    from iadbench.views.leaderboard.escape import escape_markdown
    from iadbench.views.leaderboard.markdown import render_leaderboard
    from iadbench.views.leaderboard.reference import (
        PaperNumber,
        PaperReference,
        load_paper_reference,
        reference_mismatch,
    )
    from iadbench.views.leaderboard.rows import Direction, LeaderboardRow

#: Public name → its module, imported on first use: the run summary (`cli/display.py`) reads
#: only ``escape`` and must not pay for the renderers and their metrics (a finished re-run).
_HOMES: dict[str, str] = {
    "StoredRun": "iadbench.runs.reader",
    "CollectedRuns": "iadbench.views.leaderboard.collect",
    "SkippedRun": "iadbench.views.leaderboard.collect",
    "collect_runs": "iadbench.views.leaderboard.collect",
    "escape_markdown": "iadbench.views.leaderboard.escape",
    "render_leaderboard": "iadbench.views.leaderboard.markdown",
    "PaperNumber": "iadbench.views.leaderboard.reference",
    "PaperReference": "iadbench.views.leaderboard.reference",
    "load_paper_reference": "iadbench.views.leaderboard.reference",
    "reference_mismatch": "iadbench.views.leaderboard.reference",
    "Direction": "iadbench.views.leaderboard.rows",
    "LeaderboardRow": "iadbench.views.leaderboard.rows",
}

__all__ = [
    "CollectedRuns",
    "Direction",
    "LeaderboardRow",
    "PaperNumber",
    "PaperReference",
    "SkippedRun",
    "StoredRun",
    "collect_runs",
    "escape_markdown",
    "load_paper_reference",
    "reference_mismatch",
    "render_leaderboard",
]


__getattr__ = lazy_exports(__name__, _HOMES)

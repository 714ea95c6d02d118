"""Leaderboard markdown from stored runs: collect them, look up the paper's numbers, render.

Example:
    >>> from pathlib import Path
    >>> from iadbench.leaderboard import collect_runs, load_paper_reference, render_leaderboard
    >>> markdown = render_leaderboard(collect_runs(Path("results")), load_paper_reference())
"""

from __future__ import annotations

from iadbench.leaderboard.collect import (
    CollectedRuns,
    Direction,
    LeaderboardRow,
    SkippedRun,
    StoredRun,
    collect_runs,
)
from iadbench.leaderboard.markdown import escape_markdown, render_leaderboard
from iadbench.leaderboard.reference import (
    PaperNumber,
    PaperReference,
    load_paper_reference,
    reference_mismatch,
)

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

"""Cells of the sample-level figures (Real-IAD: 5 views per part), for every renderer.

A stored run whose ``summary.json`` holds ``sample_level`` (:mod:`iadbench.analysis.sample_level`:
a sample is defective when any view is, its score the maximum over its views) gets one line: the
sample-level AUROC (when the run gives scores), accuracy and macro-F1, pooled and class mean, and
the number of samples. Built here once; the leaderboard (:mod:`.leaderboard.score_tables`, the
terminal's :mod:`.leaderboard.terminal_scores`) and the HTML report lay them out, as they do
MVTec LOCO's per-group lines (:mod:`.defect_group_figures`, whose line type and figures it shares).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iadbench.views.catalogue import percent
from iadbench.views.defect_group_figures import FIGURES, GroupLine

if TYPE_CHECKING:  # the model imports the leaderboard package, which imports this module's users
    from iadbench.views.leaderboard.rows import Direction, LeaderboardRow
    from iadbench.views.model import Presentation

#: The line's name (the GroupLine's group): what one unit of the figures is.
SAMPLES = "samples (max over views)"
LEGEND = (
    "Percent. Views grouped per physical sample (Real-IAD: 5 cameras per part): a sample is "
    "defective when any of its views is, its score is the maximum over its views, its answer "
    "defect when any view's is; pooled = all samples, mean = unweighted over categories. The "
    "image-level figures are in the tables above. Higher is better."
)


@dataclass
class SampleView:
    """The sample-level line of one stored run in one direction."""

    row: LeaderboardRow
    number: int
    line: GroupLine


def sample_line(block: Mapping[str, Any]) -> GroupLine | None:
    """The line of one ``sample_level`` block; None when it holds no pooled figures."""
    overall, mean = block.get("overall"), block.get("class_mean")
    if not isinstance(overall, Mapping):
        return None
    mean = mean if isinstance(mean, Mapping) else {}
    cells = {key: (percent(overall.get(key)), percent(mean.get(key))) for key, _ in FIGURES}
    return GroupLine(SAMPLES, str(overall.get("n", "")), cells)


def sample_views(model: Presentation) -> dict[Direction, list[SampleView]]:
    """Per direction (the model's order), the stored runs holding sample-level figures."""
    out: dict[Direction, list[SampleView]] = {}
    for direction, views in model.views.items():
        for row_view in views:
            row = row_view.row
            block = None if row.derived else row.source.summary.get("sample_level")
            if isinstance(block, Mapping) and (line := sample_line(block)) is not None:
                out.setdefault(direction, []).append(SampleView(row, row_view.number, line))
    return out

"""Cells of the per-defect-group figures (MVTec LOCO: logical vs structural), for every renderer.

A stored run whose ``summary.json`` holds ``per_defect_group``
(:mod:`iadbench.analysis.defect_groups`) gets one line per group: the group's AUROC (when the
run gives scores), accuracy and macro-F1 over that group's defects and the normal images, pooled
and class mean. Built here once; the leaderboard (:mod:`.leaderboard.score_tables`) and the HTML
report lay them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iadbench.views.catalogue import percent

if TYPE_CHECKING:  # the model imports the leaderboard package, which imports this module's users
    from iadbench.views.leaderboard.rows import Direction, LeaderboardRow
    from iadbench.views.model import Presentation

#: The figures each line shows, as (summary key, header).
FIGURES: tuple[tuple[str, str], ...] = (("auroc", "AUROC"), ("accuracy", "Acc"),
                                        ("f1_macro", "F1"))  # fmt: skip
LEGEND = (
    "Percent. MVTec LOCO's convention: each group's defective test images (logical or "
    "structural anomalies) scored together with all normal test images of their categories; "
    "pooled = all those images, mean = unweighted over categories. Higher is better."
)


@dataclass(frozen=True)
class GroupLine:
    """One group of one run: name, images, and per figure the pooled and class-mean cells."""

    group: str
    images: str
    cells: dict[str, tuple[str, str]]


@dataclass
class GroupView:
    """The per-group lines of one stored run in one direction."""

    row: LeaderboardRow
    number: int
    lines: list[GroupLine]


def group_lines(block: Mapping[str, Any]) -> list[GroupLine]:
    """The lines of one ``per_defect_group`` block, groups in name order."""
    lines: list[GroupLine] = []
    groups = block.get("groups")
    for name, figures in sorted((groups if isinstance(groups, Mapping) else {}).items()):
        if not isinstance(figures, Mapping):
            continue
        overall, mean = figures.get("overall") or {}, figures.get("class_mean") or {}
        lines.append(
            GroupLine(
                str(name),
                str(overall.get("n", "")),
                {key: (percent(overall.get(key)), percent(mean.get(key))) for key, _ in FIGURES},
            )
        )
    return lines


def group_views(model: Presentation) -> dict[Direction, list[GroupView]]:
    """Per direction (the model's order), the stored runs holding per-group figures."""
    out: dict[Direction, list[GroupView]] = {}
    for direction, views in model.views.items():
        for row_view in views:
            row = row_view.row
            block = None if row.derived else row.source.summary.get("per_defect_group")
            if isinstance(block, Mapping) and (lines := group_lines(block)):
                out.setdefault(direction, []).append(GroupView(row, row_view.number, lines))
    return out

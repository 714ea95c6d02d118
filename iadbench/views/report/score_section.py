"""The report's score-method section: operating points, calibration, reliability diagram.

The same cells as the leaderboard's score tables (built once by
:func:`iadbench.views.score_figures.score_views`), one section per direction, with a reliability
diagram of the pooled bins stored in ``summary["score_calibration"]``. Strings stay raw: the
template escapes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iadbench.views.defect_group_figures import GroupLine as GroupLine  # tables.py re-exports it
from iadbench.views.defect_group_figures import group_lines
from iadbench.views.leaderboard.escape import plain_direction_title
from iadbench.views.model import Presentation
from iadbench.views.report import charts
from iadbench.views.sample_level_figures import sample_line
from iadbench.views.score_figures import ScoreView, score_views


@dataclass
class ScoreSection:
    """One direction's score figures.

    Attributes:
        title: The direction (``zero-shot→MVTec-AD``).
        points: Rows ``(run, operating point, %, 95 % interval, threshold)``.
        calibration: Rows ``(run, ECE %, ECE class mean %, Brier, Brier class mean)``.
        reliability: The reliability diagram (``data:`` URI), or None without bins.
    """

    title: str
    points: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    calibration: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    reliability: str | None = None


def _label(view: ScoreView) -> str:
    return view.row.label + " (tiny)" * view.row.tiny


def _reliability(view: ScoreView) -> charts.Reliability | None:
    bins = view.bins
    if bins is None:
        return None
    kept = [
        (float(mean), float(rate), int(count))
        for mean, rate, count in zip(bins.get("mean_score", []), bins.get("defect_rate", []),
                                     bins.get("count", []), strict=False)
        if mean is not None and rate is not None and count
    ]  # fmt: skip
    return charts.Reliability(_label(view), [k[0] for k in kept], [k[1] for k in kept],
                              [k[2] for k in kept], view.ece)  # fmt: skip


def score_sections(model: Presentation) -> list[ScoreSection]:
    """One section per direction holding stored runs with score figures."""
    sections = []
    for direction, views in score_views(model).items():
        section = ScoreSection(plain_direction_title(direction))
        diagrams = []
        for view in views:
            section.points += [(_label(view) if i == 0 else "", line.name, line.value,
                                line.interval, line.threshold)
                               for i, line in enumerate(view.points)]  # fmt: skip
            if view.calibration:
                ece, brier = view.calibration["ece"], view.calibration["brier"]
                section.calibration.append((_label(view), *ece, *brier))
            if (diagram := _reliability(view)) is not None:
                diagrams.append(diagram)
        if diagrams:
            section.reliability = charts.reliability_chart(diagrams)
        sections.append(section)
    return sections


def defect_group_rows(
    runs: Iterable[tuple[str, Mapping[str, Any]]],
) -> list[tuple[str, GroupLine]]:
    """MVTec LOCO's logical vs structural lines of a test set: ``(run name, line)`` per group.

    From each run's ``per_defect_group`` block (:mod:`iadbench.views.defect_group_figures`);
    runs without one give none.
    """
    return [
        (name, line)
        for name, summary in runs
        for line in group_lines(summary.get("per_defect_group") or {})
    ]


def sample_level_rows(
    runs: Iterable[tuple[str, Mapping[str, Any]]],
) -> list[tuple[str, GroupLine]]:
    """Real-IAD's sample-level lines of a test set: ``(run name, line)`` per run that has one.

    From each run's ``sample_level`` block (:mod:`iadbench.views.sample_level_figures`).
    """
    out = []
    for name, summary in runs:
        block = summary.get("sample_level")
        if isinstance(block, Mapping) and (line := sample_line(block)) is not None:
            out.append((name, line))
    return out

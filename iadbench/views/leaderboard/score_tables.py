"""The leaderboard's score-method tables: operating points, and calibration of the scores.

Laid out from :func:`iadbench.views.score_figures.score_views` (the cells are built there, once,
for every renderer). Two separate tables, each readable at 80 columns: the operating points one
line per figure (per direction), the calibration one line per run. Shown only where stored runs
carry the ``operating_points`` / ``score_calibration`` blocks of ``summary.json``. The map
methods' pixel sections (:mod:`.pixel_tables`) follow them, after MVTec LOCO's logical vs
structural figures (:func:`group_sections`) and Real-IAD's sample-level ones
(:func:`sample_sections`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from iadbench.views.catalogue import CATALOGUE
from iadbench.views.defect_group_figures import FIGURES, LEGEND, GroupView, group_views
from iadbench.views.leaderboard.escape import direction_title, escape_markdown, row_label
from iadbench.views.leaderboard.pixel_tables import pixel_sections
from iadbench.views.sample_level_figures import LEGEND as SAMPLE_LEGEND
from iadbench.views.sample_level_figures import sample_views
from iadbench.views.score_figures import ScoreView, score_views

if TYPE_CHECKING:  # the model imports this package: a run-time import would be circular
    from iadbench.views.model import Presentation

POINTS_HEADERS = ["Method", "Operating point", "%", "95% CI", "At T"]
CALIBRATION_HEADERS = ["Method", "Direction", "ECE", "ECE mean", "Brier", "Brier mean"]
POINTS_LEGEND = (
    "Percent, pooled over the test images; At T = the threshold that gives it. False-alarm "
    "rate (FAR) = share of normal images "
    "flagged; recall = share of defects flagged; miss rate = 100 − recall. Thresholds are the "
    "ROC curve's steps (every distinct score, defect when score ≥ T), never interpolated: recall "
    "at FAR ≤ a is the largest recall whose FAR is ≤ a, FAR at recall ≥ b the smallest FAR "
    "reaching b. F1 = macro-F1; best macro-F1 over thresholds is the oracle's choice, an upper "
    "bound. CI = percentile bootstrap interval (the statistics table's bootstrap, thresholds "
    "chosen again in every resample)."
)
CALIBRATION_LEGEND = (
    "The score read as P(defect) against the truth. ECE = expected calibration error in percent: "
    "equal-width bins over [0, 1], |observed defect rate − mean score| weighted by the bin's "
    "images; Brier = mean squared difference of score and truth (0 is perfect). ECE / Brier = "
    "pooled over the test images; mean = unweighted mean over categories. Lower is better."
)


def points_table(views: list[ScoreView]) -> str | None:
    """One direction's operating points, one line per figure; ``None`` without any."""
    table = []
    for view in views:
        for i, line in enumerate(view.points):
            label = row_label(view.row) if i == 0 else ""
            table.append([label, escape_markdown(line.name), line.value, line.interval,
                          line.threshold])  # fmt: skip
    if not table:
        return None
    align = ["left", "left", "right", "right", "right"]
    return tabulate(
        table, headers=POINTS_HEADERS, tablefmt="pipe", disable_numparse=True, colalign=align
    )


def calibration_table(model: Presentation) -> str | None:
    """Every stored run's ECE and Brier score, pooled and class mean; ``None`` without any."""
    table = []
    for direction, views in score_views(model).items():
        for view in views:
            if not view.calibration:
                continue
            cells = [cell for key in ("ece", "brier") for cell in view.calibration[key]]
            table.append([row_label(view.row), direction_title(direction), *cells])
    if not table:
        return None
    align = ["left", "left"] + ["right"] * 4
    return tabulate(
        table, headers=CALIBRATION_HEADERS, tablefmt="pipe", disable_numparse=True, colalign=align
    )


def group_table(views: list[GroupView]) -> str:
    """One direction's per-defect-group figures (MVTec LOCO), a line per run and group."""
    table = []
    for view in views:
        for i, line in enumerate(view.lines):
            label = row_label(view.row) if i == 0 else ""
            cells = [cell for key, _ in FIGURES for cell in line.cells[key]]
            table.append([label, escape_markdown(line.group), *cells, line.images])
    headers = ["Method", "Group", *(f"{h} {g}" for _, h in FIGURES for g in ("pooled", "mean"))]
    align = ["left", "left"] + ["right"] * (len(headers) - 1)
    return tabulate(
        table, headers=[*headers, "Images"], tablefmt="pipe", disable_numparse=True,
        colalign=align,
    )  # fmt: skip


def group_sections(model: Presentation) -> list[str]:
    """The per-defect-group sections (MVTec LOCO: logical vs structural); ``[]`` without."""
    parts: list[str] = []
    for direction, views in group_views(model).items():
        title = f"## Logical vs structural anomalies: {direction_title(direction)}"
        parts += [title, LEGEND] if not parts else [title]
        parts.append(group_table(views))
    return parts


def sample_sections(model: Presentation) -> list[str]:
    """The sample-level sections (Real-IAD: views grouped per part), a line per run; ``[]``."""
    parts: list[str] = []
    for direction, views in sample_views(model).items():
        table = []
        for view in views:
            cells = [cell for key, _ in FIGURES for cell in view.line.cells[key]]
            table.append([row_label(view.row), *cells, view.line.images])
        headers = ["Method", *(f"{h} {g}" for _, h in FIGURES for g in ("pooled", "mean"))]
        title = f"## Per sample, views grouped: {direction_title(direction)}"
        parts += [title, SAMPLE_LEGEND] if not parts else [title]
        parts.append(tabulate(
            table, headers=[*headers, "Samples"], tablefmt="pipe", disable_numparse=True,
            colalign=["left"] + ["right"] * len(headers),
        ))  # fmt: skip
    return parts


def score_sections(model: Presentation) -> list[str]:
    """Both score-method sections, then the pixel sections (``[]`` without figures).

    Returns:
        Markdown blocks to join with blank lines.
    """
    parts: list[str] = []
    for direction, views in score_views(model).items():
        table = points_table(views)
        if table is not None:
            title = f"## Operating points of score methods: {direction_title(direction)}"
            parts += [title, POINTS_LEGEND, table] if not parts else [title, table]
    calibration = calibration_table(model)
    if calibration is not None:
        name = CATALOGUE["ece"].name
        parts += [f"## Calibration of score methods ({name}, Brier score)", CALIBRATION_LEGEND,
                  calibration]  # fmt: skip
    # Then the defect groups (MVTec LOCO), the samples (Real-IAD) and the map methods' pixel
    # sections (markdown.py is at its import limit).
    return parts + group_sections(model) + sample_sections(model) + pixel_sections(model)

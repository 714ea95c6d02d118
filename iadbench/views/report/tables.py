"""The report's leaderboard tables: the presentation model's rows, laid out for the HTML page.

The same rows as the markdown and the terminal (derived trivial baselines included), with the
same cells, markers, paper numbers (placed by computation) and notes. Strings stay raw: the
template escapes them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iadbench.views.catalogue import CATALOGUE, MISSING, TABLE_METRICS
from iadbench.views.labels import shown_labels
from iadbench.views.leaderboard.escape import plain_direction_title
from iadbench.views.leaderboard.notes import NOT_COMPARABLE, ONE_LABEL
from iadbench.views.leaderboard.rows import one_label
from iadbench.views.model import GROUPS, WITHHELD, Presentation, RowView

# ScoreSection, PixelSection and OverviewSection re-exported: the report's context names them
# without importing one more module.
from iadbench.views.report.overview_section import OverviewSection as OverviewSection
from iadbench.views.report.overview_section import overview_section
from iadbench.views.report.pixel_section import PixelSection as PixelSection
from iadbench.views.report.pixel_section import pixel_sections
from iadbench.views.report.score_section import GroupLine as GroupLine
from iadbench.views.report.score_section import ScoreSection as ScoreSection
from iadbench.views.report.score_section import defect_group_rows as defect_group_rows
from iadbench.views.report.score_section import sample_level_rows as sample_level_rows
from iadbench.views.report.score_section import score_sections

if TYPE_CHECKING:  # the package's names: one module for the two (the fan-out cap)
    from iadbench.views.leaderboard import CollectedRuns, PaperReference

_TITLES = {"overall": "pooled over all test images",
           "class_mean": "class mean (unweighted over categories)"}  # fmt: skip


@dataclass(frozen=True)
class Leaderboard:
    """What the report shows of the leaderboard.

    Attributes:
        tables: The pooled and class-mean table of every direction.
        notes: The notes under them, marker legend first (plain text).
        labels: Per collected run (in order), the label that names every setting in which runs
            of its method differ (:func:`~iadbench.views.model.shown_labels`).
        scores: Score methods' operating points, calibration and reliability diagram, per
            direction (only runs whose summaries hold those figures).
        pixels: Map methods' pixel AUROC and AUPRO per direction (only runs whose summaries
            hold a ``pixel_metrics`` block).
        overview: The N × N overview, ``None`` for two datasets (the paper's directions).
    """

    tables: list[LeaderboardTable]
    notes: list[str]
    labels: list[str]
    scores: list[ScoreSection]
    pixels: list[PixelSection]
    overview: OverviewSection | None = None


def build_leaderboard(collected: CollectedRuns, reference: PaperReference | None) -> Leaderboard:
    """The report's leaderboard tables, notes and run labels from one presentation model."""
    model = Presentation(collected, reference)
    runs = collected.runs
    labels = shown_labels([(r.label or r.method, r.method, r.threshold) for r in runs])
    return Leaderboard(leaderboard_tables(model), plain_notes(model), labels,
                       score_sections(model), pixel_sections(model),
                       overview_section(model))  # fmt: skip


@dataclass(frozen=True)
class LeaderboardTable:
    """One summary table of one direction.

    Attributes:
        title: ``VisA→MVTec-AD: pooled over all test images``.
        headers: Column headers; the first three columns are text (run, threshold, train split).
        rows: Cells per row, in the leaderboard's row order.
        derived: Per row, whether it is a derived baseline (greyed like the baselines).
    """

    title: str
    headers: list[str]
    rows: list[list[str]]
    derived: list[bool]


def shown_label(view: RowView, *, withheld: bool = False) -> str:
    """A row's raw label: what sets it apart, ``(derived)``, ``(tiny)``, ¶ when withheld."""
    row = view.row
    label = view.label + " (derived)" * row.derived + " (tiny)" * row.tiny
    return label + NOT_COMPARABLE * withheld


def leaderboard_tables(model: Presentation) -> list[LeaderboardTable]:
    """The pooled and class-mean table of every direction, as the markdown's cells."""
    tables = []
    for direction, views in model.views.items():
        for group in GROUPS:
            headers = ["run", "threshold", "train split", "n"]
            headers += [CATALOGUE[key].header for key in TABLE_METRICS]
            headers += ["Collapsed"] * (group == "class_mean")
            paper = model.paper_column(direction)
            headers += ["Paper Acc / F1"] * paper
            rows, derived = [], []
            for view in views:
                pair = view.paper.get(group)
                threshold, marker = model.threshold_cell(view.row)
                split = view.row.train_split or MISSING
                cells = view.cells[group]
                line = [shown_label(view, withheld=pair is not None and pair[0] == WITHHELD),
                        threshold + marker, split, cells["n"],
                        *(cells[key] for key in TABLE_METRICS)]  # fmt: skip
                if group == "class_mean":
                    line.append(cells["collapsed"])
                if paper:
                    shown = pair is not None and not pair[0].startswith(MISSING)
                    line.append(" / ".join(pair) if shown and pair else
                                (MISSING if pair is None else pair[0]))  # fmt: skip
                rows.append(line)
                derived.append(view.row.derived)
            title = f"{plain_direction_title(direction)}: {_TITLES[group]}"
            tables.append(LeaderboardTable(title, headers, rows, derived))
    return tables


def plain_notes(model: Presentation) -> list[str]:
    """The leaderboard's notes (legend of the markers included) as plain text, unescaped."""
    return [_plain(line.removeprefix("- ")) for line in model.note_lines]


def _plain(markdown: str) -> str:
    """A note line without its markdown escapes (the template escapes it for HTML)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def one_label_marked(cells: dict[str, str], groups: Iterable[Any]) -> dict[str, str]:
    """``cells`` with ∅ after accuracy where one of ``groups`` holds one label, as the tables.

    Args:
        cells: A metric group's cells in percent (the report's per-test-set tables).
        groups: The summary's metric groups the cells stand for (for a class mean: every
            category's), read with :func:`~iadbench.views.leaderboard.rows.one_label`.
    """
    if "accuracy" in cells and any(isinstance(g, Mapping) and one_label(dict(g)) for g in groups):
        return {**cells, "accuracy": cells["accuracy"] + ONE_LABEL}
    return cells

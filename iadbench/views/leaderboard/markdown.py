"""Render collected runs as leaderboard markdown: pooled, class-mean and per-category tables.

The tables come from the presentation model (:class:`~iadbench.views.model.Presentation`);
this module only lays them out. Honesty is part of the model: trivial baselines are always
present, balanced accuracy, invalid rate and AUROC stand beside accuracy / F1, collapsed cells,
oracle thresholds and tiny models are marked, and the paper's numbers appear only beside runs
shaped like the paper's (with a note where a reported number equals what a constant predictor
scores), each pooled one placed by computation (pooled or class-mean table, see
:func:`~iadbench.views.leaderboard.reference.place_pooled_numbers`). Text methods get a table of
strict vs lenient answer parsing. Text read from runs is escaped with
:func:`~iadbench.views.leaderboard.escape.escape_markdown`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tabulate import tabulate

from iadbench.analysis.metrics import COLLAPSE_SHARE, F1_3CLASS

# The model module, not its names: importing the model first loads this package, whose
# __init__ imports this module while the model is still half-initialised.
from iadbench.views import model as presentation
from iadbench.views.catalogue import CATALOGUE, MISSING, TABLE_METRICS, percent
from iadbench.views.leaderboard.escape import (
    dataset_name,
    direction_title,
    escape_markdown,
    row_label,
)
from iadbench.views.leaderboard.notes import COLLAPSED, PER_CATEGORY_TABLE, count_of
from iadbench.views.leaderboard.score_tables import score_sections
from iadbench.views.leaderboard.statistics_table import statistics_section
from iadbench.views.overview import LEGEND as OVERVIEW_LEGEND
from iadbench.views.overview import OverviewCell, build_overview

if TYPE_CHECKING:  # the package's names: one module for the two (the fan-out cap)
    from iadbench.views.leaderboard import CollectedRuns, PaperReference
    from iadbench.views.model import Presentation, RowView

# Columns of one direction's group in the pooled and class-mean tables.
_METRIC_COLUMNS = ("n", *(CATALOGUE[key].header for key in TABLE_METRICS))
_DEFINITIONS = (
    "Percent, 2 decimals. Acc = share of images answered correctly; F1 = macro-F1 over {defect, "
    "normal} (a label never predicted scores F1 = 0); Bal.Acc = mean recall over the labels "
    "present; Invalid = share of unparseable answers (scored as wrong); AUROC and AP (average "
    "precision) where the method gives scores (defect = positive); collapse flag "
    f"{COLLAPSED} = one label for ≥{COLLAPSE_SHARE:.0%} of a category's images. Directions are "
    "train→test on the test dataset's All split unless the split is named; in the pooled and "
    "class-mean tables the first row names the direction of each column group. Train split is — "
    "for methods without a training stage."
)


def summary_table(model: Presentation, group: str) -> str:
    """Rows = configurations, a column group per direction; ``group`` names the metrics.

    Headers stay short (``n``, ``Acc``, ...); the first row names each direction in bold
    above its group's first column, so the table keeps Table III's side-by-side shape without
    repeating the direction in every header.
    """
    headers, band = ["Method", "Threshold", "Train split"], ["", "", ""]
    widths = []
    for direction in model.directions:
        columns = list(_METRIC_COLUMNS) + ["Collapsed"] * (group == "class_mean")
        columns += ["Paper Acc / F1"] * model.paper_column(direction)
        widths.append(len(columns))
        headers += columns
        band += [f"**{direction_title(direction)}**"] + [""] * (len(columns) - 1)
    table = [band]
    for first in model.summary_keys:
        row = first.row
        threshold, marker = model.threshold_cell(row)
        split = MISSING if row.train_split is None else escape_markdown(row.train_split)
        line = [row_label(row), escape_markdown(threshold) + marker, split]
        for width, view in zip(widths, model.across(row.key), strict=True):
            line += [""] * width if view is None else _summary_cells(view, group)
        table.append(line)
    return _table(headers, table, left=3)


def _summary_cells(view: RowView, group: str) -> list[str]:
    cells = view.cells[group]
    out = [cells["n"], *(cells[key] for key in TABLE_METRICS)]
    if group == "class_mean":
        out.append(cells["collapsed"])
    if group in view.paper:
        pair = view.paper[group]
        if pair is None or pair[0].startswith(MISSING):
            out.append(MISSING if pair is None else pair[0])
        else:
            out.append(" / ".join(pair))
    return out


def category_table(model: Presentation, views: list[RowView]) -> str:
    """Rows = categories and a mean row; one column group per configuration."""
    rows = model.directions[views[0].direction]
    categories = sorted({c for row in rows.rows for c in row.per_class})
    counts = rows.counts_source.summary["per_class"]
    headers: list[str] = ["Category", "n"]
    for view in views:
        label = row_label(view.row)
        headers += [f"{label} Acc", f"{label} F1"]
        headers += [f"{label} Inv"] * ("invalid_rate" in view.categories[None])
        if view.paper_categories is not None:
            headers += [f"{label} Paper Acc", f"{label} Paper F1"]

    def cells(category: str | None) -> list[str]:
        out: list[str] = []
        for view in views:
            out += view.categories[category].values()
            if view.paper_categories is not None:
                out += view.paper_categories[category]
        return out

    table = []
    for category in categories:
        n = (
            counts.get(category)
            or next(r.per_class[category] for r in rows.rows if category in r.per_class)
        )["n"]
        table.append([escape_markdown(category), str(int(n)), *cells(category)])
    total = str(sum(int(m["n"]) for m in counts.values()))
    table.append(["**mean**", total, *cells(None)])
    return _table(headers, table, left=1)


def overview_section(model: Presentation) -> list[str]:
    """The N × N overview (:mod:`iadbench.views.overview`): heading, legend, a table per row.

    ``[]`` where the overview is not shown (two datasets, the paper's two directions).
    """
    overview = build_overview(model)
    if overview is None:
        return []
    parts = [f"## {escape_markdown(overview.heading)}", OVERVIEW_LEGEND]
    headers = ["Trained on", *(f"→ {dataset_name(test)}" for test in overview.tests)]
    for grid in overview.grids:
        title = " · ".join([row_label(grid.first.row), *map(escape_markdown, grid.setup)])
        table = [
            [f"**{dataset_name(train)}**",
             *(_overview_cell(grid.at(train, test)) for test in overview.tests)]
            for train in overview.trains
        ]  # fmt: skip
        parts += [f"### {title}", _table(headers, table, left=1)]
    return parts


def _overview_cell(cells: tuple[OverviewCell, ...]) -> str:
    """``75.36 (70.12–80.40)``, a split other than All named after it; several joined by ``;``."""
    if not cells:
        return MISSING
    texts = []
    for cell in cells:
        text = cell.figure + (f" ({cell.interval})" if cell.interval != MISSING else "")
        texts.append(text + (f", {cell.split} split" if cell.split is not None else ""))
    return escape_markdown("; ".join(texts))


def lenient_table(model: Presentation) -> str | None:
    """Text methods' strict and lenient figures side by side, or ``None`` without any.

    One line per text-method row, direction and group (pooled, class mean).
    """
    headers = [
        "Method", "Direction", "Group", "Lenient rule", "Answered strict",
        "Answered lenient", "Changed", "Acc strict", "Acc lenient", "F1 strict",
        "F1 lenient", "Bal.Acc strict", "Bal.Acc lenient", "F1 3-class",
    ]  # fmt: skip
    table = []
    for direction, rows in model.directions.items():
        for row in rows.rows:
            lenient = row.source.summary.get("lenient") if not row.derived else None
            if not isinstance(lenient, dict) and F1_3CLASS not in row.overall:
                continue
            lenient = lenient if isinstance(lenient, dict) else {}
            rule = escape_markdown(str(lenient.get("rule", MISSING)))
            for group, title in (("overall", "pooled"), ("class_mean", "class mean")):
                strict = getattr(row, group)
                block = lenient.get(group)
                loose = block if isinstance(block, dict) else {}
                changed = loose.get("changed")
                table.append([
                    row_label(row), direction_title(direction), title, rule,
                    percent(loose.get("strict_accepted_rate")),
                    percent(loose.get("accepted_rate")),
                    MISSING if changed is None else str(int(changed)),
                    percent(strict.get("accuracy")), percent(loose.get("accuracy")),
                    percent(strict.get("f1_macro")), percent(loose.get("f1_macro")),
                    percent(strict.get("balanced_accuracy")),
                    percent(loose.get("balanced_accuracy")), percent(strict.get(F1_3CLASS)),
                ])  # fmt: skip
    if not table:
        return None
    return _table(headers, table, left=4)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    align = ["left"] * left + ["right"] * (len(headers) - left)
    return tabulate(
        rows, headers=list(headers), tablefmt="pipe", disable_numparse=True, colalign=align
    )


def render_leaderboard(
    runs: CollectedRuns,
    reference: PaperReference | None = None,
    *,
    title: str = "iadbench leaderboard",
) -> str:
    """Leaderboard markdown of collected runs.

    Args:
        runs: Output of :func:`~iadbench.views.leaderboard.collect.collect_runs`.
        reference: The paper's numbers (see
            :func:`~iadbench.views.leaderboard.reference.load_paper_reference`), or ``None`` for no
            paper columns.
        title: Heading of the document (escaped).

    Returns:
        The markdown, ending with a newline; the same inputs always give the same text.
    """
    model = presentation.Presentation(runs, reference)
    parts = [
        f"# {escape_markdown(title)}",
        f"Generated from {count_of(len(runs.runs), 'stored run')} by `iadbench leaderboard`; "
        f"do not edit by hand, regenerate it. {_DEFINITIONS}",
        "## Pooled over all test images (shape of the paper's Table III)",
        summary_table(model, "overall"),
        "## Class mean: unweighted mean over categories (what Tables V/VI average)",
        summary_table(model, "class_mean"),
    ]
    parts[2:2] = overview_section(model)  # before every per-direction table
    lenient = lenient_table(model)
    if lenient is not None:
        parts += ["## Text methods: strict vs lenient answer parsing", lenient]
    for direction, views in model.views.items():
        table = PER_CATEGORY_TABLE.get(direction.test_dataset)
        shape = f" (shape of the paper's Table {table})" if table else ""
        parts += [
            f"## Per category: {direction_title(direction)}{shape}",
            category_table(model, views),
        ]
    parts += statistics_section(model)  # intervals and McNemar tests
    # Score methods: operating points, calibration; map methods: pixel AUROC, AUPRO (if stored).
    parts += score_sections(model)
    notes = model.note_lines
    if notes:
        parts += ["## Notes", "\n".join(notes)]
    return "\n\n".join(parts) + "\n"

"""The leaderboard's pixel-metric tables of map methods (pixel AUROC, AUPRO).

Laid out from :func:`iadbench.views.pixel_figures.pixel_views` (the cells are built there, once,
for every renderer). Per direction, one table readable at 80 columns: each map run's pooled and
class-mean figures (the categories and defect types are in the HTML report and summary.json).
Shown only where stored runs carry the ``pixel_metrics`` block of ``summary.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from iadbench.views.catalogue import CATALOGUE
from iadbench.views.leaderboard.escape import direction_title, escape_markdown, row_label
from iadbench.views.pixel_figures import PixelView, headline_lines, pixel_views

if TYPE_CHECKING:  # the model imports this package: a run-time import would be circular
    from iadbench.views.model import Presentation

_FIGURES = [CATALOGUE["pixel_auroc"].header, CATALOGUE["aupro"].header]
GROUP_HEADERS = ["Method", "Group", *_FIGURES, "Images"]
PIXEL_LEGEND = (
    "Percent, from the anomaly maps the runs stored, each resized to its ground-truth mask. "
    "Pixel AUROC = ROC area over all pixels of all images (defect-mask pixels positive); AUPRO "
    "= per-region overlap against the false-positive rate of the normal pixels, integrated up "
    "to FPR 30 % and divided by 0.3 (MVTec AD's definition; regions are 8-connected). Pooled = "
    "all test images; class mean = unweighted over categories; a defect type is measured with "
    "its category's normal images. Higher is better."
)
#: Where the groups the leaderboard leaves out are shown.
MORE = (
    "Per category and per defect type: the HTML report (`iadbench report`) and each run's "
    "summary.json (`pixel_metrics`)."
)


def group_table(views: list[PixelView]) -> str:
    """One direction's pooled, class-mean and per-category figures, a line per run and group."""
    table = []
    for view in views:
        for i, line in enumerate(headline_lines(view)):
            label = row_label(view.row) if i == 0 else ""
            table.append([label, escape_markdown(line.group), line.auroc, line.aupro,
                          line.images])  # fmt: skip
    align = ["left", "left", "right", "right", "right"]
    return tabulate(
        table, headers=GROUP_HEADERS, tablefmt="pipe", disable_numparse=True, colalign=align
    )


def pixel_sections(model: Presentation) -> list[str]:
    """Headings, legend, tables and notes of the pixel sections (``[]`` without a block).

    Returns:
        Markdown blocks to join with blank lines.
    """
    parts: list[str] = []
    for direction, views in pixel_views(model).items():
        title = f"## Pixel metrics of map methods: {direction_title(direction)}"
        parts += [title, PIXEL_LEGEND] if not parts else [title]
        parts.append(group_table(views))
        parts.append("\n".join(f"- {row_label(v.row)}: {escape_markdown(v.note)}" for v in views))
        parts.append(MORE)
    return parts

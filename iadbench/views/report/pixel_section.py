"""The report's pixel section: map methods' pixel AUROC and AUPRO, per direction.

The same cells as the leaderboard's pixel tables (built once by
:func:`iadbench.views.pixel_figures.pixel_views`): per direction, the groups (pooled, class mean,
each category) of every map run, its defect types and its coverage note. Strings stay raw: the
template escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iadbench.views.leaderboard.escape import plain_direction_title
from iadbench.views.model import Presentation
from iadbench.views.pixel_figures import PixelView, pixel_views


@dataclass
class PixelSection:
    """One direction's pixel figures.

    Attributes:
        title: The direction (``zero-shot→MVTec-AD``).
        groups: Rows ``(run, group, pixel AUROC %, AUPRO %, images)``.
        types: Rows ``(run, category, defect type, pixel AUROC %, AUPRO %, images)``.
        notes: ``(run, coverage and binning error)`` per map run.
    """

    title: str
    groups: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    types: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


def _label(view: PixelView) -> str:
    return view.row.label + " (tiny)" * view.row.tiny


def pixel_sections(model: Presentation) -> list[PixelSection]:
    """One section per direction holding stored runs with a ``pixel_metrics`` block."""
    sections = []
    for direction, views in pixel_views(model).items():
        section = PixelSection(plain_direction_title(direction))
        for view in views:
            section.groups += [(_label(view) if i == 0 else "", line.group, line.auroc,
                                line.aupro, line.images)
                               for i, line in enumerate(view.lines)]  # fmt: skip
            section.types += [(_label(view) if i == 0 else "", line.category, line.defect_type,
                               line.auroc, line.aupro, line.images)
                              for i, line in enumerate(view.types)]  # fmt: skip
            section.notes.append((_label(view), view.note))
        sections.append(section)
    return sections

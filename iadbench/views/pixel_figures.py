"""Map methods' pixel AUROC and AUPRO, as every view shows them.

Built once from the presentation model's rows and the ``pixel_metrics`` block of ``summary.json``
(see ``docs/results.md``): per direction, one :class:`PixelView` per stored run holding the
block, with its raw cells (the catalogue's formats, :mod:`iadbench.views.catalogue`) for the
groups (pooled, class mean, each category) and the defect types, and a note on coverage and
binning error. The markdown, the terminal, the exports and the HTML report lay these out; none
of them reads the block itself.

Only stored blocks are shown: a run without maps, or written before the block existed, has no
pixel rows (its tables, and the published leaderboard, read as before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iadbench.views.catalogue import PIXEL_METRICS, figure_text

if TYPE_CHECKING:  # the model imports the leaderboard package, which imports this module's users
    from iadbench.views.leaderboard.rows import Direction, LeaderboardRow
    from iadbench.views.model import Presentation

#: The summary block's key of each figure.
_STORED = {"pixel_auroc": "auroc", "aupro": "aupro"}
#: The data exports' pixel columns (fractions, as stored).
PIXEL_COLUMNS: tuple[str, ...] = PIXEL_METRICS
POOLED, CLASS_MEAN = "pooled", "class mean"


@dataclass(frozen=True)
class PixelLine:
    """One group of a run: its name (``pooled``, ``class mean``, a category), cells, images."""

    group: str
    auroc: str
    aupro: str
    images: str


@dataclass(frozen=True)
class TypeLine:
    """One defect type of a category (merged with the category's normal images)."""

    category: str
    defect_type: str
    auroc: str
    aupro: str
    images: str


@dataclass
class PixelView:
    """A stored run's pixel figures in one direction.

    Attributes:
        direction: The direction.
        row: The leaderboard row (a stored run).
        number: The row's position in its direction (the terminal's ``#``).
        lines: Pooled, class mean, then the categories (sorted).
        types: The defect types, per category (empty where the data names none).
        note: Coverage and binning error, one sentence.
    """

    direction: Direction
    row: LeaderboardRow
    number: int
    lines: list[PixelLine] = field(default_factory=list)
    types: list[TypeLine] = field(default_factory=list)
    note: str = ""


def headline_lines(view: PixelView) -> list[PixelLine]:
    """The pooled and class-mean lines: what the leaderboard shows (the report shows them all).

    Every category and defect type of every map run made the demo's LEADERBOARD.md ~770 lines;
    the markdown and terminal tables keep the two headline groups per run and point to the HTML
    report and ``summary.json`` for the rest.
    """
    return [line for line in view.lines if line.group in (POOLED, CLASS_MEAN)]


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _figures(group: Any) -> tuple[str, str]:
    group = group if isinstance(group, dict) else {}
    auroc, aupro = (figure_text(key, group.get(_STORED[key])) for key in PIXEL_METRICS)
    return auroc, aupro


def _bounds(block: dict[str, Any]) -> str:
    """The pooled figures' binning-error bounds in points (``""`` without any)."""
    pooled = block.get("pooled") if isinstance(block.get("pooled"), dict) else {}
    assert isinstance(pooled, dict)
    parts = []
    for name, key in (("pixel AUROC", "auroc_error_bound"), ("AUPRO", "aupro_error_bound")):
        bound = pooled.get(key)
        if isinstance(bound, int | float) and not isinstance(bound, bool):
            parts.append(f"{name} ± {100 * bound:.2g}")
    return " and ".join(parts)


def _note(block: dict[str, Any]) -> str:
    coverage = block.get("coverage") if isinstance(block.get("coverage"), dict) else {}
    assert isinstance(coverage, dict)
    parts = [f"{_count(coverage.get('images')) or '?'} images with a map and mask"]
    if missing := coverage.get("without_map"):
        parts.append(f"{missing} without a map (left out)")
    if unmasked := coverage.get("defect_without_mask"):
        parts.append(f"{unmasked} defect images without a mask (left out)")
    text = ", ".join(parts)
    if bounds := _bounds(block):
        # A bound counts pixels sharing a bin as unordered, exact ties too (zero-valued pixels).
        text += f"; pooled binning-error bound: {bounds} points"
    return text + "."


def pixel_view(
    direction: Direction, row: LeaderboardRow, number: int, block: dict[str, Any]
) -> PixelView:
    """The cells of one stored ``pixel_metrics`` block."""
    view = PixelView(direction, row, number, note=_note(block))
    pooled = block.get("pooled") if isinstance(block.get("pooled"), dict) else {}
    assert isinstance(pooled, dict)
    view.lines.append(PixelLine(POOLED, *_figures(pooled), _count(pooled.get("images"))))
    view.lines.append(PixelLine(CLASS_MEAN, *_figures(block.get("class_mean")), ""))
    categories = block.get("per_category") if isinstance(block.get("per_category"), dict) else {}
    assert isinstance(categories, dict)
    for name in sorted(categories):
        group = categories[name] if isinstance(categories[name], dict) else {}
        view.lines.append(PixelLine(str(name), *_figures(group), _count(group.get("images"))))
    types = block.get("per_defect_type")
    types = types if isinstance(types, dict) else {}
    for category in sorted(types):
        kinds = types[category] if isinstance(types[category], dict) else {}
        for kind in sorted(kinds):
            group = kinds[kind] if isinstance(kinds[kind], dict) else {}
            view.types.append(TypeLine(str(category), str(kind), *_figures(group),
                                       _count(group.get("images"))))  # fmt: skip
    return view


def pixel_views(model: Presentation) -> dict[Direction, list[PixelView]]:
    """Per direction (the model's order), the stored runs holding a ``pixel_metrics`` block."""
    out: dict[Direction, list[PixelView]] = {}
    for direction, views in model.views.items():
        for row_view in views:
            row = row_view.row
            block = None if row.derived else row.source.summary.get("pixel_metrics")
            if isinstance(block, dict):
                view = pixel_view(direction, row, row_view.number, block)
                out.setdefault(direction, []).append(view)
    return out


def pixel_values(summary: dict[str, Any], group: str, category: str | None) -> dict[str, Any]:
    """A group's pixel figures as stored (fractions), keyed by :data:`PIXEL_COLUMNS`.

    Args:
        summary: A run's ``summary.json``.
        group: ``overall`` (the pooled figures), ``class_mean`` or ``category``.
        category: The category, for ``category``.

    Returns:
        Every key of :data:`PIXEL_COLUMNS`; ``None`` where the run has no such figure.
    """
    block = summary.get("pixel_metrics")
    found: Any = None
    if isinstance(block, dict):
        if group == "category":
            found = (block.get("per_category") or {}).get(category)
        else:
            found = block.get("pooled" if group == "overall" else group)
    found = found if isinstance(found, dict) else {}
    return {key: found.get(_STORED[key]) for key in PIXEL_COLUMNS}

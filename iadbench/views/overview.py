"""The N × N overview of a matrix: rows = trained on, columns = tested on, one figure per cell.

Built once from the presentation model (:class:`~iadbench.views.model.Presentation`) for every
renderer: the markdown and the terminal leaderboard and the HTML report (which also draws it as a
heat map) lay out the same :class:`Overview`; none of them picks a figure, an interval or a cell.

Per configuration (a row of the pooled table: method, threshold, train split, ...) one grid: in
the cell of direction *A→B* the headline figure (:data:`HEADLINE`, pooled accuracy) exactly as
the pooled table writes it for that direction (markers included), with the 95 % bootstrap
interval the statistics table gives (derived baseline rows have none). A zero-shot run does not
depend on a training dataset: as in the per-direction tables, it fills the cell of every direction
that tests on its test set, and a test set tested by zero-shot runs alone gets a ``zero-shot``
row. The heading names the test split every cell is scored on; where they differ (the diagonal of
one-class methods tests on Test, the other cells on All), each cell names its own.

Shown only for more than two datasets, or for more than the two cross directions of two datasets
(a diagonal *A→A*): for the paper's two directions the pooled table already is that overview, and
the published leaderboard reads as before (:func:`shows_overview`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from iadbench.runs.runspec import ZERO_SHOT
from iadbench.views.catalogue import CATALOGUE, MISSING, interval_text

if TYPE_CHECKING:  # the model imports the leaderboard package, whose renderers import this one
    from iadbench.views.leaderboard.rows import Direction
    from iadbench.views.model import Presentation, RowView

#: The figure of every cell: pooled accuracy, the paper's headline (Table III) and the figure the
#: verdict judges; its bootstrap interval is the statistics table's.
HEADLINE = "accuracy"
HEADLINE_NAME = CATALOGUE[HEADLINE].name


@dataclass(frozen=True)
class OverviewCell:
    """One direction's headline figure of one configuration.

    Attributes:
        direction: The direction the figure comes from.
        figure: The pooled table's cell for it (percent, markers such as † or ∅ included).
        interval: The statistics table's 95 % interval (``lo–hi``), ``—`` without one.
        value: The figure as a fraction (the heat map's colour); ``None`` when absent.
        split: The test split, named in the cell where the overview's cells are scored on more
            than one split (else ``None``: :attr:`Overview.split` names the one split).
    """

    direction: Direction
    figure: str
    interval: str
    value: float | None
    split: str | None = None


@dataclass(frozen=True)
class OverviewGrid:
    """One configuration's N × N grid.

    Attributes:
        first: The configuration's first view (its label and row, as the pooled table names it).
        setup: Raw text naming the rest of the configuration as the pooled table's columns do:
            ``threshold normal-quantile:0.95°``, ``trained on train`` (where they apply).
        cells: ``(train, test)`` → the directions' cells there (one, unless runs of one pair were
            scored on two splits).
    """

    first: RowView
    setup: tuple[str, ...] = ()
    cells: dict[tuple[str, str], tuple[OverviewCell, ...]] = field(default_factory=dict)

    def at(self, train: str, test: str) -> tuple[OverviewCell, ...]:
        """The cells of ``train → test`` (empty: the configuration has no such direction)."""
        return self.cells.get((train, test), ())


@dataclass(frozen=True)
class Overview:
    """Every configuration's grid over one set of rows and columns.

    Attributes:
        trains: Row names: the datasets, sorted, then ``zero-shot`` when a test set has only
            zero-shot runs.
        tests: Column names: the datasets, sorted (the same as the rows: a square).
        grids: One per configuration, in the pooled table's row order.
        split: The test split of every cell, or ``None`` when they differ (each cell names its
            own then).
    """

    trains: tuple[str, ...]
    tests: tuple[str, ...]
    grids: tuple[OverviewGrid, ...]
    split: str | None

    @property
    def heading(self) -> str:
        """The section's heading, naming the split when one split other than All holds."""
        split = f", {self.split} split" if self.split not in (None, "all") else ""
        return f"Overview: trained on (rows) × tested on (columns){split}"


def shows_overview(directions: Iterable[Direction]) -> bool:
    """Whether a leaderboard of these directions shows the overview.

    More than two datasets, or more than two trained directions (with two datasets: a diagonal).
    Zero-shot directions add no pair: the demo's few-shot rows keep it as it was.
    """
    datasets: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for direction in directions:
        datasets.add(direction.test_dataset)
        if direction.train_dataset != ZERO_SHOT:
            datasets.add(direction.train_dataset)
            pairs.add((direction.train_dataset, direction.test_dataset))
    return len(datasets) > 2 or len(pairs) > 2


def build_overview(model: Presentation) -> Overview | None:
    """The overview of a leaderboard, or ``None`` where it is not shown (:func:`shows_overview`).

    Args:
        model: The leaderboard's presentation model: its pooled cells and statistics are the
            overview's figures and intervals, so the two never disagree.
    """
    if not shows_overview(model.views):
        return None
    datasets = sorted(
        {d.test_dataset for d in model.views}
        | {d.train_dataset for d in model.views if d.train_dataset != ZERO_SHOT}
    )
    zero_shot = any(d.train_dataset == ZERO_SHOT for d in model.views)
    splits = {d.test_split for d in model.views}
    split = next(iter(splits)) if len(splits) == 1 else None
    grids = []
    for first in model.summary_keys:
        grid = OverviewGrid(first, _setup(model, first))
        for view in model.across(first.row.key):
            if view is not None:
                pair = (view.direction.train_dataset, view.direction.test_dataset)
                cell = _cell(model, view, named_split=split is None)
                grid.cells[pair] = (*grid.cells.get(pair, ()), cell)
        grids.append(grid)
    rows = tuple(datasets) + ((ZERO_SHOT,) if zero_shot else ())
    return Overview(rows, tuple(datasets), tuple(grids), split)


def _setup(model: Presentation, view: RowView) -> tuple[str, ...]:
    """The threshold (with its marker) and the training subset of a configuration, raw."""
    row, setup = view.row, []
    if row.threshold is not None:
        threshold, marker = model.threshold_cell(row)
        setup.append(f"threshold {threshold}{marker}")
    if row.train_split is not None:
        setup.append(f"trained on {row.train_split}")
    return tuple(setup)


def _cell(model: Presentation, view: RowView, *, named_split: bool) -> OverviewCell:
    """A view's headline figure, as its pooled table and statistics table write it."""
    stats = model.statistics(view.row)
    bounds = stats["bootstrap"]["overall"].get(HEADLINE) if stats is not None else None
    value = view.row.overall.get(HEADLINE)
    number = float(value) if isinstance(value, int | float) else None
    figure = view.cells["overall"][HEADLINE]
    split = view.direction.test_split if named_split else None
    return OverviewCell(view.direction, figure, interval_text(bounds), number, split)


def cell_text(cells: tuple[OverviewCell, ...], *, interval: bool = True) -> list[str]:
    """A grid cell as lines of plain text: ``75.36``, ``70.12–80.40``, ``(test split)``.

    Several cells (one pair scored on two splits) follow each other; no cell is ``—``.
    """
    if not cells:
        return [MISSING]
    lines: list[str] = []
    for cell in cells:
        lines.append(cell.figure)
        if interval and cell.interval != MISSING:
            lines.append(cell.interval)
        if cell.split is not None:
            lines.append(f"({cell.split} split)")
    return lines


LEGEND = (
    f"Rows: the dataset trained on; columns: the dataset tested on. Each cell: pooled "
    f"{HEADLINE_NAME} in percent, as the direction's pooled table gives it (markers included), "
    "with its 95 % bootstrap interval from the statistics table (stored runs only). A zero-shot "
    "run trains on nothing: it fills the cell of every direction that tests on its test set. "
    f"{MISSING}: no run of that direction."
)

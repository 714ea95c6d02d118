"""The report's N × N overview: the leaderboard's grids as tables and as one heat map.

The same cells as the markdown's and the terminal's overview (built once by
:func:`iadbench.views.overview.build_overview`): per configuration, rows = trained on, columns =
tested on, the pooled headline figure and its interval in each cell; the heat map colours each
cell by that figure (matplotlib, as the report's other charts). Strings stay raw: the template
escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from iadbench.views.leaderboard.escape import plain_dataset_name
from iadbench.views.model import Presentation
from iadbench.views.overview import HEADLINE_NAME, LEGEND, build_overview, cell_text
from iadbench.views.report.charts import HeatPanel, heat_map


@dataclass(frozen=True)
class OverviewTable:
    """One configuration's grid.

    Attributes:
        title: The configuration: label, ``(derived)`` / ``(tiny)``, threshold, training subset.
        rows: Per dataset trained on: its name and, per dataset tested on, the cell's lines.
    """

    title: str
    rows: list[tuple[str, list[list[str]]]]


@dataclass(frozen=True)
class OverviewSection:
    """What the report shows of the overview.

    Attributes:
        heading: The section's heading (naming the split every cell is scored on).
        legend: What a cell holds.
        columns: The datasets tested on (display names).
        tables: One grid per configuration, in the leaderboard's row order.
        heat_map: The grids as one heat map (``data:`` SVG URI).
        panels: What :attr:`heat_map` draws.
    """

    heading: str
    legend: str
    columns: list[str]
    tables: list[OverviewTable]
    heat_map: str
    panels: list[HeatPanel]


def overview_section(model: Presentation) -> OverviewSection | None:
    """The overview's tables and heat map, or ``None`` where the leaderboard shows none."""
    overview = build_overview(model)
    if overview is None:
        return None
    rows = [plain_dataset_name(train) for train in overview.trains]
    columns = [plain_dataset_name(test) for test in overview.tests]
    tables, panels = [], []
    for grid in overview.grids:
        row = grid.first.row
        label = grid.first.label + " (derived)" * row.derived + " (tiny)" * row.tiny
        title = " · ".join([label, *grid.setup])
        lines = [[cell_text(grid.at(train, test)) for test in overview.tests]
                 for train in overview.trains]  # fmt: skip
        tables.append(OverviewTable(title, list(zip(rows, lines, strict=True))))
        cells = [[grid.at(train, test) for test in overview.tests] for train in overview.trains]
        values = [[found[0].value if found else None for found in line] for line in cells]
        texts = [[found[0].figure if found else "" for found in line] for line in cells]
        panels.append(HeatPanel(title, rows, columns, values, texts))
    return OverviewSection(
        overview.heading, LEGEND, columns, tables, heat_map(panels, HEADLINE_NAME), panels
    )

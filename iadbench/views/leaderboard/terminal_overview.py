"""The terminal leaderboard's N × N overview: one narrow grid per configuration.

The cells of :func:`iadbench.views.overview.build_overview` (the markdown's and the report's),
laid out for a console: rows = trained on, columns = tested on, each cell its headline figure over
its interval. Columns that do not fit the width beside the row names go into further tables
(:func:`~iadbench.views.leaderboard.table_layout.chunk_columns`), never cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from iadbench.contract.text import terminal_text
from iadbench.views.leaderboard.escape import plain_dataset_name, plain_row_label
from iadbench.views.leaderboard.table_layout import add_number_column, chunk_columns, new_table
from iadbench.views.overview import LEGEND, build_overview, cell_text

if TYPE_CHECKING:  # the model imports the leaderboard package, which imports the terminal
    from iadbench.views.model import Presentation


def overview_tables(model: Presentation, width: int) -> list[RenderableType]:
    """The overview's heading, legend and grids, or ``[]`` where it is not shown."""
    overview = build_overview(model)
    if overview is None:
        return []
    rows = [plain_dataset_name(train) for train in overview.trains]
    headers = [plain_dataset_name(test) for test in overview.tests]
    heading = f"━━ {terminal_text(overview.heading)}"
    parts: list[RenderableType] = [Text(heading, style="bold"), Text(LEGEND, style="dim")]
    for grid in overview.grids:
        body = [
            ["\n".join(cell_text(grid.at(train, test))) for test in overview.tests]
            for train in overview.trains
        ]
        widths = [
            max([len(header)] + [len(line) for cells in body for line in cells[i].split("\n")])
            for i, header in enumerate(headers)
        ]
        base = max(len(name) for name in [*rows, "Trained on"])
        for index, chunk in enumerate(chunk_columns(widths, base, width)):
            title = " · ".join([plain_row_label(grid.first.row), *map(terminal_text, grid.setup)])
            table = new_table(title if index == 0 else "")
            table.add_column("Trained on", no_wrap=True)
            for column in chunk:
                add_number_column(table, headers[column], [line[column] for line in body])
            for name, line in zip(rows, body, strict=True):
                table.add_row(Text(name), *(line[column] for column in chunk))
            parts.append(table)
        parts.append(Text(""))
    return parts

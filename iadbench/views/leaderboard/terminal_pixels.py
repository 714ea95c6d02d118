"""The terminal leaderboard's pixel-metric tables of map methods (pixel AUROC, AUPRO).

The cells of :func:`iadbench.views.pixel_figures.pixel_views` (the markdown's and the report's),
laid out for a console: per direction and map run, one narrow table of its pooled and class-mean
figures within the console's width (``#`` numbers the run as the direction's other tables do);
the categories and defect types are in the HTML report and summary.json.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from iadbench.contract.text import terminal_text
from iadbench.views.catalogue import CATALOGUE
from iadbench.views.leaderboard.escape import plain_row_label
from iadbench.views.leaderboard.table_layout import add_number_column, new_table
from iadbench.views.pixel_figures import PixelView, headline_lines

MORE = "Per category and per defect type: iadbench report, summary.json."
LEGEND = (
    "Percent, from the stored maps resized to the masks; AUPRO to FPR 30 %, divided by 0.3; "
    "class mean = over categories; a defect type is measured with its category's normals."
)
_AUROC, _AUPRO = CATALOGUE["pixel_auroc"].short, CATALOGUE["aupro"].short


def group_table(view: PixelView) -> Table:
    """One map run's pooled and class-mean figures: group | P-AUROC | AUPRO | n."""
    label = terminal_text(plain_row_label(view.row))
    table = new_table(f"#{view.number} {label}: pixel metrics")
    table.add_column("Group", overflow="fold")
    lines = headline_lines(view)
    add_number_column(table, _AUROC, [line.auroc for line in lines])
    add_number_column(table, _AUPRO, [line.aupro for line in lines])
    add_number_column(table, "n", [line.images for line in lines])
    for line in lines:
        table.add_row(terminal_text(line.group), line.auroc, line.aupro, line.images)
    return table


def pixel_tables(views: list[PixelView]) -> list[RenderableType]:
    """A direction's pixel tables: per map run its headline groups, with the legend."""
    out: list[RenderableType] = []
    for view in views:
        # The legend under the table, not as its caption: a caption wraps at the table's width.
        legend = Text(f"{LEGEND} {terminal_text(view.note)} {MORE}", style="dim")
        out.append(Group(group_table(view), legend))
    return out

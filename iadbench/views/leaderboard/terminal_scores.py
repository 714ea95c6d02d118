"""The terminal leaderboard's score-method tables: operating points and calibration.

After them come the map methods' pixel tables (:mod:`.terminal_pixels`).
The cells of :func:`iadbench.views.score_figures.score_views` (the markdown's and the report's),
laid out for a console: per direction, one narrow operating-point table per score run and one
calibration table with a line per run, Real-IAD's sample-level figures
(:mod:`iadbench.views.sample_level_figures`) a line per run, each within the console's width
(``#`` numbers the rows as the direction's other tables do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from iadbench.contract.text import terminal_text
from iadbench.views.leaderboard.escape import plain_row_label
from iadbench.views.leaderboard.table_layout import add_number_column, new_table
from iadbench.views.leaderboard.terminal_pixels import pixel_tables
from iadbench.views.pixel_figures import pixel_views
from iadbench.views.sample_level_figures import sample_views
from iadbench.views.score_figures import ScoreView, score_views

if TYPE_CHECKING:  # the terminal module imports this one
    from iadbench.views.leaderboard.rows import Direction
    from iadbench.views.leaderboard.terminal import _TerminalTables

POINTS_LEGEND = (
    "FAR = share of normal images flagged; miss = 100 − recall; thresholds at the ROC curve's "
    "steps, not interpolated; At T = the threshold giving the figure; CI = bootstrap, 95 %."
)


def points_table(view: ScoreView) -> Table:
    """One score run's pooled operating points: figure | % | 95% CI | At T."""
    label = terminal_text(plain_row_label(view.row))
    table = new_table(f"#{view.number} {label}: operating points (pooled)")
    table.add_column("Operating point", overflow="fold")
    lines = view.points
    add_number_column(table, "%", [line.value for line in lines])
    add_number_column(table, "95% CI", [line.interval for line in lines])
    add_number_column(table, "At T", [line.threshold for line in lines])
    for line in lines:
        table.add_row(line.name, line.value, line.interval, line.threshold)
    table.caption = Text(POINTS_LEGEND, style="dim")
    table.caption_justify = "left"
    return table


def score_tables(tables: _TerminalTables, direction: Direction) -> list[RenderableType]:
    """A direction's operating-point and calibration tables, then its map runs' pixel tables."""
    views = score_views(tables.model).get(direction, [])
    out: list[RenderableType] = [points_table(view) for view in views if view.points]
    calibrated = [view for view in views if view.calibration]
    if calibrated:
        labels = [(str(view.number), Text(terminal_text(plain_row_label(view.row))))
                  for view in calibrated]  # fmt: skip
        body = [[*view.calibration["ece"], *view.calibration["brier"]] for view in calibrated]
        headers = ["ECE", "ECE\nmean", "Brier", "Brier\nmean"]
        caption = Text("ECE in percent, Brier 0-1: the score read as P(defect); mean = over "
                       "categories; lower is better.", style="dim")  # fmt: skip
        out.append(tables.fill("Calibration (pooled, class mean)", headers, labels,
                               body, caption))  # fmt: skip
    if grouped := sample_views(tables.model).get(direction, []):
        labels = [(str(view.number), Text(terminal_text(plain_row_label(view.row))))
                  for view in grouped]  # fmt: skip
        body = [[*view.line.cells["auroc"], *view.line.cells["accuracy"],
                 *view.line.cells["f1_macro"], view.line.images] for view in grouped]  # fmt: skip
        headers = ["AUROC", "AUROC\nmean", "Acc", "Acc\nmean", "F1", "F1\nmean", "Samples"]
        caption = Text("A sample (Real-IAD: a part seen by 5 cameras) is defective when any "
                       "view is; its score = max over views; mean = over categories.",
                       style="dim")  # fmt: skip
        out.append(tables.fill("Per sample, views grouped (pooled, class mean)", headers, labels,
                               body, caption))  # fmt: skip
    # Map methods' pixel tables follow (terminal.py is at its import limit: they come through here).
    return out + pixel_tables(pixel_views(tables.model).get(direction, []))

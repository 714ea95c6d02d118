"""The leaderboard's statistics table: 95 % intervals and McNemar tests against the baselines.

One line per stored run and direction, pooled over the test images: accuracy, macro-F1 and
balanced accuracy as bootstrap intervals, McNemar's exact p-value against each trivial baseline
with the images that decide it, and which baselines the run beats. The figures are the run's
``summary["statistics"]``; a summary written before that block existed gets them from its
(sealed) ``predictions.jsonl`` with the same B and seed (see
:func:`iadbench.analysis.statistics.statistics_of_run`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from iadbench.analysis.significance import ALPHA
from iadbench.analysis.statistics import METRICS
from iadbench.contract.records import TRIVIAL_BASELINES
from iadbench.runs.schema import McNemarBlock, StatisticsBlock
from iadbench.views.catalogue import MISSING, interval_text, p_value_text
from iadbench.views.leaderboard.escape import direction_title, escape_markdown, row_label
from iadbench.views.leaderboard.notes import ORACLE

if TYPE_CHECKING:  # the model imports this package: a run-time import would be circular
    from iadbench.views.model import Presentation, RowView

HEADING = "## Statistics: 95 % intervals and McNemar tests against the trivial baselines (pooled)"
_HEADERS = ["Method", "Threshold", "Direction", "Acc 95% CI", "F1 95% CI", "Bal.Acc 95% CI"]
_HEADERS += [f"vs {name}: p (+/−)" for name in TRIVIAL_BASELINES] + ["Beats", "Categories"]


def mcnemar_cell(block: McNemarBlock | None) -> str:
    """``<0.001 (962/34)``: the p-value, then images won / lost against the baseline."""
    if block is None:
        return MISSING
    return f"{p_value_text(block['p_value'])} ({block['better']}/{block['worse']})"


def _row_cells(model: Presentation, view: RowView, stats: StatisticsBlock | None) -> list[str]:
    threshold, marker = model.threshold_cell(view.row)
    head = [row_label(view.row), escape_markdown(threshold) + marker,
            direction_title(view.direction)]  # fmt: skip
    if stats is None:
        return head + [MISSING] * (len(_HEADERS) - len(head))
    overall = stats["bootstrap"]["overall"]
    return [
        *head,
        *(interval_text(overall.get(metric)) for metric in METRICS),
        *(mcnemar_cell(stats["mcnemar"].get(name)) for name in TRIVIAL_BASELINES),
        model.beats(view.row) or MISSING,
        model.categories_beaten(view.row) or MISSING,
    ]


def _legend(blocks: list[StatisticsBlock], oracle: bool) -> str:
    settings = sorted(
        {(b["bootstrap"]["resamples"], b["bootstrap"]["seed"], b["bootstrap"]["level"])
         for b in blocks}
    )  # fmt: skip
    stated = "; ".join(f"B = {n} resamples, seed {seed}, level {level:g}" for n, seed, level
                       in settings)  # fmt: skip
    never = (
        f" A run with an oracle threshold{ORACLE} beats no baseline (not counted): its threshold "
        "was fitted on the test labels."
        if oracle
        else ""
    )
    return (
        "Percent. CI = percentile bootstrap interval, the test images resampled with replacement "
        f"({stated or MISSING}); p = McNemar's exact two-sided test against the trivial baseline "
        "on the same images, (+/−) = images this run gets right and the baseline wrong / the "
        f"reverse. Beats = the baselines it is more accurate than at p < {ALPHA:g}; Categories = "
        "the categories where it beats both (per-category tests, not corrected for multiple "
        f"comparisons). Derived baseline rows have no predictions and are not listed.{never}"
    )


def statistics_section(model: Presentation) -> list[str]:
    """The heading, legend and table of the statistics section, or ``[]`` without stored runs.

    Args:
        model: The leaderboard's presentation model (rows, statistics, verdicts).

    Returns:
        Markdown blocks to join with blank lines.
    """
    table, blocks = [], []
    oracle = False
    for views in model.views.values():
        for view in views:
            if view.row.derived:
                continue
            stats = model.statistics(view.row)
            blocks += [stats] if stats is not None else []
            oracle = oracle or view.oracle
            table.append(_row_cells(model, view, stats))
    if not table:
        return []
    align = ["left"] * 3 + ["right"] * 5 + ["left"] * 2
    markdown = tabulate(
        table, headers=_HEADERS, tablefmt="pipe", disable_numparse=True, colalign=align
    )
    return [HEADING, _legend(blocks, oracle), markdown]

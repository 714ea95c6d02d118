"""The leaderboard's statistics table: 95 % intervals and McNemar tests against the baselines.

One line per stored run and direction, pooled over the test images: accuracy, macro-F1 and
balanced accuracy as bootstrap intervals, McNemar's exact p-value against each trivial baseline
with the images that decide it, and which baselines the run beats. The figures are the run's
``summary["statistics"]``; a summary written before that block existed gets them from its
(sealed) ``predictions.jsonl`` with the same B and seed (see
:func:`iadbench.analysis.statistics.statistics_of_run`).
"""

from __future__ import annotations

from collections.abc import Mapping

from tabulate import tabulate

from iadbench.analysis.statistics import (
    ALPHA,
    METRICS,
    beats,
    statistics_of_run,
)
from iadbench.contract.records import TRIVIAL_BASELINES
from iadbench.runs.schema import McNemarBlock, StatisticsBlock
from iadbench.views.leaderboard.escape import direction_title, escape_markdown, row_label
from iadbench.views.leaderboard.rows import Direction, DirectionRows, LeaderboardRow

MISSING = "—"
HEADING = "## Statistics: 95 % intervals and McNemar tests against the trivial baselines (pooled)"
_HEADERS = ["Method", "Threshold", "Direction", "Acc 95% CI", "F1 95% CI", "Bal.Acc 95% CI"]
_HEADERS += [f"vs {name}: p (+/−)" for name in TRIVIAL_BASELINES] + ["Beats", "Categories"]


def interval_cell(interval: object) -> str:
    """``75.36–77.64`` (percent), or ``—`` when there is no interval.

    Example:
        >>> interval_cell([0.7536, 0.77641])
        '75.36–77.64'
    """
    if not isinstance(interval, list) or len(interval) != 2:
        return MISSING
    low, high = interval
    return f"{100 * float(low):.2f}–{100 * float(high):.2f}"


def p_value_text(p_value: float) -> str:
    """Three significant digits, ``<0.001`` below that (never rounded onto ``ALPHA``).

    Example:
        >>> p_value_text(0.04987), p_value_text(1.0), p_value_text(3e-9)
        ('0.0499', '1', '<0.001')
    """
    return "<0.001" if p_value < 0.001 else f"{p_value:.3g}"


def mcnemar_cell(block: McNemarBlock | None) -> str:
    """``<0.001 (962/34)``: the p-value, then images won / lost against the baseline."""
    if block is None:
        return MISSING
    return f"{p_value_text(block['p_value'])} ({block['better']}/{block['worse']})"


def beats_cell(tests: Mapping[str, McNemarBlock]) -> str:
    """The baselines a run is significantly more accurate than: ``both``, a name, or ``neither``."""
    won = [name for name in TRIVIAL_BASELINES if name in tests and beats(tests[name]) > 0]
    if len(won) == len(TRIVIAL_BASELINES):
        return "both"
    return ", ".join(won) or "neither"


def categories_cell(per_class: Mapping[str, Mapping[str, McNemarBlock]]) -> str:
    """``k/K``: categories where the run beats both baselines (per-category tests)."""
    won = sum(beats_cell(tests) == "both" for tests in per_class.values())
    return f"{won}/{len(per_class)}" if per_class else MISSING


def _row_cells(
    direction: Direction, row: LeaderboardRow, stats: StatisticsBlock | None
) -> list[str]:
    threshold = MISSING if row.threshold is None else escape_markdown(row.threshold)
    head = [row_label(row), threshold, direction_title(direction)]
    if stats is None:
        return head + [MISSING] * (len(_HEADERS) - len(head))
    overall = stats["bootstrap"]["overall"]
    return [
        *head,
        *(interval_cell(overall.get(metric)) for metric in METRICS),
        *(mcnemar_cell(stats["mcnemar"].get(name)) for name in TRIVIAL_BASELINES),
        beats_cell(stats["mcnemar"]),
        categories_cell(stats["mcnemar_per_class"]),
    ]


def _legend(blocks: list[StatisticsBlock]) -> str:
    settings = sorted(
        {(b["bootstrap"]["resamples"], b["bootstrap"]["seed"], b["bootstrap"]["level"])
         for b in blocks}
    )  # fmt: skip
    stated = "; ".join(f"B = {n} resamples, seed {seed}, level {level:g}" for n, seed, level
                       in settings)  # fmt: skip
    return (
        "Percent. CI = percentile bootstrap interval, the test images resampled with replacement "
        f"({stated or MISSING}); p = McNemar's exact two-sided test against the trivial baseline "
        "on the same images, (+/−) = images this run gets right and the baseline wrong / the "
        f"reverse. Beats = the baselines it is more accurate than at p < {ALPHA:g}; Categories = "
        "the categories where it beats both (per-category tests, not corrected for multiple "
        "comparisons). Derived baseline rows have no predictions and are not listed."
    )


def statistics_section(directions: Mapping[Direction, DirectionRows]) -> list[str]:
    """The heading, legend and table of the statistics section, or ``[]`` without stored runs.

    Args:
        directions: The leaderboard's rows per direction
            (:func:`~iadbench.views.leaderboard.rows.group_by_direction`).

    Returns:
        Markdown blocks to join with blank lines.
    """
    table, blocks = [], []
    for direction, rows in directions.items():
        for row in rows.rows:
            if row.derived:
                continue
            stats = statistics_of_run(row.source)
            blocks += [stats] if stats is not None else []
            table.append(_row_cells(direction, row, stats))
    if not table:
        return []
    align = ["left"] * 3 + ["right"] * 5 + ["left"] * 2
    markdown = tabulate(
        table, headers=_HEADERS, tablefmt="pipe", disable_numparse=True, colalign=align
    )
    return [HEADING, _legend(blocks), markdown]

"""The metric catalogue: what every view calls a metric and how it writes its numbers.

One entry per metric key of a run's summary (``accuracy``, ``f1_macro``, ...): the short header of
the markdown tables, the shorter one of the terminal, the long name the HTML report prints, the
decimals, whether higher is better and whether the run's statistics give it an interval. The
percent and interval formatters here are the only ones the views use, so a number reads the same
in the markdown, the terminal, the HTML report and a test that compares them.

Example:
    >>> percent(0.75361), percent(None), interval_text([0.7536, 0.77641])
    ('75.36', '—', '75.36–77.64')
    >>> interval_text((0.61, 0.79), decimals=1, brackets=True)
    '[61.0, 79.0]'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MISSING = "—"
#: After a threshold policy chosen on images the method was fitted on (summary.json's
#: ``calibration.held_out`` false: no held-out image served, issue 20); every view shows it.
IN_SAMPLE = "°"
DECIMALS = 2  # the tables' precision; the report's prose and the terminal's intervals use 1


@dataclass(frozen=True)
class Metric:
    """How the views show one metric of a summary.

    Attributes:
        key: The summary's key (``accuracy``).
        header: Short header of the markdown tables (``Acc``).
        short: Header of the terminal tables, where width is scarce (``BAcc``).
        name: Long name, as the HTML report prints it (``balanced acc.``).
        percent: A fraction in [0, 1] shown as a percentage.
        higher_is_better: Whether a larger value is the better one.
        has_interval: The run's statistics give a bootstrap interval for it.
    """

    key: str
    header: str
    short: str
    name: str
    percent: bool = True
    higher_is_better: bool = True
    has_interval: bool = False


_ENTRIES = (
    Metric("accuracy", "Acc", "Acc", "accuracy", has_interval=True),
    Metric("f1_macro", "F1", "F1", "macro-F1", has_interval=True),
    Metric("balanced_accuracy", "Bal.Acc", "BAcc", "balanced acc.", has_interval=True),
    Metric("invalid_rate", "Invalid", "Inv", "invalid", higher_is_better=False),
    Metric("auroc", "AUROC", "AUROC", "AUROC"),
    Metric("ap", "AP", "AP", "AP"),
)
# Score methods' figures (summary.json's operating_points and score_calibration blocks): their
# own tables, never columns of the summary tables (which stay 80 columns wide).
_SCORE_ENTRIES = (
    Metric("recall_at_far", "Recall", "Rec", "recall at FAR", has_interval=True),
    Metric("miss_rate_at_far", "Miss", "Miss", "miss rate at FAR",
           higher_is_better=False, has_interval=True),
    Metric("far_at_recall", "FAR", "FAR", "FAR at recall", higher_is_better=False,
           has_interval=True),
    Metric("f1_max", "F1-max", "F1max", "best macro-F1 over thresholds", has_interval=True),
    Metric("f1_at_threshold", "F1@T", "F1@T", "macro-F1 at the run's threshold"),
    Metric("ece", "ECE", "ECE", "expected calibration error", higher_is_better=False),
    Metric("brier", "Brier", "Brier", "Brier score", percent=False, higher_is_better=False),
)  # fmt: skip
# Map methods' figures (summary.json's pixel_metrics block): their own tables too.
_PIXEL_ENTRIES = (
    Metric("pixel_auroc", "P-AUROC", "P-AUROC", "pixel AUROC"),
    Metric("aupro", "AUPRO", "AUPRO", "AUPRO (to FPR 30 %, normalised)"),
)
#: Every catalogued metric by key, in the order the tables show them.
CATALOGUE: dict[str, Metric] = {
    entry.key: entry for entry in (*_ENTRIES, *_SCORE_ENTRIES, *_PIXEL_ENTRIES)
}
#: The metric columns of the summary tables (after ``n``).
TABLE_METRICS: tuple[str, ...] = tuple(entry.key for entry in _ENTRIES)
#: The operating-point figures, in the order their table lists them.
OPERATING_POINT_METRICS: tuple[str, ...] = (
    "recall_at_far", "miss_rate_at_far", "far_at_recall", "f1_max", "f1_at_threshold",
)  # fmt: skip
#: The calibration figures of score methods.
CALIBRATION_METRICS: tuple[str, ...] = ("ece", "brier")
#: The pixel figures of map methods (summary.json's pixel_metrics block), in the tables' order.
PIXEL_METRICS: tuple[str, ...] = tuple(entry.key for entry in _PIXEL_ENTRIES)
#: Metrics with a bootstrap interval (the statistics block's order).
INTERVAL_METRICS: tuple[str, ...] = tuple(m.key for m in _ENTRIES if m.has_interval)
#: What the per-category tables and charts show of each category.
CATEGORY_METRICS: tuple[str, ...] = ("accuracy", "f1_macro")


def percent(value: Any, decimals: int = DECIMALS) -> str:
    """A fraction as a percentage with ``decimals`` decimals, or ``—`` when it is absent.

    Absent: ``None``, a boolean, a non-number or NaN (a metric a run cannot have, such as the
    AUROC of a method without scores). Text is never parsed as a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return MISSING
    return f"{100 * value:.{decimals}f}"


def figure_text(key: str, value: Any) -> str:
    """A catalogued metric's value as every view writes it: percent, or 4 decimals, or ``—``.

    Example:
        >>> figure_text("ece", 0.0812), figure_text("brier", 0.11234), figure_text("brier", None)
        ('8.12', '0.1123', '—')
    """
    if CATALOGUE[key].percent:
        return percent(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return MISSING
    return f"{value:.4f}"


def target_text(target: float) -> str:
    """An operating point's target fraction as a percentage: ``1 %``, ``99.5 %``."""
    return f"{100 * target:g} %"


def interval_text(bounds: Any, decimals: int = DECIMALS, *, brackets: bool = False) -> str:
    """An interval of fractions in percent: ``75.36–77.64`` (or ``[75.4, 77.6]``), else ``—``.

    Args:
        bounds: ``(low, high)`` as a list or tuple; anything else is no interval.
        decimals: Decimals of both ends.
        brackets: ``[low, high]`` (the HTML report's prose) instead of ``low–high``.
    """
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        return MISSING
    low, high = (percent(value, decimals) for value in bounds)
    if MISSING in (low, high):
        return MISSING
    return f"[{low}, {high}]" if brackets else f"{low}–{high}"


def p_value_text(p_value: float) -> str:
    """Three significant digits, ``<0.001`` below that (never rounded onto ``ALPHA``).

    Example:
        >>> p_value_text(0.04987), p_value_text(1.0), p_value_text(3e-9)
        ('0.0499', '1', '<0.001')
    """
    return "<0.001" if p_value < 0.001 else f"{p_value:.3g}"

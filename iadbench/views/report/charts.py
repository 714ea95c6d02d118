"""Charts for the report, drawn with matplotlib and embedded as ``data:`` SVG images.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot: no global state,
no GUI backend), written as SVG with text kept as text (small files, no embedded fonts) and
embedded through ``<img src="data:image/svg+xml;base64,...">``: the page loads nothing, and an
SVG shown as an image runs no script whatever labels it carries.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iadbench.contract.text import visible_bidi

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Tab10 without its grey (kept for the baselines).
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#bcbd22", "#17becf")  # fmt: skip
_BASELINE_COLOURS = {"always-normal": "#7f7f7f", "always-defect": "#c7c7c7"}


@dataclass(frozen=True)
class Curve:
    """ROC and precision-recall points of one score run.

    Attributes:
        label: Legend text (raw; made safe for matplotlib here).
        fpr: False-positive rates of the ROC curve.
        tpr: True-positive rates of the ROC curve.
        precision: Precision of the PR curve.
        recall: Recall of the PR curve.
        auroc: Area under the ROC curve.
        ap: Average precision.
    """

    label: str
    fpr: Sequence[float]
    tpr: Sequence[float]
    precision: Sequence[float]
    recall: Sequence[float]
    auroc: float
    ap: float


def plain(text: str) -> str:
    """``text`` shown literally by matplotlib: ``$`` would otherwise start mathtext.

    Bidi controls become a visible ``<U+202E>``, as everywhere in the page.
    """
    return visible_bidi(text).replace("\\", "\\\\").replace("$", r"\$")


def _svg_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg_uri_styled(draw: Callable[[], Figure]) -> str:
    """Draw and write a figure in the report's style, leaving matplotlib's settings as they were."""
    from matplotlib import rc_context

    # Text as <text> elements in a generic family: no font is embedded or fetched. A fixed hash
    # salt gives stable element ids: the same runs give the same page.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "iadbench",
                     "font.family": "sans-serif"}):  # fmt: skip
        return _svg_uri(draw())


def colour(method: str, index: int) -> str:
    """The colour of a series: fixed greys for the baselines, tab10 for the others."""
    return _BASELINE_COLOURS.get(method, _COLOURS[index % len(_COLOURS)])


def category_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Mapping[str, float | None]]],
    metrics: Sequence[tuple[str, str]],
) -> str:
    """Grouped bars: one panel per metric, one bar per series in each category.

    Args:
        categories: Category names (along the x axis).
        series: ``(label, method, {f"{category}/{metric}": value})`` per run; a missing or
            None value draws no bar.
        metrics: ``(key, title)`` per panel, e.g. ``("accuracy", "accuracy")``.

    Returns:
        A ``data:image/svg+xml`` URI.
    """
    return _svg_uri_styled(lambda: _draw_bars(categories, series, metrics))


def _draw_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Mapping[str, float | None]]],
    metrics: Sequence[tuple[str, str]],
) -> Figure:
    import numpy as np

    # Panels stacked, categories along x: the figure's height does not grow with the categories.
    width = min(max(6.0, 0.12 * len(categories) * max(len(series), 1) + 3.0), 11.5)
    # Labels name every setting that tells runs apart, so they can be long: one legend column
    # then, and room above the panels for its lines (else the layout squeezes the panels away).
    columns = 2 if max((len(label) for label, _, _ in series), default=0) <= 40 else 1
    legend_lines = -(-len(series) // columns)
    figure = _new_figure(width, 2.4 * len(metrics) + 1.0 + 0.2 * legend_lines)
    axes = figure.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    bar = 0.8 / max(len(series), 1)
    positions = np.arange(len(categories))
    for panel, (key, title) in zip(axes, metrics, strict=True):
        for i, (label, method, values) in enumerate(series):
            heights = [values.get(f"{cat}/{key}") for cat in categories]
            panel.bar(
                positions + i * bar,
                [np.nan if h is None else h for h in heights],
                width=bar,
                color=colour(method, i),
                label=plain(label),
            )
        panel.set_ylabel(plain(title))
        panel.set_ylim(0, 1)
        panel.grid(axis="y", alpha=0.3)
    rotate = 45 if len(categories) > 6 else 0
    axes[-1].set_xticks(
        positions + bar * (len(series) - 1) / 2,
        [plain(c) for c in categories],
        rotation=rotate,
        ha="right" if rotate else "center",
    )
    axes[0].legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncols=columns, fontsize="small",
                   frameon=False)  # fmt: skip
    return figure


def roc_pr_chart(curves: Sequence[Curve]) -> str:
    """ROC (left) and precision-recall (right) curves, one line per score run.

    Returns:
        A ``data:image/svg+xml`` URI.
    """
    return _svg_uri_styled(lambda: _draw_curves(curves))


def _draw_curves(curves: Sequence[Curve]) -> Figure:
    figure = _new_figure(10, 4.2)
    roc, pr = figure.subplots(1, 2)
    for i, curve in enumerate(curves):
        roc.plot(curve.fpr, curve.tpr, color=colour("", i),
                 label=plain(f"{curve.label} (AUROC {curve.auroc:.3f})"))  # fmt: skip
        pr.plot(curve.recall, curve.precision, color=colour("", i), drawstyle="steps-post",
                label=plain(f"{curve.label} (AP {curve.ap:.3f})"))  # fmt: skip
    roc.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1)
    roc.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC",
            xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    pr.set(xlabel="recall (defect)", ylabel="precision (defect)", title="precision-recall",
           xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    for panel in (roc, pr):
        panel.legend(loc="lower center", bbox_to_anchor=(0.5, -0.3), fontsize="small",
                     frameon=False)  # fmt: skip
        panel.grid(alpha=0.3)
    return figure

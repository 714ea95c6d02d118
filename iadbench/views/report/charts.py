"""Charts for the report, drawn with matplotlib and embedded as ``data:`` SVG images.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot: no global state,
no GUI backend), written as SVG with text kept as text (small files, no embedded fonts) and
embedded through ``<img src="data:image/svg+xml;base64,...">``: the page loads nothing, and an
SVG shown as an image runs no script whatever labels it carries.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iadbench.analysis.metrics import ranking_scores
from iadbench.contract.text import visible_controls

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

# Tab10 without its grey (kept for the baselines).
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#bcbd22", "#17becf")  # fmt: skip
_BASELINE_COLOURS = {"always-normal": "#7f7f7f", "always-defect": "#c7c7c7"}


@dataclass(frozen=True)
class Series:
    """One run's bars of the per-category chart.

    Attributes:
        label: Legend text (raw; made safe for matplotlib here).
        colour: The run's colour (the same in every chart, :func:`run_colours`).
        values: ``{f"{category}/{metric}": value}``; a missing or None value draws no bar.
    """

    label: str
    colour: str
    values: Mapping[str, float | None]


@dataclass(frozen=True)
class Curve:
    """ROC and precision-recall points of one score run.

    Attributes:
        label: Legend text (raw; made safe for matplotlib here).
        colour: The run's colour (the same in every chart, :func:`run_colours`).
        fpr: False-positive rates of the ROC curve.
        tpr: True-positive rates of the ROC curve.
        precision: Precision of the PR curve.
        recall: Recall of the PR curve.
        auroc: Area under the ROC curve.
        ap: Average precision.
    """

    label: str
    colour: str
    fpr: Sequence[float]
    tpr: Sequence[float]
    precision: Sequence[float]
    recall: Sequence[float]
    auroc: float
    ap: float


def score_curve(
    label: str, colour: str, truth: Sequence[str], scores: Sequence[float | None]
) -> Curve:
    """The ROC / PR curve of every image, unscored ones ranked as the summary's AUROC ranks them.

    An image without a score (a text method's invalid answer) is ranked at the wrong extreme for
    its truth (:func:`iadbench.analysis.metrics.ranking_scores`), so the curve's AUROC and AP are
    the tables'; the legend says how many were. ``truth`` must hold both labels.
    """
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    positive = [int(t == "defect") for t in truth]
    ranked = ranking_scores(truth, scores)
    fpr, tpr, _ = roc_curve(positive, ranked)
    precision, recall, _ = precision_recall_curve(positive, ranked)
    unscored = sum(score is None for score in scores)
    if unscored:
        label = f"{label}, {unscored} unscored ranked wrong"
    return Curve(
        label, colour, list(fpr), list(tpr), list(precision), list(recall),
        float(roc_auc_score(positive, ranked)), float(average_precision_score(positive, ranked)),
    )  # fmt: skip


def plain(text: str) -> str:
    """``text`` shown literally by matplotlib: ``$`` would otherwise start mathtext.

    Bidi controls become a visible ``<U+202E>``, as everywhere in the page.
    """
    return visible_controls(text).replace("\\", "\\\\").replace("$", r"\$")


def run_colours(runs: Iterable[tuple[Hashable, str]]) -> dict[Hashable, str]:
    """One colour per run, made once for the whole report: every chart draws a run in it.

    Args:
        runs: ``(key, method)`` per run, in the order colours are handed out; a key seen again
            keeps its colour.

    Returns:
        Key → colour: fixed greys for the baselines, tab10 (without grey) in turn for the others.
    """
    colours: dict[Hashable, str] = {}
    handed_out = 0
    for key, method in runs:
        if key in colours:
            continue
        if method in _BASELINE_COLOURS:
            colours[key] = _BASELINE_COLOURS[method]
        else:
            colours[key] = _COLOURS[handed_out % len(_COLOURS)]
            handed_out += 1
    return colours


def chart_style() -> AbstractContextManager[None]:
    """The report's matplotlib settings, for drawing and writing a figure (restored after).

    Text as ``<text>`` elements in a generic family: no font is embedded or fetched. A fixed
    hash salt gives stable element ids: the same runs give the same page.
    """
    from matplotlib import rc_context

    return rc_context({"svg.fonttype": "none", "svg.hashsalt": "iadbench",
                       "font.family": "sans-serif"})  # fmt: skip


def _svg_uri(draw: Callable[[], Figure]) -> str:
    """Draw and write a figure in the report's style as a ``data:`` SVG URI."""
    with chart_style():
        buffer = io.BytesIO()
        draw().savefig(buffer, format="svg", bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)  # a renderer to measure the legend with (savefig picks its own)
    return figure


def _legend_columns(labels: Sequence[str]) -> int:
    # Labels name every setting that tells runs apart, so they can be long: one column then.
    return 2 if max((len(label) for label in labels), default=0) <= 40 else 1


def _room_for_legend(figure: Figure, legend: Legend, width: float, height: float) -> None:
    """Size ``figure`` so its panels keep ``width`` × ``height`` inches beside ``legend``.

    The legend lies outside the panels (an ``outside`` figure legend: the constrained layout
    keeps it off the axes); its size is measured, and the figure made at least as wide as the
    legend and tall enough for both. A figure sized by guess squeezed its panels to nothing
    under a long legend (matplotlib's "constrained_layout not applied" warning, the legend on
    the axes) or came out narrower than its legend.
    """
    box = legend.get_window_extent(figure.canvas.get_renderer())  # type: ignore[attr-defined]
    margin = 0.3  # the layout's padding around the legend and the panels
    figure.set_size_inches(max(width, box.width / figure.dpi + margin),
                           height + box.height / figure.dpi + margin)  # fmt: skip


def category_bars(
    categories: Sequence[str], series: Sequence[Series], metrics: Sequence[tuple[str, str]]
) -> str:
    """Grouped bars as a ``data:image/svg+xml`` URI (see :func:`bars_figure`)."""
    return _svg_uri(lambda: bars_figure(categories, series, metrics))


def bars_figure(
    categories: Sequence[str], series: Sequence[Series], metrics: Sequence[tuple[str, str]]
) -> Figure:
    """Grouped bars: one panel per metric, one bar per series in each category.

    Args:
        categories: Category names (along the x axis).
        series: The runs' bars, each in its run's colour.
        metrics: ``(key, title)`` per panel, e.g. ``("accuracy", "accuracy")``.
    """
    import numpy as np

    # Panels stacked, categories along x: the figure's height does not grow with the categories.
    width = min(max(6.0, 0.12 * len(categories) * max(len(series), 1) + 3.0), 11.5)
    height = 2.4 * len(metrics) + 0.6
    figure = _new_figure(width, height)
    axes = figure.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
    bar = 0.8 / max(len(series), 1)
    positions = np.arange(len(categories))
    for panel, (key, title) in zip(axes, metrics, strict=True):
        for i, run in enumerate(series):
            heights = [run.values.get(f"{cat}/{key}") for cat in categories]
            panel.bar(
                positions + i * bar,
                [np.nan if h is None else h for h in heights],
                width=bar,
                color=run.colour,
                label=plain(run.label),
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
    if series:
        handles, labels = axes[0].get_legend_handles_labels()
        legend = figure.legend(handles, labels, loc="outside upper left", fontsize="small",
                               ncols=_legend_columns(labels), frameon=False)  # fmt: skip
        _room_for_legend(figure, legend, width, height)
    return figure


def roc_pr_chart(curves: Sequence[Curve]) -> str:
    """ROC and PR curves as a ``data:image/svg+xml`` URI (see :func:`curves_figure`)."""
    return _svg_uri(lambda: curves_figure(curves))


def curves_figure(curves: Sequence[Curve]) -> Figure:
    """ROC (left) and precision-recall (right) curves, one line per score run.

    One legend below both panels (a run has one colour in both), naming each run's AUROC and AP.
    """
    width, height = 10.0, 4.0
    figure = _new_figure(width, height)
    roc, pr = figure.subplots(1, 2)
    for curve in curves:
        label = plain(f"{curve.label} (AUROC {curve.auroc:.3f}, AP {curve.ap:.3f})")
        roc.plot(curve.fpr, curve.tpr, color=curve.colour, label=label)
        pr.plot(curve.recall, curve.precision, color=curve.colour, drawstyle="steps-post")
    roc.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1)
    roc.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC",
            xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    pr.set(xlabel="recall (defect)", ylabel="precision (defect)", title="precision-recall",
           xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    for panel in (roc, pr):
        panel.grid(alpha=0.3)
    if curves:
        handles, labels = roc.get_legend_handles_labels()
        legend = figure.legend(handles, labels, loc="outside lower center", fontsize="small",
                               ncols=_legend_columns(labels), frameon=False)  # fmt: skip
        _room_for_legend(figure, legend, width, height)
    return figure


@dataclass(frozen=True)
class Reliability:
    """One score run's reliability-diagram points (non-empty bins only).

    Attributes:
        label: Legend text (raw; made safe for matplotlib here).
        mean_score: Mean score of each bin (x).
        defect_rate: Observed defect rate of each bin (y).
        count: Images in each bin (the marker's area).
        ece: The run's expected calibration error (a fraction), for the legend, or None.
    """

    label: str
    mean_score: Sequence[float]
    defect_rate: Sequence[float]
    count: Sequence[int]
    ece: float | None = None


def reliability_chart(items: Sequence[Reliability]) -> str:
    """A reliability diagram as a ``data:image/svg+xml`` URI (see :func:`reliability_figure`)."""
    return _svg_uri(lambda: reliability_figure(items))


def reliability_figure(items: Sequence[Reliability]) -> Figure:
    """Observed defect rate against mean score per bin, one line per run, the diagonal dotted.

    A perfectly calibrated P(defect) lies on the diagonal; above it the model is under-confident
    about defects, below it over-confident. Marker areas grow with the bin's images.
    """
    width, height = 5.5, 4.5
    figure = _new_figure(width, height)
    panel = figure.subplots(1, 1)
    panel.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1)
    for i, item in enumerate(items):
        colour = _COLOURS[i % len(_COLOURS)]
        ece = "" if item.ece is None else f" (ECE {100 * item.ece:.1f} %)"
        total = max(sum(item.count), 1)
        sizes = [12 + 200 * c / total for c in item.count]
        panel.plot(item.mean_score, item.defect_rate, color=colour, label=plain(item.label + ece))
        panel.scatter(item.mean_score, item.defect_rate, s=sizes, color=colour, alpha=0.6)
    panel.set(xlabel="mean score in bin (P(defect))", ylabel="observed defect rate in bin",
              title="reliability (pooled)", xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
    panel.grid(alpha=0.3)
    if items:
        handles, labels = panel.get_legend_handles_labels()
        legend = figure.legend(handles, labels, loc="outside lower center", fontsize="small",
                               ncols=1, frameon=False)  # fmt: skip
        _room_for_legend(figure, legend, width, height)
    return figure


@dataclass(frozen=True)
class HeatPanel:
    """One configuration's N × N grid for the overview's heat map.

    Attributes:
        title: The configuration (raw; made safe for matplotlib here).
        rows: The datasets trained on (top to bottom).
        columns: The datasets tested on (left to right).
        values: Per row and column the figure as a fraction; None: no run (drawn blank).
        texts: Per row and column the figure's text as the tables write it ("" for none).
    """

    title: str
    rows: Sequence[str]
    columns: Sequence[str]
    values: Sequence[Sequence[float | None]]
    texts: Sequence[Sequence[str]]


def heat_map(panels: Sequence[HeatPanel], metric: str) -> str:
    """The overview as a ``data:image/svg+xml`` URI (see :func:`heat_map_figure`)."""
    return _svg_uri(lambda: heat_map_figure(panels, metric))


def heat_map_figure(panels: Sequence[HeatPanel], metric: str) -> Figure:
    """One panel per configuration, trained on (rows) × tested on (columns), one colour scale.

    The colour is the figure in percent on a fixed 0–100 scale (viridis: ordered and readable in
    grey), so panels and reports compare by eye; each cell also prints the tables' text.
    """
    import numpy as np
    from matplotlib import colormaps

    per_line = min(len(panels), 3)
    lines = -(-len(panels) // max(per_line, 1))
    side = max((max(len(p.columns), len(p.rows)) for p in panels), default=1) * 0.85 + 1.4
    figure = _new_figure(side * max(per_line, 1) + 1.0, side * max(lines, 1))
    axes = figure.subplots(max(lines, 1), max(per_line, 1), squeeze=False)
    scale = colormaps["viridis"].with_extremes(bad="#eeeeee")
    image = None
    for panel, axis in zip(panels, axes.flat, strict=False):
        grid = np.array([[np.nan if v is None else 100 * v for v in line] for line in panel.values])
        image = axis.imshow(grid, vmin=0, vmax=100, cmap=scale)
        for (i, j), value in np.ndenumerate(grid):
            if panel.texts[i][j]:  # dark text on the light end of the scale and on grey
                dark = np.isnan(value) or value > 60
                axis.text(j, i, plain(panel.texts[i][j]), ha="center", va="center",
                          fontsize="x-small", color="black" if dark else "white")  # fmt: skip
        rotate = 30 if max(map(len, panel.columns), default=0) > 6 else 0
        axis.set_xticks(range(len(panel.columns)), [plain(c) for c in panel.columns],
                        rotation=rotate, ha="right" if rotate else "center")  # fmt: skip
        axis.set_yticks(range(len(panel.rows)), [plain(r) for r in panel.rows])
        axis.set(xlabel="tested on", ylabel="trained on")
        # Titles name every setting of a configuration: wrapped to the panel's width.
        axis.set_title(plain(textwrap.fill(panel.title, 44)), fontsize="small")
    for axis in axes.flat[len(panels) :]:
        axis.set_axis_off()
    if image is not None:
        figure.colorbar(image, ax=axes, label=plain(f"{metric} (%)"), shrink=0.8)
    return figure

"""Score methods' operating points and calibration, as every view shows them.

Built once from the presentation model's rows and the figures stored in ``summary.json``
(``operating_points`` and ``score_calibration``, see ``docs/results.md``): per direction, one
:class:`ScoreView` per stored run that has either block, with its raw cells (names and numbers in
the catalogue's words and formats, :mod:`iadbench.views.catalogue`) and its reliability bins for
the report's diagram. The markdown, the terminal, the exports and the HTML report lay these out;
none of them reads the blocks itself.

Only stored blocks are shown: a run written before the blocks existed has no such rows (its
tables, and the published leaderboard, read as before).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iadbench.runs.schema import DEFAULT_FAR_TARGETS, DEFAULT_RECALL_TARGETS
from iadbench.views.catalogue import (
    CATALOGUE,
    MISSING,
    figure_text,
    interval_text,
    target_text,
)

if TYPE_CHECKING:  # the model imports the leaderboard package, which imports this module's users
    from iadbench.views.leaderboard.rows import Direction, LeaderboardRow
    from iadbench.views.model import Presentation


@dataclass(frozen=True)
class PointLine:
    """One operating point of a run: its name, value, interval and threshold (raw text)."""

    name: str
    value: str
    interval: str
    threshold: str


@dataclass
class ScoreView:
    """A stored run's score figures in one direction.

    Attributes:
        direction: The direction.
        row: The leaderboard row (a stored run).
        number: The row's position in its direction (the terminal's ``#``).
        points: The pooled operating points (empty without the block).
        calibration: ``ece`` / ``brier`` → (pooled cell, class-mean cell); empty without the
            block.
        bins: The pooled reliability bins (``count``, ``mean_score``, ``defect_rate``), or None.
        n_bins: The number of bins of the calibration block, or None.
        ece: The pooled ECE as stored (a fraction), for the diagram's legend, or None.
    """

    direction: Direction
    row: LeaderboardRow
    number: int
    points: list[PointLine] = field(default_factory=list)
    calibration: dict[str, tuple[str, str]] = field(default_factory=dict)
    bins: dict[str, list[Any]] | None = None
    n_bins: int | None = None
    ece: float | None = None


def _threshold(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def point_lines(block: dict[str, Any], threshold: Any = None) -> list[PointLine]:
    """The pooled operating points of an ``operating_points`` block, in the table's order.

    ``threshold`` is the run's threshold value, shown beside the F1 it gives.
    """
    group = block.get("overall")
    if not isinstance(group, dict):
        return []
    intervals = group.get("intervals") if isinstance(group.get("intervals"), dict) else {}
    assert isinstance(intervals, dict)
    lines = []
    for key, figures in (group.get("recall_at_far") or {}).items():
        target = target_text(float(key))
        for metric, field_name, interval_key in (
            ("recall_at_far", "recall", "recall_at_far"),
            ("miss_rate_at_far", "miss_rate", "miss_rate_at_far"),
        ):
            lines.append(PointLine(
                f"{CATALOGUE[metric].name} ≤ {target}",
                figure_text(metric, figures.get(field_name)),
                interval_text((intervals.get(interval_key) or {}).get(key)),
                _threshold(figures.get("threshold")),
            ))  # fmt: skip
    for key, figures in (group.get("far_at_recall") or {}).items():
        lines.append(PointLine(
            f"{CATALOGUE['far_at_recall'].name} ≥ {target_text(float(key))}",
            figure_text("far_at_recall", figures.get("far")),
            interval_text((intervals.get("far_at_recall") or {}).get(key)),
            _threshold(figures.get("threshold")),
        ))  # fmt: skip
    lines.append(PointLine(CATALOGUE["f1_max"].name, figure_text("f1_max", group.get("f1_max")),
                           interval_text(intervals.get("f1_max")),
                           _threshold(group.get("f1_max_threshold"))))  # fmt: skip
    lines.append(PointLine(CATALOGUE["f1_at_threshold"].name,
                           figure_text("f1_at_threshold", group.get("f1_at_threshold")),
                           MISSING, _threshold(threshold)))  # fmt: skip
    return lines


def _calibration(view: ScoreView, block: dict[str, Any]) -> None:
    overall, mean = block.get("overall"), block.get("class_mean")
    overall = overall if isinstance(overall, dict) else {}
    mean = mean if isinstance(mean, dict) else {}
    view.calibration = {
        key: (figure_text(key, overall.get(key)), figure_text(key, mean.get(key)))
        for key in ("ece", "brier")
    }
    bins = overall.get("bins")
    view.bins = bins if isinstance(bins, dict) else None
    n_bins = block.get("n_bins")
    view.n_bins = n_bins if isinstance(n_bins, int) else None
    ece = overall.get("ece")
    view.ece = float(ece) if isinstance(ece, int | float) and not isinstance(ece, bool) else None


def score_views(model: Presentation) -> dict[Direction, list[ScoreView]]:
    """Per direction (the model's order), the stored runs holding score figures."""
    out: dict[Direction, list[ScoreView]] = {}
    for direction, views in model.views.items():
        for row_view in views:
            row = row_view.row
            if row.derived:
                continue
            summary = row.source.summary
            points, calibration = summary.get("operating_points"), summary.get("score_calibration")
            if not isinstance(points, dict) and not isinstance(calibration, dict):
                continue
            view = ScoreView(direction, row, row_view.number)
            if isinstance(points, dict):
                view.points = point_lines(points, summary.get("threshold_value"))
            if isinstance(calibration, dict):
                _calibration(view, calibration)
            out.setdefault(direction, []).append(view)
    return out


#: The default targets (:data:`iadbench.runs.schema.DEFAULT_FAR_TARGETS` / ``RECALL``), as
#: stored keys: the exports' score columns always hold them, so readers by name keep working.
FAR_KEYS: tuple[str, ...] = tuple(f"{t:g}" for t in DEFAULT_FAR_TARGETS)
RECALL_KEYS: tuple[str, ...] = tuple(f"{t:g}" for t in DEFAULT_RECALL_TARGETS)


def score_columns(
    far_keys: Sequence[str] = FAR_KEYS, recall_keys: Sequence[str] = RECALL_KEYS
) -> tuple[str, ...]:
    """The data exports' score columns: operating points at these targets, then calibration."""
    return (
        *(f"recall_at_far_{k}" for k in far_keys),
        *(f"miss_rate_at_far_{k}" for k in far_keys),
        *(f"far_at_recall_{k}" for k in recall_keys),
        "f1_max", "f1_at_threshold", "ece", "brier",
    )  # fmt: skip


#: The score columns at the default targets (a collection of runs recorded at no other).
SCORE_COLUMNS: tuple[str, ...] = score_columns()


def _target(key: str) -> float | None:
    """A stored target key's fraction; None for anything a summary would not write as a key."""
    try:
        value = float(key)
    except ValueError:
        return None
    return value if 0 <= value <= 1 and f"{value:g}" == key else None


def _others(found: set[str], defaults: tuple[str, ...]) -> list[str]:
    others = {key: value for key in found - set(defaults) if (value := _target(key)) is not None}
    return sorted(others, key=others.__getitem__)


def collected_score_columns(summaries: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The score columns of a collection of runs: one per target any of them recorded.

    :data:`SCORE_COLUMNS` first (the default targets' columns are always there, in place, so
    readers by name or by position keep working), then for every other target a run recorded
    (``run --far-targets 0.1``), in increasing order, its recall and miss rate, then the other
    recall targets' FAR. A key that is not a target as a summary writes it (``0.1``) gets no
    column (it would become a header).
    """
    far: set[str] = set()
    recall: set[str] = set()
    for summary in summaries:
        block = summary.get("operating_points")
        if not isinstance(block, dict):
            continue
        for key, found in (("recall_at_far", far), ("far_at_recall", recall)):
            for group in (block.get("overall"), block.get("class_mean"),
                          *(block.get("per_class") or {}).values()):  # fmt: skip
                if isinstance(group, dict) and isinstance(group.get(key), dict):
                    found.update(str(k) for k in group[key])
    extra_far = _others(far, FAR_KEYS)
    return (
        *SCORE_COLUMNS,
        *(f"{name}_at_far_{k}" for k in extra_far for name in ("recall", "miss_rate")),
        *(f"far_at_recall_{k}" for k in _others(recall, RECALL_KEYS)),
    )


def _group(block: Any, group: str, category: str | None) -> dict[str, Any]:
    if not isinstance(block, dict):
        return {}
    found = block.get("per_class", {}).get(category) if group == "category" else block.get(group)
    return found if isinstance(found, dict) else {}


def score_values(
    summary: dict[str, Any],
    group: str,
    category: str | None,
    columns: Sequence[str] = SCORE_COLUMNS,
) -> dict[str, Any]:
    """A group's score figures as stored (fractions, unrounded), keyed by ``columns``.

    Args:
        summary: A run's ``summary.json``.
        group: ``overall``, ``class_mean`` or ``category``.
        category: The category, for ``category``.
        columns: Score columns (:func:`collected_score_columns`; default the default targets').

    Returns:
        Every key of ``columns``; ``None`` where the run has no such figure.
    """
    points = _group(summary.get("operating_points"), group, category)
    calibration = _group(summary.get("score_calibration"), group, category)
    recall, far = points.get("recall_at_far") or {}, points.get("far_at_recall") or {}
    values: dict[str, Any] = {}
    for k, figures in recall.items():
        values[f"recall_at_far_{k}"] = (figures or {}).get("recall")
        values[f"miss_rate_at_far_{k}"] = (figures or {}).get("miss_rate")
    for k, figures in far.items():
        values[f"far_at_recall_{k}"] = (figures or {}).get("far")
    values |= {key: points.get(key) for key in ("f1_max", "f1_at_threshold")}
    values |= {key: calibration.get(key) for key in ("ece", "brier")}
    return {key: values.get(key) for key in columns}  # in the columns' order

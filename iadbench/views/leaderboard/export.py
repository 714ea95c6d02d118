"""The leaderboard as data: CSV and JSON with one record per run, direction and group.

The markdown and terminal tables are for reading; these are for a spreadsheet, pandas or a
script. They come from the same presentation model (:class:`~iadbench.views.model.Presentation`:
the same rows, derived baselines included and marked, the same labels, the oracle marker and the
verdict against the baselines), one record per row × direction × group, where group is
``pooled`` (all test images), ``class_mean`` (unweighted over categories) or ``category`` (one
record per category). Metrics are the summary's own values, fractions in [0, 1] (not percent),
unrounded; a metric a run lacks (``auroc`` of a method without scores) is empty in CSV and
``null`` in JSON. JSON holds text as stored (it is data, not display: a program reading it gets
the category as the run recorded it). CSV is opened in spreadsheets, so every text cell goes
through :func:`~iadbench.contract.text.spreadsheet_cell`: a cell starting with ``= + - @``, a
tab, CR or NUL gets a leading ``'`` (a category ``=cmd|' -C calc'!A0`` is shown, never evaluated;
OWASP ASVS 1.2.10) and bidirectional controls (U+202E) become a visible ``<U+202E>``; numbers stay
numbers. The CSV writer quotes commas, quotes and newlines.

Example:
    >>> from pathlib import Path
    >>> from iadbench.views.leaderboard import collect_runs
    >>> from iadbench.views.leaderboard.export import leaderboard_csv
    >>> text = leaderboard_csv(collect_runs(Path("results")))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from iadbench.contract.text import spreadsheet_cell
from iadbench.views.leaderboard.collect import CollectedRuns
from iadbench.views.leaderboard.rows import LeaderboardRow
from iadbench.views.model import Presentation
from iadbench.views.pixel_figures import PIXEL_COLUMNS, pixel_values
from iadbench.views.score_figures import (
    SCORE_COLUMNS,
    collected_score_columns,
    score_values,
)

#: Groups of records, in the order they are written per row.
GROUPS: tuple[str, ...] = ("pooled", "class_mean", "category")
#: Metric columns (the summary's keys); ``collapsed`` is a boolean.
METRIC_COLUMNS: tuple[str, ...] = (
    "n", "accuracy", "f1_macro", "balanced_accuracy", "invalid_rate", "errors", "auroc", "ap",
    "collapsed",
)  # fmt: skip
#: Identifying columns, then :data:`METRIC_COLUMNS`. ``shown_label`` names the threshold too
#: where runs of one method in a direction differ in it; ``threshold_marker`` is ``‡`` for an
#: oracle threshold; ``beats`` is the statistics table's Beats cell (``not counted‡`` for an
#: oracle run, empty for a derived baseline or a run without statistics).
KEY_COLUMNS: tuple[str, ...] = (
    "train_dataset", "test_dataset", "test_split", "method", "label", "shown_label",
    "train_split", "threshold", "threshold_marker", "tiny", "derived", "run_dir", "config_hash",
    "beats", "group", "category",
)  # fmt: skip
#: ``one_label`` (the tables' ∅): the group's test images hold one label (class_mean: some
#: category's do), so its accuracy means nothing and AUROC / AP are undefined.
#: Then score methods' operating points and calibration (``summary.json``'s ``operating_points``
#: and ``score_calibration``; empty / null for other runs and for runs stored before them):
#: recall and miss rate at FAR ≤ 1 % / 5 %, FAR at recall ≥ 95 % / 99 %, F1-max, F1 at the run's
#: threshold, ECE, Brier score. Then map methods' ``pixel_auroc`` and ``aupro``
#: (``pixel_metrics``: pooled, class mean, per category; empty / null for runs without it).
#: Added columns, the same format version: readers by name unchanged. A collection holding runs
#: summarised at other targets (``run --far-targets 0.1``) gets a column per other target after
#: all of these (:func:`columns`), so :data:`COLUMNS` always starts the header.
COLUMNS: tuple[str, ...] = (
    KEY_COLUMNS + METRIC_COLUMNS + ("one_label",) + SCORE_COLUMNS + PIXEL_COLUMNS
)


def _score_columns(runs: CollectedRuns) -> tuple[str, ...]:
    """:data:`SCORE_COLUMNS`, then a column per other target the runs recorded."""
    return collected_score_columns([run.summary for run in runs.runs])


def columns(runs: CollectedRuns) -> tuple[str, ...]:
    """The columns of a collection: :data:`COLUMNS`, plus any other target its runs recorded."""
    return COLUMNS + _score_columns(runs)[len(SCORE_COLUMNS) :]


FORMAT_VERSION = 1


def leaderboard_records(runs: CollectedRuns) -> list[dict[str, Any]]:
    """One record per row, direction and group (see the module docstring), in table order.

    Args:
        runs: Output of :func:`~iadbench.views.leaderboard.collect.collect_runs`.

    Returns:
        Dicts with the keys of :func:`columns`. ``run_dir`` is relative to the collected root;
        for a derived baseline it names the run whose label counts it was computed from, and
        ``config_hash`` is ``None``. ``category`` is ``None`` for the pooled and class-mean
        groups.
    """
    records = []
    model = Presentation(runs, None)
    scores = _score_columns(runs)
    order = columns(runs)
    for direction, views in model.views.items():
        for view in views:
            row = view.row
            key = {
                "train_dataset": direction.train_dataset,
                "test_dataset": direction.test_dataset,
                "test_split": direction.test_split,
                "method": row.method,
                "label": row.label,
                "shown_label": view.label,
                "train_split": row.train_split,
                "threshold": row.threshold,
                "threshold_marker": model.threshold_cell(row)[1],
                "tiny": row.tiny,
                "derived": row.derived,
                "run_dir": runs.relative(row.source.path),
                "config_hash": None if row.derived else row.source.config_hash,
                "beats": model.beats(row),
            }
            summary = {} if row.derived else row.source.summary
            for group, category, metrics in _groups(row):
                stored = "overall" if group == "pooled" else group
                single = model.one_label(row, stored, category)
                record = {**key, "group": group, "category": category,
                          **_metrics(metrics), "one_label": single,
                          **_finite(score_values(summary, stored, category, scores)),
                          **_finite(pixel_values(summary, stored, category))}  # fmt: skip
                records.append({name: record[name] for name in order})  # the columns' order
    return records


def _groups(row: LeaderboardRow) -> list[tuple[str, str | None, dict[str, Any]]]:
    groups: list[tuple[str, str | None, dict[str, Any]]] = [
        ("pooled", None, row.overall),
        ("class_mean", None, row.class_mean),
    ]
    groups += [("category", name, row.per_class[name]) for name in sorted(row.per_class)]
    return groups


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    values = {key: metrics.get(key) for key in METRIC_COLUMNS}
    values["collapsed"] = bool(values["collapsed"])
    return _finite(values)


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with a non-finite number missing (JSON has no NaN)."""
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in values.items()}  # fmt: skip


def leaderboard_csv(runs: CollectedRuns) -> str:
    """:func:`leaderboard_records` as CSV with a header row (:func:`columns`).

    ``None`` is an empty field, booleans are ``true``/``false``, floats are written with
    ``repr`` (they read back equal), text is spreadsheet-safe (see the module docstring).
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns(runs)), lineterminator="\n")
    writer.writeheader()
    for record in leaderboard_records(runs):
        writer.writerow({key: _csv_value(value) for key, value in record.items()})
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return spreadsheet_cell(value)


def leaderboard_json(runs: CollectedRuns) -> str:
    """:func:`leaderboard_records` as a JSON document: ``{"format", "columns", "records"}``.

    ``format`` is :data:`FORMAT_VERSION`; ``records`` is the list of records (key order as
    :data:`COLUMNS`). Runs skipped as unreadable are listed under ``skipped`` with the reason.
    """
    document = {
        "format": FORMAT_VERSION,
        "columns": list(columns(runs)),
        "records": leaderboard_records(runs),
        "skipped": [{"path": runs.relative(s.path), "reason": s.reason} for s in runs.skipped],
    }
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"

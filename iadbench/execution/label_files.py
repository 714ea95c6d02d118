"""What ``iadbench predict`` writes: one row per image, as JSON lines or CSV.

A CSV is opened by spreadsheets, which evaluate a cell starting with ``=`` (``=HYPERLINK(…)`` in a
model's answer, a category folder named ``=cmd|' /C calc'!A0``): every text cell goes through
:func:`iadbench.contract.text.spreadsheet_cell`. JSON lines keep the raw text (JSON is data, not
formulas).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, Final

from iadbench.contract.artifacts import map_path
from iadbench.contract.errors import IADBenchError
from iadbench.contract.files import atomic_replace
from iadbench.contract.records import Prediction, Sample
from iadbench.contract.text import spreadsheet_cell
from iadbench.runs.thresholds import final_label

#: Columns of every output row, in order (CSV header; JSONL keys). ``map``: a picture of the
#: anomaly map (AprilGAN's ``save_maps`` PNG); ``anomaly_map``: the map's values, a float16
#: ``.npy`` file (methods with ``gives_maps``).
OUTPUT_COLUMNS: Final = (
    "path", "category", "label", "score", "threshold", "text", "map", "anomaly_map", "error",
)  # fmt: skip

Row = dict[str, Any]
RowWriter = Callable[[IO[str], Iterable[Row]], None]


def output_row(
    sample: Sample,
    prediction: Prediction,
    threshold: float | None,
    artifacts_dir: Path,
    anomaly_map: Path | None = None,
) -> Row:
    """One output row (:data:`OUTPUT_COLUMNS`); the label decided by the run's ``threshold``.

    Args:
        sample: The image.
        prediction: The method's answer.
        threshold: The predictor's threshold value (None: the method's own label).
        artifacts_dir: ``<output>-artifacts``, where a ``save_maps`` PNG may lie.
        anomaly_map: The ``.npy`` file its anomaly map was written to, if any.
    """
    label = final_label(prediction.label, prediction.score, prediction.error, threshold)
    picture = map_path(artifacts_dir, sample.id)
    return {
        "path": sample.image_path, "category": sample.category, "label": label,
        "score": prediction.score, "threshold": threshold, "text": prediction.text,
        "map": str(picture) if picture.is_file() else None,
        "anomaly_map": None if anomaly_map is None else str(anomaly_map),
        "error": prediction.error,
    }  # fmt: skip


def writer_for(output: Path) -> RowWriter:
    """The writer of ``output``'s format, chosen by its suffix (checked before any work).

    Raises:
        IADBenchError: Neither ``.jsonl`` nor ``.csv``.
    """
    suffix = output.suffix.lower()
    if suffix == ".jsonl":
        return _write_jsonl
    if suffix == ".csv":
        return _write_csv
    raise IADBenchError(f"--output {output}: give a .jsonl or .csv file name")


def write_rows(output: Path, rows: Iterable[Row], writer: RowWriter) -> None:
    """Write ``rows`` to ``output`` through a temporary file: never half a file under its name."""
    # A file name that is not UTF-8 holds a lone surrogate: written as its \udcXX escape (in
    # JSON, the same escape json.dumps would write) instead of failing the whole file; durable:
    # the rename must not publish a file still in the cache.
    with atomic_replace(output, errors="backslashreplace", newline="", durable=True) as (out, _):
        writer(out, rows)


def _write_jsonl(handle: IO[str], rows: Iterable[Row]) -> None:
    for row in rows:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(handle: IO[str], rows: Iterable[Row]) -> None:
    writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
    writer.writeheader()
    writer.writerows(
        {k: "" if v is None else spreadsheet_cell(v) for k, v in row.items()} for row in rows
    )

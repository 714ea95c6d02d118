"""What ``iadbench predict`` writes: one row per image, as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from iadbench.contract.errors import IADBenchError

#: Columns of every output row, in order (CSV header; JSONL keys).
OUTPUT_COLUMNS: Final = ("path", "category", "label", "score", "threshold", "text", "map", "error")

Row = dict[str, Any]
RowWriter = Callable[[Path, list[Row]], None]


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


def write_rows(output: Path, rows: list[Row], writer: RowWriter) -> None:
    """Write ``rows`` to ``output`` through a temporary file: never half a file under its name."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(output.name + ".tmp")
    writer(temporary, rows)
    temporary.replace(output)


def _write_jsonl(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_csv(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)

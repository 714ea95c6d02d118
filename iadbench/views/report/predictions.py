"""Reading a run's ``predictions.jsonl`` for the report, with each image's final answer.

The stored ``pred`` is null for the oracle policy (decided once every score is in); the report
reads every answer through :func:`iadbench.runs.run_records.stored_answer`, as the summary does, so
its pictures agree with the summary's numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from iadbench.contract.records import DEFECT, INVALID, NORMAL
from iadbench.runs.run_records import stored_answer
from iadbench.runs.thresholds import ThresholdError

CORRECT = "correct"
WRONG = "wrong"


@dataclass(frozen=True)
class Answer:
    """One test image as the report sees it.

    Attributes:
        id: Sample id (path relative to the test dataset's root).
        category: Category folder name.
        label: Ground truth, ``defect`` or ``normal``.
        pred: Final answer, ``defect``, ``normal`` or ``invalid``.
        score: Anomaly score, when the method gives one.
        text: The model's full output, when it gives text.
        error: Why the image could not be processed, if it could not.
    """

    id: str
    category: str
    label: str
    pred: str
    score: float | None
    text: str | None
    error: str | None

    @property
    def outcome(self) -> str:
        """``correct``, ``wrong`` (a valid but wrong answer) or ``invalid``."""
        if self.pred == INVALID:
            return INVALID
        return CORRECT if self.pred == self.label else WRONG


def read_answers(path: Path, threshold_value: float | None) -> Iterator[Answer]:
    """The answers stored in a ``predictions.jsonl``, skipping lines that are not records.

    Args:
        path: The run's ``predictions.jsonl``.
        threshold_value: ``summary["threshold_value"]`` (decides records stored with a null
            ``pred``).
    """
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue  # a sealed log has none; a torn line must not stop a report
            answer = _answer(raw, threshold_value)
            if answer is not None:
                yield answer


def _answer(raw: Any, threshold_value: float | None) -> Answer | None:
    if not isinstance(raw, Mapping) or raw.get("label") not in (DEFECT, NORMAL):
        return None
    score = raw.get("score")
    score = float(score) if isinstance(score, int | float) else None
    error = raw.get("error")
    try:
        pred = stored_answer(raw, threshold_value)
    except ThresholdError:
        pred = INVALID
    text = raw.get("text")
    return Answer(
        str(raw.get("id", "")),
        str(raw.get("category", "")),
        str(raw["label"]),
        pred,
        score,
        text if isinstance(text, str) else None,
        None if error is None else str(error),
    )


def safe_relative(sample_id: str) -> PurePosixPath | None:
    """``sample_id`` as a relative path that stays inside its root, or None (``..``, absolute)."""
    relative = PurePosixPath(sample_id)
    if not sample_id or relative.is_absolute() or ".." in relative.parts:
        return None
    return relative

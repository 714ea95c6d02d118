"""A run's test images as the report reads them: :class:`~iadbench.runs.reader.Outcome` each.

The stored ``pred`` is null for the oracle policy (decided once every score is in); the reader
decides every answer as the summary does, so the report's pictures agree with its numbers. The
report reads tolerantly: a torn line, or a record it cannot decide, must not stop a report.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from iadbench.runs.reader import Outcome, StoredRun


def report_outcomes(run: StoredRun) -> list[Outcome]:
    """The run's outcomes, skipping lines that are not records; none when the file is unreadable.

    An undecidable record (no score or threshold) reads as ``invalid``.
    """
    try:
        return run.outcomes(tolerant=True)
    except (OSError, UnicodeDecodeError):
        return []


def safe_relative(sample_id: str) -> PurePosixPath | None:
    """``sample_id`` as a relative path that stays inside its root, or None (``..``, absolute)."""
    relative = PurePosixPath(sample_id)
    if not sample_id or relative.is_absolute() or ".." in relative.parts:
        return None
    return relative

"""The seal of ``summary.json``: digests of its predictions and of itself.

``summary.json`` carries ``digest.predictions``, the SHA-256 of the ``predictions.jsonl`` bytes it
was computed from, and ``digest.summary``, the SHA-256 of its own canonical JSON without the
``digest`` key. A summary edited by hand, or predictions changed after the summary was computed,
no longer match and are refused by ``run``, ``leaderboard``, ``compare`` and ``predict``. A digest
detects edits, not forgery: anyone can recompute one, and it is not a signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from iadbench.runs.layout import PREDICTIONS, SUMMARY
from iadbench.runs.schema import SUMMARY_SCHEMA, Summary

DIGEST_KEY = "digest"


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file's bytes, or None when it does not exist."""
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _summary_sha256(summary: Mapping[str, Any]) -> str:
    body = {k: v for k, v in summary.items() if k != DIGEST_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def seal_summary(summary: Summary, predictions_path: Path) -> Summary:
    """``summary`` with its schema and the digests of its predictions and of itself."""
    body = {k: v for k, v in summary.items() if k != DIGEST_KEY}
    sealed = cast(Summary, {"schema": SUMMARY_SCHEMA, **body})
    sealed["digest"] = {
        "predictions": file_sha256(predictions_path),
        "summary": _summary_sha256(sealed),
    }
    return sealed


class SealProblem(str):
    """Why a summary's seal does not hold (a ``str`` subclass, so it reads as its message)."""

    unsealed: bool = False


def seal_problem(summary: Mapping[str, Any], predictions_path: Path) -> SealProblem | None:
    """Why ``summary`` cannot be trusted as computed from ``predictions_path``, or None.

    ``unsealed`` is set on the returned problem when the summary simply has no digest (written
    by an iadbench before summary schema 2): it can be recomputed from its predictions.
    """
    digest = summary.get(DIGEST_KEY)
    if not isinstance(digest, dict):
        problem = SealProblem(
            f"{SUMMARY} carries no digest (written by an iadbench before summary schema 2)"
        )
        problem.unsealed = True
        return problem
    if digest.get("summary") != _summary_sha256(summary):
        return SealProblem(
            f"{SUMMARY} was changed after iadbench wrote it (its digest does not match its "
            "content: edited by hand?)"
        )
    if digest.get("predictions") != file_sha256(predictions_path):
        return SealProblem(
            f"{PREDICTIONS} was changed after {SUMMARY} was computed from it (the digest "
            f"recorded in {SUMMARY} does not match the file)"
        )
    return None

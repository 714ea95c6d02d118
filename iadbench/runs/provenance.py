"""Where a run's predictions come from: versions, source revision, and the attempts that wrote them.

Every start of a run (first or resumed) appends one entry to ``manifest["attempts"]`` with the
versions, git commit, device, processes and batch size it ran with and how many predictions
existed when it started; ``summary["provenance"]`` says when the predictions come from more than
one attempt and whether those attempts differed.
"""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from iadbench.runs.schema import Attempt, Manifest, Provenance, now

# Read from package metadata, never imported: recording torch's version must not load torch.
TRACKED_PACKAGES: tuple[str, ...] = (
    "iadbench", "numpy", "scikit-learn", "pillow", "torch", "torchvision", "transformers", "trl",
    "peft", "accelerate", "deepspeed", "open-clip-torch", "anomalib", "flash-attn",
)  # fmt: skip
# What, when it differs between attempts that wrote predictions, makes a run's provenance mixed.
PROVENANCE_KEYS = ("versions", "git", "device", "processes", "batch_size")


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change results (absent ones omitted)."""
    found = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


@cache
def git_revision() -> dict[str, str | bool] | None:
    """Commit and dirty flag of the iadbench source checkout, or None outside a git checkout."""
    source = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def previous_attempts(manifest: Manifest | dict[str, Any] | None) -> list[Attempt]:
    """The attempt entries of an earlier manifest; an older integer count becomes unknown entries.

    A manifest of schema 1 only counted attempts: each becomes ``{"number": i, "unknown": true}``
    so the history keeps its length and a later summary can say what it does not know.
    """
    if not manifest:
        return []
    attempts = manifest.get("attempts")
    if isinstance(attempts, list):
        return [cast(Attempt, a) for a in attempts if isinstance(a, dict)]
    if isinstance(attempts, int) and attempts > 0:
        return [Attempt(number=i + 1, unknown=True) for i in range(attempts)]
    return []


def attempt_entry(
    number: int,
    *,
    versions: dict[str, str],
    git: dict[str, Any] | None,
    device: str,
    processes: int,
    batch_size: int,
    predictions_at_start: int,
) -> Attempt:
    """One attempt's provenance, as the manifest records it."""
    return {
        "number": number,
        "started": now(),
        "versions": versions,
        "git": git,
        "device": device,
        "processes": processes,
        "batch_size": batch_size,
        "predictions_at_start": predictions_at_start,
    }


def provenance(attempts: list[Attempt], n_predictions: int) -> Provenance:
    """Which attempts wrote the final predictions, and how those attempts differed.

    Args:
        attempts: The manifest's attempt entries, oldest first, the current one last.
        n_predictions: Predictions in the file now.

    Returns:
        ``{"attempts": N, "contributing": [numbers], "mixed": bool, "differences": [...]}``;
        ``mixed`` is true when two contributing attempts differ in any of
        :data:`PROVENANCE_KEYS` or when one of them is unknown (an older manifest).
    """
    contributing = []
    for index, attempt in enumerate(attempts):
        start = attempt.get("predictions_at_start")
        end = (
            attempts[index + 1].get("predictions_at_start")
            if index + 1 < len(attempts)
            else n_predictions
        )
        if attempt.get("unknown") or not isinstance(start, int) or not isinstance(end, int):
            contributing.append(attempt)  # cannot tell: assume it wrote some
        elif end > start:
            contributing.append(attempt)
    differences: list[str] = []
    if any(a.get("unknown") for a in contributing) and len(contributing) > 1:
        differences.append("an earlier attempt recorded no provenance (older iadbench)")
    known = [a for a in contributing if not a.get("unknown")]
    for key in PROVENANCE_KEYS:
        values = [a.get(key) for a in known]
        if any(v != values[0] for v in values[1:]):
            differences.append(_describe_difference(key, values))
    return {
        "attempts": len(attempts),
        "contributing": [a.get("number") for a in contributing],
        "mixed": bool(differences),
        "differences": differences,
    }


def _describe_difference(key: str, values: list[Any]) -> str:
    if key == "versions":
        names = sorted({name for v in values if isinstance(v, dict) for name in v})
        changed = [
            f"{name} " + " → ".join(dict.fromkeys(str((v or {}).get(name)) for v in values))
            for name in names
            if len({str((v or {}).get(name)) for v in values}) > 1
        ]
        return "versions: " + "; ".join(changed)
    if key == "git":
        commits = [
            f"{v.get('commit', '?')[:12]}{'+dirty' if v.get('dirty') else ''}"
            if isinstance(v, dict)
            else "none"
            for v in values
        ]
        return "git: " + " → ".join(dict.fromkeys(commits))
    return f"{key}: " + " → ".join(dict.fromkeys(str(v) for v in values))

"""Find stored runs under a directory and load what the leaderboard needs from them.

A stored run is a directory holding ``summary.json`` and ``manifest.json`` (written by the run
store). Only runs whose manifest says ``"complete"`` are kept: a half-finished run would put
numbers of a subset of the test images beside full ones. Everything that is not kept is listed
in :attr:`CollectedRuns.skipped` with the reason, so the leaderboard can say what it left out.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iadbench.errors import IADBenchError
from iadbench.run_records import seal_problem, summary_problem

SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
PREDICTIONS_FILE = "predictions.jsonl"
COMPLETE = "complete"
_HASH_PREFIX = 8


@dataclass(frozen=True)
class SkippedRun:
    """A run directory left out of the leaderboard.

    Attributes:
        path: The run directory.
        reason: Why it was left out (incomplete, unreadable, duplicate, ...).
    """

    path: Path
    reason: str


@dataclass(frozen=True)
class StoredRun:
    """One complete stored run.

    Attributes:
        path: The run directory.
        summary: The parsed ``summary.json``.
        manifest: The parsed ``manifest.json``.
        label: Row label (raw, not escaped): the method name, plus ``[hash8]`` when another kept
            run has the same :attr:`identity` but a different configuration.
    """

    path: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    label: str = ""

    @property
    def method(self) -> str:
        """Registered method name."""
        return str(self.summary["method"])

    @property
    def config_hash(self) -> str:
        """Content hash of the run's configuration."""
        return str(self.summary["config_hash"])

    @property
    def train_dataset(self) -> str | None:
        """Dataset the method trained on; None for a zero-shot run (``summary["train"]`` null).

        Runs stored before zero-shot runs were keyed by their test set alone name the dataset
        they were paired with.
        """
        train = self.summary["train"]
        return None if train is None else str(train["dataset"])

    @property
    def train_split(self) -> str | None:
        """Split of the training dataset, as recorded; None for a zero-shot run."""
        train = self.summary["train"]
        return None if train is None else str(train["split"])

    @property
    def trains(self) -> bool:
        """Whether the method has a training stage (``capabilities.trains``; missing: no)."""
        capabilities = self.summary.get("capabilities")
        return isinstance(capabilities, dict) and capabilities.get("trains") is True

    @property
    def shown_train_split(self) -> str | None:
        """The training split where it means something: ``None`` for a method that never trains."""
        return self.train_split if self.trains else None

    @property
    def test_dataset(self) -> str:
        """Dataset the method was scored on."""
        return str(self.summary["test"]["dataset"])

    @property
    def test_split(self) -> str:
        """Split of the test dataset."""
        return str(self.summary["test"]["split"])

    @property
    def threshold(self) -> str | None:
        """Threshold policy (``fixed:0.5``, ``calibrated``, ``oracle``) or ``None``."""
        value = self.summary.get("threshold")
        return None if value is None else str(value)

    @property
    def tiny(self) -> bool:
        """Whether the run used random-weight tiny models: ``summary["tiny"]`` alone decides.

        The runner records ``false`` for a method that builds no model even under ``--tiny``.
        """
        return self.summary.get("tiny") is True

    @property
    def identity(self) -> tuple[str, str | None, str | None, str, str, str | None]:
        """What a reader takes a row to mean: method, train/test dataset and split, threshold.

        The training split counts only for methods that train, as only they show it.
        """
        return (self.method, self.train_dataset, self.shown_train_split,
                self.test_dataset, self.test_split, self.threshold)  # fmt: skip


@dataclass(frozen=True)
class CollectedRuns:
    """The complete runs found under a directory, and what was left out.

    Attributes:
        root: The directory that was searched.
        runs: Kept runs, sorted by path relative to ``root``.
        skipped: Left-out run directories with reasons, sorted by path.
    """

    root: Path
    runs: list[StoredRun] = field(default_factory=list)
    skipped: list[SkippedRun] = field(default_factory=list)

    def relative(self, path: Path) -> str:
        """``path`` relative to :attr:`root` with forward slashes (for stable output)."""
        return _relative(self.root, path)


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return path.as_posix()


def collect_runs(directory: Path) -> CollectedRuns:
    """Load every complete stored run below ``directory``.

    Args:
        directory: Searched recursively for directories holding ``summary.json``; symbolic links
            to directories are not followed (no loops, no runs counted twice).

    Returns:
        Kept runs (one per configuration hash, labelled so rows stay distinguishable) and the
        skipped ones with reasons.

    Raises:
        IADBenchError: ``directory`` does not exist, is not a directory, or holds no complete
            run; or a complete run's summary does not match its seal (edited by hand, its
            predictions changed, or written before summaries were sealed).
    """
    directory = Path(directory)
    if not directory.exists():
        raise IADBenchError(f"Results directory {directory} does not exist.")
    if not directory.is_dir():
        raise IADBenchError(f"{directory} is not a directory; pass the folder holding the runs.")
    loaded: list[StoredRun] = []
    skipped: list[SkippedRun] = []
    unsealed: list[str] = []
    for run_dir in _run_directories(directory):
        run_or_reason = _load_run(run_dir)
        if isinstance(run_or_reason, str):
            skipped.append(SkippedRun(run_dir, run_or_reason))
        elif problem := seal_problem(run_or_reason.summary, run_dir / PREDICTIONS_FILE):
            unsealed.append(f"{_relative(directory, run_dir)}: {problem}")
        else:
            loaded.append(run_or_reason)
    if unsealed:
        raise IADBenchError(
            f"{len(unsealed)} run(s) under {directory} do not match their evidence, and a "
            "leaderboard is built from untouched results only: " + "; ".join(unsealed) + ". "
            "Run the same `iadbench run` command again for each (an unsealed summary is "
            "recomputed from its predictions; an edited one is refused until restored or re-run "
            "with --overwrite), or move those dirs out of the results folder."
        )
    kept, duplicates = _drop_duplicate_hashes(loaded, directory)
    skipped.extend(duplicates)
    if not kept:
        detail = f" ({len(skipped)} skipped, e.g. {skipped[0].reason})" if skipped else ""
        raise IADBenchError(
            f"No complete run found under {directory}{detail}. A run directory holds summary.json "
            "and a manifest.json with status 'complete'; run `iadbench run` or `iadbench matrix` "
            "first."
        )
    by_path = sorted(_label_runs(kept), key=lambda run: _relative(directory, run.path))
    skipped.sort(key=lambda item: _relative(directory, item.path))
    return CollectedRuns(directory, by_path, skipped)


def _run_directories(root: Path) -> list[Path]:
    found = []
    for current, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()  # deterministic walk order
        if SUMMARY_FILE in names:
            found.append(Path(current))
    return sorted(found)


def _read_json(path: Path) -> dict[str, Any] | str:
    """The parsed object, or a reason string when it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {path.name}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"unreadable {path.name} ({type(exc).__name__})"
    if not isinstance(data, dict):
        return f"{path.name} is not a JSON object"
    return data


def _load_run(run_dir: Path) -> StoredRun | str:
    manifest = _read_json(run_dir / MANIFEST_FILE)
    if isinstance(manifest, str):
        return manifest
    status = manifest.get("status")
    if status != COMPLETE:
        return f"run not complete (status {status!r})"
    summary = _read_json(run_dir / SUMMARY_FILE)
    if isinstance(summary, str):
        return summary
    if problem := summary_problem(summary):
        return f"summary.json {problem}"
    manifest_hash = manifest.get("config_hash")
    if manifest_hash is not None and manifest_hash != summary["config_hash"]:
        return "manifest.json and summary.json disagree on config_hash"
    return StoredRun(run_dir, summary, manifest, label=str(summary["method"]))


def _drop_duplicate_hashes(
    runs: list[StoredRun], root: Path
) -> tuple[list[StoredRun], list[SkippedRun]]:
    """One run per config hash: the most recently updated, then the first by path."""
    by_hash: dict[str, list[StoredRun]] = {}
    for run in runs:
        by_hash.setdefault(run.config_hash, []).append(run)
    kept: list[StoredRun] = []
    dropped: list[SkippedRun] = []
    for group in by_hash.values():
        group.sort(key=lambda run: run.path.as_posix())
        # Stable sort: among equal timestamps the first path wins.
        group.sort(key=lambda run: str(run.manifest.get("updated", "")), reverse=True)
        winner = group[0]
        kept.append(winner)
        where = _relative(root, winner.path)
        dropped.extend(
            SkippedRun(run.path, f"same configuration (config_hash) as {where}, kept that one")
            for run in group[1:]
        )
    return kept, dropped


def _label_runs(runs: list[StoredRun]) -> list[StoredRun]:
    """Add ``[hash]`` to the label of runs whose identity is shared by another configuration."""
    shared = Counter(run.identity for run in runs)
    labelled = []
    for run in runs:
        if shared[run.identity] == 1:
            labelled.append(run)
            continue
        others = [o.config_hash for o in runs if o.identity == run.identity and o is not run]
        width = _HASH_PREFIX
        # Lengthen the prefix in the (unlikely) case two hashes share their first 8 characters.
        while width < len(run.config_hash) and any(
            o[:width] == run.config_hash[:width] for o in others
        ):
            width += 4
        label = f"{run.method} [{run.config_hash[:width]}]"
        labelled.append(StoredRun(run.path, run.summary, run.manifest, label))
    return labelled

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
from typing import Any, NamedTuple

from iadbench.errors import IADBenchError
from iadbench.metrics import class_mean, compute_metrics
from iadbench.records import DEFECT, NORMAL

SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
COMPLETE = "complete"
# Metric keys every group of a summary must carry for a table cell to be computed from it.
_REQUIRED_METRICS = ("n", "accuracy", "f1_macro")
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
            run has the same method, datasets, splits and threshold but a different configuration.
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
    def train_dataset(self) -> str:
        """Dataset the method trained on (or was paired with, for methods without training)."""
        return str(self.summary["train"]["dataset"])

    @property
    def train_split(self) -> str:
        """Split of the training dataset."""
        return str(self.summary["train"]["split"])

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
        """Whether the run used random-weight tiny models."""
        return bool(self.summary.get("tiny", False))

    @property
    def identity(self) -> tuple[str, str, str, str, str, str | None]:
        """What a reader takes a row to mean: method, train/test dataset and split, threshold."""
        return (self.method, self.train_dataset, self.train_split,
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
        IADBenchError: ``directory`` does not exist, is not a directory, or holds no complete run.
    """
    directory = Path(directory)
    if not directory.exists():
        raise IADBenchError(f"Results directory {directory} does not exist.")
    if not directory.is_dir():
        raise IADBenchError(f"{directory} is not a directory; pass the folder holding the runs.")
    loaded: list[StoredRun] = []
    skipped: list[SkippedRun] = []
    for run_dir in _run_directories(directory):
        run_or_reason = _load_run(run_dir)
        if isinstance(run_or_reason, str):
            skipped.append(SkippedRun(run_dir, run_or_reason))
        else:
            loaded.append(run_or_reason)
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
    if problem := _summary_problem(summary):
        return f"summary.json {problem}"
    manifest_hash = manifest.get("config_hash")
    if manifest_hash is not None and manifest_hash != summary["config_hash"]:
        return "manifest.json and summary.json disagree on config_hash"
    return StoredRun(run_dir, summary, manifest, label=str(summary["method"]))


def _summary_problem(summary: dict[str, Any]) -> str | None:
    """What makes a summary unusable, or ``None``."""
    for key in ("method", "config_hash"):
        if not isinstance(summary.get(key), str) or not summary[key]:
            return f"lacks a {key!r} string"
    for side in ("train", "test"):
        part = summary.get(side)
        if not isinstance(part, dict) or not all(
            isinstance(part.get(k), str) for k in ("dataset", "split")
        ):
            return f"lacks {side}.dataset / {side}.split"
    threshold = summary.get("threshold")
    if threshold is not None and not isinstance(threshold, str):
        return "has a threshold that is not a string"
    per_class = summary.get("per_class")
    if not isinstance(per_class, dict) or not per_class:
        return "lacks per_class metrics"
    groups = {"overall": summary.get("overall"), "class_mean": summary.get("class_mean")}
    groups.update({f"per_class.{name}": value for name, value in per_class.items()})
    for name, group in groups.items():
        if not isinstance(group, dict) or any(
            not isinstance(group.get(k), (int, float)) for k in _REQUIRED_METRICS
        ):
            return f"lacks {'/'.join(_REQUIRED_METRICS)} in {name}"
    return None


def _drop_duplicate_hashes(
    runs: list[StoredRun], root: Path
) -> tuple[list[StoredRun], list[SkippedRun]]:
    """One run per config hash: the most recently updated, then the first by path."""
    by_hash: dict[str, list[StoredRun]] = {}
    for run in runs:
        by_hash.setdefault(run.config_hash, []).append(run)
    kept, dropped = [], []
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


# --- Rows of the leaderboard: stored runs grouped by direction, plus derived trivial baselines.

TRIVIAL_BASELINES: tuple[str, ...] = ("always-defect", "always-normal")
# The paper's row order; other methods follow alphabetically.
PAPER_ORDER: tuple[str, ...] = ("winclip", "aprilgan", "anomalygpt", "qwen2-vl", "lr-iad")
_BASELINE_PREDICTION = {"always-defect": DEFECT, "always-normal": NORMAL}


class Direction(NamedTuple):
    """A cross-dataset cell of the matrix: trained on one dataset, scored on a split of another."""

    train_dataset: str
    test_dataset: str
    test_split: str


@dataclass(frozen=True)
class LeaderboardRow:
    """One method configuration in one direction, as the tables show it.

    Attributes:
        label: Raw (unescaped) row label, see :attr:`StoredRun.label`.
        method: Registered method name.
        train_split: Split of the training dataset; ``None`` for derived baselines.
        threshold: Threshold policy or ``None``.
        tiny: Random-weight tiny models.
        derived: Computed from another run's label counts, not stored.
        overall: Pooled metrics (keys of :data:`iadbench.metrics.SUMMARY_KEYS`).
        class_mean: Unweighted mean over categories.
        per_class: Metrics per category.
        source: The stored run itself, or for a derived row the run whose counts it used.
    """

    label: str
    method: str
    train_split: str | None
    threshold: str | None
    tiny: bool
    derived: bool
    overall: dict[str, Any]
    class_mean: dict[str, Any]
    per_class: dict[str, dict[str, Any]]
    source: StoredRun

    @property
    def key(self) -> tuple[str, str, str, bool, bool]:
        """Identity of a pooled-table row, shared by the same configuration across directions."""
        return (self.label, self.train_split or "", self.threshold or "", self.tiny, self.derived)

    @classmethod
    def from_run(cls, run: StoredRun) -> LeaderboardRow:
        """The row of a stored run."""
        s, label = run.summary, run.label or run.method
        return cls(label, run.method, run.train_split, run.threshold, run.tiny, False,
                   s["overall"], s["class_mean"], s["per_class"], run)  # fmt: skip


@dataclass(frozen=True)
class DirectionRows:
    """The rows of one direction and where its image counts come from.

    Attributes:
        rows: Sorted rows (trivial baselines first, then the paper's order, then alphabetical).
        counts_source: The run whose per-category label counts give the ``n`` column and the
            derived baselines.
        counts_differ: Rows scored on different label counts than ``counts_source``.
    """

    rows: list[LeaderboardRow]
    counts_source: StoredRun
    counts_differ: list[LeaderboardRow]


def row_order(row: LeaderboardRow) -> tuple[Any, ...]:
    """Sort key of rows: baselines, the paper's methods in its order, others alphabetically."""
    order = TRIVIAL_BASELINES + PAPER_ORDER
    rank = order.index(row.method) if row.method in order else len(order)
    return (rank, row.method, row.derived, row.tiny, row.train_split or "", row.threshold or "",
            row.label)  # fmt: skip


def label_counts(per_class: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]] | None:
    """(defects, normals) per category from confusion counts, or ``None`` when they are missing.

    ``tp + fn`` counts every defect image (``fn`` includes invalid answers on defects).
    """
    counts = {}
    for category, metrics in per_class.items():
        tp, fn, n = metrics.get("tp"), metrics.get("fn"), metrics.get("n")
        if not all(isinstance(v, int) for v in (tp, fn, n)) or tp + fn > n:
            return None
        counts[category] = (tp + fn, n - tp - fn)
    return counts


def derive_baseline(
    method: str, counts: dict[str, tuple[int, int]], source: StoredRun
) -> LeaderboardRow:
    """A constant predictor's row computed from label counts with :func:`compute_metrics`.

    Args:
        method: ``"always-defect"`` or ``"always-normal"``.
        counts: (defects, normals) per category.
        source: The run the counts come from.

    Returns:
        A row marked ``derived``.
    """
    prediction = _BASELINE_PREDICTION[method]
    all_labels: list[str] = []
    per_class = {}
    for category, (defects, normals) in sorted(counts.items()):
        labels = [DEFECT] * defects + [NORMAL] * normals
        per_class[category] = compute_metrics(labels, [prediction] * len(labels))
        all_labels.extend(labels)
    overall = compute_metrics(all_labels, [prediction] * len(all_labels))
    return LeaderboardRow(
        method, method, None, None, False, True, overall, class_mean(per_class), per_class, source
    )


def group_by_direction(collected: CollectedRuns) -> dict[Direction, DirectionRows]:
    """Rows per direction, sorted, with derived baselines where no stored one exists.

    Args:
        collected: Output of :func:`collect_runs`.

    Returns:
        Directions in sorted order mapped to their rows.
    """
    grouped: dict[Direction, list[StoredRun]] = {}
    for run in collected.runs:
        direction = Direction(run.train_dataset, run.test_dataset, run.test_split)
        grouped.setdefault(direction, []).append(run)
    result = {}
    for direction in sorted(grouped):
        rows = [LeaderboardRow.from_run(run) for run in grouped[direction]]
        rows.sort(key=row_order)
        # The n column and derived baselines take the counts of the run covering the most
        # categories and images (a run on a subset is the odd one out), real-size runs first.
        source_row = min(rows, key=lambda r: (
            label_counts(r.per_class) is None, r.tiny, -len(r.per_class), -int(r.overall["n"])
        ))  # fmt: skip
        counts = label_counts(source_row.per_class)
        stored = {row.method for row in rows}
        if counts is not None:
            rows.extend(
                derive_baseline(method, counts, source_row.source)
                for method in TRIVIAL_BASELINES
                if method not in stored
            )
            rows.sort(key=row_order)
        differ = [
            r for r in rows if not r.derived and label_counts(r.per_class) not in (None, counts)
        ]
        result[direction] = DirectionRows(rows, source_row.source, differ)
    return result

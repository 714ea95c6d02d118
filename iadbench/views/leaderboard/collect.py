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

from iadbench.contract.errors import IADBenchError
from iadbench.runs.run_records import seal_problem, summary_problem

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
        label: Row label (raw, not escaped): the method name, ``(first N/category)`` for a
            partial run (``--limit``), and ``[key=value, ...]`` naming the settings that differ
            when another kept run has the same :attr:`identity` (``[hash8]`` without them).
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
    def limit(self) -> int | None:
        """``--limit N`` of a partial run (the first N test images per category), else None."""
        value = self.summary.get("limit")
        return value if isinstance(value, int) else None

    @property
    def identity(self) -> tuple[str | int | None, ...]:
        """What a reader takes a row to mean: method, data, threshold and ``--limit``.

        Train and test dataset and split; a partial run is another row. The training split
        counts only for methods that train, as only they show it.
        """
        return (self.method, self.train_dataset, self.shown_train_split,
                self.test_dataset, self.test_split, self.threshold, self.limit)  # fmt: skip


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
    label = str(summary["method"])
    if isinstance(limit := summary.get("limit"), int):
        label += f" (first {limit}/category)"
    return StoredRun(run_dir, summary, manifest, label=label)


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
    """Name what differs in the label of runs whose identity is shared by another configuration.

    ``winclip [image_size=240]``: the options (and seed, ``--limit``, method version, data
    fingerprints) whose recorded values differ within the group, with this run's values. Runs
    without a recorded configuration, or that still share a label, get ``[hash]`` instead.
    """
    groups: dict[tuple[str | int | None, ...], list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(run.identity, []).append(run)
    labels: dict[int, str] = {}
    for group in groups.values():
        if len(group) == 1:
            continue
        for run in group:
            variant = _variant(run, group)
            labels[id(run)] = f"{run.label} [{variant}]" if variant else ""
        taken = Counter(labels[id(run)] for run in group)
        for run in group:
            if not labels[id(run)] or taken[labels[id(run)]] > 1:
                labels[id(run)] = f"{run.label} [{_unique_hash(run, group)}]"
    return [
        StoredRun(run.path, run.summary, run.manifest, labels[id(run)])
        if id(run) in labels
        else run
        for run in runs
    ]


def _variant(run: StoredRun, group: list[StoredRun]) -> str:
    """``key=value`` of the recorded settings that differ within ``group``; "" when unknown."""
    settings = [_settings(other) for other in group]
    if not all(settings):
        return ""
    mine = _settings(run)
    keys = dict.fromkeys(key for recorded in settings for key in recorded)
    differing = [
        key for key in keys if len({json.dumps(s.get(key), sort_keys=True) for s in settings}) > 1
    ]
    return ", ".join(f"{key}={_shown(mine.get(key))}" for key in differing)


def _settings(run: StoredRun) -> dict[str, Any]:
    """A run's recorded configuration as flat, readable keys (options by name, data by role)."""
    config = run.manifest.get("config")
    if not isinstance(config, dict):
        return {}
    flat: dict[str, Any] = dict(config.get("options") or {})
    for key in ("seed", "limit", "method_version"):
        if key in config:
            flat["version" if key == "method_version" else key] = config[key]
    for role in ("train", "test"):
        side = config.get(role)
        flat[f"{role} data"] = side.get("fingerprint") if isinstance(side, dict) else None
    flat["calibration data"] = config.get("calibration_fingerprint")
    return flat


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:  # a fingerprint: its prefix tells it apart
        return value[:_HASH_PREFIX]
    return json.dumps(value) if not isinstance(value, str) else value


def _unique_hash(run: StoredRun, group: list[StoredRun]) -> str:
    """The shortest prefix (8, 12, ... characters) of the config hash no other run shares."""
    others = [o.config_hash for o in group if o is not run]
    width = _HASH_PREFIX
    while width < len(run.config_hash) and any(
        o[:width] == run.config_hash[:width] for o in others
    ):
        width += 4
    return run.config_hash[:width]

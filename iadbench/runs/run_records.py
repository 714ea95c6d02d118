"""The records of a run dir, ``manifest.json`` and ``summary.json``: their one owner.

The runner writes them through this module and the leaderboard reads them through it, so their
format, schema version, seal (digests) and structural checks live in one place.

Seal: ``summary.json`` carries ``digest.predictions``, the SHA-256 of the ``predictions.jsonl``
bytes it was computed from, and ``digest.summary``, the SHA-256 of its own canonical JSON without
the ``digest`` key. A summary edited by hand, or predictions changed after the summary was
computed, no longer match and are refused by ``run`` and ``leaderboard``. A digest detects
edits, not forgery: anyone can recompute one, and it is not a signature.

Attempts: every start of a run (first or resumed) appends one entry to ``manifest["attempts"]``
with the versions, git commit, device, processes and batch size it ran with and how many
predictions existed when it started; ``summary["provenance"]`` says when the predictions come
from more than one attempt and whether those attempts differed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from iadbench.runs.provenance import git_revision, package_versions
from iadbench.runs.runspec import ZERO_SHOT
from iadbench.runs.thresholds import final_label

if TYPE_CHECKING:
    from iadbench.analysis.statistics import StatisticsBlock
    from iadbench.contract.method import MethodAdapter
    from iadbench.contract.records import Sample
    from iadbench.execution.planning import PlannedRun
    from iadbench.runs.store import RunStore


class PredictionRecord(TypedDict):
    """One line of ``predictions.jsonl`` (keys in this order; see docs/results.md)."""

    id: str
    category: str
    label: str
    pred: str | None  # None: a score awaiting the oracle's threshold
    score: float | None
    text: str | None
    error: str | None


class Attempt(TypedDict, total=False):
    """One start of a run (first or resumed), as ``manifest["attempts"]`` keeps it."""

    number: int
    started: str
    versions: dict[str, str]
    git: dict[str, Any] | None
    device: str
    processes: int
    batch_size: int
    predictions_at_start: int
    unknown: bool  # an attempt counted by an older manifest, without provenance


class Provenance(TypedDict):
    """``summary["provenance"]``: which attempts wrote the predictions, and how they differed."""

    attempts: int
    contributing: list[int | None]
    mixed: bool
    differences: list[str]


class DatasetSide(TypedDict):
    """``summary["train"]`` / ``summary["test"]``."""

    dataset: str
    split: str


class Manifest(TypedDict, total=False):
    """``manifest.json`` (schema :data:`MANIFEST_SCHEMA`)."""

    schema: int
    status: str  # running | interrupted | failed | complete
    error: str  # with status failed
    command: list[str]
    config_hash: str
    config: dict[str, Any]
    threshold: str | None
    seed: int
    n_test: int
    method: dict[str, Any]
    device: str
    versions: dict[str, str]
    git: dict[str, Any] | None
    created: str
    updated: str
    processes: int
    attempts: list[Attempt]
    content_fingerprints: dict[str, str] | None
    trained_artifacts: str


class Summary(TypedDict, total=False):
    """``summary.json`` (schema :data:`SUMMARY_SCHEMA`); metric groups from ``analysis.metrics``."""

    schema: int
    method: str
    train: DatasetSide | None  # None: a zero-shot run, keyed by its test set alone
    test: DatasetSide
    threshold: str | None
    threshold_value: float | None
    calibration: dict[str, Any] | None
    config_hash: str
    tiny: bool
    capabilities: dict[str, bool]
    overall: dict[str, Any]
    class_mean: dict[str, Any]
    per_class: dict[str, dict[str, Any]]
    lenient: dict[str, Any]
    per_defect_type: dict[str, dict[str, dict[str, Any]]]
    statistics: StatisticsBlock
    provenance: Provenance
    digest: dict[str, str | None]


MANIFEST_SCHEMA = 2  # 2: attempts are a list of provenance entries, content fingerprints
SUMMARY_SCHEMA = 2  # 2: digest (seal) and provenance
DIGEST_KEY = "digest"
# Metric keys every group of a summary must carry for a table cell to be computed from it.
REQUIRED_METRICS = ("n", "accuracy", "f1_macro")
# What, when it differs between attempts that wrote predictions, makes a run's provenance mixed.
PROVENANCE_KEYS = ("versions", "git", "device", "processes", "batch_size")


def now() -> str:
    """UTC time stamp as manifests record it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- seal --------------------------------------------------------------------------------------


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


def seal_problem(summary: dict[str, Any], predictions_path: Path) -> SealProblem | None:
    """Why ``summary`` cannot be trusted as computed from ``predictions_path``, or None.

    ``unsealed`` is set on the returned problem when the summary simply has no digest (written
    by an iadbench before summary schema 2): it can be recomputed from its predictions.
    """
    digest = summary.get(DIGEST_KEY)
    if not isinstance(digest, dict):
        problem = SealProblem(
            "summary.json carries no digest (written by an iadbench before summary schema 2)"
        )
        problem.unsealed = True
        return problem
    if digest.get("summary") != _summary_sha256(summary):
        return SealProblem(
            "summary.json was changed after iadbench wrote it (its digest does not match its "
            "content: edited by hand?)"
        )
    if digest.get("predictions") != file_sha256(predictions_path):
        return SealProblem(
            "predictions.jsonl was changed after summary.json was computed from it (the digest "
            "recorded in summary.json does not match the file)"
        )
    return None


# --- structure ----------------------------------------------------------------------------------


def stored_answer(record: Mapping[str, Any], threshold_value: float | None) -> str:
    """A stored prediction's final answer, as the summary counts it.

    Its ``pred``; an oracle run's records are stored undecided (``pred`` null) and are decided
    with the run's ``threshold_value``, chosen once every score was in
    (:func:`~iadbench.runs.thresholds.final_label`). Summaries, statistics and the report all read
    answers through here.

    Raises:
        ThresholdError: An undecided record without a score or threshold to decide it.
    """
    pred = record.get("pred")
    if pred is not None:
        return str(pred)
    return final_label(None, record.get("score"), record.get("error"), threshold_value)


def train_source(summary: Mapping[str, Any], *, split: bool = False) -> str:
    """What a run trained on, for people: ``visa`` (``visa/all`` with ``split``), ``zero-shot``."""
    train = summary.get("train")
    if train is None:
        return ZERO_SHOT
    return f"{train['dataset']}/{train['split']}" if split else str(train["dataset"])


def summary_problem(summary: dict[str, Any]) -> str | None:
    """What makes a summary structurally unusable for tables, or ``None``."""
    for key in ("method", "config_hash"):
        if not isinstance(summary.get(key), str) or not summary[key]:
            return f"lacks a {key!r} string"
    for side in ("train", "test"):
        part = summary.get(side)
        if side == "train" and part is None:
            continue  # zero-shot
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
            not isinstance(group.get(k), (int, float)) for k in REQUIRED_METRICS
        ):
            return f"lacks {'/'.join(REQUIRED_METRICS)} in {name}"
    return None


# --- attempts and provenance ----------------------------------------------------------------------


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


# --- building ---------------------------------------------------------------------------------


def build_manifest(plan: PlannedRun, adapter: MethodAdapter[Any], *, n_test: int) -> Manifest:
    """The manifest of a starting attempt (``running``); attempts are added by the caller.

    ``versions`` and ``git`` are this attempt's; every attempt's are kept in ``attempts``.
    """
    return {
        "schema": MANIFEST_SCHEMA,
        "status": "running",
        "command": plan.request.command,
        "config_hash": plan.config_hash,
        "config": plan.spec.config(),
        "threshold": plan.spec.threshold,
        "seed": plan.spec.seed,
        "n_test": n_test,
        "method": {
            "name": plan.spec.method,
            "class": f"{plan.adapter_cls.__module__}.{plan.adapter_cls.__qualname__}",
            "capabilities": vars(plan.adapter_cls.capabilities),
            "resolved": adapter.describe(),
        },
        "device": plan.request.device,
        "versions": package_versions(),
        "git": git_revision(),
        "created": now(),
        "updated": now(),
    }


def build_summary(
    plan: PlannedRun,
    store: RunStore,
    test_samples: list[Sample],
    threshold_value: float | None,
    calibration: dict[str, Any] | None,
) -> Summary:
    """The summary of a finished run (unsealed: the runner seals it after adding provenance)."""
    # Imported here: scikit-learn takes seconds to import, and a finished run needs none of it.
    from iadbench.analysis.metrics import ScoredRecord, summarize
    from iadbench.analysis.statistics import run_statistics

    spec = plan.spec
    wanted = {s.id for s in test_samples}
    defect_types = {s.id: s.defect_type for s in test_samples}
    records = [  # a list: the metrics and the statistics both read it
        ScoredRecord(
            r["category"],
            r["label"],
            stored_answer(r, threshold_value),
            r.get("score"),
            r.get("error"),
            r.get("text"),
            defect_types.get(r["id"]),
        )
        for r in store.iter_predictions()
        if r["id"] in wanted
    ]
    # Text methods also get their lenient rule's figures and the 3-class F1 (see metrics).
    rules = plan.adapter_cls.answer_rules if plan.adapter_cls.capabilities.gives_text else None
    assert spec.test is not None
    train = spec.train
    summary = {
        "method": spec.method,
        "train": None if train is None else {"dataset": train.name, "split": train.split},
        "test": {"dataset": spec.test.name, "split": spec.test.split},
        "threshold": spec.threshold,
        "threshold_value": threshold_value,
        "calibration": calibration,
        "config_hash": plan.config_hash,
        "tiny": spec.tiny,
        # --limit N: a partial run (the first N test images per category); absent when whole.
        **({"limit": spec.limit} if spec.limit is not None else {}),
        "capabilities": vars(plan.adapter_cls.capabilities),
        **summarize(records, rules),
        # Bootstrap intervals (fixed B and seed, recorded) and McNemar vs the trivial baselines.
        "statistics": run_statistics(records),
    }
    # The metric groups come from iadbench.analysis.metrics as plain dicts.
    return cast(Summary, summary)

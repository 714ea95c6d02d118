"""The record formats of a run dir: ``predictions.jsonl`` lines, ``manifest``, ``summary``.

The runner writes them (:mod:`iadbench.runs.writer`, built by :mod:`iadbench.execution.summaries`)
and every reader reads them (:mod:`iadbench.runs.reader`) with these types, schema versions and
structural checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from iadbench.runs.runspec import ZERO_SHOT

#: The key of a prediction line's link in the file's digest chain, written last on every line:
#: SHA-256 of the previous line's link and this line's record (see :mod:`iadbench.runs.writer`).
CHAIN_KEY = "chain"


class PredictionLine(TypedDict):
    """One line of ``predictions.jsonl`` (keys in this order; see docs/results.md).

    ``chain`` is added by the writer as it appends the line: the record itself is the other keys.
    """

    id: str
    category: str
    label: str
    pred: str | None  # None: a score awaiting the oracle's threshold
    score: float | None
    text: str | None
    error: str | None
    map: NotRequired[str | None]  # SHA-256 of anomaly_maps/<id>.npy; absent before maps
    group: NotRequired[str]  # the physical sample of a view (Real-IAD); absent elsewhere
    chain: NotRequired[str]


#: Keys of a :class:`PredictionLine`, in the order they are written (``chain`` last).
#: The keys of every line, in order; a line of a dataset that groups views (Real-IAD) also holds
#: ``group``, after ``map``.
PREDICTION_KEYS: tuple[str, ...] = tuple(k for k in PredictionLine.__annotations__ if k != "group")


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


class McNemarBlock(TypedDict):
    """One McNemar test as ``summary.json`` holds it."""

    p_value: float
    better: int
    worse: int
    accuracy_delta: float


class BootstrapBlock(TypedDict):
    """``summary["statistics"]["bootstrap"]``: [lo, hi] per metric and group."""

    resamples: int
    seed: int
    level: float
    unit: str
    interval: str
    overall: dict[str, list[float] | None]
    class_mean: dict[str, list[float] | None]
    per_class: dict[str, dict[str, list[float] | None]]


class StatisticsBlock(TypedDict):
    """``summary["statistics"]`` (computed by :mod:`iadbench.analysis.statistics`)."""

    bootstrap: BootstrapBlock
    mcnemar: dict[str, McNemarBlock]
    mcnemar_per_class: dict[str, dict[str, McNemarBlock]]


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
    # MVTec LOCO only (iadbench.analysis.defect_groups): logical vs structural, an optional key.
    per_defect_group: dict[str, Any]
    # Score methods only (iadbench.analysis.calibration / .operating_points); added within
    # schema 2: optional keys, so older summaries read (and stay sealed) as before.
    score_calibration: dict[str, Any]
    operating_points: dict[str, Any]
    # Map methods only (iadbench.analysis.pixel_block): pixel AUROC / AUPRO, same rule.
    pixel_metrics: dict[str, Any]
    # Datasets that group views (Real-IAD) only: the figures per physical sample (score = max
    # over its views, label = any view defective); absent elsewhere.
    sample_level: dict[str, Any]
    provenance: Provenance
    digest: dict[str, str | None]


MANIFEST_SCHEMA = 2  # 2: attempts are a list of provenance entries, content fingerprints
SUMMARY_SCHEMA = 2  # 2: digest (seal) and provenance
#: Manifest status of a finished run; only such runs are read as results.
#: The operating points' default false-alarm budgets and recall targets (``run --far-targets`` /
#: ``--recall-targets`` choose others); kept here, below numpy, so that deciding whether a finished
#: run's summary holds the asked-for targets, and the views' default columns, import nothing.
DEFAULT_FAR_TARGETS: tuple[float, ...] = (0.01, 0.05)
DEFAULT_RECALL_TARGETS: tuple[float, ...] = (0.95, 0.99)
COMPLETE = "complete"
# Metric keys every group of a summary must carry for a table cell to be computed from it.
REQUIRED_METRICS = ("n", "accuracy", "f1_macro")


def now() -> str:
    """UTC time stamp as manifests record it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def as_statistics(value: Any) -> StatisticsBlock | None:
    """``value`` when it is shaped like a ``statistics`` block, else ``None`` (older summaries)."""
    if (
        isinstance(value, dict)
        and isinstance(value.get("bootstrap"), dict)
        and isinstance(value.get("mcnemar"), dict)
        and isinstance(value.get("mcnemar_per_class"), dict)
    ):
        return value  # type: ignore[return-value]
    return None

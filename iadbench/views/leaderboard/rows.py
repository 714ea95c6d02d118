"""The table model of the leaderboard: stored runs as rows, grouped by direction.

A direction is one cell of the cross-dataset matrix (trained on one dataset, scored on a split of
another). Every direction gets both trivial baselines: a stored run when there is one, otherwise a
row derived from the label counts of another run there (a constant predictor needs nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from iadbench.analysis.metrics import class_mean, compute_metrics
from iadbench.contract.records import DEFECT, NORMAL
from iadbench.contract.records import TRIVIAL_BASELINES as BASELINE_ANSWERS
from iadbench.runs.reader import StoredRun
from iadbench.runs.runspec import ZERO_SHOT
from iadbench.views.leaderboard.collect import CollectedRuns

TRIVIAL_BASELINES: tuple[str, ...] = tuple(BASELINE_ANSWERS)
# The paper's row order; other methods follow alphabetically.
PAPER_ORDER: tuple[str, ...] = ("winclip", "aprilgan", "anomalygpt", "qwen2-vl", "lr-iad")


class Direction(NamedTuple):
    """A cross-dataset cell of the matrix: trained on one dataset, scored on a split of another.

    ``train_dataset`` is :data:`~iadbench.runs.runspec.ZERO_SHOT` for a direction of zero-shot runs
    alone.
    """

    train_dataset: str
    test_dataset: str
    test_split: str


@dataclass(frozen=True)
class LeaderboardRow:
    """One method configuration in one direction, as the tables show it.

    Attributes:
        label: Raw (unescaped) row label, see :attr:`StoredRun.label`.
        method: Registered method name.
        train_split: Split of the training dataset; ``None`` for derived baselines and methods
            without a training stage (see :attr:`StoredRun.shown_train_split`).
        threshold: Threshold policy or ``None``.
        tiny: Random-weight tiny models.
        derived: Computed from another run's label counts, not stored.
        overall: Pooled metrics (keys of :data:`iadbench.analysis.metrics.SUMMARY_KEYS`).
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
        return cls(label, run.method, run.shown_train_split, run.threshold, run.tiny, False,
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


def official_counts(dataset: str) -> dict[str, tuple[int, int]]:
    """(defects, normals) per category of a dataset's All split, from its official counts.

    Empty for datasets without official counts (folder datasets).
    """
    from iadbench.data import reader_class

    counts = getattr(reader_class(dataset), "official_counts", None) or {}
    # A release whose train folder holds defects (KolektorSDD2) counts them in All too.
    return {
        c: (v.test_defect + v.train_defect, v.train_normal + v.test_normal)
        for c, v in counts.items()
    }


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
    counts: dict[str, tuple[int, int]] = {}
    for category, metrics in per_class.items():
        tp, fn, n = metrics.get("tp"), metrics.get("fn"), metrics.get("n")
        if not (isinstance(tp, int) and isinstance(fn, int) and isinstance(n, int)) or tp + fn > n:
            return None
        counts[category] = (tp + fn, n - tp - fn)
    return counts


def only_label(metrics: dict[str, Any] | None) -> str | None:
    """The one label a group's test images hold (``"defect"`` / ``"normal"``), else ``None``.

    Read from its confusion counts (:func:`label_counts`); ``None`` also when they are missing.
    On such a group accuracy means nothing (a constant answer scores 100 %) and AUROC / AP are
    undefined: a ``--limit 1`` run, or a split that left no normal test image in a category.
    """
    counts = label_counts({"": metrics}) if isinstance(metrics, dict) else None
    if counts is None:
        return None
    defects, normals = counts[""]
    if defects + normals == 0 or (defects and normals):
        return None
    return DEFECT if defects else NORMAL


def one_label(metrics: dict[str, Any] | None) -> bool:
    """Whether a group's test images hold one label only (see :func:`only_label`)."""
    return only_label(metrics) is not None


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
    prediction = BASELINE_ANSWERS[method]
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
        collected: Output of :func:`~iadbench.views.leaderboard.collect.collect_runs`.

    Returns:
        Directions in sorted order mapped to their rows.
    """
    grouped: dict[Direction, list[StoredRun]] = {}
    for run in collected.runs:
        if run.train_dataset is not None:
            direction = Direction(run.train_dataset, run.test_dataset, run.test_split)
            grouped.setdefault(direction, []).append(run)
    trained_directions = list(grouped)
    # A zero-shot run does not depend on a training dataset: it is a row of every direction that
    # tests on its test set and split; without one, it forms the direction "zero-shot→<test>".
    for run in collected.runs:
        if run.train_dataset is None:
            test = (run.test_dataset, run.test_split)
            homes = [d for d in trained_directions if (d.test_dataset, d.test_split) == test]
            for direction in homes or [Direction(ZERO_SHOT, *test)]:
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

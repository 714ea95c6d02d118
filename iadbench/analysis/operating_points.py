"""What a line would run at: recall at a false-alarm budget, false alarms at a recall, F1-max.

For score methods (defect when score ≥ T, as every threshold policy decides). The candidate
thresholds are the ROC curve's steps: every distinct score, plus "above every score" (nothing
flagged), exactly the candidates of :func:`iadbench.runs.thresholds.best_f1_threshold`. No point
between two steps is interpolated: a threshold flags every image of a tied score together, so an
operating point is always one a line could run at.

* **Recall at FAR ≤ α** (false-alarm rate = share of normal images flagged): the largest recall
  among the candidates whose FAR on the normals is ≤ α; of the thresholds giving it, the highest
  (least FAR), whose threshold and actual FAR are reported. The miss rate is 1 − recall.
  This is the ROC curve read at FPR α without interpolation (the "step" rule of scikit-learn's
  ``roc_curve`` points; anomalib's PGn and MMAD's "overkill" fix the same budget).
* **FAR at recall ≥ β**: the smallest FAR among the candidates whose recall is ≥ β; of the
  thresholds giving it, the lowest (most recall), whose threshold and actual recall are reported.
* **F1-max**: the largest macro-F1 over {defect, normal} (the F1 of every table) over the
  candidates, and its threshold (:func:`best_f1_threshold`: the oracle policy's choice), beside
  ``f1_at_threshold``, the macro-F1 at the run's own threshold.

Comparisons allow 1e-9 so that 1 false alarm in 100 normals counts as FAR ≤ 1 %.

A group gets figures when both labels occur (else ``None``). In a run's summary an image without
a score (a text method's invalid answer, an error) is placed at the wrong extreme before the
curves are drawn — a missed defect, a false alarm at every threshold — the rule of AUROC
(:func:`iadbench.analysis.metrics.ranking_scores`), so not answering never helps.

Intervals: the bootstrap of :mod:`iadbench.analysis.statistics` (unit the test image; B, seed and
level :data:`~iadbench.analysis.statistics.RESAMPLES`, ``SEED``, ``LEVEL``; one generator per group
seeded with (seed, group name) by ``group_rng``; resamples drawn as multinomial counts of cells by
``resample_cells``, here one cell per distinct (score, label), which is exactly an image bootstrap;
percentile intervals by ``percentile_interval``). Each resample re-chooses its thresholds. A
resample holding no defect or no normal image has no operating point: it is left out of the
interval and counted in ``undefined_resamples`` (``None`` intervals when every resample is).
``class_mean``: per resample, the mean of the categories' resampled values (as ``statistics``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iadbench.analysis import statistics
from iadbench.analysis.metrics import ranking_scores
from iadbench.contract.numbers import real_number
from iadbench.contract.records import DEFECT
from iadbench.runs.reader import Outcome
from iadbench.runs.schema import DEFAULT_FAR_TARGETS, DEFAULT_RECALL_TARGETS
from iadbench.runs.thresholds import best_f1_threshold

#: Default false-alarm budgets and recall targets (``run --far-targets`` / ``--recall-targets``).
FAR_TARGETS: tuple[float, ...] = DEFAULT_FAR_TARGETS
RECALL_TARGETS: tuple[float, ...] = DEFAULT_RECALL_TARGETS
_TOL = 1e-9
_CHUNK = 50  # resamples whose curves are computed at once
#: The threshold rule as ``summary.json`` records it.
RULE = (
    "thresholds at every distinct score (defect when score >= T) plus above every score; "
    "recall at FAR <= a: largest recall with FAR <= a (highest such threshold); FAR at recall >= "
    "b: smallest FAR with recall >= b (lowest such threshold); no interpolation"
)


def target_key(target: float) -> str:
    """A target as ``summary.json`` keys it: ``0.01``."""
    return f"{target:g}"


def _targets(values: Sequence[float], name: str) -> tuple[float, ...]:
    return tuple(real_number(v, name=name, minimum=0.0, maximum=1.0) for v in values)


def _cells(labels: Sequence[str], scores: Sequence[float]) -> tuple[Any, Any, Any]:
    """Distinct scores (descending), and the occupied cells (distinct score × label).

    Returns:
        ``(unique, cells, counts)``: ``cells[k]`` is ``2 * score index + (1 if normal)`` and
        ``counts[k]`` its images; only cells holding an image are kept, so a resample's draws
        are as many as the images' distinct (score, label) pairs.
    """
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    unique, inverse = np.unique(-s, return_inverse=True)  # ascending -s: descending scores
    normal = np.asarray([label != DEFECT for label in labels], dtype=np.int64)
    counts = np.bincount(2 * inverse.reshape(-1) + normal, minlength=2 * len(unique))
    cells = np.flatnonzero(counts)
    return -unique, cells, counts[cells]


def _spread(cells: Any, draws: Any, n_unique: int) -> Any:
    """Rows of counts of occupied cells as rows of counts of every cell, shape ``(R, 2U)``."""
    import numpy as np

    full = np.zeros((draws.shape[0], 2 * n_unique), dtype=np.float64)
    full[:, cells] = draws
    return full


def _curves(
    thresholds: Any,
    counts: Any,
    chosen: float | None,
    far_targets: Sequence[float],
    recall_targets: Sequence[float],
) -> dict[str, Any]:
    """Every figure of rows of cell counts (shape ``(R, 2U)``), as arrays of length R.

    ``nan`` where a row holds no defect or no normal image. Threshold indices point into
    ``thresholds`` (length U + 1, "above every score" first).
    """
    import numpy as np

    c = counts.reshape(counts.shape[0], -1, 2).astype(np.float64)
    zero = np.zeros((c.shape[0], 1))
    tp = np.concatenate([zero, np.cumsum(c[..., 0], axis=1)], axis=1)  # (R, U + 1)
    fp = np.concatenate([zero, np.cumsum(c[..., 1], axis=1)], axis=1)
    positives, negatives = tp[:, -1:], fp[:, -1:]
    defined = (positives[:, 0] > 0) & (negatives[:, 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr, fpr = tp / positives, fp / negatives
        fn, tn = positives - tp, negatives - fp
        f1_defect = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
        f1_normal = np.nan_to_num(2 * tn / (2 * tn + fn + fp))
    macro = (f1_defect + f1_normal) / 2
    rows = np.arange(c.shape[0])
    out: dict[str, Any] = {"defined": defined}
    for a in far_targets:
        masked = np.where(fpr <= a + _TOL, tpr, -np.inf)
        best = np.argmax(masked, axis=1)  # first maximum: the highest threshold
        out[f"recall@{a}"] = np.where(defined, tpr[rows, best], np.nan)
        out[f"far@{a}/at"] = np.where(defined, fpr[rows, best], np.nan)
        out[f"index_far@{a}"] = best
    for b in recall_targets:
        masked = np.where(tpr >= b - _TOL, fpr, np.inf)
        last = masked.shape[1] - 1 - np.argmin(masked[:, ::-1], axis=1)  # last minimum: lowest T
        out[f"far@{b}"] = np.where(defined, fpr[rows, last], np.nan)
        out[f"recall@{b}/at"] = np.where(defined, tpr[rows, last], np.nan)
        out[f"index_recall@{b}"] = last
    out["f1_max"] = np.where(defined, macro.max(axis=1), np.nan)
    if chosen is not None:  # columns: how many distinct scores reach the run's threshold
        column = int(np.sum(thresholds[1:] >= chosen))
        out["f1_at_threshold"] = macro[:, column]
    return out


def operating_points(
    labels: Sequence[str],
    scores: Sequence[float | None],
    threshold: float | None = None,
    *,
    far_targets: Sequence[float] = FAR_TARGETS,
    recall_targets: Sequence[float] = RECALL_TARGETS,
    group: str = "",
    resamples: int = statistics.RESAMPLES,
    seed: int = statistics.SEED,
    level: float = statistics.LEVEL,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The operating points of one group, and their bootstrap values per resample.

    Args:
        labels: Truth per image, ``defect`` or ``normal``.
        scores: Score per image (``None``: no figures for the group).
        threshold: The run's threshold value, for ``f1_at_threshold`` (``None``: not given).
        far_targets: False-alarm budgets α (fractions).
        recall_targets: Recall targets β (fractions).
        group: The group's name, which seeds its generator (``""``: all images).
        resamples: Bootstrap resamples (0: no intervals).
        seed: Bootstrap seed.
        level: Interval coverage.

    Returns:
        ``(figures, draws)``: ``figures`` as ``summary.json`` holds a group (see
        ``docs/metrics.md``), ``draws`` the per-resample arrays for the class mean; both
        ``None`` when a score is missing or a label does not occur.
    """
    import numpy as np

    far_targets = _targets(far_targets, "far_targets")
    recall_targets = _targets(recall_targets, "recall_targets")
    if len(labels) != len(scores):
        raise ValueError("labels and scores must have the same length")
    if any(s is None for s in scores) or len({*labels}) < 2:
        return None, None
    values = [float(s) for s in scores if s is not None]
    unique, cells, counts = _cells(labels, values)
    thresholds = np.r_[np.nextafter(unique[0], np.inf), unique]
    point = _curves(
        thresholds,
        _spread(cells, counts[None, :], len(unique)),
        threshold,
        far_targets,
        recall_targets,
    )
    f1_threshold, f1_max = best_f1_threshold(labels, values)
    figures: dict[str, Any] = {
        "n": len(labels),
        "defects": sum(label == DEFECT for label in labels),
        "normals": sum(label != DEFECT for label in labels),
        "recall_at_far": {},
        "far_at_recall": {},
        "f1_max": f1_max,
        "f1_max_threshold": f1_threshold,
        "f1_at_threshold": None if threshold is None else float(point["f1_at_threshold"][0]),
    }
    for a in far_targets:
        recall = float(point[f"recall@{a}"][0])
        figures["recall_at_far"][target_key(a)] = {
            "recall": recall,
            "miss_rate": 1 - recall,
            "far": float(point[f"far@{a}/at"][0]),
            "threshold": float(thresholds[point[f"index_far@{a}"][0]]),
        }
    for b in recall_targets:
        figures["far_at_recall"][target_key(b)] = {
            "far": float(point[f"far@{b}"][0]),
            "recall": float(point[f"recall@{b}/at"][0]),
            "threshold": float(thresholds[point[f"index_recall@{b}"][0]]),
        }
    if resamples <= 0:
        return figures, None
    rng = statistics.group_rng(seed, group)
    resampled = statistics.resample_cells(counts, resamples, rng)
    # In chunks of resamples: the curves of all of them at once would take B × (2U) floats
    # several times over (hundreds of MB for 10,000 distinct scores).
    chunks = [
        _curves(
            thresholds,
            _spread(cells, resampled[start : start + _CHUNK], len(unique)),
            None,
            far_targets,
            recall_targets,
        )
        for start in range(0, resamples, _CHUNK)
    ]
    draws = {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}
    figures["intervals"] = _intervals(draws, far_targets, recall_targets, level)
    return figures, draws


def _interval(values: Any, level: float) -> list[float] | None:
    import numpy as np

    kept = values[~np.isnan(values)]
    return statistics.percentile_interval(kept, level) if kept.size else None


def _intervals(
    draws: dict[str, Any],
    far_targets: Sequence[float],
    recall_targets: Sequence[float],
    level: float,
) -> dict[str, Any]:
    """The intervals of a group from its per-resample values.

    Returns:
        ``{"recall_at_far": {α: [lo, hi]}, "miss_rate_at_far", "far_at_recall", "f1_max",
        "undefined_resamples"}``.
    """
    recall = {target_key(a): _interval(draws[f"recall@{a}"], level) for a in far_targets}
    return {
        "recall_at_far": recall,
        "miss_rate_at_far": {
            k: None if v is None else [1 - v[1], 1 - v[0]] for k, v in recall.items()
        },
        "far_at_recall": {
            target_key(b): _interval(draws[f"far@{b}"], level) for b in recall_targets
        },
        "f1_max": _interval(draws["f1_max"], level),
        "undefined_resamples": int((~draws["defined"]).sum()),
    }


def operating_points_summary(
    outcomes: Sequence[Outcome],
    threshold: float | None = None,
    *,
    far_targets: Sequence[float] = FAR_TARGETS,
    recall_targets: Sequence[float] = RECALL_TARGETS,
    resamples: int = statistics.RESAMPLES,
    seed: int = statistics.SEED,
    level: float = statistics.LEVEL,
) -> dict[str, Any] | None:
    """``summary["operating_points"]``: pooled, per category and class mean.

    Returns:
        ``None`` when no image has a score. Else the targets, the rule, the bootstrap's
        settings, and ``overall`` / ``per_class`` groups (unscored images at the wrong extreme;
        ``None`` where one label only) and ``class_mean`` (unweighted means over the categories
        with figures; intervals from per-resample means, see the module docstring).
    """
    import numpy as np

    if not any(o.score is not None for o in outcomes):
        return None
    far_targets = _targets(far_targets, "far_targets")
    recall_targets = _targets(recall_targets, "recall_targets")

    def group(rows: Sequence[Outcome], name: str) -> tuple[Any, Any]:
        labels = [o.label for o in rows]
        # An unscored image (invalid answer, error) at the wrong extreme, as AUROC ranks it.
        scores = ranking_scores(labels, [o.score for o in rows])
        return operating_points(
            labels, scores, threshold, far_targets=far_targets, recall_targets=recall_targets,
            group=name, resamples=resamples, seed=seed, level=level,
        )  # fmt: skip

    by_category: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_category.setdefault(outcome.category, []).append(outcome)
    per_class: dict[str, dict[str, Any] | None] = {}
    stacked: list[dict[str, Any]] = []
    for name, rows in sorted(by_category.items()):
        per_class[name], draws = group(rows, name)
        if draws is not None:
            stacked.append(draws)
    judged = [g for g in per_class.values() if g is not None]
    mean: dict[str, Any] = {"categories": len(judged)}
    if judged:
        mean["recall_at_far"] = {
            k: {"recall": float(np.mean([g["recall_at_far"][k]["recall"] for g in judged]))}
            for k in map(target_key, far_targets)
        }
        for k in mean["recall_at_far"]:
            mean["recall_at_far"][k]["miss_rate"] = 1 - mean["recall_at_far"][k]["recall"]
        mean["far_at_recall"] = {
            k: {"far": float(np.mean([g["far_at_recall"][k]["far"] for g in judged]))}
            for k in map(target_key, recall_targets)
        }
        for key in ("f1_max", "f1_at_threshold"):
            known = [g[key] for g in judged if g[key] is not None]
            mean[key] = float(np.mean(known)) if known else None
    if stacked:
        averaged = {
            key: np.mean([d[key] for d in stacked], axis=0)
            for key in stacked[0]
            if not key.startswith("index_")
        }
        averaged["defined"] = np.all([d["defined"] for d in stacked], axis=0)
        mean["intervals"] = _intervals(averaged, far_targets, recall_targets, level)
    return {
        "rule": RULE,
        "far_targets": list(far_targets),
        "recall_targets": list(recall_targets),
        "bootstrap": {
            "resamples": resamples,
            "seed": seed,
            "level": level,
            "unit": "image",
            "interval": "percentile",
        },
        "overall": group(outcomes, "")[0],
        "class_mean": mean,
        "per_class": per_class,
    }

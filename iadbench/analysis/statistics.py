"""How sure a run's figures are: bootstrap intervals, and McNemar's exact test between two methods.

Bootstrap (unit: the test image). Accuracy, macro-F1 and balanced accuracy depend on a group's
images only through its six confusion cells (truth defect/normal × prediction defect/normal/
invalid), so each statistic is computed from cell counts with exactly
:mod:`iadbench.analysis.metrics`'s definitions (invalid counts as wrong; macro-F1 over {defect,
normal},
a label never predicted scoring F1 = 0; balanced accuracy = mean recall over the labels present).
Resampling n images with replacement puts Multinomial(n, cell shares) images in the cells, so the
resamples are drawn as cell counts directly: exactly the distribution of an image bootstrap, at a
cost that does not grow with n (``benchmarks/bench_statistics.py``). Intervals are percentile
intervals (numpy's linear quantiles) of :data:`RESAMPLES` resamples.

Clustered (unit: the physical sample). Where the test set groups images (Real-IAD: the 5 views of
one part share :attr:`~iadbench.runs.reader.Outcome.group`), the views of one part are not
independent draws (one part's views are alike, and so are a method's answers on them): an image
bootstrap would treat 5 correlated answers as 5 independent ones and give intervals too narrow.
Then each resample draws whole groups with replacement (Multinomial(m, 1/m) copies of each of a
group's m parts) and sums their cells; an image without a group is a part of its own. The block's
``unit`` says which (``"image"`` or ``"sample"``); datasets without groups are resampled exactly
as before.

* ``overall``: all images resampled together (pooled).
* ``per_class``: each category's images resampled within the category.
* ``class_mean``: per resample, the unweighted mean of the categories' resampled values (each
  category resampled within itself, as ``per_class``).

Seeding: every group draws from its own generator, seeded with (:data:`SEED`, the group's name),
so a category's interval does not depend on which other categories the run holds, and the same
predictions always give the same intervals.

Degenerate resamples: none are undefined. A resample holding one label only is scored as
:mod:`iadbench.analysis.metrics` scores a one-label category (balanced accuracy = that label's
recall; the
absent label's F1 is 0), the same rule that gives the point estimate. So the intervals are never
``null`` today; readers of ``summary.json`` should still accept ``null`` (the contract allows it).

McNemar's exact test: on the images two methods disagree on correctness, the count where the first
is right is Binomial(discordant, 1/2) under "equally accurate"; the two-sided p-value is
``scipy.stats.binomtest``'s (1 when no image is discordant). The trivial baselines' correctness
follows from the labels alone (always-normal is right exactly on normal images), so every run is
tested against both without their runs.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from iadbench.contract.records import DEFECT, INVALID, NORMAL, TRIVIAL_BASELINES
from iadbench.runs.reader import Outcome, StoredRun
from iadbench.runs.schema import BootstrapBlock, McNemarBlock, StatisticsBlock, as_statistics

#: Bootstrap resamples per group, seed, and interval level recorded in every summary.
RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
METRICS: tuple[str, ...] = ("accuracy", "f1_macro", "balanced_accuracy")
_PREDS = (DEFECT, NORMAL, INVALID)
_TRUTHS = (DEFECT, NORMAL)
_CODES = {(t, p): 3 * i + j for i, t in enumerate(_TRUTHS) for j, p in enumerate(_PREDS)}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --- confusion cells and the metrics of metrics.py ------------------------------------------------


def cell_codes(labels: Sequence[str], preds: Sequence[str]) -> IntArray:
    """Each image's confusion cell: ``3 * truth + prediction`` (defect 0, normal 1, invalid 2).

    Raises:
        ValueError: Lengths differ or a label is outside the fixed sets.
    """
    if len(labels) != len(preds):
        raise ValueError("labels and preds must have the same length")
    try:  # one dict lookup per image: 50,000 images in a few milliseconds
        pairs = zip(labels, preds, strict=True)
        return np.fromiter((_CODES[pair] for pair in pairs), np.int64, len(labels))
    except KeyError:
        unknown = (set(labels) - {DEFECT, NORMAL}) | (set(preds) - set(_PREDS))
        raise ValueError(f"unknown labels {sorted(map(str, unknown))}") from None


def group_index(categories: Sequence[str]) -> tuple[list[str], IntArray]:
    """Sorted category names, and each image's position in them."""
    names = sorted(set(categories))
    position = {name: i for i, name in enumerate(names)}
    return names, np.fromiter((position[c] for c in categories), np.int64, len(categories))


def cell_metrics(cells: npt.ArrayLike) -> dict[str, FloatArray]:
    """Accuracy, macro-F1 and balanced accuracy from confusion cells, as ``analysis.metrics``.

    Args:
        cells: Counts of shape ``(..., 6)`` in :func:`cell_codes` order (any leading shape: one
            group, or one row per resample).

    Returns:
        Each metric of :data:`METRICS` with the leading shape of ``cells``.

    Example:
        >>> m = cell_metrics([3, 1, 0, 0, 5, 0])  # 3 defects caught, 1 missed, 5 normals right
        >>> round(float(m["accuracy"]), 4), round(float(m["balanced_accuracy"]), 4)
        (0.8889, 0.875)
    """
    c = np.asarray(cells, dtype=np.float64)
    tp, missed, d_invalid, false_alarm, tn, n_invalid = np.moveaxis(c, -1, 0)
    defects, normals = tp + missed + d_invalid, false_alarm + tn + n_invalid
    # F1 = 2TP / (2TP + FP + FN) per label, 0 when the label is neither present nor predicted
    # (zero_division=0). Invalid answers are misses of their true label and nobody's false alarm.
    f1_defect = _ratio(2 * tp, 2 * tp + false_alarm + missed + d_invalid)
    f1_normal = _ratio(2 * tn, 2 * tn + missed + false_alarm + n_invalid)
    # Mean recall over the labels present: a one-label group is that label's recall.
    present = (defects > 0).astype(np.float64) + (normals > 0)
    recalls = _ratio(tp, defects) + _ratio(tn, normals)
    return {
        "accuracy": (tp + tn) / (defects + normals),
        "f1_macro": (f1_defect + f1_normal) / 2,
        "balanced_accuracy": recalls / present,
    }


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """``numerator / denominator``, 0 where the denominator is 0."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


# --- bootstrap ------------------------------------------------------------------------------------


def group_rng(seed: int, group: str) -> np.random.Generator:
    """The generator of one group: seeded with ``seed`` and a checksum of the group's name."""
    return np.random.default_rng([seed, zlib.crc32(group.encode("utf-8"))])


def resample_cells(cells: IntArray, resamples: int, rng: np.random.Generator) -> IntArray:
    """Confusion cells of ``resamples`` image bootstrap resamples of a group with ``cells``.

    Returns:
        Shape ``(resamples, 6)``; each row sums to the group's number of images.
    """
    n = int(cells.sum())
    return rng.multinomial(n, cells / n, size=resamples).astype(np.int64)


_CHUNK = 100  # clustered resamples drawn at once: 100 × m group counts in memory


def cluster_index(outcomes: Sequence[Outcome]) -> IntArray | None:
    """Each outcome's group as an index (an ungrouped image alone), or None when none is grouped."""
    if all(o.group is None for o in outcomes):
        return None
    # "\0" cannot start a group name read from a record: an ungrouped image never joins a group.
    keys = [o.group if o.group is not None else f"\0{o.id}" for o in outcomes]
    return np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)[1].reshape(-1)


def resample_cluster_cells(
    codes: IntArray, clusters: IntArray, resamples: int, rng: np.random.Generator
) -> IntArray:
    """Confusion cells of ``resamples`` bootstrap resamples of whole groups (clustered).

    Args:
        codes: Each image's cell (:func:`cell_codes`).
        clusters: Each image's group index.
        resamples: Resamples (B).
        rng: The group's generator.

    Returns:
        Shape ``(resamples, 6)``; a row sums to the images of the groups drawn.
    """
    local = np.unique(clusters, return_inverse=True)[1].reshape(-1)
    m = int(local.max()) + 1
    per_cluster = np.zeros((m, 6), dtype=np.int64)
    np.add.at(per_cluster, (local, codes), 1)
    cells = np.empty((resamples, 6), dtype=np.int64)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        drawn = rng.multinomial(m, np.full(m, 1 / m), size=size)
        cells[start : start + size] = drawn @ per_cluster
    return cells


def percentile_interval(values: FloatArray, level: float) -> list[float] | None:
    """The central ``level`` percentile interval of ``values``; ``None`` when any is NaN."""
    if np.isnan(values).any():
        return None
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return [float(low), float(high)]


def _intervals(values: Mapping[str, FloatArray], level: float) -> dict[str, list[float] | None]:
    return {metric: percentile_interval(values[metric], level) for metric in METRICS}


def bootstrap_intervals(
    outcomes: Sequence[Outcome],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> BootstrapBlock:
    """Percentile intervals of accuracy, macro-F1 and balanced accuracy (see the module doc).

    Args:
        outcomes: One per test image.
        resamples: Bootstrap resamples per group (B).
        seed: Seed of every group's generator.
        level: Coverage of the intervals (0.95: the 2.5th and 97.5th percentiles).

    Returns:
        The ``bootstrap`` block of ``summary["statistics"]``.

    Raises:
        ValueError: ``outcomes`` is empty, or a label is outside the fixed sets.
    """
    if not outcomes:
        raise ValueError("cannot bootstrap an empty set of predictions")
    codes = cell_codes([o.label for o in outcomes], [o.pred for o in outcomes])
    names, group = group_index([o.category for o in outcomes])
    return _bootstrap(codes, names, group, resamples, seed, level, cluster_index(outcomes))


def _bootstrap(
    codes: IntArray,
    names: list[str],
    group: IntArray,
    resamples: int,
    seed: int,
    level: float,
    clusters: IntArray | None = None,
) -> BootstrapBlock:
    per_group = np.bincount(group * 6 + codes, minlength=6 * len(names)).reshape(-1, 6)

    def draw(index: int | None, name: str) -> IntArray:
        if clusters is None:  # images: the cell counts alone decide (the module docstring)
            cells = per_group.sum(axis=0) if index is None else per_group[index]
            return resample_cells(cells, resamples, group_rng(seed, name))
        chosen = slice(None) if index is None else group == index
        return resample_cluster_cells(codes[chosen], clusters[chosen], resamples,
                                      group_rng(seed, name))  # fmt: skip

    overall = cell_metrics(draw(None, ""))
    per_class: dict[str, dict[str, list[float] | None]] = {}
    stacked: dict[str, list[FloatArray]] = {metric: [] for metric in METRICS}
    for index, name in enumerate(names):
        values = cell_metrics(draw(index, name))
        per_class[name] = _intervals(values, level)
        for metric in METRICS:
            stacked[metric].append(values[metric])
    class_mean = {metric: np.mean(stacked[metric], axis=0) for metric in METRICS}
    return {
        "resamples": resamples,
        "seed": seed,
        "level": level,
        "unit": "image" if clusters is None else "sample",
        "interval": "percentile",
        "overall": _intervals(overall, level),
        "class_mean": _intervals(class_mean, level),
        "per_class": per_class,
    }


# --- McNemar --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test of A against B on the same images.

    Attributes:
        n: Images compared.
        better: Images A gets right and B gets wrong.
        worse: Images B gets right and A gets wrong.
        p_value: Two-sided exact binomial p-value on the discordant images (1 without any).
    """

    n: int
    better: int
    worse: int
    p_value: float

    @property
    def accuracy_delta(self) -> float:
        """A's accuracy minus B's (only discordant images differ)."""
        return (self.better - self.worse) / self.n

    def as_block(self) -> McNemarBlock:
        """The test as ``summary.json`` holds it."""
        return {"p_value": self.p_value, "better": self.better, "worse": self.worse,
                "accuracy_delta": self.accuracy_delta}  # fmt: skip


def mcnemar_exact(a_correct: npt.ArrayLike, b_correct: npt.ArrayLike) -> McNemarResult:
    """McNemar's exact test: is A right on the discordant images more or less often than B?

    Args:
        a_correct: Per image, whether method A's prediction is right (invalid = wrong).
        b_correct: The same for method B, same images in the same order.

    Returns:
        The counts and the two-sided p-value of ``scipy.stats.binomtest`` (better, better +
        worse, 1/2); p = 1 when no image is discordant.

    Raises:
        ValueError: The arrays differ in length or are empty.

    Example:
        >>> r = mcnemar_exact([1, 1, 1, 0, 1], [0, 0, 1, 0, 1])
        >>> r.better, r.worse, r.p_value
        (2, 0, 0.5)
    """
    # scipy comes with scikit-learn (it imports scipy.stats anyway); no stubs are installed.
    from scipy.stats import binomtest  # type: ignore[import-untyped]

    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or not a.size:
        raise ValueError("a_correct and b_correct must be non-empty and of the same length")
    better, worse = int((a & ~b).sum()), int((~a & b).sum())
    discordant = better + worse
    p_value = 1.0 if discordant == 0 else float(binomtest(better, discordant, 0.5).pvalue)
    return McNemarResult(int(a.size), better, worse, p_value)


def correct(outcomes: Sequence[Outcome]) -> BoolArray:
    """Per image, whether its prediction is right (an invalid answer never is)."""
    return np.asarray([o.correct for o in outcomes], dtype=bool)


def versus_baselines(outcomes: Sequence[Outcome]) -> dict[str, McNemarBlock]:
    """McNemar's exact test of these predictions against each trivial baseline."""
    return _versus(cell_codes([o.label for o in outcomes], [o.pred for o in outcomes]))


def _versus(codes: IntArray) -> dict[str, McNemarBlock]:
    right = (codes == 0) | (codes == 4)  # defect → defect, normal → normal
    truth = codes // 3
    return {
        name: mcnemar_exact(right, truth == _TRUTHS.index(label)).as_block()
        for name, label in TRIVIAL_BASELINES.items()
    }


# --- the summary block ----------------------------------------------------------------------------


def run_statistics(
    outcomes: Sequence[Outcome],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> StatisticsBlock:
    """``summary["statistics"]``: bootstrap intervals, and McNemar against both trivial baselines.

    Args:
        outcomes: One per test image (the records the summary's metrics come from).
        resamples: Bootstrap resamples per group.
        seed: Bootstrap seed.
        level: Interval coverage.

    Returns:
        ``{"bootstrap": ..., "mcnemar": {baseline: test}, "mcnemar_per_class": {category:
        {baseline: test}}}``; McNemar is pooled over all images, and per category.

    Raises:
        ValueError: ``outcomes`` is empty, or a label is outside the fixed sets.
    """
    if not outcomes:
        raise ValueError("cannot compute statistics of an empty set of predictions")
    codes = cell_codes([o.label for o in outcomes], [o.pred for o in outcomes])
    names, group = group_index([o.category for o in outcomes])
    return {
        "bootstrap": _bootstrap(
            codes, names, group, resamples, seed, level, cluster_index(outcomes)
        ),  # fmt: skip
        "mcnemar": _versus(codes),
        "mcnemar_per_class": {name: _versus(codes[group == i]) for i, name in enumerate(names)},
    }


# --- stored runs ----------------------------------------------------------------------------------


def statistics_of_run(run: StoredRun) -> StatisticsBlock | None:
    """A stored run's statistics: its summary's block, else computed from its predictions.

    Summaries written before the block existed stay valid (and sealed); their statistics are
    computed here from the same predictions with the same seed and B, which gives what the runner
    would have written. ``None`` when the predictions do not match the summary's image count
    (they cannot be the ones it was computed from).

    Raises:
        IADBenchError: A prediction line is not valid JSON.
        ThresholdError: A record stored undecided cannot be decided.
    """
    if (block := as_statistics(run.summary.get("statistics"))) is not None:
        return block
    outcomes = run.outcomes()
    overall = run.summary.get("overall")
    if not outcomes or not isinstance(overall, dict) or overall.get("n") != len(outcomes):
        return None
    return run_statistics(outcomes)

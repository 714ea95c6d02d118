"""Is A's AUROC higher than B's on the same images? A paired bootstrap of the difference.

``compare`` puts it beside McNemar's test (:mod:`iadbench.analysis.statistics`): McNemar judges
the labels at each run's threshold, this the scores, threshold-free.

* **Pairing.** Both runs' scores of an image are drawn together: each resample draws n images
  with replacement (Multinomial(n, 1/n) counts per image, from the group's generator
  :func:`~iadbench.analysis.statistics.group_rng`, seeded with the bootstrap's
  :data:`~iadbench.analysis.statistics.SEED` and the group's name) and computes both AUROCs on
  the same draw, so the difference's spread is the one of *this* test set's images, with the
  correlation of the two runs' scores taken into account (an unpaired bootstrap would overstate
  it). The images are put in id order first: the result does not depend on the order of either
  prediction file. Where images are views of one physical sample (``groups``, Real-IAD), whole
  samples are drawn instead (Multinomial(m, 1/m) copies of each of the m samples, every view of
  a sample weighted by its sample's count): a sample's views are alike, and drawing them one by
  one would give an interval too narrow (:mod:`iadbench.analysis.statistics`, "Clustered").
* **AUROC** of a resample: the Mann–Whitney form with each image weighted by how often it was
  drawn, ties counting one half (exactly scikit-learn's ``roc_auc_score`` on the resampled
  images; with every weight 1 it is the summary's AUROC). An image without a score is ranked at
  the wrong extreme for its truth (:func:`~iadbench.analysis.metrics.ranking_scores`), as in the
  summary, so not answering never helps.
* **Interval**: the central ``level`` percentile interval of the resampled differences
  (:func:`~iadbench.analysis.statistics.percentile_interval`). A resample holding no defect or
  no normal image has no AUROC: it is left out and counted in ``undefined_resamples``.
* **p-value** (two-sided, of "equal AUROC"): ``min(1, 2 (1 + k) / (B + 1))``, where ``B`` is the
  number of defined resamples and ``k`` the number whose difference lies on the far side of 0
  from the observed one (``min(#{d* ≤ 0}, #{d* ≥ 0})``): the percentile interval read as a test
  (p < 1 − level exactly when the interval lies on one side of 0, up to the +1 that keeps a
  finite B from claiming p = 0; the smallest p it can give is ``2 / (B + 1)``). Identical
  scores give every resample the difference 0, hence p = 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from iadbench.analysis.metrics import ranking_scores
from iadbench.analysis.statistics import LEVEL, RESAMPLES, SEED, group_rng, percentile_interval
from iadbench.contract.records import DEFECT

_CHUNK = 100  # resamples drawn and scored at once: 100 × n weights in memory


@dataclass(frozen=True)
class AurocDifference:
    """The paired bootstrap of AUROC A − AUROC B on one group of images.

    Attributes:
        n: Images compared.
        auroc_a: A's AUROC (None where the group holds one label).
        auroc_b: B's AUROC.
        difference: ``auroc_a - auroc_b`` (None with them).
        interval: Percentile interval of the difference, or None.
        p_value: Two-sided bootstrap p-value (see the module docstring), or None.
        unscored_a: A's images without a score (ranked at the wrong extreme).
        unscored_b: B's images without a score.
        resamples: Resamples drawn (B before leaving out undefined ones).
        undefined_resamples: Resamples holding one label only (left out).
    """

    n: int
    auroc_a: float | None
    auroc_b: float | None
    difference: float | None
    interval: list[float] | None
    p_value: float | None
    unscored_a: int
    unscored_b: int
    resamples: int
    undefined_resamples: int

    def as_block(self) -> dict[str, Any]:
        """The figures as ``compare --json`` prints them."""
        return dict(vars(self))


def _weighted_auroc(
    weights: npt.NDArray[np.float64],
    inverse: npt.NDArray[np.int64],
    defect: npt.NDArray[np.bool_],
    n_unique: int,
) -> npt.NDArray[np.float64]:
    """AUROC per row of image weights, ties counting one half; NaN where a label is absent.

    Args:
        weights: Shape ``(R, n)``: how often each image was drawn.
        inverse: Each image's rank among the distinct scores (ascending).
        defect: Each image's truth.
        n_unique: The number of distinct scores.
    """
    order = np.argsort(inverse, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
    # Weight of the defects and of the normals at each distinct score, per row: (R, U).
    pos = np.add.reduceat(weights[:, order] * defect[order], starts, axis=1)
    neg = np.add.reduceat(weights[:, order] * ~defect[order], starts, axis=1)
    assert pos.shape[1] == n_unique
    below = np.cumsum(neg, axis=1) - neg  # normals scored strictly lower
    wins = np.sum(pos * (below + neg / 2), axis=1)
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, wins / np.where(total > 0, total, 1), np.nan)


def paired_auroc_difference(
    ids: Sequence[str],
    labels: Sequence[str],
    scores_a: Sequence[float | None],
    scores_b: Sequence[float | None],
    *,
    group: str = "",
    groups: Sequence[str | None] | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> AurocDifference:
    """The paired bootstrap of A's AUROC minus B's on the same images (see the module doc).

    Args:
        ids: Image ids (the pairing is the caller's: position i is one image in both runs).
        labels: Truth per image, ``defect`` or ``normal``.
        scores_a: A's score per image (``None``: unscored, ranked at the wrong extreme).
        scores_b: B's score per image.
        group: The group's name, which seeds its generator (``""``: all images).
        groups: Per image, the physical sample it is a view of (None: a sample of its own);
            given with any non-None, whole samples are resampled. None: images are.
        resamples: Bootstrap resamples (B).
        seed: Bootstrap seed.
        level: Interval coverage.

    Returns:
        The figures; AUROCs, difference, interval and p-value are None when the group holds
        one label only.

    Raises:
        ValueError: The sequences differ in length, are empty, or a run has no score at all.

    Example:
        >>> r = paired_auroc_difference(["a", "b", "c", "d"], ["defect", "defect", "normal",
        ...                             "normal"], [0.9, 0.8, 0.2, 0.1], [0.9, 0.8, 0.2, 0.1])
        >>> r.difference, r.interval, r.p_value
        (0.0, [0.0, 0.0], 1.0)
    """
    n = len(ids)
    if not n or not len(labels) == len(scores_a) == len(scores_b) == n:
        raise ValueError("ids, labels and both runs' scores must be non-empty, of one length")
    if all(s is None for s in scores_a) or all(s is None for s in scores_b):
        raise ValueError("both runs need scores for an AUROC comparison")
    order = sorted(range(n), key=lambda i: ids[i])  # independent of the files' order
    truth = [labels[i] for i in order]
    defect = np.asarray([label == DEFECT for label in truth], dtype=bool)
    ranks = []
    for scores in (scores_a, scores_b):
        ranked = np.asarray(ranking_scores(truth, [scores[i] for i in order]), dtype=np.float64)
        unique, inverse = np.unique(ranked, return_inverse=True)
        ranks.append((inverse.reshape(-1).astype(np.int64), len(unique)))
    unscored_a, unscored_b = (sum(s is None for s in scores) for scores in (scores_a, scores_b))

    def aurocs(weights: npt.NDArray[np.float64]) -> tuple[Any, Any]:
        a, b = (_weighted_auroc(weights, inverse, defect, u) for inverse, u in ranks)
        return a, b

    point_a, point_b = (float(v[0]) for v in aurocs(np.ones((1, n))))
    if np.isnan(point_a):  # one label in the group: no AUROC, nothing to resample
        return AurocDifference(n, None, None, None, None, None, unscored_a, unscored_b,
                               resamples, resamples)  # fmt: skip
    rng = group_rng(seed, group)
    cluster = None
    if groups is not None and any(g is not None for g in groups):
        keys = [groups[i] if groups[i] is not None else f"\0{ids[i]}" for i in order]
        cluster = np.unique(np.asarray(keys, dtype=str), return_inverse=True)[1].reshape(-1)
    m = n if cluster is None else int(cluster.max()) + 1
    differences = []
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        weights = rng.multinomial(m, np.full(m, 1 / m), size=size).astype(np.float64)
        if cluster is not None:  # each view weighs what its sample drew
            weights = weights[:, cluster]
        a, b = aurocs(weights)
        differences.append(a - b)
    drawn = np.concatenate(differences) if differences else np.empty(0)
    kept = drawn[~np.isnan(drawn)]
    difference = point_a - point_b
    interval = percentile_interval(kept, level) if kept.size else None
    p_value = None
    if kept.size:
        far_side = min(int(np.sum(kept <= 0)), int(np.sum(kept >= 0)))
        p_value = min(1.0, 2 * (1 + far_side) / (kept.size + 1))
    return AurocDifference(n, point_a, point_b, difference, interval, p_value, unscored_a,
                           unscored_b, resamples, int(drawn.size - kept.size))  # fmt: skip

"""How well a score method's scores read as probabilities: ECE, Brier score, reliability bins.

What is calibrated. A score method's score is read as the model's probability that the image is a
defect, ``p = P(defect)`` (the scale ``docs/metrics.md`` gives score methods: [0, 1], defect when
the score reaches the threshold). The "confidence" of this module is that ``p`` itself, compared
with the truth ``y = 1`` for a defect, ``0`` for a normal image: the binary (positive-class)
reliability of Naeini, Cooper and Hauskrecht, "Obtaining Well Calibrated Probabilities Using
Bayesian Binning", AAAI 2015 (their ECE: Σ P(bin) · |o_bin − e_bin|, o the observed positive
fraction, e the mean predicted probability in the bin). It is *not* the top-label confidence
``max(p, 1 − p)`` of Guo et al., "On Calibration of Modern Neural Networks", ICML 2017; from them
we take the binning (M = 15 equal-width bins) and the count weighting.

* **Binning**: :data:`N_BINS` = 15 equal-width bins over [0, 1]; an image with score ``p`` falls in
  bin ``min(floor(15 · p), 14)`` (bins are ``[k/15, (k+1)/15)``, the last one closed at 1).
* **ECE** = Σ_bins (count / n) · |defect rate − mean score|, over the non-empty bins.
* **Brier score** = mean (p − y)², scikit-learn's ``brier_score_loss`` with defect positive.
* **Reliability bins**: per bin its count, mean score and observed defect rate (``None`` when
  empty): the points of a reliability diagram.

An image without a score (a text method's invalid answer, an image that could not be processed)
counts as the most confident wrong answer, P(defect) = 0 for a defect and 1 for a normal image:
the rule by which AUROC ranks it at the wrong extreme
(:func:`iadbench.analysis.metrics.ranking_scores`) and accuracy counts it wrong, so a method
cannot look better calibrated by not answering; ``n_unscored`` says how many. A group gets no
figures when a score lies outside [0, 1] (not a probability). One-label groups are judged like
any other (a normal-only category's scores should be low).

numpy and scikit-learn are imported inside the functions: the views import nothing from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iadbench.contract.records import DEFECT, LABELS
from iadbench.runs.reader import Outcome

#: Equal-width bins over [0, 1] (Guo et al. 2017's M = 15).
N_BINS = 15
#: How the bins are made, as ``summary.json`` records it.
BINNING = "equal-width over [0, 1]; bin = min(floor(n_bins * score), n_bins - 1)"
#: What is compared with the truth, as ``summary.json`` records it.
CONFIDENCE = "score read as P(defect), against truth defect = 1 (Naeini et al. 2015)"


def _checked(labels: Sequence[str], scores: Sequence[float | None]) -> tuple[Any, Any]:
    """``(y, p)`` as arrays: y = 1 for a defect; raises ValueError on unusable input."""
    import numpy as np

    if len(labels) != len(scores):
        raise ValueError("labels and scores must have the same length")
    if not labels:
        raise ValueError("cannot judge the calibration of an empty group")
    if unknown := set(labels) - set(LABELS):
        raise ValueError(f"unknown labels {sorted(unknown)}")
    if any(score is None for score in scores):
        raise ValueError("every image needs a score")
    p = np.asarray(scores, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):  # also refuses NaN
        raise ValueError("scores must lie in [0, 1] to be read as probabilities")
    y = np.asarray([label == DEFECT for label in labels], dtype=np.float64)
    return y, p


def reliability_bins(
    labels: Sequence[str], scores: Sequence[float | None], n_bins: int = N_BINS
) -> dict[str, list[Any]]:
    """The reliability diagram's points: per bin its count, mean score and defect rate.

    Args:
        labels: Truth per image, ``defect`` or ``normal``.
        scores: P(defect) per image, in [0, 1].
        n_bins: Equal-width bins over [0, 1].

    Returns:
        ``{"count": [...], "mean_score": [...], "defect_rate": [...]}``, one entry per bin from
        the lowest; the mean and the rate are ``None`` for an empty bin.

    Raises:
        ValueError: Lengths differ, the group is empty, a label is unknown, a score is missing
            or outside [0, 1].

    Example:
        >>> bins = reliability_bins(["defect", "normal", "defect"], [0.95, 0.05, 0.9], n_bins=2)
        >>> bins["count"], bins["defect_rate"]
        ([1, 2], [0.0, 1.0])
    """
    import numpy as np

    y, p = _checked(labels, scores)
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    score_sum = np.bincount(index, weights=p, minlength=n_bins)
    defect_sum = np.bincount(index, weights=y, minlength=n_bins)
    return {
        "count": [int(c) for c in count],
        "mean_score": [float(s / c) if c else None for s, c in zip(score_sum, count, strict=True)],
        "defect_rate": [
            float(d / c) if c else None for d, c in zip(defect_sum, count, strict=True)
        ],
    }


def expected_calibration_error(
    labels: Sequence[str], scores: Sequence[float | None], n_bins: int = N_BINS
) -> float:
    """ECE of P(defect) against the truth: Σ (count / n) · |defect rate − mean score|.

    Example:
        >>> round(expected_calibration_error(["defect"] * 9 + ["normal"], [0.9] * 10), 12)
        0.0
    """
    bins = reliability_bins(labels, scores, n_bins)
    n = sum(bins["count"])
    return float(
        sum(
            count / n * abs(rate - mean)
            for count, mean, rate in zip(
                bins["count"], bins["mean_score"], bins["defect_rate"], strict=True
            )
            if count
        )
    )


def brier_score(labels: Sequence[str], scores: Sequence[float | None]) -> float:
    """Mean squared difference of P(defect) and the truth (scikit-learn's ``brier_score_loss``)."""
    from sklearn.metrics import brier_score_loss

    y, p = _checked(labels, scores)
    return float(brier_score_loss(y, p, pos_label=1))


def _wrong_extreme(label: str) -> float:
    """An unscored image's P(defect): the most confident wrong answer (module docstring)."""
    return 0.0 if label == DEFECT else 1.0


def calibration_group(
    labels: Sequence[str], scores: Sequence[float | None], n_bins: int = N_BINS
) -> dict[str, Any] | None:
    """``{"n", "ece", "brier", "bins"}`` of one group.

    An unscored image counts as the most confident wrong answer (``n_unscored`` of them);
    ``None`` when a score lies outside [0, 1] (see the module docstring).
    """
    unscored = sum(score is None for score in scores)
    scores = [_wrong_extreme(label) if score is None else score
              for label, score in zip(labels, scores, strict=True)]  # fmt: skip
    if any(score is None or not 0 <= score <= 1 for score in scores):  # NaN is outside too
        return None
    return {
        "n": len(labels),
        "n_unscored": unscored,
        "ece": expected_calibration_error(labels, scores, n_bins),
        "brier": brier_score(labels, scores),
        "bins": reliability_bins(labels, scores, n_bins),
    }


def calibration_summary(outcomes: Sequence[Outcome], n_bins: int = N_BINS) -> dict[str, Any] | None:
    """``summary["score_calibration"]``: calibration pooled, per category and class mean.

    Returns:
        ``None`` when no image has a score (a method without scores has no block). Otherwise
        ``{"n_bins", "binning", "confidence", "overall", "class_mean", "per_class"}``; a group
        is ``None`` where some image has a score outside [0, 1] (then ``reason`` says so),
        ``class_mean`` holds the unweighted mean ``ece`` and ``brier`` over the categories that
        have them, and ``categories`` how many those are.
    """
    if not any(o.score is not None for o in outcomes):
        return None
    by_category: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_category.setdefault(outcome.category, []).append(outcome)

    def group(rows: Sequence[Outcome]) -> dict[str, Any] | None:
        return calibration_group([o.label for o in rows], [o.score for o in rows], n_bins)

    per_class = {name: group(rows) for name, rows in sorted(by_category.items())}
    judged = [g for g in per_class.values() if g is not None]
    block: dict[str, Any] = {
        "n_bins": n_bins,
        "binning": BINNING,
        "confidence": CONFIDENCE,
        "overall": group(outcomes),
        "class_mean": {
            "ece": sum(g["ece"] for g in judged) / len(judged) if judged else None,
            "brier": sum(g["brier"] for g in judged) / len(judged) if judged else None,
            "categories": len(judged),
        },
        "per_class": per_class,
    }
    if block["overall"] is None:
        block["reason"] = "some image has a score outside [0, 1]"
    return block

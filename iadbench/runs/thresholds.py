"""Threshold policies: how a score method's score becomes a defect/normal decision.

The policy is part of every run's configuration and is printed in every table, because for score
methods accuracy and F1 depend on it entirely:

* ``fixed:T`` — ``defect`` when score ≥ T (default ``fixed:0.5``).
* ``calibrated`` — the T that maximises macro-F1 on the *training* dataset's images (never the
  test set); chosen before the test set is scored.
* ``oracle`` — the T that maximises macro-F1 on the test set itself. An upper bound, not a
  result: tables always mark it.
* ``normal-quantile:q`` — the q-quantile of the scores of the *training* dataset's normal images
  (never test images): for training data without defects, as a factory has; about 1 − q of
  normal parts are flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import DEFECT, INVALID, NORMAL

if TYPE_CHECKING:
    import numpy as np

DEFAULT_POLICY = "fixed:0.5"
POLICY_KINDS = ("fixed", "calibrated", "oracle", "normal-quantile")
# Policies whose threshold is chosen on the training dataset's images (calibration.py).
TRAINING_DATA_POLICIES = ("calibrated", "normal-quantile")


class ThresholdError(IADBenchError):
    """A threshold policy that is malformed or cannot be applied."""


@dataclass(frozen=True)
class ThresholdPolicy:
    """A parsed policy; ``value`` is known up front only for ``fixed``."""

    kind: str
    value: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value is not None else self.kind


def parse_policy(text: str) -> ThresholdPolicy:
    """Parse ``fixed:T``, ``calibrated``, ``oracle`` or ``normal-quantile:q``.

    Raises:
        ThresholdError: Unknown kind, T not a number in [0, 1], or q not in (0, 1].
    """
    kind, _, value = text.partition(":")
    takes_value = kind in ("fixed", "normal-quantile")
    if kind not in POLICY_KINDS or (not takes_value and value) or (takes_value and not value):
        raise ThresholdError(
            f"threshold policy {text!r} is not one of fixed:T (T in [0, 1]), calibrated, "
            "oracle, normal-quantile:q (q in (0, 1])"
        )
    if not takes_value:
        return ThresholdPolicy(kind)
    try:
        number = float(value)
    except ValueError:
        raise ThresholdError(f"threshold policy {text!r}: {value!r} is not a number") from None
    if kind == "fixed" and not 0.0 <= number <= 1.0:
        raise ThresholdError(f"threshold policy {text!r}: T must lie in [0, 1]")
    if kind == "normal-quantile" and not 0.0 < number <= 1.0:
        raise ThresholdError(f"threshold policy {text!r}: q must lie in (0, 1]")
    return ThresholdPolicy(kind, number)


def decide(score: float, threshold: float) -> str:
    """``defect`` when the score reaches the threshold, else ``normal``."""
    return DEFECT if score >= threshold else NORMAL


def final_label(
    method_label: str | None, score: float | None, error: str | None, threshold: float | None
) -> str:
    """The one place a stored answer becomes ``defect``, ``normal`` or ``invalid``.

    An image with an error is ``invalid``. With a threshold and a score, the score decides (the
    adapter's own label is provisional for score methods). Otherwise the method's label stands
    (text methods, constant baselines). Used when a record is written (``fixed`` and
    ``calibrated``: the threshold is known) and when the summary is computed (``oracle``: it is
    known only once every score is in, so those records are stored with ``pred`` null).

    Raises:
        ThresholdError: No label can be decided (no label, and no score with a threshold).
    """
    if error is not None:
        return INVALID
    if threshold is not None and score is not None:
        return decide(score, threshold)
    if method_label is None:
        raise ThresholdError("a stored record has no label and no score to decide one from")
    return method_label


def best_f1_threshold(labels: Sequence[str], scores: Sequence[float]) -> tuple[float, float]:
    """The threshold maximising macro-F1 over {defect, normal}, and that F1.

    Every distinct score is a candidate (``defect`` when score ≥ it), plus "above every score"
    (all normal). Ties go to the highest threshold. Computed from cumulative confusion counts, so
    it is O(n log n) however many candidates there are.

    Raises:
        ThresholdError: Fewer than one image of each label (no threshold can be chosen).
    """
    # Imported here: every run reads this module for its policies, and re-running a finished run
    # (which chooses nothing) should not pay numpy's start-up.
    import numpy as np

    y = np.asarray([label == DEFECT for label in labels], dtype=bool)
    s = np.asarray(scores, dtype=float)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        raise ThresholdError(
            f"choosing a threshold needs images of both labels with scores; got {positives} "
            f"defect and {negatives} normal"
        )
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_run = np.r_[s[1:] != s[:-1], True]  # threshold at each distinct score
    tp = np.cumsum(y)[last_of_run]
    fp = np.cumsum(~y)[last_of_run]
    candidates = np.r_[np.nextafter(s[0], np.inf), s[last_of_run]]
    tp, fp = np.r_[0, tp], np.r_[0, fp]
    fn, tn = positives - tp, negatives - fp
    f1_defect = _safe_ratio(2 * tp, 2 * tp + fp + fn)
    f1_normal = _safe_ratio(2 * tn, 2 * tn + fn + fp)
    macro = (f1_defect + f1_normal) / 2
    best = int(np.argmax(macro))  # first maximum = highest threshold among ties
    return float(candidates[best]), float(macro[best])


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    import numpy as np

    ratio: np.ndarray = np.divide(  # numpy types a ufunc call with out= as Any
        numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0
    )
    return ratio

"""Image-level metrics as defined by the LR-IAD paper's Tables III, V and VI, and more.

Beyond the paper's accuracy and macro-F1: what an honest comparison needs (balanced accuracy,
invalid rate, errors, AUROC/AP, collapse flags).

Conventions:
    * Labels are fixed to {defect, normal}; macro-F1 averages the two F1 scores and a label that
      is never predicted gets F1 = 0 (scikit-learn's ``zero_division=0``), as in the paper.
    * An ``invalid`` prediction (unparseable answer or unprocessable image) is a wrong answer for
      every metric and is counted in ``invalid_rate`` (answers) or ``errors`` (images).
    * ``defect`` is the positive class for AUROC, AP and the confusion counts.
    * AUROC and AP need scores; a group where no image has one (a label-only method) has none.
      Where some images have no score (a text method's invalid answer, an image that could not
      be processed), each unscored image is ranked at the *wrong extreme* for its truth: an
      unscored defect below every scored image, an unscored normal above every one (so an
      unscored defect also ranks below an unscored normal). So an unscored image is a
      wrong answer here as it is for accuracy, AUROC/AP are a lower bound on what the scored
      answers alone would give, and a method cannot raise its AUROC by not answering the hard
      images. ``n_unscored`` (beside them) says how many images were ranked so; it is None
      where no image has a score. :func:`ranking_scores` is the rule.
    * ``pooled`` = over all images of the test set (Table III); ``class_mean`` = the unweighted
      mean of per-category values (what Tables V/VI average to).
    * Text methods (answers parsed from generated text) also get ``f1_macro_3class``: macro-F1
      with the labels fixed to {defect, normal, invalid}. No image is truly ``invalid``, so that
      class scores F1 = 0 and the value is exactly 2/3 of ``f1_macro``; it is reported to test
      whether a paper's F1 was computed that way. And a ``lenient`` block: the same metrics with
      the answers re-parsed from the stored ``text`` by the method's lenient rule (its adapter's
      ``answer_rules``),
      beside the strict parser's, which stays the headline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iadbench.contract.records import DEFECT, INVALID, LABELS, NORMAL, AnswerRules
from iadbench.runs.reader import Outcome

# A method that gives (almost) one label to every image of a category is flagged: it cannot be
# telling defects from normals there, whatever its accuracy says.
COLLAPSE_SHARE = 0.95
SUMMARY_KEYS: tuple[str, ...] = (
    "n", "accuracy", "f1_macro", "balanced_accuracy", "invalid_rate", "errors", "auroc", "ap",
    "tp", "fp", "tn", "fn", "n_invalid", "majority_share", "collapsed", "n_unscored",
)  # fmt: skip
_MEANABLE: tuple[str, ...] = (
    "accuracy", "f1_macro", "balanced_accuracy", "invalid_rate", "auroc", "ap", "majority_share",
    "f1_macro_3class",
)  # fmt: skip
#: Extra key of text methods' groups (see the module docstring).
F1_3CLASS = "f1_macro_3class"
#: Keys of each group of a summary's ``lenient`` block.
LENIENT_KEYS: tuple[str, ...] = (
    "n", "accepted_rate", "strict_accepted_rate", "changed", "accuracy", "f1_macro",
    "balanced_accuracy", F1_3CLASS, "invalid_rate",
)  # fmt: skip


@dataclass
class _Columns:
    labels: list[str] = field(default_factory=list)
    preds: list[str] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    errors: int = 0

    def add(self, outcome: Outcome) -> None:
        self.labels.append(outcome.label)
        self.preds.append(outcome.pred)
        self.scores.append(outcome.score)
        self.errors += outcome.error is not None


def compute_metrics(
    labels: Sequence[str],
    preds: Sequence[str],
    scores: Sequence[float | None] | None = None,
    errors: int = 0,
    three_class: bool = False,
) -> dict[str, float | int | bool | None]:
    """Metrics of one group of images.

    Args:
        labels: Ground truth per image, each ``"defect"`` or ``"normal"``.
        preds: Prediction per image, each ``"defect"``, ``"normal"`` or ``"invalid"``.
        scores: Anomaly score per image or ``None``; AUROC/AP are given when some image has a
            score and both labels occur, unscored images ranked as wrong
            (:func:`ranking_scores`).
        errors: Number of images that could not be processed (already ``invalid`` in ``preds``).
        three_class: Add ``f1_macro_3class``, the macro-F1 over {defect, normal, invalid}.

    Returns:
        A dict with the keys of :data:`SUMMARY_KEYS` (plus ``f1_macro_3class`` when asked);
        rates are fractions in [0, 1].

    Raises:
        ValueError: Lengths differ, the group is empty, or a label is outside the fixed sets.
    """
    # Imported here: scikit-learn takes a second to import, and the tables that only read stored
    # figures (a finished re-run, --help) import this module for its constants.
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    if len(labels) != len(preds) or (scores is not None and len(scores) != len(labels)):
        raise ValueError("labels, preds and scores must have the same length")
    if not labels:
        raise ValueError("cannot compute metrics of an empty group")
    if unknown := (set(labels) - set(LABELS)) | (set(preds) - {DEFECT, NORMAL, INVALID}):
        raise ValueError(f"unknown labels {sorted(unknown)}")
    y_true, y_pred = np.asarray(labels), np.asarray(preds)
    present = [label for label in LABELS if label in set(labels)]
    # Rows: truth defect/normal; columns: pred defect/normal/invalid.
    cm = confusion_matrix(y_true, y_pred, labels=[DEFECT, NORMAL, INVALID])
    n_invalid = int((y_pred == INVALID).sum())
    counts = [int((y_pred == label).sum()) for label in (DEFECT, NORMAL, INVALID)]
    majority_share = max(counts) / len(y_pred)
    extra = {}
    if three_class:
        extra[F1_3CLASS] = float(
            f1_score(y_true, y_pred, labels=[DEFECT, NORMAL, INVALID], average="macro",
                     zero_division=0)
        )  # fmt: skip
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=list(LABELS), average="macro", zero_division=0)
        ),
        # Mean recall over the labels that occur: a normal-only group is not halved.
        "balanced_accuracy": float(
            recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "invalid_rate": (n_invalid - errors) / len(y_true),
        "errors": int(errors),
        **_score_metrics(y_true, scores),
        "tp": int(cm[0, 0]),
        "fn": int(cm[0, 1] + cm[0, 2]),
        "fp": int(cm[1, 0]),
        "tn": int(cm[1, 1]),
        "n_invalid": n_invalid,
        "majority_share": majority_share,
        "collapsed": majority_share >= COLLAPSE_SHARE,
        **extra,
    }


# Where an unscored image is ranked: outside [0, 1], the range every stored score lies in.
UNSCORED_DEFECT_RANK = -1.0
UNSCORED_NORMAL_RANK = 2.0


def ranking_scores(labels: Sequence[str], scores: Sequence[float | None]) -> list[float]:
    """The scores AUROC and AP rank: each missing score replaced by the wrong extreme.

    An unscored ``defect`` gets :data:`UNSCORED_DEFECT_RANK` (below every score: missed at any
    threshold), an unscored ``normal`` :data:`UNSCORED_NORMAL_RANK` (above every score: a false
    alarm at any threshold). The module docstring says why.

    Example:
        >>> ranking_scores(["defect", "normal", "normal"], [None, None, 0.3])
        [-1.0, 2.0, 0.3]
    """
    return [
        float(score) if score is not None
        else UNSCORED_DEFECT_RANK if label == DEFECT else UNSCORED_NORMAL_RANK
        for label, score in zip(labels, scores, strict=True)
    ]  # fmt: skip


def _score_metrics(
    y_true: np.ndarray, scores: Sequence[float | None] | None
) -> dict[str, float | int | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if scores is None or all(s is None for s in scores):
        return {"auroc": None, "ap": None, "n_unscored": None}
    unscored = sum(s is None for s in scores)
    if len(set(y_true.tolist())) < 2:
        return {"auroc": None, "ap": None, "n_unscored": unscored}
    y_score = np.asarray(ranking_scores(y_true.tolist(), scores), dtype=float)
    positive = y_true == DEFECT
    return {
        "auroc": float(roc_auc_score(positive, y_score)),
        "ap": float(average_precision_score(positive, y_score)),
        "n_unscored": unscored,
    }


def class_mean(
    per_class: dict[str, dict[str, float | int | bool | None]],
    keys: Sequence[str] | None = None,
) -> dict[str, float | int | bool | None]:
    """Unweighted mean over categories; counts are summed, flags say whether any category has it.

    A metric that some category lacks (AUROC of a one-label category) is averaged over the
    categories that have it, and is ``None`` when none has it. ``keys`` defaults to
    :data:`SUMMARY_KEYS` plus the extra keys of the first category (``f1_macro_3class``).
    """
    rows = list(per_class.values())
    if not rows:
        raise ValueError("cannot average over zero categories")
    mean: dict[str, float | int | bool | None] = {}
    if keys is None:
        keys = list(SUMMARY_KEYS) + [k for k in rows[0] if k not in SUMMARY_KEYS]
    for key in keys:
        values = [value for row in rows if (value := row.get(key)) is not None]
        if key in _MEANABLE or key.endswith("_rate"):
            mean[key] = float(np.mean(values)) if values else None
        elif key == "collapsed":
            mean[key] = any(bool(v) for v in values)
        else:  # a count; None where no category has it (n_unscored without scores)
            mean[key] = int(sum(values)) if values else None
    mean["categories"] = len(rows)
    return mean


def _lenient_group(strict: list[Outcome], rule: Callable[[str], str]) -> dict[str, Any]:
    """Metrics of one group with labels re-parsed by ``rule`` (no text: the strict label)."""
    preds = [r.pred if r.text is None else rule(r.text) for r in strict]
    labels = [r.label for r in strict]
    errors = sum(r.error is not None for r in strict)
    metrics = compute_metrics(labels, preds, errors=errors, three_class=True)
    n = len(strict)
    return {
        "n": n,
        "accepted_rate": sum(p != INVALID for p in preds) / n,
        "strict_accepted_rate": sum(r.pred != INVALID for r in strict) / n,
        "changed": sum(p != r.pred for p, r in zip(preds, strict, strict=True)),
        **{key: metrics[key] for key in LENIENT_KEYS if key in metrics},
    }


def lenient_summary(outcomes: Sequence[Outcome], rules: AnswerRules) -> dict[str, Any]:
    """The ``lenient`` block of a text method's summary.

    Args:
        outcomes: One per test image, ``text`` filled in.
        rules: The method's answer rules (the adapter's ``answer_rules``).

    Returns:
        ``{"rule", "strict_rule", "overall", "class_mean", "per_class"}``; each group has the keys
        of :data:`LENIENT_KEYS`: ``accepted_rate`` is the share of images the lenient rule gets a
        letter (label) from, ``strict_accepted_rate`` the strict parser's, ``changed`` the
        number of images whose label differs, and the metrics are those of the lenient labels.
    """
    parse = rules.parse_lenient
    by_category: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_category.setdefault(outcome.category, []).append(outcome)
    per_class = {c: _lenient_group(rs, parse) for c, rs in sorted(by_category.items())}
    return {
        "rule": rules.lenient,
        "strict_rule": rules.strict,
        "overall": _lenient_group(list(outcomes), parse),
        "class_mean": class_mean(per_class, LENIENT_KEYS),
        "per_class": per_class,
    }


def summarize(
    outcomes: Iterable[Outcome], rules: AnswerRules | None = None
) -> dict[str, dict[str, Any]]:
    """Pooled, class-mean and per-category metrics of a run's outcomes.

    Args:
        outcomes: One per test image.
        rules: For a text method, its answer rules (the adapter's ``answer_rules``): adds
            ``f1_macro_3class`` to every group and the ``lenient`` block.

    Returns:
        ``{"overall": {...}, "class_mean": {...}, "per_class": {category: {...}}}`` with the keys
        of :data:`SUMMARY_KEYS` in each group (class_mean adds ``categories``), and for a text
        method ``"lenient": {...}`` (see :func:`lenient_summary`).
    """
    outcomes = list(outcomes)
    three = rules is not None
    pooled = _Columns()
    by_category: dict[str, _Columns] = {}
    for outcome in outcomes:
        pooled.add(outcome)
        by_category.setdefault(outcome.category, _Columns()).add(outcome)
    if not pooled.labels:
        raise ValueError("no predictions to summarise")
    per_class = {
        category: compute_metrics(cols.labels, cols.preds, cols.scores, cols.errors, three)
        for category, cols in sorted(by_category.items())
    }
    summary: dict[str, dict[str, Any]] = {
        "overall": compute_metrics(pooled.labels, pooled.preds, pooled.scores, pooled.errors,
                                   three),
        "class_mean": class_mean(per_class),
        "per_class": per_class,
    }  # fmt: skip
    if rules is not None:
        summary["lenient"] = lenient_summary(outcomes, rules)
    if any(outcome.defect_type for outcome in outcomes):
        summary["per_defect_type"] = per_defect_type(outcomes)
    return summary


def per_defect_type(outcomes: Iterable[Outcome]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per category and defect type: images, how many were predicted defect, and that share.

    For a defect type the share is its recall (defects of that kind caught); for ``good``
    (normal images) it is the false-positive rate. Invalid answers and errors count as not
    detected, as everywhere else.

    Example:
        >>> rows = [Outcome("1", "screw", "defect", "defect", defect_type="thread_top"),
        ...         Outcome("2", "screw", "defect", "normal", defect_type="thread_top"),
        ...         Outcome("3", "screw", "normal", "normal", defect_type="good")]
        >>> per_defect_type(rows)["screw"]["thread_top"]
        {'n': 2, 'detected': 1, 'rate': 0.5}
    """
    counts: dict[str, dict[str, list[int]]] = {}
    for outcome in outcomes:
        kind = outcome.defect_type or ("good" if outcome.label == NORMAL else "unknown")
        n_detected = counts.setdefault(outcome.category, {}).setdefault(kind, [0, 0])
        n_detected[0] += 1
        n_detected[1] += outcome.pred == DEFECT
    return {
        category: {
            kind: {"n": n, "detected": detected, "rate": detected / n}
            for kind, (n, detected) in sorted(kinds.items())
        }
        for category, kinds in sorted(counts.items())
    }

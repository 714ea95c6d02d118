"""Thresholds chosen from data: ``calibrated`` on the training dataset, ``oracle`` on the test set.

Kept apart from :mod:`iadbench.runs.thresholds` (pure decisions) because both read stored
predictions
(and ``calibrated`` writes the training scores it needs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iadbench.contract.records import NORMAL, Sample
from iadbench.runs.thresholds import ThresholdError, ThresholdPolicy, best_f1_threshold
from iadbench.runs.writer import PredictionLog


def calibrate(
    train_all: list[Sample],
    test_samples: list[Sample],
    log: PredictionLog,
    predict: Callable[..., object],
    policy: ThresholdPolicy | None = None,
) -> dict[str, Any]:
    """Choose a threshold on the training dataset, never on test images.

    ``calibrated`` (the default): the macro-F1-best threshold over all its images.
    ``normal-quantile:q``: the q-quantile of its *normal* images' scores (only those are
    scored), for training data without defects.

    Args:
        train_all: Every image of the training dataset (All subset).
        test_samples: The run's test images; any of them in ``train_all`` (same dataset) are
            left out, so the threshold never sees a test label.
        log: Where calibration scores are stored (resumable like the test predictions).
        predict: Predicts into ``log`` those of the given samples it lacks.
        policy: The run's policy (``calibrated`` when None).

    Returns:
        What to record in the summary: policy, images used, threshold, its F1 there (calibrated)
        or the quantile (normal-quantile).

    Raises:
        ThresholdError: The calibration images do not hold what the policy needs (both labels;
            at least one normal) with scores.
    """
    kind = policy.kind if policy is not None else "calibrated"
    test_ids = {(s.dataset, s.id) for s in test_samples}
    samples = [s for s in train_all if (s.dataset, s.id) not in test_ids]
    excluded = len(train_all) - len(samples)
    if train_all and not samples:
        # Say why instead of "got 0 defect and 0 normal": every image is also a test image.
        raise ThresholdError(
            f"--threshold {kind} chooses the threshold on the training dataset minus the "
            f"test images, and all {len(train_all)} images of {train_all[0].dataset!r} are test "
            "images of this run (train == test?): nothing is left to calibrate on. Use another "
            "training dataset, --threshold fixed:T, or oracle (marked as an upper bound)"
        )
    if kind == "normal-quantile":
        samples = [s for s in samples if s.label == NORMAL]
    predict(samples)  # predicts only what the log lacks
    wanted = {s.id for s in samples}
    scored = [r for r in log.iter_records() if r["id"] in wanted and r.get("score") is not None]
    record: dict[str, Any] = {
        "policy": kind,
        "dataset": train_all[0].dataset if train_all else None,
        "split": "all",
        "excluded_test_images": excluded,
        "n": len(samples),
        "n_scored": len(scored),
    }
    if kind == "normal-quantile":
        assert policy is not None and policy.value is not None
        if not scored:
            raise ThresholdError(
                "--threshold normal-quantile needs training images labelled normal with scores; "
                f"the training dataset {record['dataset']!r} has none"
            )
        import numpy as np  # here: a finished re-run imports this module and chooses nothing

        threshold = float(np.quantile([r["score"] for r in scored], policy.value))
        return {**record, "quantile": policy.value, "threshold": threshold}
    threshold, f1 = best_f1_threshold([r["label"] for r in scored], [r["score"] for r in scored])
    return {**record, "threshold": threshold, "f1_macro": f1}


def oracle_threshold(log: PredictionLog, test_ids: set[str]) -> float:
    """The F1-best threshold on the test labels themselves (read only; nothing is rewritten).

    The test records were stored with ``pred`` null; the summary decides them with this value
    (:func:`~iadbench.runs.thresholds.final_label`) and tables mark the run as an oracle (an upper
    bound).
    """
    scored = [
        r
        for r in log.iter_records()
        if r["id"] in test_ids and r.get("score") is not None and not r.get("error")
    ]
    threshold, _ = best_f1_threshold([r["label"] for r in scored], [r["score"] for r in scored])
    return threshold

"""Thresholds chosen from data: ``calibrated`` on the training dataset, ``oracle`` on the test set.

Kept apart from :mod:`iadbench.thresholds` (pure decisions) because both read stored predictions
(and ``calibrated`` writes the training scores it needs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iadbench.records import Sample
from iadbench.store import PredictionLog
from iadbench.thresholds import ThresholdError, best_f1_threshold


def calibrate(
    train_all: list[Sample],
    test_samples: list[Sample],
    log: PredictionLog,
    predict: Callable[[list[Sample]], object],
) -> dict[str, Any]:
    """Choose the macro-F1-best threshold on the training dataset, never on test images.

    Args:
        train_all: Every image of the training dataset (All subset).
        test_samples: The run's test images; any of them in ``train_all`` (same dataset) are
            left out, so the threshold never sees a test label.
        log: Where calibration scores are stored (resumable like the test predictions).
        predict: Predicts into ``log`` those of the given samples it lacks.

    Returns:
        What to record in the summary: dataset images used, threshold, its F1 there.

    Raises:
        ThresholdError: The calibration images do not hold both labels with scores.
    """
    test_ids = {(s.dataset, s.id) for s in test_samples}
    samples = [s for s in train_all if (s.dataset, s.id) not in test_ids]
    if train_all and not samples:
        # Say why instead of "got 0 defect and 0 normal": every image is also a test image.
        raise ThresholdError(
            f"--threshold calibrated chooses the threshold on the training dataset minus the "
            f"test images, and all {len(train_all)} images of {train_all[0].dataset!r} are test "
            "images of this run (train == test?): nothing is left to calibrate on. Use another "
            "training dataset, --threshold fixed:T, or oracle (marked as an upper bound)"
        )
    predict(samples)  # predicts only what the log lacks
    wanted = {s.id for s in samples}
    scored = [r for r in log.iter_records() if r["id"] in wanted and r.get("score") is not None]
    threshold, f1 = best_f1_threshold([r["label"] for r in scored], [r["score"] for r in scored])
    return {
        "dataset": train_all[0].dataset if train_all else None,
        "split": "all",
        "excluded_test_images": len(train_all) - len(samples),
        "n": len(samples),
        "n_scored": len(scored),
        "threshold": threshold,
        "f1_macro": f1,
    }


def oracle_threshold(log: PredictionLog, test_ids: set[str]) -> float:
    """The F1-best threshold on the test labels themselves (read only; nothing is rewritten).

    The test records were stored with ``pred`` null; the summary decides them with this value
    (:func:`~iadbench.thresholds.final_label`) and tables mark the run as an oracle (an upper
    bound).
    """
    scored = [
        r
        for r in log.iter_records()
        if r["id"] in test_ids and r.get("score") is not None and not r.get("error")
    ]
    threshold, _ = best_f1_threshold([r["label"] for r in scored], [r["score"] for r in scored])
    return threshold

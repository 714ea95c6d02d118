"""Thresholds chosen from data: ``calibrated`` on training data, ``oracle`` on the test set.

Kept apart from :mod:`iadbench.runs.thresholds` (pure decisions) because both read stored
predictions
(and ``calibrated`` writes the training scores it needs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iadbench.execution.calibration_data import CalibrationChoice
from iadbench.runs.thresholds import ThresholdError, ThresholdPolicy, best_f1_threshold
from iadbench.runs.writer import PredictionLog


def calibrate(
    choice: CalibrationChoice,
    dataset: str | None,
    log: PredictionLog,
    predict: Callable[..., object],
    policy: ThresholdPolicy | None = None,
) -> dict[str, Any]:
    """Choose a threshold on the images planning chose for it, never on test images.

    ``calibrated`` (the default): the macro-F1-best threshold over them.
    ``normal-quantile:q``: the q-quantile of their scores (normal images only), for training
    data without defects. Which images (held out of training where possible) is
    :func:`~iadbench.execution.calibration_data.choose_calibration`'s choice.

    Args:
        choice: The calibration images and where they come from.
        dataset: The training dataset's name (recorded).
        log: Where calibration scores are stored (resumable like the test predictions).
        predict: Predicts into ``log`` those of the given samples it lacks.
        policy: The run's policy (``calibrated`` when None).

    Returns:
        What to record in the summary: policy, the images (``held_out``, ``source``,
        ``n_per_label``), threshold, its F1 there (calibrated) or the quantile
        (normal-quantile).

    Raises:
        ThresholdError: The calibration images hold no score a policy can use.
    """
    kind = policy.kind if policy is not None else "calibrated"
    samples = choice.samples
    predict(samples)  # predicts only what the log lacks
    wanted = {s.id for s in samples}
    scored = [r for r in log.iter_records() if r["id"] in wanted and r.get("score") is not None]
    record: dict[str, Any] = {
        "policy": kind,
        "dataset": dataset,
        "split": "all",
        **choice.record(),
        "excluded_test_images": choice.excluded_test_images,
        "n": len(samples),
        "n_scored": len(scored),
    }
    if kind == "normal-quantile":
        assert policy is not None and policy.value is not None
        if not scored:
            raise ThresholdError(
                "--threshold normal-quantile needs training images labelled normal with scores; "
                f"none of the {len(samples)} chosen in {dataset!r} got one"
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

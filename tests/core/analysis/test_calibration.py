"""Calibration of P(defect) scores: ECE (15 equal-width bins), Brier score, reliability bins."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from iadbench.analysis.calibration import (
    N_BINS,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_bins,
)
from iadbench.runs.reader import Outcome


def bernoulli(scores: np.ndarray, seed: int = 1) -> list[str]:
    """Labels drawn defect with probability = the score: perfectly calibrated scores."""
    draws = np.random.default_rng(seed).random(len(scores)) < scores
    return ["defect" if d else "normal" for d in draws]


def test_calibrated_scores_have_small_ece_and_overconfident_ones_large() -> None:
    p = np.random.default_rng(0).random(20_000)
    labels = bernoulli(p)
    calibrated = expected_calibration_error(labels, p.tolist())
    # The same labels, the scores pushed toward 0 / 1 (an over-confident model).
    pushed = np.where(p >= 0.5, 1 - (1 - p) ** 3, p**3)
    overconfident = expected_calibration_error(labels, pushed.tolist())
    assert calibrated < 0.02
    assert overconfident > 0.15
    # The Brier score agrees on which is better.
    assert brier_score(labels, p.tolist()) < brier_score(labels, pushed.tolist())


def test_ece_compares_with_the_defect_rate_not_the_normal_rate() -> None:
    # 90 % defects at score 0.9: calibrated for P(defect) (ECE 0); read against "normal" as the
    # positive label it would be |0.1 - 0.9| = 0.8, and the two-bin example below would swap.
    labels = ["defect"] * 9 + ["normal"]
    assert expected_calibration_error(labels, [0.9] * 10) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(labels, [0.1] * 10) == pytest.approx(0.8)
    p = np.random.default_rng(2).random(5000)
    labels = bernoulli(p, seed=3)
    flipped = ["normal" if label == "defect" else "defect" for label in labels]
    assert expected_calibration_error(flipped, p.tolist()) > 0.3


def test_bins_are_fifteen_equal_width_bins_with_the_last_one_closed() -> None:
    edges = [k / N_BINS for k in range(N_BINS)]
    bins = reliability_bins(["normal"] * N_BINS + ["defect"], [*edges, 1.0])
    assert N_BINS == 15 and len(bins["count"]) == 15
    assert bins["count"] == [1] * 14 + [2]  # 1.0 joins [14/15, 1]
    assert bins["defect_rate"][-1] == 0.5 and bins["mean_score"][-1] == pytest.approx(
        (14 / 15 + 1) / 2
    )


def test_hand_computed_ece_and_empty_bins() -> None:
    # Two bins: [0, 0.5) holds 0.2, 0.2 (one defect: rate 0.5, mean 0.2 → gap 0.3);
    # [0.5, 1] holds 0.6, 0.8 (both defects: rate 1, mean 0.7 → gap 0.3). ECE = 0.3.
    labels, scores = ["defect", "normal", "defect", "defect"], [0.2, 0.2, 0.6, 0.8]
    assert expected_calibration_error(labels, scores, n_bins=2) == pytest.approx(0.3)
    bins = reliability_bins(labels, scores, n_bins=4)
    assert bins["count"] == [1 + 1, 0, 1, 1]
    assert bins["mean_score"][1] is None and bins["defect_rate"][1] is None


def test_brier_is_scikit_learns_with_defect_positive() -> None:
    labels, scores = ["defect", "normal", "normal"], [0.7, 0.4, 0.0]
    assert brier_score(labels, scores) == pytest.approx((0.09 + 0.16 + 0) / 3)
    assert brier_score(labels, scores) == pytest.approx(brier_score_loss([1, 0, 0], scores))


def test_an_unscored_image_counts_as_the_most_confident_wrong_answer() -> None:
    """An invalid answer is P(defect) = 1 for a normal image (0 for a defect), as AUROC ranks it:
    not answering never looks better calibrated (the merge of issue 20's items 2 and 3)."""
    rows = [
        Outcome("0", "c", "defect", "defect", score=0.5),
        Outcome("1", "c", "normal", "invalid"),
    ]
    block = calibration_summary(rows)
    assert block is not None and block["overall"]["n_unscored"] == 1
    assert block["overall"]["ece"] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    assert block["overall"]["brier"] == pytest.approx((0.25 + 1.0) / 2)
    answered = calibration_summary([rows[0], Outcome("1", "c", "normal", "normal", score=0.0)])
    assert answered is not None and answered["overall"]["ece"] < block["overall"]["ece"]


@pytest.mark.parametrize("scores", [[0.5, 1.5], [0.5, float("nan")]])
def test_a_non_probability_score_gives_no_figures(scores: list[float | None]) -> None:
    with pytest.raises(ValueError):
        expected_calibration_error(["defect", "normal"], scores)
    rows = [
        Outcome(str(i), "c", label, "normal", score=s)
        for i, (label, s) in enumerate(zip(["defect", "normal"], scores, strict=True))
    ]
    block = calibration_summary(rows)
    assert block is not None and block["overall"] is None and block["per_class"]["c"] is None
    assert "reason" in block


def test_summary_block_pooled_per_category_and_class_mean() -> None:
    rows = [
        Outcome("1", "a", "defect", "defect", score=0.9),
        Outcome("2", "a", "normal", "normal", score=0.1),
        Outcome("3", "b", "defect", "normal", score=0.3),
        Outcome("4", "b", "normal", "normal", score=0.3),
    ]
    block = calibration_summary(rows)
    assert block is not None and block["n_bins"] == 15
    a, b = block["per_class"]["a"], block["per_class"]["b"]
    assert a["ece"] == pytest.approx(0.1) and b["ece"] == pytest.approx(0.2)
    assert block["class_mean"] == {
        "ece": pytest.approx(0.15),
        "brier": pytest.approx((a["brier"] + b["brier"]) / 2),
        "categories": 2,
    }
    assert block["overall"]["n"] == 4
    # A method without scores has no block at all.
    assert calibration_summary([Outcome("1", "a", "defect", "defect")]) is None

"""Operating points: recall at a false-alarm budget, false alarms at a recall target, F1-max."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from iadbench.analysis.operating_points import operating_points, operating_points_summary
from iadbench.analysis.statistics import group_rng, resample_cells
from iadbench.contract.errors import ArgumentError
from iadbench.runs.reader import Outcome

# Ties on purpose: 0.8 holds two defects and one normal, 0.1 two normals.
LABELS = ["defect"] * 4 + ["normal"] * 5
SCORES = [0.9, 0.8, 0.8, 0.3, 0.8, 0.5, 0.2, 0.1, 0.1]
# By hand, threshold → (recall, FAR) with defect when score ≥ T:
#   above 0.9 → (0, 0); 0.9 → (1/4, 0); 0.8 → (3/4, 1/5); 0.5 → (3/4, 2/5); 0.3 → (1, 2/5);
#   0.2 → (1, 3/5); 0.1 → (1, 1).


def figures(**kwargs: object) -> dict:
    out, _ = operating_points(LABELS, SCORES, 0.5, resamples=0, **kwargs)  # type: ignore[arg-type]
    assert out is not None
    return out


def test_recall_at_a_false_alarm_budget_by_hand_with_ties() -> None:
    out = figures(far_targets=(0.1, 0.2, 0.4))
    # FAR ≤ 10 %: the tie at 0.8 brings a normal with its two defects, so only 0.9 qualifies.
    assert out["recall_at_far"]["0.1"] == {
        "recall": 0.25,
        "miss_rate": 0.75,
        "far": 0.0,
        "threshold": 0.9,
    }
    assert out["recall_at_far"]["0.2"] == {
        "recall": 0.75,
        "miss_rate": 0.25,
        "far": 0.2,
        "threshold": 0.8,
    }
    # 0.5 and 0.3 both have FAR 2/5; 0.3 reaches recall 1.
    assert out["recall_at_far"]["0.4"]["recall"] == 1.0
    assert out["recall_at_far"]["0.4"]["threshold"] == 0.3


def test_false_alarms_at_a_recall_target_by_hand() -> None:
    out = figures(recall_targets=(0.5, 0.95))
    # Recall ≥ 50 %: 0.8 is the first step reaching it (3/4), at FAR 1/5.
    assert out["far_at_recall"]["0.5"] == {"far": 0.2, "recall": 0.75, "threshold": 0.8}
    assert out["far_at_recall"]["0.95"] == {"far": 0.4, "recall": 1.0, "threshold": 0.3}


def test_f1_max_beside_f1_at_the_runs_threshold() -> None:
    out = figures()
    # At 0.8: TP 3, FP 1, FN 1, TN 4 → F1 defect 6/8, normal 8/10 → macro 0.775.
    assert out["f1_max"] == pytest.approx(0.775) and out["f1_max_threshold"] == 0.8
    # At the run's 0.5: TP 3, FP 2, FN 1, TN 3 → 6/9 and 6/9.
    assert out["f1_at_threshold"] == pytest.approx(2 / 3)
    assert (out["n"], out["defects"], out["normals"]) == (9, 4, 5)


def test_one_false_alarm_in_a_hundred_normals_is_within_one_percent() -> None:
    labels = ["defect"] * 10 + ["normal"] * 100
    scores = [0.9] * 10 + [0.95] + [0.1] * 99  # the highest score is a normal
    out, _ = operating_points(labels, scores, resamples=0, far_targets=(0.01,))
    assert out is not None and out["recall_at_far"]["0.01"]["recall"] == 1.0


def test_agrees_with_a_brute_force_reading_of_scikit_learns_roc_curve() -> None:
    rng = np.random.default_rng(4)
    for trial in range(20):
        n = int(rng.integers(5, 60))
        labels = ["defect" if x else "normal" for x in rng.random(n) < 0.4]
        if len(set(labels)) < 2:
            continue
        scores = np.round(rng.random(n), 1).tolist()  # many ties
        out, _ = operating_points(
            labels, scores, resamples=0, far_targets=(0.05, 0.3), recall_targets=(0.5, 0.9)
        )
        fpr, tpr, _ = roc_curve(
            [label == "defect" for label in labels], scores, drop_intermediate=False
        )
        assert out is not None, trial
        for a in (0.05, 0.3):
            assert out["recall_at_far"][f"{a:g}"]["recall"] == pytest.approx(tpr[fpr <= a].max())
        for b in (0.5, 0.9):
            assert out["far_at_recall"][f"{b:g}"]["far"] == pytest.approx(fpr[tpr >= b].min())


def test_no_figures_without_every_score_or_without_both_labels() -> None:
    assert operating_points(["defect", "normal"], [0.3, None])[0] is None
    assert operating_points(["normal", "normal"], [0.3, 0.4])[0] is None


def test_targets_are_checked_like_every_number() -> None:
    with pytest.raises(ArgumentError, match="far_targets"):
        operating_points(LABELS, SCORES, far_targets=(1.5,))


def test_intervals_use_the_statistics_bootstrap_and_are_reproducible() -> None:
    out, draws = operating_points(LABELS, SCORES, group="bottle", resamples=200, far_targets=(0.2,))
    again, _ = operating_points(LABELS, SCORES, group="bottle", resamples=200, far_targets=(0.2,))
    assert out == again and out is not None and draws is not None
    # The draws are statistics.resample_cells with the group's generator (seed 0, "bottle"),
    # one cell per distinct (score, label) in descending score order: defects in cells 0, 1, 4.
    counts = np.array([1, 2, 1, 1, 1, 1, 2])
    resampled = resample_cells(counts, 200, group_rng(0, "bottle"))
    defects, normals = resampled[:, [0, 1, 4]].sum(axis=1), resampled[:, [2, 3, 5, 6]].sum(axis=1)
    assert (draws["defined"] == ((defects > 0) & (normals > 0))).all()
    # Recall at FAR ≤ 20 % of each resample from its cells, by the rule (largest recall).
    for row, recall in zip(resampled[:20], draws["recall@0.2"][:20], strict=True):
        if not (row[[0, 1, 4]].sum() and row[[2, 3, 5, 6]].sum()):
            assert np.isnan(recall)
            continue
        steps = [
            (0, 0),
            (row[0], 0),
            (row[0] + row[1], row[2]),
            (row[0] + row[1], row[2] + row[3]),
            (row[0] + row[1] + row[4], row[2] + row[3]),
        ]
        d, n = row[[0, 1, 4]].sum(), row[[2, 3, 5, 6]].sum()
        assert recall == pytest.approx(max(tp / d for tp, fp in steps if fp / n <= 0.2 + 1e-9))
    assert out["intervals"]["undefined_resamples"] == int((~draws["defined"]).sum())
    low, high = out["intervals"]["recall_at_far"]["0.2"]
    assert low <= 0.75 <= high
    miss = out["intervals"]["miss_rate_at_far"]["0.2"]
    assert miss == [pytest.approx(1 - high), pytest.approx(1 - low)]
    # A category's interval depends on its own name, not on the other categories.
    other, _ = operating_points(LABELS, SCORES, group="cable", resamples=200, far_targets=(0.2,))
    assert other is not None and other["intervals"] != out["intervals"]


def test_summary_block_pooled_per_category_and_class_mean() -> None:
    rows = [
        Outcome(f"{c}{i}", c, label, "normal", score=s)
        for c in ("a", "b")
        for i, (label, s) in enumerate(zip(LABELS, SCORES, strict=True))
    ]
    rows.append(Outcome("x", "one-label", "normal", "normal", score=0.2))
    block = operating_points_summary(rows, 0.5, resamples=50)
    assert block is not None
    assert block["far_targets"] == [0.01, 0.05] and block["recall_targets"] == [0.95, 0.99]
    assert block["per_class"]["one-label"] is None
    assert block["class_mean"]["categories"] == 2
    assert block["class_mean"]["recall_at_far"]["0.05"]["recall"] == pytest.approx(0.25)
    assert block["class_mean"]["f1_max"] == pytest.approx(0.775)
    assert block["overall"]["n"] == 19
    assert block["bootstrap"]["resamples"] == 50
    assert operating_points_summary([Outcome("1", "a", "defect", "defect")]) is None


def test_in_a_summary_an_unscored_defect_is_missed_at_every_threshold() -> None:
    """A text method's invalid answer on a defect: placed at the wrong extreme, as AUROC does."""

    scored = [Outcome(f"d{i}", "c", "defect", "defect", score=0.9) for i in range(3)]
    normals = [Outcome(f"n{i}", "c", "normal", "normal", score=0.1) for i in range(4)]
    invalid = Outcome("d3", "c", "defect", "invalid")
    block = operating_points_summary([*scored, invalid, *normals], None, resamples=20)
    assert block is not None and block["overall"] is not None
    assert block["overall"]["recall_at_far"]["0.05"]["recall"] == pytest.approx(3 / 4)
    answered = operating_points_summary([*scored, *normals], None, resamples=20)
    assert answered is not None and answered["overall"]["recall_at_far"]["0.05"]["recall"] == 1.0

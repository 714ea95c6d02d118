import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from iadbench.analysis.metrics import (
    COLLAPSE_SHARE,
    class_mean,
    compute_metrics,
    summarize,
)
from iadbench.runs.reader import Outcome


def test_always_defect_on_mvtec_bottle_all_reproduces_paper_aprilgan_row():
    # MVTec-AD bottle, All split: 63 defects, 229 normals; the paper's Table VI AprilGAN row.
    m = compute_metrics(["defect"] * 63 + ["normal"] * 229, ["defect"] * 292)
    assert round(100 * m["accuracy"], 2) == 21.58
    assert round(100 * m["f1_macro"], 2) == 17.75


def test_never_predicted_label_scores_f1_zero():
    m = compute_metrics(["defect", "normal", "normal", "normal"], ["normal"] * 4)
    # normal F1 = 2*3/(3+4) ; defect F1 = 0 -> macro = half of the normal F1
    assert m["f1_macro"] == pytest.approx((6 / 7) / 2)


def test_invalid_answer_is_wrong_and_counted():
    m = compute_metrics(["defect", "normal"], ["invalid", "normal"])
    assert m["accuracy"] == 0.5
    assert m["invalid_rate"] == 0.5
    assert m["n_invalid"] == 1 and m["fn"] == 1 and m["tn"] == 1


def test_errors_are_counted_apart_from_unparseable_answers():
    m = compute_metrics(["defect", "normal", "normal"], ["invalid", "invalid", "normal"], errors=1)
    assert m["errors"] == 1
    assert m["invalid_rate"] == pytest.approx(1 / 3)


def test_balanced_accuracy_of_one_label_group_is_not_halved():
    m = compute_metrics(["normal"] * 4, ["normal", "normal", "normal", "defect"])
    assert m["balanced_accuracy"] == 0.75


def test_confusion_counts_take_defect_as_positive():
    m = compute_metrics(
        ["defect", "defect", "normal", "normal"], ["defect", "normal", "defect", "normal"]
    )
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (1, 1, 1, 1)


def test_auroc_and_ap_given_with_scores_and_none_without():
    labels = ["defect", "normal", "defect", "normal"]
    preds = ["defect", "normal", "normal", "normal"]
    scored = compute_metrics(labels, preds, [0.9, 0.1, 0.4, 0.3])
    assert scored["auroc"] == 1.0 and scored["ap"] == 1.0 and scored["n_unscored"] == 0
    # Issue 20 changed this: one unscored image no longer removes the AUROC (it used to be
    # None); it is ranked as wrong (below).
    assert compute_metrics(labels, preds, [0.9, None, 0.4, 0.3])["auroc"] is not None
    plain = compute_metrics(labels, preds)  # a label-only method
    assert plain["auroc"] is None and plain["ap"] is None and plain["n_unscored"] is None


def test_collapse_flag_fires_at_the_documented_share():
    n = 100
    almost = int(COLLAPSE_SHARE * n)
    m = compute_metrics(
        ["defect"] * 50 + ["normal"] * 50, ["normal"] * almost + ["defect"] * (n - almost)
    )
    assert m["collapsed"] is True
    m = compute_metrics(
        ["defect"] * 50 + ["normal"] * 50, ["normal"] * (almost - 1) + ["defect"] * (n - almost + 1)
    )
    assert m["collapsed"] is False


def test_unknown_label_is_rejected():
    with pytest.raises(ValueError, match="unknown labels"):
        compute_metrics(["defect"], ["anomaly"])


def test_summarize_gives_pooled_class_mean_and_per_class():
    records = [
        Outcome("a/1", "a", "defect", "defect"),
        Outcome("a/2", "a", "normal", "defect"),
        Outcome("b/1", "b", "normal", "normal"),
        Outcome("b/2", "b", "normal", "normal"),
        Outcome("b/3", "b", "defect", "normal"),
        Outcome("b/4", "b", "defect", "normal"),
    ]
    s = summarize(records)
    assert s["overall"]["n"] == 6 and s["overall"]["accuracy"] == pytest.approx(3 / 6)
    assert s["per_class"]["a"]["accuracy"] == 0.5 and s["per_class"]["b"]["accuracy"] == 0.5
    assert s["class_mean"]["accuracy"] == 0.5 and s["class_mean"]["categories"] == 2
    assert s["class_mean"]["n"] == 6


def test_class_mean_averages_auroc_over_categories_that_have_it():
    per_class = {
        "a": compute_metrics(["defect", "normal"], ["defect", "normal"], [0.9, 0.1]),
        "b": compute_metrics(["normal", "normal"], ["normal", "normal"], [0.1, 0.2]),
    }
    assert per_class["b"]["auroc"] is None
    assert class_mean(per_class)["auroc"] == 1.0


def test_three_class_macro_f1_fixes_the_labels_to_defect_normal_invalid():
    labels = ["defect", "defect", "normal", "normal", "normal"]
    preds = ["defect", "invalid", "normal", "normal", "invalid"]
    m = compute_metrics(labels, preds, three_class=True)
    # No image is truly invalid: that class scores F1 = 0, so the 3-class value is 2/3 of the
    # 2-class one (the labels are fixed, whatever is predicted).
    f1_defect, f1_normal = 2 * 1 / (2 * 1 + 0 + 1), 2 * 2 / (2 * 2 + 0 + 1)
    assert m["f1_macro"] == pytest.approx((f1_defect + f1_normal) / 2)
    assert m["f1_macro_3class"] == pytest.approx((f1_defect + f1_normal) / 3)
    no_invalid = compute_metrics(labels, ["defect"] * 5, three_class=True)
    assert no_invalid["f1_macro_3class"] == pytest.approx(2 / 3 * no_invalid["f1_macro"])
    assert "f1_macro_3class" not in compute_metrics(labels, preds)


def test_an_unscored_image_is_ranked_as_the_wrong_extreme():
    # Issue 20: a text method's invalid answer has no score; it counts as wrong for AUROC/AP.
    labels = ["defect", "normal", "defect", "normal"]
    preds = ["defect", "invalid", "normal", "normal"]
    m = compute_metrics(labels, preds, [0.9, None, 0.4, 0.3])
    # The unscored normal ranks above both defects: 2 of 4 pairs are ordered right.
    assert m["auroc"] == pytest.approx(0.5) and m["n_unscored"] == 1
    missed = compute_metrics(labels, ["invalid", *preds[1:]], [None, 0.1, 0.4, 0.3])
    assert missed["auroc"] == pytest.approx(0.5)  # the unscored defect ranks below both normals
    both = compute_metrics(labels, ["invalid"] * 4, [None, None, 0.4, 0.3])
    assert both["auroc"] == pytest.approx(0.25)  # (0.4 > 0.3) right, the three others wrong
    assert both["n_unscored"] == 2


def test_not_answering_the_hard_images_never_raises_the_auroc():
    rng = np.random.default_rng(0)
    labels = ["defect"] * 50 + ["normal"] * 50
    scores = np.r_[rng.uniform(0.3, 1, 50), rng.uniform(0, 0.7, 50)]
    full = compute_metrics(labels, ["normal"] * 100, scores.tolist())["auroc"]
    # Drop the scores of the 10 images ordered worst (defects lowest, normals highest).
    hard = set(np.argsort(scores[:50])[:5]) | {50 + i for i in np.argsort(-scores[50:])[:5]}
    dropped = [None if i in hard else float(s) for i, s in enumerate(scores)]
    abstaining = compute_metrics(labels, ["normal"] * 100, dropped)
    scored_only = roc_auc_score(
        [label == "defect" for i, label in enumerate(labels) if i not in hard],
        [s for s in dropped if s is not None],
    )
    assert scored_only > full  # the rule a reviewer would reject: abstaining pays
    assert abstaining["auroc"] <= full and abstaining["n_unscored"] == 10


def test_class_mean_counts_unscored_only_where_scores_exist():
    per_class = {
        "a": compute_metrics(["defect", "normal"], ["invalid", "normal"], [None, 0.1]),
        "b": compute_metrics(["defect", "normal"], ["defect", "normal"], [0.8, 0.1]),
    }
    assert class_mean(per_class)["n_unscored"] == 1
    plain = {"a": compute_metrics(["defect", "normal"], ["defect", "normal"])}
    assert class_mean(plain)["n_unscored"] is None

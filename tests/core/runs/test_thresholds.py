import pytest

from iadbench.analysis.metrics import compute_metrics
from iadbench.runs.thresholds import ThresholdError, best_f1_threshold, decide, parse_policy


def test_policies_parse_and_print_back():
    assert str(parse_policy("fixed:0.5")) == "fixed:0.5"
    assert parse_policy("fixed:0.25").value == 0.25
    assert parse_policy("calibrated").kind == "calibrated"
    assert str(parse_policy("oracle")) == "oracle"


@pytest.mark.parametrize("bad", ["fixed", "fixed:x", "fixed:1.5", "median", "oracle:0.3", ""])
def test_malformed_policies_are_rejected(bad):
    with pytest.raises(ThresholdError):
        parse_policy(bad)


def test_fixed_threshold_decides_defect_at_or_above_it():
    assert decide(0.5, 0.5) == "defect"
    assert decide(0.4999, 0.5) == "normal"


def test_best_threshold_separates_perfectly_separable_scores():
    labels = ["normal", "normal", "defect", "defect"]
    threshold, f1 = best_f1_threshold(labels, [0.1, 0.2, 0.7, 0.9])
    assert f1 == 1.0
    assert 0.2 < threshold <= 0.7
    preds = [decide(s, threshold) for s in [0.1, 0.2, 0.7, 0.9]]
    assert preds == labels


def test_best_threshold_matches_brute_force_macro_f1():
    labels = ["defect", "normal", "defect", "normal", "normal", "defect", "normal"]
    scores = [0.9, 0.8, 0.6, 0.6, 0.3, 0.2, 0.1]
    threshold, f1 = best_f1_threshold(labels, scores)
    brute = max(
        compute_metrics(labels, [decide(s, t) for s in scores])["f1_macro"]
        for t in [*scores, 1.0 + 1e-9]
    )
    assert f1 == pytest.approx(brute)
    decisions = [decide(s, threshold) for s in scores]
    assert compute_metrics(labels, decisions)["f1_macro"] == pytest.approx(f1)


def test_all_normal_is_a_candidate_when_scores_are_useless():
    labels = ["normal"] * 9 + ["defect"]
    threshold, f1 = best_f1_threshold(labels, [0.9] * 9 + [0.1])
    # Predicting all normal (macro-F1 = 0.947/2) beats any split that follows the scores.
    assert threshold > 0.9
    assert f1 == pytest.approx(compute_metrics(labels, ["normal"] * 10)["f1_macro"])


def test_one_label_only_cannot_choose_a_threshold():
    with pytest.raises(ThresholdError, match="both labels"):
        best_f1_threshold(["normal", "normal"], [0.1, 0.2])


def test_final_label_is_the_one_decision():
    from iadbench.runs.thresholds import final_label

    assert final_label("normal", 0.7, None, 0.5) == "defect"  # the score decides, not the adapter
    assert final_label("defect", 0.2, None, 0.5) == "normal"
    assert final_label("defect", 0.9, "truncated file", 0.5) == "invalid"
    assert final_label("normal", None, None, 0.5) == "normal"  # no score: the method's label
    assert final_label("invalid", None, None, None) == "invalid"
    with pytest.raises(ThresholdError):
        final_label(None, None, None, 0.5)

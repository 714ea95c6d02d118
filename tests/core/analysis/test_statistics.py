"""Statistics: bootstrap intervals of the metrics of metrics.py, and McNemar's exact test."""

from __future__ import annotations

import json
from math import comb
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from iadbench.analysis.metrics import compute_metrics, summarize
from iadbench.analysis.significance import beats
from iadbench.analysis.statistics import (
    METRICS,
    bootstrap_intervals,
    cell_codes,
    cell_metrics,
    group_rng,
    mcnemar_exact,
    resample_cells,
    run_statistics,
    statistics_of_run,
    versus_baselines,
)
from iadbench.runs.reader import Outcome, StoredRun


def records(
    n: int, seed: int = 0, categories: tuple[str, ...] = ("bottle", "cable", "screw")
) -> list[Outcome]:
    """``n`` predictions of a mediocre method with some invalid answers."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = str(rng.choice(["defect", "normal"], p=[0.3, 0.7]))
        right = rng.random() < 0.7
        pred = label if right else str(rng.choice(["defect", "normal", "invalid"]))
        out.append(Outcome(str(i), str(rng.choice(categories)), label, pred))
    return out


def cells(labels: list[str], preds: list[str]) -> np.ndarray:
    return np.bincount(cell_codes(labels, preds), minlength=6)


def width(interval: list[float] | None) -> float:
    assert interval is not None
    return interval[1] - interval[0]


GROUPS = {
    "mixed with invalid": (["defect", "defect", "normal", "normal", "normal"],
                           ["defect", "invalid", "normal", "defect", "invalid"]),
    "normal only": (["normal"] * 4, ["normal", "normal", "defect", "invalid"]),
    "defect only, never predicted": (["defect"] * 3, ["normal", "invalid", "normal"]),
    "all invalid": (["defect", "normal"], ["invalid", "invalid"]),
    "one image": (["normal"], ["normal"]),
}  # fmt: skip


@pytest.mark.parametrize("name", GROUPS)
def test_cell_metrics_equal_metrics_py_on_every_kind_of_group(name: str) -> None:
    labels, preds = GROUPS[name]
    expected = compute_metrics(labels, preds)
    got = cell_metrics(cells(labels, preds))
    for metric in METRICS:
        assert float(got[metric]) == pytest.approx(expected[metric], abs=1e-12), metric


def test_cell_metrics_equal_metrics_py_on_explicit_image_resamples() -> None:
    # Small groups make degenerate resamples (one label, a label never predicted) common.
    labels, preds = GROUPS["mixed with invalid"]
    rng = np.random.default_rng(3)
    for _ in range(200):
        pick = rng.integers(0, len(labels), len(labels))
        rl, rp = [labels[i] for i in pick], [preds[i] for i in pick]
        expected, got = compute_metrics(rl, rp), cell_metrics(cells(rl, rp))
        for metric in METRICS:
            assert float(got[metric]) == pytest.approx(expected[metric], abs=1e-12)


def test_drawing_cell_counts_is_an_image_bootstrap() -> None:
    # Multinomial cell counts against resampling image indices: the same distribution.
    rs = records(300, seed=1)
    labels, preds = [r.label for r in rs], [r.pred for r in rs]
    codes = cell_codes(labels, preds)
    drawn = resample_cells(np.bincount(codes, minlength=6), 20000, np.random.default_rng(0))
    picks = np.random.default_rng(1).integers(0, len(codes), (20000, len(codes)))
    by_index = np.stack([np.bincount(row, minlength=6) for row in codes[picks]])
    for metric in METRICS:
        a, b = cell_metrics(drawn)[metric], cell_metrics(by_index)[metric]
        assert np.quantile(a, [0.025, 0.5, 0.975]) == pytest.approx(
            np.quantile(b, [0.025, 0.5, 0.975]), abs=0.006
        )


def test_intervals_contain_the_summary_point_estimates() -> None:
    rs = records(600)
    block = bootstrap_intervals(rs)
    summary = summarize(rs)
    groups = [(block["overall"], summary["overall"]), (block["class_mean"], summary["class_mean"])]
    groups += [(block["per_class"][c], m) for c, m in summary["per_class"].items()]
    for intervals, point in groups:
        for metric in METRICS:
            low, high = intervals[metric] or (2.0, -1.0)
            assert low <= point[metric] <= high
            assert low < high


def test_intervals_shrink_with_more_images() -> None:
    small = records(200)
    large = [r for r in small for _ in range(16)]  # same shares, 16x the images
    narrow, wide = bootstrap_intervals(large)["overall"], bootstrap_intervals(small)["overall"]
    for metric in METRICS:
        # Width goes with 1/sqrt(n): about a quarter here.
        assert width(narrow[metric]) == pytest.approx(width(wide[metric]) / 4, rel=0.25)


def test_same_seed_same_intervals_other_seed_other_intervals() -> None:
    rs = records(400)
    assert bootstrap_intervals(rs, seed=0) == bootstrap_intervals(rs, seed=0)
    other = bootstrap_intervals(rs, seed=1)
    assert other["overall"] != bootstrap_intervals(rs, seed=0)["overall"]
    assert other["seed"] == 1


def test_resamples_seed_and_level_are_recorded_and_used() -> None:
    block = bootstrap_intervals(records(400), resamples=200, level=0.5)
    assert (block["resamples"], block["seed"], block["level"]) == (200, 0, 0.5)
    assert (block["unit"], block["interval"]) == ("image", "percentile")
    full = bootstrap_intervals(records(400))
    assert full["resamples"] == 1000 and full["level"] == 0.95
    assert width(block["overall"]["accuracy"]) < width(full["overall"]["accuracy"])


def test_a_categorys_interval_does_not_depend_on_the_other_categories() -> None:
    rs = records(500)
    alone = [r for r in rs if r.category == "cable"]
    assert (
        bootstrap_intervals(alone)["per_class"]["cable"]
        == bootstrap_intervals(rs)["per_class"]["cable"]
    )
    # ... but each group has its own stream.
    assert group_rng(0, "cable").random() != group_rng(0, "bottle").random()


def test_a_one_label_category_gets_defined_intervals() -> None:
    rs = [Outcome(str(i), "good-only", "normal", p)
          for i, p in enumerate(["normal"] * 8 + ["defect"] * 2)]  # fmt: skip
    block = bootstrap_intervals(rs)["per_class"]["good-only"]
    assert all(block[m] is not None for m in METRICS)
    # Balanced accuracy of a normal-only group is the normal recall (as metrics.py).
    assert block["balanced_accuracy"] == block["accuracy"]


def test_empty_or_unknown_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        bootstrap_intervals([])
    with pytest.raises(ValueError, match="unknown"):
        cell_codes(["defect"], ["maybe"])


# --- McNemar


def test_mcnemar_p_value_is_the_two_sided_exact_binomial_of_the_discordant_pairs() -> None:
    a = [True] * 8 + [False] * 2 + [True] * 5 + [False] * 3
    b = [False] * 8 + [True] * 2 + [True] * 5 + [False] * 3
    result = mcnemar_exact(a, b)
    assert (result.better, result.worse, result.n) == (8, 2, 18)
    # 2 * P(X <= 2), X ~ Binomial(10, 1/2), by hand.
    assert result.p_value == pytest.approx(2 * sum(comb(10, k) for k in range(3)) / 2**10)
    assert result.p_value == pytest.approx(112 / 1024)
    assert result.accuracy_delta == pytest.approx((13 - 7) / 18)


def test_swapping_the_methods_swaps_better_and_worse() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(50) < 0.8, rng.random(50) < 0.5
    ab, ba = mcnemar_exact(a, b), mcnemar_exact(b, a)
    assert (ab.better, ab.worse) == (ba.worse, ba.better)
    assert ab.better > ab.worse
    assert ab.p_value == pytest.approx(ba.p_value)
    assert ab.accuracy_delta == pytest.approx(-ba.accuracy_delta)
    assert ab.p_value == pytest.approx(binomtest(ab.better, ab.better + ab.worse).pvalue)


def test_identical_predictions_give_p_one() -> None:
    same = [True, False, True, True]
    result = mcnemar_exact(same, same)
    assert (result.better, result.worse, result.p_value) == (0, 0, 1.0)


def test_mcnemar_refuses_unpaired_inputs() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact([True, False], [True])


def test_trivial_baselines_follow_from_the_labels() -> None:
    rs = [Outcome("n", "c", "normal", "normal")] * 6 + [Outcome("d", "c", "defect", "normal")] * 3
    tests = versus_baselines(rs)  # this run *is* always-normal
    assert tests["always-normal"] == {
        "p_value": 1.0, "better": 0, "worse": 0, "accuracy_delta": 0.0
    }  # fmt: skip
    # Against always-defect it wins the 6 normals and loses the 3 defects.
    assert (tests["always-defect"]["better"], tests["always-defect"]["worse"]) == (6, 3)


def test_an_invalid_answer_is_wrong_in_mcnemar() -> None:
    rs = [Outcome("d", "c", "defect", "invalid")] * 5
    assert versus_baselines(rs)["always-defect"]["worse"] == 5


def test_beats_reads_direction_and_significance() -> None:
    assert beats({"p_value": 0.01, "better": 30, "worse": 10, "accuracy_delta": 0.2}) == 1
    assert beats({"p_value": 0.01, "better": 10, "worse": 30, "accuracy_delta": -0.2}) == -1
    assert beats({"p_value": 0.2, "better": 30, "worse": 25, "accuracy_delta": 0.05}) == 0


def test_run_statistics_has_the_contract_shape() -> None:
    rs = records(300)
    block = run_statistics(rs)
    assert set(block) == {"bootstrap", "mcnemar", "mcnemar_per_class"}
    assert set(block["mcnemar"]) == {"always-normal", "always-defect"}
    assert set(block["mcnemar_per_class"]) == {"bottle", "cable", "screw"}
    assert set(block["mcnemar"]["always-normal"]) == {"p_value", "better", "worse",
                                                      "accuracy_delta"}  # fmt: skip
    json.dumps(block)  # plain JSON types only


def test_per_category_mcnemar_uses_each_categorys_own_images() -> None:
    rs = records(300)
    per_class = run_statistics(rs)["mcnemar_per_class"]
    for category in ("bottle", "cable", "screw"):
        alone = [r for r in rs if r.category == category]
        assert per_class[category] == versus_baselines(alone)
    assert per_class["bottle"] != per_class["cable"]


# --- stored runs


def write_predictions(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_summary_without_statistics_gets_them_from_its_predictions(tmp_path: Path) -> None:
    rs = records(120)
    write_predictions(
        tmp_path / "predictions.jsonl",
        [{"id": str(i), "category": r.category, "label": r.label, "pred": r.pred}
         for i, r in enumerate(rs)],
    )  # fmt: skip
    summary = {"overall": {"n": len(rs)}, "threshold_value": None}
    assert statistics_of_run(StoredRun(tmp_path, summary, {})) == run_statistics(rs)
    # A summary's own block is served as it is.
    stored = {**summary, "statistics": run_statistics(rs, seed=7)}
    assert statistics_of_run(StoredRun(tmp_path, stored, {})) == stored["statistics"]
    # Predictions that cannot be the summary's give nothing.
    assert statistics_of_run(StoredRun(tmp_path, {"overall": {"n": 5}}, {})) is None


def test_oracle_records_are_decided_with_the_summarys_threshold(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "category": "c", "label": "defect", "pred": None, "score": 0.9},
        {"id": "b", "category": "c", "label": "normal", "pred": None, "score": 0.2},
    ]
    write_predictions(tmp_path / "predictions.jsonl", rows)
    run = StoredRun(tmp_path, {"overall": {"n": 2}, "threshold_value": 0.5}, {})
    block = statistics_of_run(run)
    assert block is not None and block["mcnemar"]["always-normal"]["better"] == 1
    expected = [
        Outcome("a", "c", "defect", "defect", score=0.9),
        Outcome("b", "c", "normal", "normal", score=0.2),
    ]
    assert run_statistics(expected) == block

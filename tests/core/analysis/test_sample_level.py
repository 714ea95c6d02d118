"""Views grouped into samples (Real-IAD): clustered bootstrap, sample-level figures, the records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from iadbench.analysis.paired_auroc import paired_auroc_difference
from iadbench.analysis.sample_level import RULE, sample_level_block, sample_outcomes
from iadbench.analysis.statistics import bootstrap_intervals, run_statistics
from iadbench.analysis.summary_figures import summary_figures
from iadbench.contract.records import Prediction, Sample
from iadbench.runs.reader import Outcome, read_outcomes
from iadbench.runs.writer import prediction_line

VIEWS = 5


def _parts(n_parts: int, *, grouped: bool, seed: int = 0) -> list[Outcome]:
    """Parts of 5 views whose answers are perfectly correlated: all right or all wrong."""
    rng = np.random.default_rng(seed)
    outcomes = []
    for part in range(n_parts):
        label = "defect" if part % 2 else "normal"
        right = rng.random() < 0.8
        other = "normal" if label == "defect" else "defect"
        base = rng.uniform(0.6, 1.0) if (label == "defect") == right else rng.uniform(0.0, 0.4)
        for view in range(VIEWS):
            outcomes.append(Outcome(
                f"p{part:03d}_C{view + 1}", "pcb", label, label if right else other,
                float(np.clip(base + rng.normal(0, 0.01), 0, 1)),
                group=f"pcb/p{part:03d}" if grouped else None,
            ))  # fmt: skip
    return outcomes


def _width(interval: list[float] | None) -> float:
    assert interval is not None
    return interval[1] - interval[0]


def test_the_clustered_interval_is_wider_when_views_are_correlated() -> None:
    images = bootstrap_intervals(_parts(200, grouped=False))
    samples = bootstrap_intervals(_parts(200, grouped=True))
    assert images["unit"] == "image" and samples["unit"] == "sample"
    # 5 copies of one answer are one draw: the interval widens by about sqrt(5) (2.24).
    for block in ("overall", "class_mean"):
        ratio = _width(samples[block]["accuracy"]) / _width(images[block]["accuracy"])
        assert ratio > 1.6, (block, ratio)
    ratio = _width(samples["per_class"]["pcb"]["accuracy"]) / _width(
        images["per_class"]["pcb"]["accuracy"]
    )
    assert ratio > 1.6


def test_the_paired_auroc_bootstrap_draws_whole_samples() -> None:
    a = _parts(200, grouped=True, seed=1)
    b = _parts(200, grouped=True, seed=2)
    ids, labels = [o.id for o in a], [o.label for o in a]
    scores_a, scores_b = [o.score for o in a], [o.score for o in b]
    plain = paired_auroc_difference(ids, labels, scores_a, scores_b)
    clustered = paired_auroc_difference(ids, labels, scores_a, scores_b,
                                        groups=[o.group for o in a])  # fmt: skip
    assert plain.difference == clustered.difference
    assert _width(clustered.interval) > 1.6 * _width(plain.interval)


def test_ungrouped_outcomes_are_resampled_as_before() -> None:
    outcomes = _parts(40, grouped=False)
    # With every image its own group the cluster draw is the image draw by another route:
    # the grouping, not the code path, decides the width.
    alone = [Outcome(o.id, o.category, o.label, o.pred, o.score, group=o.id) for o in outcomes]
    assert bootstrap_intervals(outcomes)["unit"] == "image"
    a, b = bootstrap_intervals(outcomes), bootstrap_intervals(alone)
    assert abs(_width(a["overall"]["accuracy"]) - _width(b["overall"]["accuracy"])) < 0.05


def test_a_sample_is_defective_when_any_view_is_and_scores_its_worst_view() -> None:
    views = [
        Outcome("v1", "pcb", "normal", "normal", 0.1, group="pcb/a"),
        Outcome("v2", "pcb", "defect", "normal", 0.6, group="pcb/a"),
        Outcome("v3", "pcb", "normal", "defect", 0.9, group="pcb/a"),
        Outcome("w1", "pcb", "normal", "normal", 0.2, group="pcb/b"),
        Outcome("w2", "pcb", "normal", "invalid", None, "?", "unreadable", group="pcb/b"),
        Outcome("x1", "pcb", "normal", "normal", 0.3),  # no group: a sample of its own
    ]
    a, b, x = sample_outcomes(views)
    assert (a.id, a.label, a.pred, a.score) == ("pcb/a", "defect", "defect", 0.9)
    assert (b.label, b.pred, b.score, b.error) == ("normal", "invalid", None, "unreadable")
    assert (x.id, x.label, x.pred, x.score) == ("x1", "normal", "normal", 0.3)


def test_the_summary_holds_sample_level_figures_only_where_views_are_grouped() -> None:
    grouped = summary_figures(_parts(20, grouped=True), None, 0.5)
    block = grouped["sample_level"]
    assert block["rule"] == RULE and block["overall"]["n"] == 20
    assert grouped["overall"]["n"] == 100
    assert block["statistics"]["bootstrap"]["unit"] == "image"  # one outcome per sample now
    assert "sample_level" not in summary_figures(_parts(20, grouped=False), None, 0.5)
    assert sample_level_block(_parts(3, grouped=False)) is None
    assert run_statistics(_parts(20, grouped=True))["bootstrap"]["unit"] == "sample"


def test_prediction_lines_carry_the_group_only_where_there_is_one(
    tmp_path: Path,
) -> None:
    plain = Sample("a.png", "mvtec", "pcb", "test", "defect", "/x/a.png")
    viewed = Sample("b_C1_.jpg", "real-iad", "pcb", "test", "defect", "/x/b.jpg", group="pcb/b")
    prediction = Prediction(score=0.7)
    assert "group" not in prediction_line(plain, prediction, 0.5)
    line = prediction_line(viewed, prediction, 0.5)
    assert line["group"] == "pcb/b"
    log = tmp_path / "predictions.jsonl"
    log.write_text("".join(json.dumps(dict(r)) + "\n"
                           for r in (prediction_line(plain, prediction, 0.5), line)))  # fmt: skip
    outcomes = read_outcomes(log, 0.5)
    assert [o.group for o in outcomes] == [None, "pcb/b"]

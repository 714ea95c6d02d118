"""A score method's summary.json carries calibration and operating points (issue 20 items 3, 4)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from iadbench.analysis.calibration import calibration_summary
from iadbench.analysis.operating_points import operating_points_summary
from iadbench.contract.method import Capabilities, MethodAdapter, NoOptions
from iadbench.contract.records import Prediction, Sample
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.runs.reader import open_run


class _HashScores(MethodAdapter[NoOptions]):
    """A score in [0, 1] from the image id, a bit higher for defects (some signal, no model)."""

    capabilities = Capabilities(needs_pixels=False, gives_scores=True, builds_models=False)

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        def score(sample: Sample) -> float:
            noise = hashlib.sha256(sample.id.encode()).digest()[0] / 255
            return 0.6 * noise + (0.4 if sample.label == "defect" else 0.0)

        return [Prediction(score=score(sample)) for sample in batch]


def _run(tmp_path: Path, synth_mvtec: Path, method: str) -> dict[str, Any]:
    request = RunRequest(
        method=method,
        train=None,
        test="mvtec",
        data_roots={"mvtec": str(synth_mvtec)},
        out=tmp_path / method,
        cache_dir=tmp_path / "cache",
    )
    return dict(execute_run(plan_run(request)).summary)


@pytest.fixture()
def hash_scores() -> str:
    METHODS.add("hash-scores", _HashScores, "tests (hash scores)")
    return "hash-scores"


def test_a_score_run_stores_both_blocks_per_category_and_overall(
    tmp_path: Path, synth_mvtec: Path, hash_scores: str
) -> None:
    summary = _run(tmp_path, synth_mvtec, hash_scores)
    calibration, points = summary["score_calibration"], summary["operating_points"]
    categories = set(summary["per_class"])
    assert set(calibration["per_class"]) == categories == set(points["per_class"])
    assert calibration["n_bins"] == 15 and calibration["overall"]["n"] == summary["overall"]["n"]
    assert 0 <= calibration["overall"]["ece"] <= 1
    overall = points["overall"]
    assert set(overall["recall_at_far"]) == {"0.01", "0.05"}
    assert set(overall["far_at_recall"]) == {"0.95", "0.99"}
    # F1 at the run's threshold is the summary's own macro-F1 (every image has a score).
    assert overall["f1_at_threshold"] == pytest.approx(summary["overall"]["f1_macro"])
    assert overall["f1_max"] >= overall["f1_at_threshold"]
    assert points["class_mean"]["intervals"]["f1_max"] is not None
    # The blocks are functions of the stored predictions: a reader recomputes the same.
    run = open_run(tmp_path / hash_scores)
    outcomes = run.outcomes()
    assert calibration_summary(outcomes) == calibration
    assert operating_points_summary(outcomes, summary["threshold_value"]) == points


def test_a_method_without_scores_has_neither_block(tmp_path: Path, synth_mvtec: Path) -> None:
    summary = _run(tmp_path, synth_mvtec, "always-normal")
    assert "score_calibration" not in summary and "operating_points" not in summary

"""Threshold policies and the DataLoader path, with a tiny score method that has a preprocessor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import iadbench
from iadbench.contract.categories import VISA_CATEGORIES
from iadbench.contract.images import load_rgb
from iadbench.data import open_dataset
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.runs.thresholds import best_f1_threshold


class GreyLevel:
    """Picklable preprocessor: mean grey level in [0, 1]."""

    def __call__(self, sample: iadbench.Sample) -> float:
        return float(np.asarray(load_rgb(sample.image_path).convert("L")).mean() / 255)


class GreyScore(iadbench.MethodAdapter):
    """Score = mean grey level (test fixture)."""

    capabilities = iadbench.Capabilities(needs_pixels=True, gives_scores=True, builds_models=False)
    default_batch_size = 8

    def preprocessor(self):
        return GreyLevel()

    def predict(self, batch, inputs=None):
        return [iadbench.Prediction(label="normal", score=value) for value in inputs]


@pytest.fixture(autouse=True, scope="module")
def _registered():
    if "grey-score" not in METHODS.names():
        METHODS.add("grey-score", GreyScore, "tests/core/execution/test_threshold_policies.py")


@pytest.fixture()
def roots(synth_mvtec, synth_visa):
    return {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}


def _run(tmp_path: Path, roots: dict[str, str], name: str, **changes):
    base = dict(
        method="grey-score",
        train="visa",
        test="mvtec",
        data_roots=roots,
        out=tmp_path / name,
        cache_dir=tmp_path / "cache",
        workers=0,
    )
    return execute_run(plan_run(RunRequest(**{**base, **changes})))


def _records(out: Path, name: str = "predictions.jsonl") -> list[dict]:
    return [json.loads(line) for line in (out / name).open()]


def test_fixed_policy_decides_every_image_from_its_score(tmp_path, roots):
    outcome = _run(tmp_path, roots, "fixed", threshold="fixed:0.4")
    assert outcome.summary["threshold"] == "fixed:0.4" and outcome.summary["threshold_value"] == 0.4
    for record in _records(outcome.out):
        assert record["pred"] == ("defect" if record["score"] >= 0.4 else "normal")


def test_calibrated_threshold_comes_from_training_dataset_scores_only(tmp_path, roots):
    outcome = _run(tmp_path, roots, "calibrated", threshold="calibrated")
    calibration = _records(outcome.out, "calibration.jsonl")
    assert calibration and all(r["id"].split("/")[0] in VISA_CATEGORIES for r in calibration)
    expected, _ = best_f1_threshold(
        [r["label"] for r in calibration], [r["score"] for r in calibration]
    )
    assert outcome.summary["threshold_value"] == expected
    assert outcome.summary["calibration"]["dataset"] == "visa"
    assert outcome.summary["calibration"]["n"] == len(calibration)


def test_calibrated_threshold_does_not_depend_on_test_labels(tmp_path, roots, synth_mvtec):
    flipped = tmp_path / "flipped"  # same images, every label inverted, as a folder dataset
    for sample in open_dataset("mvtec", synth_mvtec).samples("all"):
        folder = "defect" if sample.label == "normal" else "good"
        target = flipped / sample.category / folder / sample.id.replace("/", "_")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample.image_path, target)
    first = _run(tmp_path, roots, "a", threshold="calibrated")
    second = _run(
        tmp_path, {**roots, "flipped": str(flipped)}, "b", threshold="calibrated", test="flipped"
    )
    assert first.summary["threshold_value"] == second.summary["threshold_value"]


def test_oracle_threshold_is_chosen_on_test_labels_and_decided_in_the_summary(tmp_path, roots):
    outcome = _run(tmp_path, roots, "oracle", threshold="oracle")
    records = _records(outcome.out)
    expected, f1 = best_f1_threshold([r["label"] for r in records], [r["score"] for r in records])
    assert (
        outcome.summary["threshold"] == "oracle" and outcome.summary["threshold_value"] == expected
    )
    # Stored undecided, never rewritten: the summary decides with the threshold it records.
    assert all(r["pred"] is None for r in records)
    decided = ["defect" if r["score"] >= expected else "normal" for r in records]
    overall = outcome.summary["overall"]
    pairs = list(zip(decided, (r["label"] for r in records), strict=True))
    assert overall["tp"] == pairs.count(("defect", "defect"))
    assert overall["tn"] == pairs.count(("normal", "normal"))
    assert overall["f1_macro"] == pytest.approx(f1)


def test_dataloader_workers_give_the_same_predictions_as_in_process(tmp_path, roots):
    in_process = _run(tmp_path, roots, "w0", workers=0)
    with_workers = _run(tmp_path, roots, "w2", workers=2, batch_size=5)
    assert _records(in_process.out) == _records(with_workers.out)


def test_preprocessor_failure_is_an_error_for_that_image_only(tmp_path, roots, synth_mvtec):
    copy = tmp_path / "mvtec"
    shutil.copytree(synth_mvtec, copy)
    broken = copy / "cable" / "train" / "good" / "000.png"
    broken.write_bytes(b"\x89PNG broken")
    outcome = _run(tmp_path, {**roots, "mvtec": str(copy)}, "broken", workers=1)
    failed = [r for r in _records(outcome.out) if r["error"]]
    assert [r["id"] for r in failed] == ["cable/train/good/000.png"]
    assert outcome.summary["overall"]["errors"] == 1


def test_calibrated_with_train_equal_to_test_names_the_cause(tmp_path, roots):
    from iadbench.runs.thresholds import ThresholdError

    with pytest.raises(ThresholdError, match="all .* images of 'mvtec' are test images"):
        _run(tmp_path, roots, "same", threshold="calibrated", train="mvtec", test="mvtec",
             force_overlap=True)  # fmt: skip


def test_normal_quantile_is_chosen_on_the_training_normals_only(tmp_path, roots):
    outcome = _run(tmp_path, roots, "nq", threshold="normal-quantile:0.9")
    calibration = outcome.summary["calibration"]
    scored = _records(outcome.out, "calibration.jsonl")
    assert scored and all(r["label"] == "normal" for r in scored)  # defects are never scored
    expected = float(np.quantile([r["score"] for r in scored], 0.9))
    assert calibration["policy"] == "normal-quantile" and calibration["quantile"] == 0.9
    assert calibration["threshold"] == pytest.approx(expected)
    assert outcome.summary["threshold"] == "normal-quantile:0.9"
    assert outcome.summary["threshold_value"] == pytest.approx(expected)
    assert all(
        r["pred"] == ("defect" if r["score"] >= expected else "normal")
        for r in _records(outcome.out)
    )
    # About 1 - q of the training normals would be flagged.
    flagged = sum(r["score"] >= expected for r in scored) / len(scored)
    assert 0.0 < flagged <= 0.2


def test_normal_quantile_works_where_calibrated_cannot_training_data_without_defects(
    tmp_path, roots, synth_mvtec
):
    from iadbench.runs.thresholds import ThresholdError

    parts = tmp_path / "parts" / "bottle" / "good"  # a factory's folder: normal images only
    parts.mkdir(parents=True)
    for image in sorted((synth_mvtec / "bottle" / "train" / "good").iterdir())[:6]:
        shutil.copy2(image, parts / image.name)
    only_normals = dict(
        train="parts", test="mvtec", data_roots={**roots, "parts": str(tmp_path / "parts")}
    )
    with pytest.raises(ThresholdError):  # calibrated needs both labels in the training data
        _run(tmp_path, roots, "cal", threshold="calibrated", **only_normals)
    outcome = _run(tmp_path, roots, "nq-parts", threshold="normal-quantile:0.95", **only_normals)
    assert outcome.summary["calibration"]["n_scored"] == len(list(parts.iterdir())) > 1


@pytest.mark.parametrize("text", ["normal-quantile", "normal-quantile:0", "normal-quantile:1.2"])
def test_a_malformed_quantile_is_refused(tmp_path, roots, text):
    from iadbench.runs.thresholds import ThresholdError

    with pytest.raises(ThresholdError, match="normal-quantile"):
        _run(tmp_path, roots, "bad", threshold=text)

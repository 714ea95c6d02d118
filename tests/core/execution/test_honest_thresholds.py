"""Thresholds chosen on images the method did not train on (issue 20, item 5).

A 1-nearest-neighbour method scores its own training normals at distance 0: a
``normal-quantile`` threshold chosen on them collapsed to about 0 and every test image was called
a defect. These tests run such a method (with a spy on what ``fit`` is given).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import iadbench
from iadbench.contract.images import load_rgb
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.runs.thresholds import ThresholdError


class Thumbnail:
    """Picklable preprocessor: an 8×8 grey thumbnail in [0, 1]."""

    def __call__(self, sample: iadbench.Sample) -> np.ndarray:
        image = load_rgb(sample.image_path).convert("L").resize((16, 16))
        return np.asarray(image, dtype=np.float32) / 255


class NearestNormal(iadbench.MethodAdapter):
    """Score = distance to the nearest training normal, squashed into [0, 1) (1-NN)."""

    capabilities = iadbench.Capabilities(
        needs_pixels=True, trains=True, gives_scores=True, builds_models=False
    )
    default_batch_size = 16
    fitted: ClassVar[list[list[str]]] = []  # the spy: the ids every fit() was given

    def preprocessor(self) -> Thumbnail:
        return Thumbnail()

    def fit(self, samples: Any) -> None:
        NearestNormal.fitted.append([s.id for s in samples])
        bank = np.stack([Thumbnail()(s) for s in samples if s.label == "normal"])
        np.save(self.context.workdir / "bank.npy", bank)
        self.bank = bank

    def load(self) -> None:
        self.bank = np.load(self.context.workdir / "bank.npy")

    def predict(self, batch: Any, inputs: Any = None) -> list[iadbench.Prediction]:
        found = []
        for thumb in inputs:
            distance = float(np.abs(self.bank - thumb).max(axis=(1, 2)).min())
            found.append(
                iadbench.Prediction(label="normal", score=1 - float(np.exp(-5 * distance)))
            )
        return found


@pytest.fixture(autouse=True)
def _registered() -> None:
    if "nearest-normal" not in METHODS.names():
        METHODS.add("nearest-normal", NearestNormal, __file__)
    NearestNormal.fitted.clear()


def _request(tmp_path: Path, synth_mvtec: Path, name: str, **changes: Any) -> RunRequest:
    base: dict[str, Any] = dict(
        method="nearest-normal", train="mvtec", test="mvtec", test_split="test",
        data_roots={"mvtec": str(synth_mvtec)}, out=tmp_path / name,
        cache_dir=tmp_path / "cache", workers=0, threshold="normal-quantile:0.95",
    )  # fmt: skip
    return RunRequest(**{**base, **changes})


def _run(tmp_path: Path, synth_mvtec: Path, name: str, **changes: Any) -> dict[str, Any]:
    return execute_run(plan_run(_request(tmp_path, synth_mvtec, name, **changes))).summary


def _all_defect_accuracy(summary: dict[str, Any]) -> float:
    overall = summary["overall"]
    positives = overall["tp"] + overall["fn"]
    return positives / (positives + overall["tn"] + overall["fp"])


def test_a_nearest_neighbour_threshold_is_chosen_on_held_out_normals(tmp_path, synth_mvtec):
    summary = _run(tmp_path, synth_mvtec, "held")
    calibration = summary["calibration"]
    # Before: chosen on the 73 normals fit() stored (distance 0), threshold ~0, all defect.
    assert calibration["held_out"] is True and calibration["source"] == "held-out share 0.2"
    assert summary["threshold_value"] > 0.05
    assert summary["overall"]["accuracy"] > _all_defect_accuracy(summary) + 0.05
    # The held-out normals are not among fit()'s samples; the rest of the training normals are.
    scored = {json.loads(line)["id"] for line in (tmp_path / "held" / "calibration.jsonl").open()}
    (fitted,) = NearestNormal.fitted
    assert scored and not scored & set(fitted)
    assert len(scored) + len(fitted) == 73  # the synthetic tree's training normals
    assert calibration["n_per_label"] == {"normal": len(scored)}
    assert (
        Counter(i.split("/")[0] for i in scored).keys()
        == Counter(i.split("/")[0] for i in fitted).keys()
    )  # every category holds some out


def test_ratio_zero_is_in_sample_marked_and_collapses(tmp_path, synth_mvtec, caplog):
    summary = _run(tmp_path, synth_mvtec, "in", calibration_ratio=0)
    calibration = summary["calibration"]
    assert calibration["held_out"] is False and calibration["source"] == "in-sample"
    assert "in-sample" in caplog.text and "WARNING" in caplog.text
    assert summary["threshold_value"] < 0.05  # the collapse the held-out share prevents


def test_the_ratio_enters_the_configuration_hash_only_under_a_calibrating_policy(
    tmp_path, synth_mvtec
):
    def plan(**changes: Any) -> Any:
        return plan_run(_request(tmp_path, synth_mvtec, "p", **changes))

    a, b = plan(calibration_ratio=0.2), plan(calibration_ratio=0.3)
    assert a.config_hash != b.config_hash
    assert a.spec.train != b.spec.train  # fit() is given other images: another training
    assert plan().config_hash == a.config_hash  # 0.2 is the default
    fixed = [plan(threshold="fixed:0.5", calibration_ratio=r) for r in (0.2, 0.3)]
    assert fixed[0].config_hash == fixed[1].config_hash
    assert "calibration_ratio" not in fixed[0].spec.config()


def test_unused_training_images_are_used_first(tmp_path, synth_mvtec, synth_visa):
    # Trained on visa's Train normals: visa's Test split was never fitted on, and holds both.
    summary = _run(
        tmp_path, synth_mvtec, "unused", train="visa", threshold="calibrated",
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
    )  # fmt: skip
    calibration = summary["calibration"]
    assert calibration["source"] == "unused training images" and calibration["held_out"]
    assert set(calibration["n_per_label"]) == {"defect", "normal"}


def test_calibrated_on_normal_only_training_data_is_refused_at_planning(tmp_path, parts):
    from typer.testing import CliRunner

    from iadbench.cli.app import app

    normal_only = tmp_path / "normal-only" / "bracket" / "good"
    normal_only.mkdir(parents=True)
    for image in sorted((parts / "bracket" / "nominal").iterdir()):
        (normal_only / image.name).write_bytes(image.read_bytes())
    out = tmp_path / "refused"
    result = CliRunner().invoke(app, [
        "run", "--method", "nearest-normal", "--train", "normal-only", "--test", "parts",
        "--train-split", "all", "--threshold", "calibrated", "--out", str(out),
        "--cache-dir", str(tmp_path / "cache"),
        "--data", f"normal-only={tmp_path / 'normal-only'}", "--data", f"parts={parts}",
    ])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "normal-quantile" in result.output and "calibrated" in result.output
    assert not NearestNormal.fitted  # refused before training and before any image is scored
    assert not (out / "predictions.jsonl").exists() and not (out / "calibration.jsonl").exists()
    with pytest.raises(ThresholdError, match="only normal images"):
        plan_run(
            RunRequest(
                method="nearest-normal", train="normal-only", test="parts", train_split="all",
                threshold="calibrated", out=out,
                data_roots={"normal-only": str(tmp_path / "normal-only"), "parts": str(parts)},
            )
        )  # fmt: skip


@pytest.mark.parametrize("ratio", [-0.1, 0.95, float("nan")])
def test_a_ratio_out_of_range_is_refused(tmp_path, synth_mvtec, ratio):
    from iadbench.contract.errors import ArgumentError

    with pytest.raises(ArgumentError, match="--calibration-ratio"):
        plan_run(_request(tmp_path, synth_mvtec, "bad", calibration_ratio=ratio))

"""Every model of the zoo that builds offline runs tiny: fit, predict, scores, maps (issue 21).

One category of the synthetic MVTec-AD tree, on the CPU, one torch thread. The CPU seconds of
each model's fit and predict are printed (``-s``) for the closing note. Resume, per model: a
fresh adapter ``load()``s the stored training and predicts what the fitted one did (what a run
resumed after a kill does in its new process); the kill -9 itself runs for one model
(PatchCore, the zoo's reference) through the CLI in a subprocess, resumed in this one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import in_process
import pytest

from iadbench.contract.method import RunContext, contract_problems
from iadbench.contract.options import build_options, tiny_values
from iadbench.contract.records import Sample
from iadbench.data import open_dataset
from iadbench.execution.predict_loop import predict_samples
from iadbench.execution.registry import METHODS
from iadbench_methods.anomalib_zoo import models
from iadbench_methods.anomalib_zoo.catalogue import ZOO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

OFFLINE = sorted(e.method for e in ZOO.values() if e.needs is None)
CATEGORY = "bottle"


@pytest.fixture(scope="module")
def samples(synth_mvtec: Path) -> dict[str, list[Sample]]:
    reader = open_dataset("mvtec", synth_mvtec)
    return {
        subset: [s for s in reader.samples(subset) if s.category == CATEGORY]
        for subset in ("train", "test")
    }


def test_thirteen_models_build_offline():
    assert len(OFFLINE) == 13 and "anomalib-patchcore" in OFFLINE


@pytest.mark.parametrize("method", OFFLINE)
def test_a_tiny_model_fits_on_normals_and_scores_every_test_image(
    method: str, samples: dict[str, list[Sample]], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    entry = ZOO[method]
    cls: Any = getattr(models, entry.model_class)
    assert contract_problems(cls) == []
    options = build_options(cls.Options, tiny_values(cls.Options))
    if entry.model_class == "Dfkde":  # its KDE needs more fit images than PCA components
        assert options.n_pca_components < len(samples["train"]) - 2
    adapter = cls(options, context=RunContext(tiny=True, device="cpu", workdir=tmp_path))
    start = time.process_time()
    adapter.fit(samples["train"])
    fitted = time.process_time()
    test = samples["test"]
    predictions = predict_samples(adapter, test)
    done = time.process_time()
    # Lightning's banners and anomalib's coreset progress bar stay quiet (stderr).
    assert "Selecting Coreset" not in capfd.readouterr().err
    print(f"{method}: fit {fitted - start:.1f} CPU s, predict {done - fitted:.1f} CPU s")
    assert len(predictions) == len(test)
    assert all(p.error is None for p in predictions), [p.error for p in predictions]
    scores = [p.score for p in predictions]
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    if entry.gives_maps:
        side = entry.tiny_image_size
        assert adapter.map_shape() == (side, side)
        assert all(p.anomaly_map is not None and p.anomaly_map.shape == (side, side)
                   for p in predictions)  # fmt: skip
    else:
        assert all(p.anomaly_map is None for p in predictions)
    # What a resumed run does after a kill: a new process's adapter load()s the stored training
    # and predicts the rest. Per model, the reloaded adapter must predict what the fitted one did
    # (the kill -9 itself is exercised through the CLI for PatchCore below).
    # Compared on one batch: CFlow normalises by the batch's maximum (anomalib 2.7,
    # models/image/cflow/anomaly_map.py lines 94 and 111), so its scores depend on batching.
    tail = predict_samples(adapter, test[-3:])
    reloaded = cls(options, context=RunContext(tiny=True, device="cpu", workdir=tmp_path))
    reloaded.load()
    again = predict_samples(reloaded, test[-3:])
    assert [p.score for p in again] == pytest.approx([p.score for p in tail], abs=1e-6)
    for before, after in zip(tail, again, strict=True):
        if entry.gives_maps:
            assert after.anomaly_map is not None and before.anomaly_map is not None
            assert abs(after.anomaly_map - before.anomaly_map).max() <= 1e-5


def test_dfkde_is_refused_with_fewer_fit_images_than_pca_components(samples, tmp_path):
    from iadbench.contract.errors import IADBenchError

    cls = models.Dfkde
    options = dataclasses.replace(
        build_options(cls.Options, tiny_values(cls.Options)), n_pca_components=50
    )
    adapter = cls(options, context=RunContext(tiny=True, device="cpu", workdir=tmp_path))
    with pytest.raises(IADBenchError, match="not more than n_pca_components=50"):
        adapter.fit(samples["train"])


def test_dfkde_is_refused_with_as_many_fit_images_as_pca_components(samples, tmp_path):
    """N images span N - 1 dimensions: N = n_pca_components leaves the KDE's covariance
    singular (a Cholesky failure, or not, by a rounding error's sign): refused, not flaky."""
    from iadbench.contract.errors import IADBenchError
    from iadbench_methods.anomalib_zoo.scoring import split_held_out

    cls = models.Dfkde
    tiny = build_options(cls.Options, tiny_values(cls.Options))
    fitted, _ = split_held_out(
        sorted(samples["train"], key=lambda s: s.id), tiny.calibration_share, 0, CATEGORY
    )
    options = dataclasses.replace(tiny, n_pca_components=len(fitted))
    adapter = cls(options, context=RunContext(tiny=True, device="cpu", workdir=tmp_path))
    with pytest.raises(IADBenchError, match=f"--set n_pca_components={len(fitted) - 1}"):
        adapter.fit(samples["train"])


def test_an_optimiser_model_trains_for_its_max_epochs_option(samples, tmp_path, monkeypatch):
    from iadbench_methods.anomalib_zoo import training

    seen: list[Any] = []

    def engine_fit(model: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["max_epochs"])
        model.eval()  # untrained: only the epoch count matters here

    monkeypatch.setattr(training, "engine_fit", engine_fit)
    cls = models.Fastflow
    options = dataclasses.replace(
        build_options(cls.Options, tiny_values(cls.Options)), max_epochs=2
    )
    assert build_options(cls.Options, tiny_values(cls.Options)).max_epochs == 1  # --tiny: one
    adapter = cls(options, context=RunContext(tiny=True, device="cpu", workdir=tmp_path))
    adapter._train(CATEGORY, samples["train"], tmp_path / "engine")
    assert seen == [2]
    assert training.engine_arguments("cpu", tmp_path, 2)["max_epochs"] == 2
    assert "max_epochs" not in training.engine_arguments("cpu", tmp_path)  # memory bank: its own


def test_tiny_builds_with_the_catalogues_pre_processor_sizes(tmp_path, monkeypatch):
    from iadbench_methods.anomalib_zoo import training

    seen: list[Any] = []
    monkeypatch.setattr(training, "build_model", lambda *args: seen.append(args[-1]))
    cls = models.Rad  # RAD also needs its centre-crop size under --tiny
    for tiny in (True, False):
        options = build_options(cls.Options, tiny_values(cls.Options) if tiny else {})
        adapter = cls(options, context=RunContext(tiny=tiny, device="cpu", workdir=tmp_path))
        adapter._build(adapter.constructor_arguments(), "cpu")
    assert seen == [dict(ZOO["anomalib-rad"].tiny_pre_processor), None]
    assert seen[0]["center_crop_size"] == (64, 64)


def test_a_run_constructs_its_model_once_and_copies_it(samples, tmp_path, monkeypatch):
    """Fit, reload and few-shot build one seeded model per category: constructed once (its
    random backbone init was most of a tiny run), each build an independent equal copy."""
    import torch

    from iadbench_methods.anomalib_zoo import training

    constructed: list[str] = []
    construct = training._construct

    def counting(model_class: str, *args: Any) -> Any:
        constructed.append(model_class)
        return construct(model_class, *args)

    monkeypatch.setattr(training, "_construct", counting)
    monkeypatch.setattr(training, "_PRISTINE", {})
    cls = models.Padim
    options = build_options(cls.Options, tiny_values(cls.Options))
    context = RunContext(tiny=True, device="cpu", workdir=tmp_path)
    first = cls(options, context=context)
    first.fit(samples["train"])
    reloaded = cls(options, context=context)
    reloaded.load()
    predict_samples(reloaded, samples["test"][:2])
    assert constructed == ["Padim"]
    a = first._build(first.constructor_arguments(), "cpu")
    b = first._build(first.constructor_arguments(), "cpu")
    fresh = construct("Padim", first.constructor_arguments(), int(options.image_side), 0, "cpu",
                      dict(first.zoo.tiny_pre_processor))  # fmt: skip
    assert a is not b
    for name, value in fresh.state_dict().items():
        assert torch.equal(a.state_dict()[name], value), name
    next(iter(a.parameters())).data.add_(1.0)  # a copy is the caller's own
    assert not torch.equal(next(iter(a.parameters())), next(iter(b.parameters())))
    first._build({**first.constructor_arguments(), "n_features": 3}, "cpu")
    assert constructed == ["Padim", "Padim"]  # other arguments: another model


def _run_arguments(root: Path, out: Path) -> list[str]:
    return [
        "run", "--method", "anomalib-patchcore", "--train", "mvtec", "--test", "mvtec", "--tiny",
        "--categories", CATEGORY, "--data", f"mvtec={root}", "--out", str(out),
    ]  # fmt: skip


def _registered(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess whose registry holds the zoo's entry points."""
    dist = tmp_path / "site" / "iadbench_zoo_test-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: iadbench-zoo-test\nVersion: 0\n")
    target = "iadbench_methods.anomalib_zoo.models:Patchcore"
    (dist / "entry_points.txt").write_text(f"[iadbench.methods]\nanomalib-patchcore = {target}\n")
    path = os.pathsep.join(p for p in (str(dist.parent), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def test_a_run_killed_while_training_resumes_and_scores_every_test_image(tmp_path, synth_mvtec):
    env = _registered(tmp_path)
    env["IADBENCH_CACHE_DIR"] = str(tmp_path / "cache")
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "iadbench", *_run_arguments(synth_mvtec, out)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # The Engine's root appears when the fit starts: kill -9 there (no handler runs).
    trained = tmp_path / "cache" / "trained" / "anomalib-patchcore"
    deadline = time.monotonic() + 120
    while process.poll() is None and not any(trained.glob("*/engine")):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be killed"
    process.kill()
    process.wait()
    assert not list(trained.glob("*/zoo.json"))  # the training did not finish
    # Resumed in this process (importing anomalib again in a third one costs 10 s of CPU).
    if "anomalib-patchcore" not in METHODS.names():  # the entry point, once re-installed
        METHODS.add("anomalib-patchcore", models.Patchcore, "tests (Patchcore)")
    cache = {"IADBENCH_CACHE_DIR": env["IADBENCH_CACHE_DIR"]}
    resumed = in_process.iadbench(*_run_arguments(synth_mvtec, out), env=cache)
    assert resumed.returncode == 0, resumed.stderr
    assert "Selecting Coreset" not in resumed.stderr  # anomalib's coreset bar stays quiet
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["attempts"]) == 2
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    test = [s for s in open_dataset("mvtec", synth_mvtec).samples("test")
            if s.category == CATEGORY]  # fmt: skip
    assert sorted(r["id"] for r in rows) == sorted(s.id for s in test)
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)

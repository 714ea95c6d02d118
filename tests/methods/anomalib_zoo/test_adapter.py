"""The anomalib bridge: options, per-category training, calibration, few-shot, faithfulness.

One tiny PatchCore is trained per module (two categories of the synthetic MVTec-AD tree, on the
CPU) and serves most tests; PaDiM is trained once, on one category, for the equality test.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import RunContext, trains
from iadbench.contract.options import tiny_values
from iadbench.contract.records import Sample
from iadbench.data import open_dataset
from iadbench.execution.predict_loop import predict_samples
from iadbench_methods.anomalib_zoo.adapter import INDEX_FILE, WEIGHTS_FILE
from iadbench_methods.anomalib_zoo.catalogue import ZOO
from iadbench_methods.anomalib_zoo.classes import zoo_adapter
from iadbench_methods.anomalib_zoo.models import Padim, Patchcore
from iadbench_methods.anomalib_zoo.scoring import split_held_out

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

CATEGORIES = ("bottle", "cable")


def _options(cls: type, **values: Any) -> Any:
    """The class's options as ``--tiny`` builds them, then ``values``."""
    from iadbench.contract.options import build_options

    return dataclasses.replace(build_options(cls.Options, tiny_values(cls.Options)), **values)


@pytest.fixture(scope="module")
def samples(synth_mvtec: Path) -> dict[str, list[Sample]]:
    reader = open_dataset("mvtec", synth_mvtec)
    chosen = {"train": [], "test": []}
    for subset in chosen:
        chosen[subset] = [s for s in reader.samples(subset) if s.category in CATEGORIES]
    return chosen


@pytest.fixture(scope="module")
def patchcore(samples: dict[str, list[Sample]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny PatchCore trained on two categories (and a PaDiM context, untrained)."""
    context = RunContext(tiny=True, device="cpu", workdir=tmp_path_factory.mktemp("patchcore"))
    adapter = Patchcore(_options(Patchcore), context=context)
    adapter.fit(samples["train"])
    return adapter


# -- options and import cost (no model built) ---------------------------------------------------


def test_options_are_the_constructor_arguments_plus_the_bridges():
    names = [f.name for f in dataclasses.fields(Patchcore.Options)]
    own = [o.name for o in ZOO["anomalib-patchcore"].options]
    assert names[: len(own)] == own
    # A memory-bank model fixes its own epoch count: no max_epochs option.
    assert names[len(own) :] == ["shots", "calibration_share", "image_side", "train_batch_size"]
    assert tiny_values(Patchcore.Options) == {
        "backbone": "resnet18", "pre_trained": "false", "image_side": "64",
    }  # fmt: skip
    assert Patchcore.version.endswith("+anomalib-" + __import__("anomalib").__version__)
    # shots replaces the training; 0 trains.
    assert trains(Patchcore, Patchcore.Options()) and not trains(
        Patchcore, _options(Patchcore, shots=4)
    )
    assert Patchcore.reference_shots(_options(Patchcore, shots=4)) == 4


def test_importing_the_zoo_imports_neither_torch_nor_anomalib():
    code = (
        "import sys, iadbench_methods.anomalib_zoo.models as m; m.Patchcore.Options(); "
        "print(sorted(n for n in ('torch', 'anomalib', 'lightning') if n in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_model_that_needs_assets_is_refused_at_setup_with_the_catalogues_sentence(monkeypatch):
    needs = "Needs DINOv2 weights, missing offline: put them in ~/.cache/torch/hub."
    cls = zoo_adapter(dataclasses.replace(ZOO["anomalib-padim"], needs=needs))
    with pytest.raises(IADBenchError) as raised:
        cls(_options(cls), context=RunContext(tiny=True, device="cpu"))
    # offline_problem's sentence (HF_HUB_OFFLINE=1 in the tests): it names the model first.
    assert str(raised.value).startswith("anomalib-padim cannot run offline") and needs in str(
        raised.value
    )
    with pytest.raises(IADBenchError, match="DINOv2"):  # real size, but HF_HUB_OFFLINE=1
        cls(cls.Options(), context=RunContext(device="cpu"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    cls(cls.Options(), context=RunContext(device="cpu"))  # online, real size: fetched on use


def test_bad_options_are_refused_naming_the_option():
    with pytest.raises(IADBenchError, match="shots=3 is too few"):
        Patchcore(_options(Patchcore, shots=3))
    with pytest.raises(IADBenchError, match="option calibration_share"):
        Patchcore(_options(Patchcore, calibration_share=1.5))


# -- training, storage, prediction --------------------------------------------------------------


def test_one_model_per_category_is_stored_and_reloads_identically(patchcore, samples):
    root = patchcore.context.workdir
    index = json.loads((root / INDEX_FILE).read_text())
    assert sorted(index["categories"]) == list(CATEGORIES)
    assert index["constructor"]["backbone"] == "resnet18" and index["image_side"] == 64
    weights = [root / folder / WEIGHTS_FILE for folder in index["categories"].values()]
    assert all(w.is_file() for w in weights) and weights[0].read_bytes() != weights[1].read_bytes()
    fresh = Patchcore(patchcore.options, context=patchcore.context)
    fresh.load()
    test = samples["test"]
    first, again = predict_samples(patchcore, test), predict_samples(fresh, test)
    assert [p.score for p in first] == [p.score for p in again]
    assert all(p.score is not None and 0.0 <= p.score <= 1.0 for p in first)
    assert all(p.anomaly_map is not None and p.anomaly_map.shape == (64, 64) for p in first)
    assert patchcore.map_shape() == (64, 64)


def test_the_most_unusual_held_out_normal_scores_one_half(patchcore, samples):
    """The mapping comes from the held-out training normals: a no-op mapping fails here."""
    for category in CATEGORIES:
        normals = sorted(
            (s for s in samples["train"] if s.category == category), key=lambda s: s.id
        )
        _, held = split_held_out(normals, 0.2, 0, category)
        scores = [p.score for p in predict_samples(patchcore, held)]
        assert max(scores) == pytest.approx(0.5, abs=1e-6)
        assert min(scores) < 0.5
    calibration = patchcore.describe()["calibration"]
    assert calibration["bottle"]["raw_at_0.5"] != calibration["cable"]["raw_at_0.5"]


def test_a_category_without_a_model_is_an_error_naming_it(patchcore, synth_mvtec):
    other = [s for s in open_dataset("mvtec", synth_mvtec).samples("test") if s.category == "grid"]
    (prediction,) = predict_samples(patchcore, other[:1])
    assert prediction.error is not None and "'grid'" in prediction.error


def test_few_shot_fits_on_the_references_at_first_use(samples):
    references = {c: tuple(s for s in samples["train"] if s.category == c) for c in CATEGORIES}
    context = RunContext(tiny=True, device="cpu", references=references)
    adapter = Patchcore(_options(Patchcore, shots=4), context=context)
    test = [s for s in samples["test"] if s.category == "bottle"]
    predictions = predict_samples(adapter, test)
    assert all(p.score is not None and 0.0 <= p.score <= 1.0 for p in predictions)
    assert list(adapter.describe()["calibration"]) == ["bottle"]  # only the category used
    assert adapter.describe()["calibration"]["bottle"]["held_out"] == 2
    starved = Patchcore(_options(Patchcore, shots=4), context=RunContext(tiny=True, device="cpu"))
    (failed,) = predict_samples(starved, test[:1])
    assert failed.error is not None and "0 normal reference image(s) for 'bottle'" in failed.error


# -- faithfulness: the bridge computes what anomalib's Engine.predict computes ------------------

#: Relative tolerance of the equality: batched float32 convolutions may sum in another order.
RTOL = 1e-5


def _engine_predict(model: Any, samples: list[Sample], side: int) -> tuple[np.ndarray, np.ndarray]:
    import tempfile

    import torch
    from anomalib.engine import Engine

    from iadbench_methods.anomalib_zoo import training
    from iadbench_methods.anomalib_zoo.datamodule import sample_loader

    with tempfile.TemporaryDirectory() as root, training.quiet():
        engine = Engine(**training.engine_arguments("cpu", Path(root)))
        batches = engine.predict(model=model, dataloaders=sample_loader(samples, side, 4))
    assert batches is not None
    scores = torch.cat([b.pred_score.reshape(-1) for b in batches]).numpy()
    maps = torch.cat([b.anomaly_map.reshape(-1, side, side) for b in batches]).numpy()
    return scores, maps


def _check_equal(adapter: Any, category: str, samples: list[Sample]) -> None:
    model = adapter.category_model(category)
    raw, engine_maps = _engine_predict(model.model, samples, 64)
    ours = predict_samples(adapter, samples)
    maps = np.stack([p.anomaly_map for p in ours])
    np.testing.assert_allclose(maps, engine_maps, rtol=RTOL, atol=RTOL * np.abs(engine_maps).max())
    expected = [model.calibration.score(float(r)) for r in raw]
    np.testing.assert_allclose([p.score for p in ours], expected, atol=1e-5)


def test_patchcore_scores_and_maps_equal_anomalibs_engine_predict(patchcore, samples):
    _check_equal(patchcore, "bottle", [s for s in samples["test"] if s.category == "bottle"])


def test_padim_scores_and_maps_equal_anomalibs_engine_predict(samples, tmp_path):
    bottle = [s for s in samples["train"] if s.category == "bottle"]
    adapter = Padim(_options(Padim), context=RunContext(tiny=True, device="cpu", workdir=tmp_path))
    adapter.fit(bottle)
    _check_equal(adapter, "bottle", [s for s in samples["test"] if s.category == "bottle"])

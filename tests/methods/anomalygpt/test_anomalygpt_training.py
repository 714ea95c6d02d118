"""AnomalyGPT's training stage on the tiny model: resumable, and stores the official heads."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("cv2")

from PIL import Image  # noqa: E402

from iadbench.contract.records import Sample  # noqa: E402
from iadbench_methods.anomalygpt.tiny import build_tiny_model  # noqa: E402
from iadbench_methods.anomalygpt.training import (  # noqa: E402
    CHECKPOINT,
    HEADS,
    TrainingSettings,
    train_anomalygpt,
)

SETTINGS = TrainingSettings(epochs=2, batch_size=2, lr=1e-2, seed=3, image_size=56)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> list[Sample]:
    folder = tmp_path_factory.mktemp("candles")
    rng = np.random.default_rng(0)
    found = []
    for i in range(4):
        image = np.full((96, 96, 3), 200, np.uint8)
        yy, xx = np.mgrid[:96, :96]
        disc = (yy - 48) ** 2 + (xx - 48) ** 2 < 35**2
        image[disc] = rng.integers(40, 120, size=(int(disc.sum()), 3), dtype=np.uint8)
        path = folder / f"{i}.png"
        Image.fromarray(image).save(path)
        found.append(Sample(f"candle/{i}.png", "visa", "candle", "train", "normal", str(path)))
    return found


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _heads(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.heads.state_dict().items()}


def test_a_resumed_training_ends_with_the_weights_of_an_uninterrupted_one(samples, tmp_path):
    whole = build_tiny_model(seed=0)
    losses = train_anomalygpt(whole, samples, SETTINGS, tmp_path / "whole")
    assert len(losses) == 2 and all(np.isfinite(losses))

    first = build_tiny_model(seed=0)
    train_anomalygpt(first, samples, SETTINGS, tmp_path / "parts", stop_after_epoch=1)
    assert not (tmp_path / "parts" / HEADS).exists()  # interrupted: no final weights yet
    resumed = build_tiny_model(seed=0)
    assert len(train_anomalygpt(resumed, samples, SETTINGS, tmp_path / "parts")) == 1
    expected, got = _heads(whole), _heads(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)


def test_training_moves_only_the_heads_it_should_and_stores_them_as_the_official_file(
    samples, tmp_path
):
    model = build_tiny_model(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}
    settings = TrainingSettings(epochs=1, batch_size=4, seed=0, image_size=56)
    train_anomalygpt(model, samples, settings, tmp_path / "w")
    after = model.state_dict()
    moved = {k for k, v in before.items() if not torch.equal(v, after[k])}
    assert moved and all(
        k.startswith(("heads.image_decoder.", "heads.prompt_learner.")) for k in moved
    )
    stored = torch.load(tmp_path / "w" / HEADS, weights_only=True)
    assert stored and all(k.startswith(("image_decoder.", "prompt_learner.")) for k in stored)
    assert (tmp_path / "w" / CHECKPOINT).is_file()


def test_nsa_parameters_follow_the_dataset_and_category():
    from iadbench_methods.anomalygpt.nsa import VISA_OPTIONS, mvtec_options
    from iadbench_methods.anomalygpt.training import nsa_options

    def sample(dataset: str, category: str) -> Sample:
        return Sample(f"{category}/x.png", dataset, category, "train", "normal", "/x.png")

    assert nsa_options(sample("mvtec", "screw")) == mvtec_options("screw")
    assert nsa_options(sample("mvtec", "screw")) != VISA_OPTIONS
    assert nsa_options(sample("visa", "candle")) == VISA_OPTIONS
    assert nsa_options(sample("my-parts", "gear")) == VISA_OPTIONS


def test_save_synthetic_writes_viewable_examples(samples, tmp_path):
    import json

    settings = TrainingSettings(epochs=1, batch_size=2, seed=0, image_size=56, save_synthetic=3)
    train_anomalygpt(build_tiny_model(seed=0), samples, settings, tmp_path / "w")
    folder = tmp_path / "w" / "synthetic"
    records = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["answer"].startswith(("Yes", "No")) for r in records)
    for record in records:
        with Image.open(folder / record["file"]) as image:
            assert image.size == (224, 224)
        mask = np.asarray(Image.open(folder / record["file"].replace(".png", "_mask.png")))
        assert (mask.max() == 255) == record["answer"].startswith("Yes")

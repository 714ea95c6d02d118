"""The learning-proof task (dark squares on tiles) and the format-only warm start (tiny model)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.contract.images import load_rgb
from iadbench.contract.method import RunContext
from iadbench.execution.predict_loop import predict_samples
from iadbench_methods.lr_iad import learning_task
from iadbench_methods.lr_iad.learning_task import (
    DEFECT_FOLDER,
    MARKER_NAME,
    WARM_VERSION,
    completion_text,
    task_samples,
    warm_start_dir,
    write_task_dataset,
)
from iadbench_methods.qwen2vl.answers import parse_answer
from iadbench_methods.qwen2vl.prompt import build_messages, build_prompt

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def test_dataset_layout_counts_and_determinism(tmp_path):
    root = write_task_dataset(tmp_path / "a", per_class=5, seed=0, size=64)
    assert sorted(p.name for p in root.iterdir()) == sorted([MARKER_NAME, "tile"])
    assert sorted(p.name for p in (root / "tile").iterdir()) == sorted(["good", DEFECT_FOLDER])
    samples = task_samples(root)
    assert Counter(s.label for s in samples) == {"normal": 5, "defect": 5}
    assert {s.category for s in samples} == {"tile"}
    assert Image.open(samples[0].image_path).size == (64, 64)
    assert "This is an image containing a tile." in build_prompt("tile")

    first = _files(root)
    assert first == _files(write_task_dataset(tmp_path / "b", per_class=5, seed=0, size=64))
    other = _files(write_task_dataset(tmp_path / "c", per_class=5, seed=1, size=64))
    assert all(first[name] != other[name] for name in first)  # another seed, other images

    # Same parameters: kept as is (nothing rewritten).
    stamp = (root / "tile" / "good" / "000.png").stat().st_mtime_ns
    write_task_dataset(root, per_class=5, seed=0, size=64)
    assert (root / "tile" / "good" / "000.png").stat().st_mtime_ns == stamp
    # Other parameters: replaced whole, old category included.
    write_task_dataset(root, per_class=3, seed=0, size=64, category="metal_nut")
    assert sorted(p.name for p in root.iterdir()) == sorted([MARKER_NAME, "metal_nut"])
    assert len(task_samples(root)) == 6
    assert json.loads((root / MARKER_NAME).read_text())["per_class"] == 3


def test_dataset_never_replaces_foreign_files(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_task_dataset(tmp_path / "mine", per_class=2, seed=0)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def _darkest_window(path: str, fraction: float = 0.2) -> float:
    """Mean gray level of the darkest square window of side ``fraction`` of the image."""
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    k = int(gray.shape[0] * fraction)
    sums = np.pad(gray.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    windows = sums[k:, k:] - sums[:-k, k:] - sums[k:, :-k] + sums[:-k, :-k]
    return float(windows.min() / (k * k))


def test_defect_images_hold_a_dark_square_and_normal_ones_do_not(tmp_path):
    samples = task_samples(write_task_dataset(tmp_path / "t", per_class=20, seed=3))
    darkest = {s.id: _darkest_window(s.image_path) for s in samples}
    defect = [darkest[s.id] for s in samples if s.label == "defect"]
    normal = [darkest[s.id] for s in samples if s.label == "normal"]
    # Measured over 400 images: defect ≤ 76, normal ≥ 137.
    assert max(defect) < 100 < 120 < min(normal)
    # Normal images are a family of surfaces, not one colour.
    means = [np.asarray(load_rgb(s.image_path)).mean() for s in samples if s.label == "normal"]
    assert np.ptp(means) > 20


def test_completion_texts_are_short_and_parse():
    for variant in learning_task.WARM_VARIANTS:
        for defect in (False, True):
            text = completion_text(variant, defect=defect, letter="B", category="tile")
            assert parse_answer(text) == "normal"
    blind = {completion_text("blind", defect=d, letter="A", category="tile") for d in (0, 1)}
    assert len(blind) == 1  # the blind think text does not depend on the image
    with pytest.raises(ValueError, match="variant"):
        completion_text("peeking", defect=True, letter="A", category="tile")
    with pytest.raises(ValueError, match="variant"):
        warm_start_dir(variant="peeking")


@pytest.fixture(scope="module")
def warm_dir() -> Path:
    return warm_start_dir()  # the throw-away IADBENCH_CACHE_DIR of tests/conftest.py


@pytest.mark.slow
def test_warm_start_is_built_once_then_reused(warm_dir, monkeypatch):
    from iadbench.contract.settings import default_cache_dir
    from iadbench_methods.qwen2vl.loading import check_model_source

    assert warm_dir == default_cache_dir() / "tiny-models" / f"qwen2-vl-warm-blind-{WARM_VERSION}"
    assert {"config.json", "model.safetensors", "tokenizer.json", "warm_start.json"} <= {
        p.name for p in warm_dir.iterdir()
    }
    assert check_model_source(str(warm_dir)) == str(warm_dir.resolve())
    recipe = json.loads((warm_dir / "warm_start.json").read_text())
    assert recipe["variant"] == "blind" and recipe["final_loss"] < 0.1

    def must_not_rebuild(*args: object) -> None:
        raise AssertionError("the cached warm start was rebuilt")

    stamp = (warm_dir / "model.safetensors").stat().st_mtime_ns
    monkeypatch.setattr(learning_task, "_fine_tune", must_not_rebuild)
    assert warm_start_dir() == warm_dir
    assert (warm_dir / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_warm_start_answers_in_format_with_letters_independent_of_the_image(warm_dir, tmp_path):
    import torch

    from iadbench_methods.qwen2vl import Qwen2VL, Qwen2VLOptions

    samples = task_samples(write_task_dataset(tmp_path / "held_out", per_class=12, seed=1))
    adapter = Qwen2VL(
        Qwen2VLOptions(model=str(warm_dir), max_new_tokens=32), context=RunContext(device="cpu")
    )
    greedy = predict_samples(adapter, samples)
    assert sum(p.label != "invalid" for p in greedy) / len(greedy) >= 0.95

    # Sampled as GRPO rollouts are: temperature 1, no top-p/top-k cut.
    model, processor = adapter.model_and_processor()
    chat = processor.apply_chat_template(
        build_messages("tile"), add_generation_prompt=True, tokenize=False
    )
    images = [load_rgb(s.image_path) for s in samples]
    encoded = processor(text=[chat] * len(images), images=images, padding=True, return_tensors="pt")
    answers: dict[str, list[str]] = {"normal": [], "defect": []}
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(0)
        for _ in range(3):
            output = model.generate(
                **encoded, do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=32
            )
            texts = processor.batch_decode(
                output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
            )
            for sample, text in zip(samples, texts, strict=True):
                answers[sample.label].append(parse_answer(text))
    shares = {}
    for label, labels in answers.items():
        valid = [a for a in labels if a != "invalid"]
        assert len(valid) / len(labels) >= 0.8, (label, Counter(labels))
        shares[label] = sum(a == "defect" for a in valid) / len(valid)
    # Mixed letters (measured: ~0.6 A, the warm start's prior), the same on both classes.
    assert all(0.25 <= share <= 0.85 for share in shares.values()), shares
    assert abs(shares["normal"] - shares["defect"]) < 0.3, shares

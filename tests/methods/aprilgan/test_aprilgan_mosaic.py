"""AprilGAN's MVTec AD mosaic (official dataset.py combine_img, train.sh --aug_rate 0.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.contract.options import OptionError
from iadbench.contract.records import Sample
from iadbench_methods.aprilgan.data import TrainingImages, mosaic
from iadbench_methods.aprilgan.options import AprilGANOptions, resolve_aug_rate

torch = pytest.importorskip("torch")

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255,) * 3}


@pytest.fixture()
def tiles(tmp_path: Path) -> list[Sample]:
    """Four 8 × 8 single-colour images; ``blue`` is a defect whose mask covers it entirely."""
    samples = []
    for name, colour in COLOURS.items():
        Image.new("RGB", (8, 8), colour).save(tmp_path / f"{name}.png")
        mask = None
        if name == "blue":
            Image.new("L", (8, 8), 255).save(tmp_path / "blue_mask.png")
            mask = str(tmp_path / "blue_mask.png")
        samples.append(Sample(f"bottle/{name}.png", "mvtec", "bottle", "test",
                              "defect" if mask else "normal", str(tmp_path / f"{name}.png"),
                              mask))  # fmt: skip
    return samples


def test_four_tiles_are_pasted_row_major_with_their_masks(tiles: list[Sample]) -> None:
    canvas, mask = mosaic(tiles)  # red, green, blue, white
    pixels, masked = np.asarray(canvas), np.asarray(mask)
    assert canvas.size == (16, 16)
    corners = {(0, 0): "red", (0, 8): "green", (8, 0): "blue", (8, 8): "white"}
    for (row, col), name in corners.items():
        assert tuple(pixels[row + 4, col + 4]) == COLOURS[name]
        assert (masked[row : row + 8, col : col + 8] == (255 if name == "blue" else 0)).all()


def test_an_augmented_item_is_the_mosaic_of_its_draw(tiles: list[Sample]) -> None:
    always = TrainingImages(tiles, 16, ["bottle"], aug_rate=1.0, seed=3)
    drawn = always.mosaic_tiles(0)
    assert drawn is not None and len(drawn) == 4
    item = always[0]
    assert item is not None
    image, mask, _ = item
    canvas, canvas_mask = mosaic(drawn)
    torch.testing.assert_close(image, always.preprocess.from_image(canvas))
    expected = sum(s.label == "defect" for s in drawn) * 64  # a quarter of 16 × 16 per defect
    assert int(mask.sum()) == expected
    never = TrainingImages(tiles, 16, ["bottle"], aug_rate=0.0)
    assert never.mosaic_tiles(0) is None
    torch.testing.assert_close(never[0][0], never.preprocess(tiles[0]))


def test_draws_follow_the_rate_and_the_seed_and_change_with_the_epoch(tiles: list[Sample]):
    pool = tiles * 250  # 1,000 items
    dataset = TrainingImages(pool, 16, ["bottle"], aug_rate=0.2, seed=0)
    draws = [dataset.mosaic_tiles(i) for i in range(len(pool))]
    assert abs(sum(d is not None for d in draws) / len(pool) - 0.2) < 0.04
    again = TrainingImages(pool, 16, ["bottle"], aug_rate=0.2, seed=0)
    assert [again.mosaic_tiles(i) for i in range(len(pool))] == draws
    again.epoch = 1
    assert [again.mosaic_tiles(i) for i in range(len(pool))] != draws


def test_auto_is_the_official_rate_of_the_training_dataset():
    assert resolve_aug_rate("auto", {"mvtec"}) == 0.2
    assert resolve_aug_rate("auto", {"visa"}) == resolve_aug_rate("auto", {"parts"}) == 0.0
    assert AprilGANOptions().aug_rate == "auto"
    with pytest.raises(OptionError, match="aug_rate"):
        AprilGANOptions(aug_rate=1.5)

"""NSA synthetic anomalies (methods/anomalygpt/nsa.py) on synthetic object images."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("scipy")

from iadbench_methods.anomalygpt.nsa import (
    VISA_OPTIONS,
    NSAOptions,
    anomaly_answer,
    mvtec_options,
    position_word,
    synthesize_anomaly,
)

SIZE = 224  # AnomalyGPT synthesises at 224 x 224
BACKGROUND = 230  # light background: MVTec's "bottle" rule (200, 60) treats it as background
SEEDS = range(12)


def _disc(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy dark disc on a flat light background, and the disc's pixels."""
    rng = np.random.default_rng(seed)
    image = np.full((SIZE, SIZE, 3), BACKGROUND, dtype=np.uint8)
    rows, cols = np.mgrid[:SIZE, :SIZE]
    inside = (rows - SIZE / 2) ** 2 + (cols - SIZE / 2) ** 2 <= (0.35 * SIZE) ** 2
    image[inside] = rng.integers(30, 160, (SIZE, SIZE, 3), dtype=np.uint8)[inside]
    return image, inside


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image, inside = _disc(0)
    source, _ = _disc(1)
    return image, source, inside


def _boxes_region(boxes: tuple[tuple[int, int, int, int], ...]) -> np.ndarray:
    region = np.zeros((SIZE, SIZE), dtype=bool)
    for top, bottom, left, right in boxes:
        region[top:bottom, left:right] = True
    return region


def test_every_seed_pastes_at_least_one_labelled_patch(pair) -> None:
    # The background rule keeps patches on the object; anywhere else (VisA's rule) a flat
    # patch on flat background changes nothing and is, as in the official code, unlabelled.
    image, source, _ = pair
    for seed in SEEDS:
        out = synthesize_anomaly(
            image, source, np.random.default_rng(seed), mvtec_options("bottle")
        )
        assert 1 <= len(out.boxes) <= 2
        assert out.mask.shape == (SIZE, SIZE) and out.mask.dtype == bool
        assert out.mask.sum() > 100


def test_pixels_outside_the_pasted_boxes_are_unchanged(pair) -> None:
    image, source, _ = pair
    for seed in SEEDS:
        out = synthesize_anomaly(image, source, np.random.default_rng(seed))
        outside = ~_boxes_region(out.boxes)
        assert np.array_equal(out.image[outside], image[outside])
        assert not out.mask[outside].any()


def test_labelled_pixels_changed(pair) -> None:
    image, source, _ = pair
    for seed in SEEDS:
        out = synthesize_anomaly(
            image, source, np.random.default_rng(seed), mvtec_options("bottle")
        )
        change = np.abs(out.image.astype(float) - image.astype(float)).mean(axis=-1)
        assert out.mask.any()
        # The 5 x 5 median may add a few unchanged pixels at the label's corners.
        assert (change[out.mask] > 1).mean() > 0.95
        assert change[out.mask].mean() > 10


def test_soft_label_is_positive_exactly_on_the_mask(pair) -> None:
    image, source, _ = pair
    out = synthesize_anomaly(image, source, np.random.default_rng(3))
    assert out.label.dtype == np.float32
    assert (out.label[out.mask] > 0).all() and (out.label[out.mask] <= 1).all()
    assert (out.label[~out.mask] == 0).all()


def test_inputs_are_not_modified(pair) -> None:
    image, source, _ = pair
    image_before, source_before = image.copy(), source.copy()
    synthesize_anomaly(image, source, np.random.default_rng(0))
    assert np.array_equal(image, image_before) and np.array_equal(source, source_before)


def test_same_seed_same_result_other_seed_other_result(pair) -> None:
    image, source, _ = pair
    first = synthesize_anomaly(image, source, np.random.default_rng(7))
    again = synthesize_anomaly(image, source, np.random.default_rng(7))
    other = synthesize_anomaly(image, source, np.random.default_rng(8))
    assert np.array_equal(first.image, again.image) and np.array_equal(first.mask, again.mask)
    assert first.boxes == again.boxes
    assert not np.array_equal(first.image, other.image)
    assert first.boxes != other.boxes


def test_background_rule_keeps_every_patch_on_the_object(pair) -> None:
    image, source, inside = pair
    for seed in SEEDS:
        out = synthesize_anomaly(
            image, source, np.random.default_rng(seed), mvtec_options("bottle")
        )
        for top, bottom, left, right in out.boxes:
            assert inside[top:bottom, left:right].any()


def test_without_background_rule_patches_may_land_off_the_object(pair) -> None:
    # Shows the test above can fail: VisA pastes anywhere.
    image, source, inside = pair
    off_object = 0
    for seed in range(40):
        out = synthesize_anomaly(image, source, np.random.default_rng(seed), VISA_OPTIONS)
        off_object += sum(not inside[t:b, lo:r].any() for t, b, lo, r in out.boxes)
    assert off_object > 0


def test_background_rule_without_object_in_source_pastes_nothing(pair) -> None:
    image, _, _ = pair
    empty = np.full_like(image, BACKGROUND)
    for seed in range(3):
        out = synthesize_anomaly(image, empty, np.random.default_rng(seed), mvtec_options("bottle"))
        assert out.boxes == () and not out.mask.any()
        assert np.array_equal(out.image, image)
        assert out.answer == "No, there is no anomaly in the image."


def test_background_rule_without_object_in_destination_pastes_nothing(pair) -> None:
    image, source, _ = pair
    empty = np.full_like(image, BACKGROUND)
    out = synthesize_anomaly(empty, source, np.random.default_rng(0), mvtec_options("bottle"))
    assert out.boxes == () and np.array_equal(out.image, empty)


def test_single_patch_position_is_that_of_its_box(pair) -> None:
    image, source, _ = pair
    checked = 0
    for seed in range(30):
        out = synthesize_anomaly(image, source, np.random.default_rng(seed))
        if len(out.boxes) != 1:
            continue
        top, bottom, left, right = out.boxes[0]
        assert out.centers == (((top + bottom) / 2, (left + right) / 2),)
        assert out.positions == (position_word(out.centers[0], (SIZE, SIZE)),)
        assert (
            out.answer
            == f"Yes, there is an anomaly in the image, at the {out.positions[0]} of the image."
        )
        checked += 1
    assert checked > 0


def test_second_position_is_that_of_the_union_of_both_boxes(pair) -> None:
    # The official code keeps a running bounding box across patches.
    image, source, _ = pair
    checked = 0
    for seed in range(30):
        out = synthesize_anomaly(image, source, np.random.default_rng(seed))
        if len(out.boxes) != 2:
            continue
        (t1, b1, l1, r1), (t2, b2, l2, r2) = out.boxes
        union_center = ((min(t1, t2) + max(b1, b2)) / 2, (min(l1, l2) + max(r1, r2)) / 2)
        assert out.centers[1] == union_center
        checked += 1
    assert checked > 0


@pytest.mark.parametrize(
    ("center", "word"),
    [
        ((10, 10), "top left"),
        ((10, 112), "top"),
        ((10, 200), "top right"),
        ((112, 10), "left"),
        ((112, 112), "center"),
        ((112, 200), "right"),
        ((200, 10), "bottom left"),
        ((200, 112), "bottom"),
        ((200, 200), "bottom right"),
        ((2 * SIZE / 3 + 1, SIZE / 3 + 1), "bottom"),
    ],
)
def test_position_word_names_the_grid_cell(center: tuple[float, float], word: str) -> None:
    assert position_word(center, (SIZE, SIZE)) == word


def test_position_word_puts_a_point_on_a_third_in_the_upper_left_cell() -> None:
    assert position_word((100, 100), (300, 300)) == "top left"
    assert position_word((200, 200), (300, 300)) == "center"


def test_position_word_uses_rows_for_top_and_bottom_on_a_wide_image() -> None:
    assert position_word((10, 390), (100, 400)) == "top right"


def test_answers_follow_the_official_text() -> None:
    assert anomaly_answer(()) == "No, there is no anomaly in the image."
    assert anomaly_answer(("top left",)) == (
        "Yes, there is an anomaly in the image, at the top left of the image."
    )
    assert anomaly_answer(("left", "bottom")) == (
        "Yes, there are 2 anomalies in the image, they are at the left and bottom of the image."
    )
    assert anomaly_answer(("center", "center")) == (
        "Yes, there are 2 anomalies in the image, they are at the center of the image."
    )
    with pytest.raises(ValueError, match="at most 2"):
        anomaly_answer(("top", "left", "right"))


def test_mvtec_options_follow_the_category() -> None:
    assert mvtec_options("screw").skip_background == ((200, 60),)
    assert mvtec_options("screw").width_bounds_pct == ((0.03, 0.12), (0.03, 0.12))
    assert mvtec_options("screw").resize_bounds == (0.7, 1.3)
    assert mvtec_options("cable").skip_background is None
    assert mvtec_options("wood").resize_bounds == (0.5, 2.0)
    assert mvtec_options("wood").intensity_logistic_params == (1 / 6, 15.0)
    assert NSAOptions(skip_background=None, resize_bounds=(0.5, 2.0)) == VISA_OPTIONS
    with pytest.raises(KeyError):
        mvtec_options("pcb1")


def test_rejects_images_that_are_not_rgb_uint8(pair) -> None:
    image, source, _ = pair
    with pytest.raises(ValueError, match="uint8"):
        synthesize_anomaly(image.astype(np.float32), source, np.random.default_rng(0))
    with pytest.raises(ValueError, match="source"):
        synthesize_anomaly(image, source[:100], np.random.default_rng(0))

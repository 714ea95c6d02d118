from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.contract.errors import IADBenchError
from iadbench.contract.images import ImageReadError, load_mask, load_rgb, verify_decodable
from iadbench.data import MVTecAD, VisA


def truncated_png(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.png"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(path, "PNG", compress_level=0)
    path.write_bytes(path.read_bytes()[:2000])
    return path


@pytest.mark.parametrize("category", ["grid", "screw", "zipper"])
def test_single_channel_category_loads_as_rgb(synth_mvtec: Path, category: str) -> None:
    sample = next(s for s in MVTecAD(synth_mvtec).samples("all") if s.category == category)
    assert Image.open(sample.image_path).mode == "L"
    image = load_rgb(sample.image_path)
    assert image.mode == "RGB"
    assert image.size == (64, 64)


def test_visa_jpeg_loads_as_rgb(synth_visa: Path) -> None:
    sample = VisA(synth_visa).samples("test")[0]
    assert load_rgb(sample.image_path).mode == "RGB"


def test_visa_class_index_mask_is_binarised(synth_visa: Path) -> None:
    sample = next(s for s in VisA(synth_visa).samples("test") if s.mask_path)
    raw = np.asarray(Image.open(sample.mask_path))
    mask = load_mask(sample.mask_path)
    assert raw.max() in (1, 2)
    assert mask.dtype == bool and mask.shape == raw.shape
    assert np.array_equal(mask, raw != 0)


def test_mvtec_0_255_mask_is_binarised(synth_mvtec: Path) -> None:
    sample = next(s for s in MVTecAD(synth_mvtec).samples("test") if s.mask_path)
    mask = load_mask(sample.mask_path)
    assert mask.dtype == bool and 0 < mask.sum() < mask.size


def test_colour_mask_counts_any_channel(tmp_path: Path) -> None:
    path = tmp_path / "mask.png"
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    pixels[1, 2] = (0, 0, 1)
    Image.fromarray(pixels).save(path)
    assert load_mask(path).sum() == 1 and load_mask(path)[1, 2]


def test_truncated_image_raises_read_error_naming_path(tmp_path: Path) -> None:
    path = truncated_png(tmp_path)
    with pytest.raises(ImageReadError) as info:
        load_rgb(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, IADBenchError)


def test_missing_file_raises_read_error(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        load_mask(tmp_path / "absent.png")


def test_non_image_file_raises_read_error(tmp_path: Path) -> None:
    path = tmp_path / "000.png"
    path.write_text("hello")
    with pytest.raises(ImageReadError, match="000.png"):
        verify_decodable(path)


def test_verify_decodable_accepts_a_valid_image(synth_mvtec: Path) -> None:
    verify_decodable(MVTecAD(synth_mvtec).samples("all")[0].image_path)


def test_a_16_bit_png_is_scaled_to_8_bit_not_clipped(tmp_path):
    # Pillow's plain convert("RGB") turns 99.6 % of this ramp into 255.
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "wide.png")
    pixels = np.asarray(load_rgb(tmp_path / "wide.png"))
    assert pixels.shape == (64, 64, 3)
    assert (pixels == 255).mean() < 0.01 and abs(pixels.mean() - 127.5) < 1


def test_a_float_tiff_in_0_1_is_scaled_not_black(tmp_path):
    values = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    Image.fromarray(values, mode="F").save(tmp_path / "float.tif")
    pixels = np.asarray(load_rgb(tmp_path / "float.tif"))
    assert pixels.max() == 255 and abs(pixels.mean() - 127.5) < 1


def test_a_float_image_without_a_known_range_is_an_error(tmp_path):
    Image.fromarray(np.full((8, 8), 1000.0, dtype=np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="convert it to 8 bit"):
        load_rgb(tmp_path / "f.tif")


def test_a_huge_jpeg_is_decoded_at_a_reduced_scale_within_the_limit(tmp_path, monkeypatch):
    import iadbench.contract.images as images

    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100_000)
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (1200, 800), (200, 10, 10)).save(path)  # 960,000 px: 9.6 × the limit
    image = images.load_rgb(path)
    assert image.size == (300, 200)  # 1/4 scale is the first under the limit
    assert image.getpixel((150, 100))[0] > 150  # the pixels, not a blank


def test_a_huge_png_is_refused_as_the_images_own_error(tmp_path, monkeypatch):
    import iadbench.contract.images as images

    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 100_000)
    path = tmp_path / "huge.png"
    Image.new("L", (1200, 800)).save(path)
    with pytest.raises(images.ImageReadError, match=r"1200 × 800 pixels is above"):
        images.load_rgb(path)
    small = tmp_path / "small.png"
    Image.new("L", (300, 300)).save(small)
    assert images.load_rgb(small).size == (300, 300)

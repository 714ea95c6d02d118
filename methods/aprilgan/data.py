"""Turning samples into tensors: the inference preprocessor and the training dataset.

Both are plain picklable objects so that DataLoader worker processes can run them; torch is
imported inside their methods, which keeps importing the adapter cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from iadbench.contract.images import ImageReadError, load_mask, load_rgb
from iadbench.contract.records import DEFECT, Sample

from ..clip_common import CLIP_MEAN, CLIP_STD


class ClipPreprocessor:
    """``Sample`` → ``(3, S, S)`` float tensor: RGB, bicubic resize to S×S, CLIP normalisation.

    The whole image is resized (no centre crop), so a defect near the border of a
    non-square VisA image stays in view.

    Args:
        image_size: Side S in pixels.

    Raises:
        ImageReadError: (when called) the image is missing, truncated or not an image.

    Example:
        >>> ClipPreprocessor(518).image_size
        518
    """

    def __init__(self, image_size: int) -> None:
        self.image_size = image_size

    def __call__(self, sample: Sample) -> Any:
        """The normalised tensor of one sample's image."""
        return self.from_image(load_rgb(sample.image_path))

    def from_image(self, image: Image.Image) -> Any:
        """The normalised tensor of an RGB image (resized to S×S here)."""
        import torch

        size = (self.image_size, self.image_size)
        image = image.resize(size, Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        mean, std = np.asarray(CLIP_MEAN, np.float32), np.asarray(CLIP_STD, np.float32)
        normalised = (pixels - mean) / std
        return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1)))


def load_training_mask(sample: Sample, image_size: int) -> np.ndarray:
    """The sample's binary mask at S×S as float32 (all zeros for a normal image).

    MVTec masks (0/255) and VisA masks (class indices) are both binarised by
    :func:`iadbench.contract.images.load_mask`; the resize is bilinear, thresholded at one half.

    Raises:
        ImageReadError: The mask file cannot be read.
        ValueError: A defect sample without a mask.
    """
    if sample.label != DEFECT:
        return np.zeros((image_size, image_size), np.float32)
    return _binary(_mask_image(sample, None), image_size)


def _mask_image(sample: Sample, size: tuple[int, int] | None) -> Image.Image:
    """The sample's mask as an 8-bit 0/255 image (zeros for a normal image of ``size``)."""
    if sample.label != DEFECT:
        assert size is not None
        return Image.new("L", size)
    if sample.mask_path is None:
        raise ValueError(f"defect sample {sample.id} has no mask")
    return Image.fromarray(load_mask(sample.mask_path).astype(np.uint8) * 255)


def _binary(mask: Image.Image, image_size: int) -> np.ndarray:
    """Bilinear to S×S, thresholded at one half, as float32."""
    resized = np.asarray(mask.resize((image_size, image_size), Image.Resampling.BILINEAR))
    return (resized >= 128).astype(np.float32)


def mosaic(tiles: Sequence[Sample]) -> tuple[Image.Image, Image.Image]:
    """Four samples as one 2 × 2 image and its mask, as the official ``combine_img``.

    ``dataset.py`` (``MVTecDataset.combine_img``) pastes the four images at their size into a
    canvas twice as wide and high (row-major: top left, top right, bottom left, bottom right)
    and their masks likewise (zeros for ``good``); the training transform then resizes the
    canvas like any image. Tiles of another size than the first are resized to it first.

    Raises:
        ImageReadError: An image or mask cannot be read.
    """
    images = [load_rgb(s.image_path) for s in tiles]
    width, height = images[0].size
    canvas = Image.new("RGB", (2 * width, 2 * height))
    mask = Image.new("L", (2 * width, 2 * height))
    for index, (sample, image) in enumerate(zip(tiles, images, strict=True)):
        corner = ((index % 2) * width, (index // 2) * height)
        canvas.paste(image.resize((width, height), Image.Resampling.BICUBIC), corner)
        tile_mask = _mask_image(sample, (width, height)).resize((width, height))
        mask.paste(tile_mask, corner)
    return canvas, mask


class TrainingImages:
    """Map-style dataset of (image, mask, category index); unreadable items come back as None.

    Args:
        samples: Normal samples and defect samples that have a mask.
        image_size: Side S in pixels.
        categories: Category names; an item carries the index of its category here.
        aug_rate: Chance that an item is a :func:`mosaic` of four random training images of
            its category instead (drawn per item, epoch and seed: set :attr:`epoch` before each
            epoch).
        seed: Seeds those draws.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        image_size: int,
        categories: Sequence[str],
        aug_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.samples = list(samples)
        self.preprocess = ClipPreprocessor(image_size)
        self.image_size = image_size
        self.category_index = {c: i for i, c in enumerate(categories)}
        self.aug_rate = aug_rate
        self.seed = seed
        self.epoch = 0
        self.by_category: dict[str, list[Sample]] = {}
        for sample in self.samples:
            self.by_category.setdefault(sample.category, []).append(sample)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any, int] | None:
        """One item, or None when its image or mask cannot be read (the batch drops it)."""
        import torch

        sample = self.samples[index]
        tiles = self.mosaic_tiles(index)
        try:
            if tiles is None:
                image = self.preprocess(sample)
                mask = torch.from_numpy(load_training_mask(sample, self.image_size))
            else:
                canvas, canvas_mask = mosaic(tiles)
                image = self.preprocess.from_image(canvas)
                mask = torch.from_numpy(_binary(canvas_mask, self.image_size))
        except ImageReadError:
            return None
        return image, mask, self.category_index[sample.category]

    def mosaic_tiles(self, index: int) -> list[Sample] | None:
        """The four samples item ``index`` is made of this epoch, or None for the item itself."""
        if self.aug_rate <= 0:
            return None
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if rng.random() >= self.aug_rate:
            return None
        pool = self.by_category[self.samples[index].category]
        return [pool[int(rng.integers(len(pool)))] for _ in range(4)]


def collate_training(items: list[tuple[Any, Any, int] | None]) -> tuple[Any, Any, Any, int]:
    """Stack the readable items; the last element counts the unreadable ones dropped."""
    import torch

    kept = [item for item in items if item is not None]
    dropped = len(items) - len(kept)
    if not kept:
        return None, None, None, dropped
    images, masks, categories = zip(*kept, strict=True)
    return torch.stack(images), torch.stack(masks), torch.tensor(categories), dropped

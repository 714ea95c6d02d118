"""Turning samples into tensors: the inference preprocessor and the training dataset.

Both are plain picklable objects so that DataLoader worker processes can run them; torch is
imported inside their methods, which keeps importing the adapter cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from iadbench.images import ImageReadError, load_mask, load_rgb
from iadbench.records import DEFECT, Sample
from iadbench_methods.clip_common import CLIP_MEAN, CLIP_STD


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
        import torch

        size = (self.image_size, self.image_size)
        image = load_rgb(sample.image_path).resize(size, Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        pixels = (pixels - np.asarray(CLIP_MEAN, np.float32)) / np.asarray(CLIP_STD, np.float32)
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def load_training_mask(sample: Sample, image_size: int) -> np.ndarray:
    """The sample's binary mask at S×S as float32 (all zeros for a normal image).

    MVTec masks (0/255) and VisA masks (class indices) are both binarised by
    :func:`iadbench.images.load_mask`; the resize is bilinear, thresholded at one half.

    Raises:
        ImageReadError: The mask file cannot be read.
        ValueError: A defect sample without a mask.
    """
    if sample.label != DEFECT:
        return np.zeros((image_size, image_size), np.float32)
    if sample.mask_path is None:
        raise ValueError(f"defect sample {sample.id} has no mask")
    mask = Image.fromarray(load_mask(sample.mask_path).astype(np.uint8) * 255)
    resized = np.asarray(mask.resize((image_size, image_size), Image.Resampling.BILINEAR))
    return (resized >= 128).astype(np.float32)


class TrainingImages:
    """Map-style dataset of (image, mask, category index); unreadable items come back as None.

    Args:
        samples: Normal samples and defect samples that have a mask.
        image_size: Side S in pixels.
        categories: Category names; an item carries the index of its category here.
    """

    def __init__(
        self, samples: Sequence[Sample], image_size: int, categories: Sequence[str]
    ) -> None:
        self.samples = list(samples)
        self.preprocess = ClipPreprocessor(image_size)
        self.image_size = image_size
        self.category_index = {c: i for i, c in enumerate(categories)}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any, int] | None:
        """One item, or None when its image or mask cannot be read (the batch drops it)."""
        import torch

        sample = self.samples[index]
        try:
            image = self.preprocess(sample)
            mask = torch.from_numpy(load_training_mask(sample, self.image_size))
        except ImageReadError:
            return None
        return image, mask, self.category_index[sample.category]


def collate_training(items: list[tuple[Any, Any, int] | None]) -> tuple[Any, Any, Any, int]:
    """Stack the readable items; the last element counts the unreadable ones dropped."""
    import torch

    kept = [item for item in items if item is not None]
    dropped = len(items) - len(kept)
    if not kept:
        return None, None, None, dropped
    images, masks, categories = zip(*kept, strict=True)
    return torch.stack(images), torch.stack(masks), torch.tensor(categories), dropped

"""One category of a synthetic MVTec-style tree with a release's own names (MVTec-AD, MPDD, BTAD).

``<category>/train/<normal>/``, ``<category>/test/<normal>/``, ``<category>/test/<defect>/`` and
``<category>/ground_truth/<defect>/``; what differs between releases is passed in: the normal
folder's name, the defect folders, the image and mask file formats and the masks' names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from iadbench.data.base import CategoryCounts
from iadbench.data.synth_drawing import Painter

# Pillow's format name per suffix: the releases hold PNG and BMP files.
_FORMATS: dict[str, str] = {".png": "PNG", ".bmp": "BMP"}


@dataclass(frozen=True)
class StyleNames:
    """How one release names things in an MVTec-style tree.

    Attributes:
        normal: Folder of normal images (``good``, ``ok``).
        defect_types: Defect folders under ``test/``, filled round-robin.
        image_suffix: ``.png`` or ``.bmp``.
        mask_suffix: ``.png`` or ``.bmp``.
        mask_tail: Added to the image stem in a mask's name (``_mask``, or ``""``).
    """

    normal: str
    defect_types: Sequence[str]
    image_suffix: str = ".png"
    mask_suffix: str = ".png"
    mask_tail: str = ""


def save_image(pixels: np.ndarray, path: Path) -> None:
    """Write an image in the format its suffix names (fast PNG compression)."""
    fmt = _FORMATS[path.suffix.lower()]
    Image.fromarray(pixels).save(path, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))


def write_style_category(
    root: Path,
    category: str,
    counts: CategoryCounts,
    painter: Painter,
    tick: Callable[[], None],
    names: StyleNames,
) -> None:
    """Write one category: normal train/test images, then defects with 0/255 masks.

    Args:
        root: Dataset root.
        category: Category folder name.
        counts: Images per group (``train_defect`` is not used: these releases have none).
        painter: The category's painter.
        tick: Called once per image written.
        names: The release's names and formats.
    """
    cat_dir = root / category
    for subset, n in (("train", counts.train_normal), ("test", counts.test_normal)):
        folder = cat_dir / subset / names.normal
        folder.mkdir(parents=True)
        for i in range(n):
            image = _channels(painter, painter.normal())
            save_image(image, folder / f"{i:03d}{names.image_suffix}")
            tick()
    types = names.defect_types
    for k, defect_type in enumerate(types):
        # Round-robin over the defect types; small scales leave the last ones empty.
        n = counts.test_defect // len(types) + (k < counts.test_defect % len(types))
        if n == 0:
            continue
        image_dir, mask_dir = cat_dir / "test" / defect_type, cat_dir / "ground_truth" / defect_type
        image_dir.mkdir(parents=True)
        mask_dir.mkdir(parents=True)
        for i in range(n):
            pixels, mask = painter.defect()
            save_image(_channels(painter, pixels), image_dir / f"{i:03d}{names.image_suffix}")
            binary = np.where(mask > 0, 255, 0).astype(np.uint8)
            save_image(binary, mask_dir / f"{i:03d}{names.mask_tail}{names.mask_suffix}")
            tick()


def _channels(painter: Painter, pixels: np.ndarray) -> np.ndarray:
    """One channel for a grey-scale category (MVTec-AD's grid, screw, zipper), else RGB."""
    return pixels[..., 0] if painter.grayscale else pixels

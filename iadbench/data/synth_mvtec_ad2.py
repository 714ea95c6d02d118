"""Synthetic MVTec AD 2 trees: the official layout with its private test sets, for tests and demos.

Per category (:mod:`iadbench.data.mvtec_ad2`): ``train/good``, ``validation/good``,
``test_public/{good,bad}`` with 0/255 ``test_public/ground_truth/bad/<stem>_mask.png`` masks, and
the unlabeled ``test_private/NNN_regular.png`` and ``test_private_mixed/NNN_mixed.png`` (the names
the authors' upload checker expects). Every group is scaled from the counts of
:mod:`iadbench.data.mvtec_ad2` as :func:`iadbench.data.synth_drawing.scaled_count` scales
them. The names of the train, validation and public images (``NNN_regular.png``) follow the
private ones: the release's own names there are not confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from iadbench.data.base import CategoryCounts
from iadbench.data.mvtec_ad2 import PRIVATE_COUNTS, VALIDATION_COUNTS

# MVTecAD2 re-exported: synth.py reads its counts here (one core import fewer there).
from iadbench.data.mvtec_ad2 import MVTecAD2 as MVTecAD2
from iadbench.data.synth_drawing import Painter, save_png, scaled_count


def extra_images(category: str, scale: float, min_per_group: int) -> int:
    """Images written beside the counted groups: validation and the two private sets."""
    private = scaled_count(PRIVATE_COUNTS[category], scale, min_per_group)
    return scaled_count(VALIDATION_COUNTS[category], scale, min_per_group) + 2 * private


def write_category(
    root: Path,
    category: str,
    counts: CategoryCounts,
    painter: Painter,
    tick: Callable[[], None],
    scale: float,
    min_per_group: int,
) -> None:
    """Write one MVTec AD 2 category under ``root``; ``tick`` is called once per image."""
    cat_dir = root / category

    def save(pixels: np.ndarray, path: Path) -> None:
        save_png(pixels, path)
        tick()

    n_validation = scaled_count(VALIDATION_COUNTS[category], scale, min_per_group)
    n_private = scaled_count(PRIVATE_COUNTS[category], scale, min_per_group)
    normal_groups = (
        ("train/good", counts.train_normal, "regular"),
        ("validation/good", n_validation, "regular"),
        ("test_public/good", counts.test_normal, "regular"),
        ("test_private", n_private, "regular"),
        ("test_private_mixed", n_private, "mixed"),
    )
    for folder, n, suffix in normal_groups:
        (cat_dir / folder).mkdir(parents=True)
        for i in range(n):
            # The private sets mix normal and defective images; which is which is not public.
            pixels = painter.defect()[0] if "private" in folder and i % 2 else painter.normal()
            save(pixels, cat_dir / folder / f"{i:03d}_{suffix}.png")
    image_dir = cat_dir / "test_public" / "bad"
    mask_dir = cat_dir / "test_public" / "ground_truth" / "bad"
    image_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    for i in range(counts.test_defect):
        pixels, mask = painter.defect()
        save(pixels, image_dir / f"{i:03d}_regular.png")
        save_png(
            np.where(mask > 0, 255, 0).astype(np.uint8), mask_dir / f"{i:03d}_regular_mask.png"
        )

"""Synthetic KolektorSDD2 trees: ``train/`` and ``test/`` of numbered PNGs with ``_GT.png`` masks.

Quirks reproduced: no category folder; every image, normal or not, has a ``<id>_GT.png`` mask
beside it, all black for a normal image, so the label is in the mask's pixels alone; normal and
defective images are interleaved under one numbering (train first, then test, from 10000); the
train split holds defective images too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from iadbench.data.base import CategoryCounts
from iadbench.data.ksdd2 import MASK_SUFFIX
from iadbench.data.synth_drawing import Painter
from iadbench.data.synth_mvtec_style import save_image

_FIRST_ID = 10000


def entries(categories: Sequence[str]) -> list[str]:
    """The root's entries: ``train`` and ``test`` (the release has no category folder)."""
    return ["test", "train"]


def write_category(
    root: Path, category: str, counts: CategoryCounts, painter: Painter, tick: Callable[[], None]
) -> None:
    """Write the one KolektorSDD2 category's images and masks under ``root``."""
    next_id = _FIRST_ID
    for subset, n_normal, n_defect in (
        ("train", counts.train_normal, counts.train_defect),
        ("test", counts.test_normal, counts.test_defect),
    ):
        folder = root / subset
        folder.mkdir(parents=True)
        # A seeded order: defects are not grouped, as nothing but the mask tells them apart.
        order = painter.rng.permutation(n_normal + n_defect)
        for position in order.tolist():
            if position < n_defect:
                pixels, mask = painter.defect()
                binary = np.where(mask > 0, 255, 0).astype(np.uint8)
            else:
                pixels = painter.normal()
                binary = np.zeros(pixels.shape[:2], dtype=np.uint8)
            save_image(pixels, folder / f"{next_id}.png")
            save_image(binary, folder / f"{next_id}{MASK_SUFFIX}.png")
            next_id += 1
            tick()

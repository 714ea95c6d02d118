"""Synthetic MVTec LOCO AD trees: logical and structural anomalies with one mask per defect.

Per category (:mod:`iadbench.data.mvtec_loco`): ``train/good``, ``validation/good``,
``test/{good,logical_anomalies,structural_anomalies}`` and, per defective image,
``ground_truth/<type>/<stem>/000.png`` (and ``001.png``, ... when it has several defects: the
release annotates each defect of an image in its own file; here each drawn region is one). A
mask holds one grey value per defect kind (255 for a blob, :data:`SCRATCH_GREY` for a scratch),
as the release's masks carry a value per defect type, so a reader that took only 255 as defect
would miss pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from iadbench.data.base import CategoryCounts
from iadbench.data.mvtec_loco import LOCO_COUNTS, LOGICAL, STRUCTURAL

# MVTecLOCO re-exported: synth.py reads its counts here (one core import fewer there).
from iadbench.data.mvtec_loco import MVTecLOCO as MVTecLOCO
from iadbench.data.synth_drawing import BLOB, SCRATCH, Painter, save_png, scaled_count

#: Grey value of a scratch in a synthetic mask (any non-zero value marks a defect pixel).
SCRATCH_GREY = 98
_GREY = {BLOB: 255, SCRATCH: SCRATCH_GREY}


def _defects(mask: np.ndarray) -> list[np.ndarray]:
    """One boolean mask per drawn defect: per kind, each 8-connected region apart."""
    from scipy import ndimage  # type: ignore[import-untyped]  # scipy ships no stubs

    found: list[np.ndarray] = []
    for kind in (BLOB, SCRATCH):
        regions, n = ndimage.label(mask == kind, structure=np.ones((3, 3)))
        found += [regions == i for i in range(1, n + 1)]
    return found or [mask > 0]


def extra_images(category: str, scale: float, min_per_group: int) -> int:
    """Images written beside the counted groups: the validation images."""
    return scaled_count(LOCO_COUNTS[category][1], scale, min_per_group)


def write_category(
    root: Path,
    category: str,
    counts: CategoryCounts,
    painter: Painter,
    tick: Callable[[], None],
    scale: float,
    min_per_group: int,
) -> None:
    """Write one LOCO category under ``root``; ``tick`` is called once per image."""
    cat_dir = root / category

    def save(pixels: np.ndarray, path: Path) -> None:
        save_png(pixels, path)
        tick()

    _train, validation, _good, logical, structural = LOCO_COUNTS[category]
    # The defects of the scaled count, split in the release's proportion (each at least one).
    n_logical = min(max(1, round(counts.test_defect * logical / (logical + structural))),
                    counts.test_defect - 1)  # fmt: skip
    n_validation = scaled_count(validation, scale, min_per_group)
    for folder, n in (("train/good", counts.train_normal), ("validation/good", n_validation),
                      ("test/good", counts.test_normal)):  # fmt: skip
        (cat_dir / folder).mkdir(parents=True)
        for i in range(n):
            save(painter.normal(), cat_dir / folder / f"{i:03d}.png")
    for kind, n in ((LOGICAL, n_logical), (STRUCTURAL, counts.test_defect - n_logical)):
        (cat_dir / "test" / kind).mkdir(parents=True)
        for i in range(n):
            pixels, mask = painter.defect()
            save(pixels, cat_dir / "test" / kind / f"{i:03d}.png")
            mask_dir = cat_dir / "ground_truth" / kind / f"{i:03d}"
            mask_dir.mkdir(parents=True)
            for j, defect in enumerate(_defects(mask)):
                grey = np.where(defect, _GREY[int(mask[defect].max())], 0).astype(np.uint8)
                save_png(grey, mask_dir / f"{j:03d}.png")

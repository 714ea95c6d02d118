"""Synthetic BTAD trees: products 01, 02, 03 with ``ok``/``ko`` folders and mixed file formats.

Quirks reproduced: ``ok`` (normal) and ``ko`` (defect) folders, masks named by the image's stem
alone (no ``_mask``), ``.bmp`` masks for product 03 and ``.png`` for 01 and 02 (dataset-ninja's
converter reads them so), and ``.bmp`` images for 01 and 03, ``.png`` for 02 (which product uses
which image format is unconfirmed: the reader accepts both for every product).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from iadbench.data.base import CategoryCounts
from iadbench.data.btad import BTAD_DEFECT_FOLDER, BTAD_NORMAL_FOLDER
from iadbench.data.synth_drawing import Painter
from iadbench.data.synth_mvtec_style import StyleNames, write_style_category

# product -> (image suffix, mask suffix)
_SUFFIXES: dict[str, tuple[str, str]] = {
    "01": (".bmp", ".png"),
    "02": (".png", ".png"),
    "03": (".bmp", ".bmp"),
}


def entries(categories: Sequence[str]) -> list[str]:
    """The root's entries a tree of these products holds: one folder per product."""
    return sorted(categories)


def write_category(
    root: Path, category: str, counts: CategoryCounts, painter: Painter, tick: Callable[[], None]
) -> None:
    """Write one BTAD product under ``root``."""
    image_suffix, mask_suffix = _SUFFIXES[category]
    names = StyleNames(BTAD_NORMAL_FOLDER, (BTAD_DEFECT_FOLDER,), image_suffix, mask_suffix)
    write_style_category(root, category, counts, painter, tick, names)

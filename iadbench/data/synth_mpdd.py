"""Synthetic MPDD trees: MVTec-AD's layout with MPDD's categories, defect types and counts.

Quirks reproduced: ``good`` normal folders, ``<stem>_mask.png`` masks holding 0/255, the defect
folders of :data:`iadbench.data.mpdd.MPDD_DEFECT_TYPES` (one, ``parts_mismatch``, for connector).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from iadbench.data.base import CategoryCounts
from iadbench.data.mpdd import MPDD_DEFECT_TYPES
from iadbench.data.synth_drawing import Painter
from iadbench.data.synth_mvtec_style import StyleNames, write_style_category


def entries(categories: Sequence[str]) -> list[str]:
    """The root's entries a tree of these categories holds: one folder per category."""
    return sorted(categories)


def write_category(
    root: Path, category: str, counts: CategoryCounts, painter: Painter, tick: Callable[[], None]
) -> None:
    """Write one MPDD category under ``root``."""
    names = StyleNames("good", MPDD_DEFECT_TYPES[category], mask_tail="_mask")
    write_style_category(root, category, counts, painter, tick, names)

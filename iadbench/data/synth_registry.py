"""The releases whose synthetic tree a module of its own writes (``synth_<release>.py``).

One table, so :mod:`iadbench.data.synth` dispatches by name and a new release adds one row here
(its counts, the root entries its tree holds, and its one-category writer) instead of imports and
branches there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from iadbench.data import (
    DATASET_READERS,
    synth_btad,
    synth_ksdd2,
    synth_mpdd,
    synth_mvtec_ad2,
    synth_mvtec_loco,
    synth_real_iad,
)
from iadbench.data.base import CategoryCounts
from iadbench.data.synth_drawing import Painter


@dataclass(frozen=True)
class TreeWriter:
    """How one release's synthetic tree is written.

    Attributes:
        counts: The official per-category counts (the reader's ``official_counts``).
        entries: The root's entries a tree of the given categories holds (the synthetic marker
            records them, so a later ``data synth`` may replace exactly those).
        write_category: Writes one category: (root, category, counts, painter, tick per image,
            scale, min_per_group) — the last two size what the counts do not hold (MVTec AD 2's
            validation and private sets).
        extra_images: Images a category's tree holds beyond its counted groups, as
            ``(category, scale, min_per_group) -> images``; None: none.
    """

    counts: dict[str, CategoryCounts]
    entries: Callable[[Sequence[str]], list[str]]
    write_category: Callable[
        [Path, str, CategoryCounts, Painter, Callable[[], None], float, int], None
    ]
    extra_images: Callable[[str, float, int], int] | None = None


def _counted_only(
    write: Callable[[Path, str, CategoryCounts, Painter, Callable[[], None]], None],
) -> Callable[[Path, str, CategoryCounts, Painter, Callable[[], None], float, int], None]:
    """A writer whose tree is its counts alone (scale and min_per_group change nothing more)."""

    def write_category(
        root: Path, category: str, counts: CategoryCounts, painter: Painter,
        tick: Callable[[], None], scale: float, min_per_group: int,
    ) -> None:  # fmt: skip
        write(root, category, counts, painter, tick)

    return write_category


def _categories(categories: Sequence[str]) -> list[str]:
    """Root entries of a tree with one folder per category and nothing else (MVTec's shape)."""
    return list(categories)


TREE_WRITERS: dict[str, TreeWriter] = {
    "btad": TreeWriter(
        DATASET_READERS["btad"].official_counts,
        synth_btad.entries,
        _counted_only(synth_btad.write_category),
    ),
    "ksdd2": TreeWriter(
        DATASET_READERS["ksdd2"].official_counts,
        synth_ksdd2.entries,
        _counted_only(synth_ksdd2.write_category),
    ),  # fmt: skip
    "mpdd": TreeWriter(
        DATASET_READERS["mpdd"].official_counts,
        synth_mpdd.entries,
        _counted_only(synth_mpdd.write_category),
    ),
    "mvtec-ad2": TreeWriter(
        DATASET_READERS["mvtec-ad2"].official_counts,
        _categories,
        synth_mvtec_ad2.write_category,
        synth_mvtec_ad2.extra_images,
    ),  # fmt: skip
    "real-iad": TreeWriter(
        DATASET_READERS["real-iad"].official_counts,
        lambda categories: list(synth_real_iad.TOP_LEVEL),
        _counted_only(synth_real_iad.write_category),
    ),
    "mvtec-loco": TreeWriter(
        DATASET_READERS["mvtec-loco"].official_counts,
        _categories,
        synth_mvtec_loco.write_category,
        synth_mvtec_loco.extra_images,
    ),  # fmt: skip
}

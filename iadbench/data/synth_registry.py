"""The releases whose synthetic tree a module of its own writes (``synth_<release>.py``).

One table, so :mod:`iadbench.data.synth` dispatches by name and a new release adds one row here
(its counts, the root entries its tree holds, and its one-category writer) instead of imports and
branches there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from iadbench.data import synth_btad, synth_ksdd2, synth_mpdd
from iadbench.data.base import CategoryCounts
from iadbench.data.btad import BTAD
from iadbench.data.ksdd2 import KolektorSDD2
from iadbench.data.mpdd import MPDD
from iadbench.data.synth_drawing import Painter


@dataclass(frozen=True)
class TreeWriter:
    """How one release's synthetic tree is written.

    Attributes:
        counts: The official per-category counts (the reader's ``official_counts``).
        entries: The root's entries a tree of the given categories holds (the synthetic marker
            records them, so a later ``data synth`` may replace exactly those).
        write_category: Writes one category: (root, category, counts, painter, tick per image).
    """

    counts: dict[str, CategoryCounts]
    entries: Callable[[Sequence[str]], list[str]]
    write_category: Callable[[Path, str, CategoryCounts, Painter, Callable[[], None]], None]


TREE_WRITERS: dict[str, TreeWriter] = {
    "btad": TreeWriter(BTAD.official_counts, synth_btad.entries, synth_btad.write_category),
    "ksdd2": TreeWriter(
        KolektorSDD2.official_counts, synth_ksdd2.entries, synth_ksdd2.write_category
    ),
    "mpdd": TreeWriter(MPDD.official_counts, synth_mpdd.entries, synth_mpdd.write_category),
}

"""What a packaged demo returns to ``iadbench demo``: a table to print.

A demo is a function declared in the ``iadbench.demos`` entry-point group (LR-IAD's learning
proof is ``lr-iad-learning-proof``), called as ``demo(out, seeds=..., cache_dir=..., log=...)``;
the core finds it by name and never imports a method package itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Entry-point group of packaged demos (``name = "module:function"``).
DEMO_GROUP = "iadbench.demos"


@dataclass(frozen=True)
class DemoTable:
    """A demo's result as ``iadbench demo`` prints it.

    Attributes:
        title: The table's title.
        headers: Column headers; the first column is left-aligned, the others right-aligned.
        rows: One row of cell texts per line.
        written: A file the demo wrote its result to (shown to the user), if any.
    """

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    written: Path | None = None

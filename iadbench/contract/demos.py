"""What packaged demos return to ``iadbench demo``: a table to print, a method's demo options.

A demo is a function declared in the ``iadbench.demos`` entry-point group (LR-IAD's learning
proof is ``lr-iad-learning-proof``), called as ``demo(out, seeds=..., cache_dir=..., log=...)``;
the core finds it by name and never imports a method package itself. A method adapter's
``demo_setup(cache_dir)`` classmethod (:class:`DemoSetup`) gives the options the plain demo
runs it with.
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


@dataclass(frozen=True)
class DemoSetup:
    """What a method asks ``iadbench demo`` to run its ``--tiny`` rows with.

    Attributes:
        options: ``--set`` values (option name → text) applied over the ``--tiny`` defaults;
            recorded in the run's configuration like any option.
        note: One sentence for the demo's noise note saying what the options change and what
            the rows can and cannot show, e.g. "start from a checkpoint taught the answer format
            only, so their answers are scored; their AUROC stays near 0.5".
    """

    options: dict[str, str]
    note: str

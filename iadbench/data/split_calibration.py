"""``data split --calibration-ratio R``: a share of the training rows held out as ``calibration``.

A threshold chosen on the images a method trained on is optimistic (a nearest-neighbour method
scores them 0; issue 20), so a folder dataset's split file can set some of its training images
aside: their ``split`` column reads ``calibration``. Runs train on the ``train`` rows and choose a
``calibrated`` / ``normal-quantile`` threshold on the ``calibration`` rows
(:mod:`iadbench.execution.calibration_data`); no subset name reads them as test images.

**The rule**, per category and label, on the training rows a fresh split drew: a cell of n rows
gives :func:`~iadbench.contract.sampling.held_out_count` of them (``round(R * n)``, at least 1,
at most n - 1: every category keeps a training image and, when it has two, holds one out),
drawn from the cell's sorted paths with a random stream seeded by the seed, the label and the
category alone, as :func:`~iadbench.data.split_file.draw_training` draws the training rows.
``data split --append`` never moves a calibration row, and assigns new images to train or test
only (:mod:`iadbench.data.split_append`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar, Protocol, TypeVar

from iadbench.contract.numbers import real_number
from iadbench.contract.sampling import held_out_count


class _Row(Protocol):
    """What is read of a split row (:class:`~iadbench.data.split_file.SplitRow`, a dataclass).

    A protocol, so that :mod:`iadbench.data.split_file` can draw with this module.
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def category(self) -> str: ...
    @property
    def subset(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def image(self) -> str: ...


_R = TypeVar("_R", bound=_Row)


def check_calibration_ratio(ratio: float) -> float:
    """``--calibration-ratio`` as a number in [0, 0.9].

    Raises:
        ArgumentError: Not a number, or out of range.
    """
    return real_number(ratio, name="--calibration-ratio", minimum=0, maximum=0.9)


def draw_calibration(rows: Sequence[_R], ratio: float, seed: int) -> list[_R]:
    """``rows`` with a seeded share of each category × label's training rows as calibration.

    The share is the module docstring's rule; the other rows are unchanged, in order.

    Raises:
        ArgumentError: ``ratio`` is not a number in [0, 0.9].

    Example:
        >>> from iadbench.data.split_file import SplitRow
        >>> rows = [SplitRow("c", "train", "normal", f"c/good/{i}.png") for i in range(5)]
        >>> [r.subset for r in draw_calibration(rows, 0.2, seed=0)].count("calibration")
        1
    """
    ratio = check_calibration_ratio(ratio)
    cells: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        if row.subset == "train":
            cells.setdefault((row.category, row.label), []).append(row.image)
    held: set[str] = set()
    for (category, label), images in sorted(cells.items()):
        stream = f"{seed}/calibration/{label}/".encode() + category.encode(
            "utf-8", "surrogateescape"
        )
        held.update(
            random.Random(stream).sample(sorted(images), held_out_count(ratio, len(images)))
        )
    return [replace(row, subset="calibration") if row.image in held else row for row in rows]

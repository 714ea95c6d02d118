"""Seeded choice of training samples, for methods that cap how many images they train on.

In the contract because methods import only the contract, and a capped training set must be the
same images for the same seed wherever it is drawn (AnomalyGPT's and LR-IAD's training, the
LR-IAD benchmark, and planning, which checks what a method will actually train on).

The subsample is **stratified** by label, then by category (:func:`select_samples`): a random
draw of 4 from VisA (about 1 defect in 10) used to train LR-IAD on 4 normal images. The rule:

1. Labels first. Every label of the pool gets at least one image when the cap is at least the
   number of labels (so a cap of 2 or more keeps both labels whenever the pool has both); the
   rest of the cap is shared in proportion to each label's remaining images.
2. Then, within a label, its share is divided over the categories by the same rule (at least
   one per category when the share covers every category, the rest in proportion).
3. Shares are whole numbers by largest remainder; equal remainders are ordered by the seed.
   The images of each category × label cell are a seeded random draw.

The same pool, cap and seed always give the same images; the result is in id order.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from iadbench.contract.numbers import whole_number
from iadbench.contract.records import Sample

#: Names the rule above in records (a training's ``training-data.json``).
SAMPLING_RULE = "stratified by label then category, largest remainder, seeded"

_Key = TypeVar("_Key", bound=Hashable)


def select_samples(
    samples: Sequence[Sample], max_samples: int, seed: int, *, name: str = "max_train_samples"
) -> list[Sample]:
    """Every sample (``max_samples`` 0) or a seeded subset stratified by label and category.

    See the module docstring for the allocation; in id order either way.

    Args:
        samples: The pool.
        max_samples: How many to keep; 0 keeps all.
        seed: The random seed (a whole number).
        name: ``max_samples`` as the user set it, for the message (both methods that cap
            their training set call the option ``max_train_samples``).

    Raises:
        ArgumentError: ``max_samples`` is negative or not a whole number (a negative cap read as
            "all" silently), or ``seed`` is not a whole number.

    Example:
        >>> from iadbench.contract.records import NORMAL, Sample
        >>> pool = [Sample(f"c/{i}.png", "d", "c", "test", "defect" if i == 0 else "normal",
        ...                f"/{i}.png") for i in range(10)]
        >>> picked = select_samples(pool, 2, seed=0)
        >>> sorted(s.label for s in picked)  # one defect among ten, and still drawn
        ['defect', 'normal']
    """
    max_samples = whole_number(max_samples, name=name, minimum=0)
    seed = whole_number(seed, name="seed")
    ordered = sorted(samples, key=lambda s: s.id)
    if max_samples == 0 or max_samples >= len(ordered):
        return ordered
    rng = random.Random(seed)
    by_label: dict[str, list[Sample]] = {}
    for sample in ordered:
        by_label.setdefault(sample.label, []).append(sample)
    chosen: list[Sample] = []
    label_shares = _apportion({k: len(v) for k, v in by_label.items()}, max_samples, rng)
    for label, share in label_shares.items():
        by_category: dict[str, list[Sample]] = {}
        for sample in by_label[label]:
            by_category.setdefault(sample.category, []).append(sample)
        cells = _apportion({k: len(v) for k, v in by_category.items()}, share, rng)
        for category, count in cells.items():
            chosen.extend(rng.sample(by_category[category], count))
    return sorted(chosen, key=lambda s: s.id)


def _apportion(sizes: Mapping[_Key, int], total: int, rng: random.Random) -> dict[_Key, int]:
    """Split ``total`` (at most the sum of ``sizes``) over groups, by largest remainder.

    One each first, if ``total`` covers every group, then the rest in proportion to what each
    group has left.

    Equal remainders are ordered by ``rng`` (a seeded shuffle of the keys in sorted order), so
    no group is favoured by its name. No group gets more than its size.
    """
    keys = sorted(sizes, key=str)
    floor = 1 if total >= len(keys) else 0
    left = {k: sizes[k] - floor for k in keys}
    rest, pool = total - floor * len(keys), sum(left.values())
    exact = {k: rest * left[k] / pool if pool else 0.0 for k in keys}
    shares = {k: floor + int(exact[k]) for k in keys}
    tie_order = list(keys)
    rng.shuffle(tie_order)
    rank = {k: i for i, k in enumerate(tie_order)}
    by_remainder = sorted(keys, key=lambda k: (-(exact[k] - int(exact[k])), rank[k]))
    for key in by_remainder[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


#: The default share of the training images a run holds out to choose a threshold on
#: (``--calibration-ratio``; see ``docs/metrics.md``).
DEFAULT_CALIBRATION_RATIO = 0.2


def held_out_share(
    samples: Sequence[Sample], ratio: float, seed: int, labels: Sequence[str]
) -> list[Sample]:
    """A seeded share ``ratio`` of ``samples``, per category and label, to hold out of training.

    Each category × label cell (of the ``labels`` asked for) of n images gives
    :func:`held_out_count` of them (``round(ratio * n)``, at least 1 and at most n − 1), so
    every category is represented and every cell keeps an image to learn from. The draw within
    a cell is :func:`select_samples`' (seeded), so the same pool, ratio and seed always give the
    same images. ``ratio`` 0 gives none.

    Example:
        >>> from iadbench.contract.records import Sample
        >>> pool = [Sample(f"c/{i}.png", "d", "c", "train", "normal", f"/{i}.png")
        ...         for i in range(10)]
        >>> len(held_out_share(pool, 0.2, seed=0, labels=["normal"]))
        2
    """
    if ratio <= 0:
        return []
    cells: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        if sample.label in labels:
            cells.setdefault((sample.category, sample.label), []).append(sample)
    chosen: list[Sample] = []
    for key in sorted(cells):
        cell = cells[key]
        if count := held_out_count(ratio, len(cell)):
            chosen.extend(select_samples(cell, count, seed, name="--calibration-ratio"))
    return sorted(chosen, key=lambda s: s.id)


def held_out_count(ratio: float, n: int) -> int:
    """How many of a cell's ``n`` images are held out: ``round(ratio * n)``, in [1, n - 1].

    None when ``n`` < 2 or ``ratio`` is 0.

    The one rule of :func:`held_out_share` and of a split file's calibration share
    (:mod:`iadbench.data.split_calibration`).

    Example:
        >>> held_out_count(0.2, 10), held_out_count(0.2, 2), held_out_count(0.2, 1)
        (2, 1, 0)
    """
    if ratio <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(ratio * n)))

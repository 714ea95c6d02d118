"""Seeded choice of training samples, for methods that cap how many images they train on.

In the contract because methods import only the contract, and a capped training set must be the
same images for the same seed wherever it is drawn (AnomalyGPT's and LR-IAD's training, the
LR-IAD benchmark).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from iadbench.contract.records import Sample


def select_samples(samples: Sequence[Sample], max_samples: int, seed: int) -> list[Sample]:
    """Every sample (``max_samples`` 0) or a seeded random subset, in id order either way.

    Example:
        >>> from iadbench.contract.records import NORMAL, Sample
        >>> pool = [Sample(f"c/{i}.png", "d", "c", "test", "normal", f"/{i}.png") for i in range(5)]
        >>> picked = [s.id for s in select_samples(pool, 2, seed=0)]
        >>> len(picked), picked == sorted(picked)
        (2, True)
    """
    ordered = sorted(samples, key=lambda s: s.id)
    if max_samples <= 0 or max_samples >= len(ordered):
        return ordered
    chosen = random.Random(seed).sample(ordered, max_samples)
    return sorted(chosen, key=lambda s: s.id)

"""Seeded choice of training samples, for methods that cap how many images they train on.

In the contract because methods import only the contract, and a capped training set must be the
same images for the same seed wherever it is drawn (AnomalyGPT's and LR-IAD's training, the
LR-IAD benchmark).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from iadbench.contract.numbers import whole_number
from iadbench.contract.records import Sample


def select_samples(
    samples: Sequence[Sample], max_samples: int, seed: int, *, name: str = "max_train_samples"
) -> list[Sample]:
    """Every sample (``max_samples`` 0) or a seeded random subset, in id order either way.

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
        >>> pool = [Sample(f"c/{i}.png", "d", "c", "test", "normal", f"/{i}.png") for i in range(5)]
        >>> picked = [s.id for s in select_samples(pool, 2, seed=0)]
        >>> len(picked), picked == sorted(picked)
        (2, True)
    """
    max_samples = whole_number(max_samples, name=name, minimum=0)
    seed = whole_number(seed, name="seed")
    ordered = sorted(samples, key=lambda s: s.id)
    if max_samples == 0 or max_samples >= len(ordered):
        return ordered
    chosen = random.Random(seed).sample(ordered, max_samples)
    return sorted(chosen, key=lambda s: s.id)

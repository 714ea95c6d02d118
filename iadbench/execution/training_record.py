"""What a training learned from, as ``training-data.json``'s ``trained`` block.

Kept apart from :mod:`iadbench.execution.training_stage` so that module stays within the
architecture's import budget (``tests/core/test_architecture.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from iadbench.contract.records import Sample
from iadbench.contract.sampling import SAMPLING_RULE
from iadbench.execution.planned_data import sample_digest


def trained_block(trained: Sequence[Sample], *, capped: bool) -> dict[str, Any]:
    """What ``fit`` learns from (the method's ``training_subset``), for ``training-data.json``.

    Its size, images per label and per category × label, fingerprint, and for a capped one the
    subsampling rule (:data:`~iadbench.contract.sampling.SAMPLING_RULE`; else None), so a
    capped training's labels are visible without reading the method's own logs.
    """
    labels = Counter(s.label for s in trained)
    cells = Counter(f"{s.category}/{s.label}" for s in trained)
    return {
        "images": len(trained),
        "labels": dict(sorted(labels.items())),
        "categories": dict(sorted(cells.items())),
        "fingerprint": sample_digest(list(trained)),
        "rule": SAMPLING_RULE if capped else None,
    }

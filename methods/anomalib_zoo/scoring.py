"""From an anomalib model's raw image score to iadbench's score in [0, 1], from normals only.

anomalib's own normalisation (``PostProcessor``: min-max and an F1-adaptive threshold,
anomalib/post_processing/post_processor.py) is computed on a *validation* set holding defects
and their labels, which a one-class protocol does not have; without one its statistics stay NaN
and it passes raw scores through unchanged. So the bridge calibrates itself, on normal images
only, and never on a test image:

* **Held out, not in-sample.** A memory bank (PatchCore) or a per-patch Gaussian (PaDiM) scores
  its own training images near 0 — each patch finds itself in the bank — so statistics of the
  training images would put every test image far above them. Instead a seeded share of each
  category's normals (``calibration_share``, at least 2 images) is held out of the Engine's
  ``fit``, and the model that is served scores them: their raw scores are exactly as unusual as
  new normal images are to *that* model.
* **The mapping.** ``score = 1 / (1 + exp(-(raw - c) / u))`` with ``c`` the largest held-out raw
  score and ``u`` their standard deviation: the most unusual held-out normal scores 0.5 (as in
  pixel-stats, so the default threshold ``fixed:0.5`` means "more unusual than any normal seen"),
  each further ``u`` adds one logistic unit, and the order of raw scores is kept (AUROC and maps
  are untouched). A logistic rather than ``raw / (raw + c)`` because some anomalib models give
  negative raw scores (FastFlow's maps are ``-exp(log p)``, fastflow/anomaly_map.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

#: Held-out normals per category at least: their spread needs two.
MIN_HELD_OUT = 2
#: Images the Engine fits on at least: a model fitted on one image is degenerate (PaDiM's
#: per-position covariance of one image gives NaN scores, seen in the demo with shots=3).
MIN_TRAINED = 2


@dataclass(frozen=True)
class Calibration:
    """How one category's raw scores map into [0, 1], from its held-out normals.

    Attributes:
        centre: The largest held-out raw score: mapped to 0.5.
        unit: The held-out raw scores' standard deviation (one logistic unit), floored so that
            identical normals do not divide by zero.
        held_out: How many normal images were scored.
        clip: No normal image to learn from (a zero-shot model): the raw score clipped.
    """

    centre: float
    unit: float
    held_out: int
    clip: bool = False

    def score(self, raw: float) -> float:
        """``raw`` in [0, 1], monotonically: 0.5 at ``centre`` (``clip``: raw clipped)."""
        if self.clip:
            return min(max(raw, 0.0), 1.0)
        z = (raw - self.centre) / self.unit
        # exp overflows beyond ~709: the score is 0 or 1 there anyway.
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (stored beside the category's weights)."""
        return {"centre": self.centre, "unit": self.unit, "held_out": self.held_out}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        """The calibration :meth:`to_json` wrote."""
        return cls(float(data["centre"]), float(data["unit"]), int(data["held_out"]))


def fit_calibration(raw_scores: Sequence[float]) -> Calibration:
    """The calibration from the raw scores of held-out normal images (at least two).

    Raises:
        ValueError: Fewer than two scores, or a score that is not finite.
    """
    values = np.asarray(list(raw_scores), dtype=np.float64)
    if values.size < MIN_HELD_OUT or not np.isfinite(values).all():
        raise ValueError(f"need {MIN_HELD_OUT} finite held-out scores, got {values.tolist()}")
    centre = float(values.max())
    # The floor only avoids a division by zero (identical normals); it is far below any real
    # spread, so it never shapes a real calibration.
    unit = max(float(values.std(ddof=1)), 1e-6 * max(1.0, abs(centre)))
    return Calibration(centre=centre, unit=unit, held_out=int(values.size))


def held_out_count(total: int, share: float) -> int:
    """How many of ``total`` normals are held out: ``round(share · total)``, at least 2."""
    return max(MIN_HELD_OUT, round(share * total))


def split_held_out(
    items: Sequence[T], share: float, seed: int, key: str
) -> tuple[list[T], list[T]]:
    """``(trained, held_out)``: a seeded draw of :func:`held_out_count` items held out.

    The draw depends on ``seed``, ``key`` (the category) and the items' order only (callers give
    them in id order), not on other categories: a resumed run holds out the same images.

    Raises:
        ValueError: Fewer than 3 items (2 held out, 1 to fit on).
    """
    count = held_out_count(len(items), share)
    if len(items) - count < MIN_TRAINED:
        raise ValueError(
            f"{len(items)} normal image(s): {count} are held out, {MIN_TRAINED} more needed to fit"
        )
    # Python seeds a Random from a str through SHA-512: stable across processes and versions.
    chosen = set(random.Random(f"{seed}:{key}").sample(range(len(items)), count))
    trained = [item for i, item in enumerate(items) if i not in chosen]
    held = [item for i, item in enumerate(items) if i in chosen]
    return trained, held

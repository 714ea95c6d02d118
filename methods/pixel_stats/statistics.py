"""The arithmetic of pixel-stats: distance maps, the z-map statistic, the calibration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class NormalModel:
    """One category's references and what calibrates its scores.

    Attributes:
        shifted: Every reference at every shift, channels first: ``(3, k · (2r+1)², size,
            size)`` float32.
        spread: Median per-pixel distance between references (the z-map's unit).
        scale: The largest leave-one-out raw score of a reference: the raw score mapped to 0.5.
    """

    shifted: np.ndarray
    spread: float
    scale: float

    def score(self, image: np.ndarray) -> float:
        """The image's score in [0, 1]: ``raw / (raw + scale)``, 0.5 at ``scale``."""
        return self.score_and_map(image)[0]

    def score_and_map(self, image: np.ndarray) -> tuple[float, np.ndarray]:
        """The image's score and its z-map: per pixel, the distance in units of ``spread``.

        The z-map is the anomaly map (``(size, size)`` float32, 0 where a reference matches);
        the score is its largest ``3×3`` mean mapped into [0, 1] as :meth:`score` says.
        """
        z_map = distance_map(image, self.shifted) / self.spread
        raw = box_mean_max(z_map)
        return raw / (raw + self.scale), z_map.astype(np.float32, copy=False)


def shifted_copies(references: np.ndarray, radius: int) -> np.ndarray:
    """Every reference rolled by every shift up to ``radius`` pixels on each axis.

    Shifts wrap around (``np.roll``): parts are rarely placed to the pixel, and a wrapped border
    costs little at these sizes. Computed once per category, so scoring an image is one pass.
    """
    shifts = range(-radius, radius + 1)
    stack = np.concatenate(
        [np.roll(references, (dy, dx), axis=(1, 2)) for dy in shifts for dx in shifts]
    )
    return np.ascontiguousarray(stack.transpose(3, 0, 1, 2))  # channels first: see distance_map


def distance_map(image: np.ndarray, shifted: np.ndarray) -> np.ndarray:
    """Per pixel, the smallest colour distance to any of the ``shifted`` references.

    Channel by channel and in place: about 3× faster than broadcasting ``(shifted - image)``
    over a trailing channel axis, which matters on 2 CPU cores.
    """
    squared = shifted[0] - image[..., 0]
    squared *= squared
    for channel in range(1, shifted.shape[0]):
        difference = shifted[channel] - image[..., channel]
        difference *= difference
        squared += difference
    nearest: np.ndarray = np.sqrt(squared.min(axis=0))
    return nearest


def box_mean_max(values: np.ndarray) -> float:
    """The largest mean over 3×3 windows: a defect covers several pixels, a noisy pixel one."""
    sums = np.pad(values, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    windows = sums[3:, 3:] - sums[:-3, 3:] - sums[3:, :-3] + sums[:-3, :-3]
    return float(windows.max()) / 9.0


def fit_normal_model(images: Sequence[Any], radius: int) -> NormalModel:
    """References, their spread and the leave-one-out calibration, from normal images only.

    Args:
        images: At least two prepared normal images of one category.
        radius: Largest shift compared, in pixels.
    """
    references = np.stack([np.asarray(i, dtype=np.float32) for i in images])
    loo_maps = [
        distance_map(references[i], shifted_copies(np.delete(references, i, axis=0), radius))
        for i in range(len(references))
    ]
    # The median over all pixels: a unit robust to the few pixels where references differ most.
    spread = max(float(np.median(np.stack(loo_maps))), 1e-3)
    scale = max(max(box_mean_max(m / spread) for m in loo_maps), 1e-6)
    return NormalModel(shifted_copies(references, radius), spread, scale)

"""A complete, minimal iadbench plugin: flags images whose brightness is unusual.

It learns the mean and spread of the average grey level of the training images, then scores a
test image by how many standard deviations it lies away. Crude on purpose: it shows every part of
the adapter interface (options, training stage, pixels, scores, per-image errors) in a few lines.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

import iadbench
from iadbench.contract.images import load_rgb


@dataclass(frozen=True)
class BrightnessOptions:
    """Options, settable with ``--set KEY=VALUE``; all of them enter the run's content hash."""

    z_scale: float = 2.0  # |z| at which the score reaches 0.5


class Brightness(iadbench.MethodAdapter[BrightnessOptions]):
    """Brightness z-score against the training images (example plugin)."""

    capabilities = iadbench.Capabilities(needs_pixels=True, trains=True, gives_scores=True)
    Options = BrightnessOptions
    version = "1"  # bump when predictions change, so cached results are not reused
    default_batch_size = 16

    def fit(self, samples):
        """Store the mean and std of the training images' grey level in the training dir."""
        levels = [_grey_level(s.image_path) for s in samples]
        self.stats = {"mean": float(np.mean(levels)), "std": float(np.std(levels)) or 1.0}
        (self.context.workdir / "stats.json").write_text(json.dumps(self.stats))

    def load(self):
        """Read what fit stored; the runner calls this instead of fit for a trained config."""
        self.stats = json.loads((self.context.workdir / "stats.json").read_text())

    def predict(self, batch):
        """A score in [0, 1] per image; the run's threshold policy turns it into a label."""
        predictions = []
        for sample in batch:
            try:
                z = abs(_grey_level(sample.image_path) - self.stats["mean"]) / self.stats["std"]
            except iadbench.IADBenchError as exc:  # unreadable image: recorded, the run goes on
                predictions.append(iadbench.Prediction.failed(str(exc)))
                continue
            score = 1.0 / (1.0 + math.exp(-(z - self.options.z_scale)))
            predictions.append(iadbench.Prediction(score=score))  # the threshold policy decides
        return predictions


def _grey_level(path: str) -> float:
    return float(np.asarray(load_rgb(path).convert("L"), dtype=np.float32).mean())

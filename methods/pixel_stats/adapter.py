"""pixel-stats: how far each pixel lies from every normal reference, in units of normal spread.

A weight-free few-shot method, for the demo and for own parts: it learns nothing before the run
and needs no GPU. Per test category it takes ``shots`` normal images of the test dataset's Train
subset (``context.references``, never a test image) and, for every pixel of a test image, the
smallest colour distance to the same place in any reference shifted by up to ``radius`` pixels
(parts are never placed to the pixel). Dividing by the references' own spread gives a z-map;
the image's raw score is the largest ``3×3`` mean of that map (a defect covers a few pixels, a
noisy pixel one). The raw score is mapped monotonically into [0, 1] by ``raw / (raw + c)``, where
``c`` is the largest raw score of a reference compared with the other references (leave one
out): a test image as unusual as the most unusual normal reference scores 0.5, so the default
threshold ``fixed:0.5`` is this method's own calibration, chosen from normal images only. The
z-map itself is the anomaly map (``size × size``), so the run can score where the defect is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import Capabilities, MethodAdapter, require_inputs
from iadbench.contract.numbers import whole_number
from iadbench.contract.options import option
from iadbench.contract.records import Prediction, Sample

from .statistics import NormalModel, fit_normal_model


@dataclass(frozen=True)
class PixelStatsOptions:
    """Options of pixel-stats.

    Attributes:
        shots: Normal reference images per test category (the test dataset's Train normals).
        size: Side in pixels every image is resized to before comparing.
        radius: Largest shift in pixels (each axis) a reference is compared at.
    """

    shots: int = option(3, help="Normal reference images per test category.")
    size: int = option(64, help="Side in pixels every image is resized to.")
    radius: int = option(4, help="Largest shift in pixels a reference is compared at.")


class PixelStats(MethodAdapter[PixelStatsOptions]):
    """Weight-free few-shot detector: per-pixel distance to normal references (no GPU)."""

    capabilities = Capabilities(
        needs_pixels=True, gives_scores=True, builds_models=False, gives_maps=True
    )
    Options = PixelStatsOptions
    # 2: every prediction carries its z-map as the anomaly map (stored by the run).
    version = "2"
    default_batch_size = 32

    def setup(self) -> None:
        """Check the options (named as ``--set`` spells them); models are built on first use."""
        # The references' spread is measured leave-one-out: it needs two of them at least.
        whole_number(self.options.shots, name="pixel-stats option shots", minimum=2)
        whole_number(self.options.size, name="pixel-stats option size", minimum=8, maximum=4096)
        whole_number(self.options.radius, name="pixel-stats option radius", minimum=0, maximum=16)
        self._models: dict[str, NormalModel] = {}

    @classmethod
    def reference_shots(cls, options: Any) -> int:
        """``shots``: the runner then gives the test dataset's Train normals as references."""
        return int(options.shots)

    def map_shape(self) -> tuple[int, int]:
        """``(size, size)``: the z-map, at the size every image is resized to.

        Values: per pixel the smallest colour distance to a (shifted) reference, in units of the
        references' own spread (≥ 0; about 1 is as unusual as normal images are to each other).
        """
        return (self.options.size, self.options.size)

    def preprocessor(self) -> _Prepare:
        """Picklable: image → float array ``(size, size, 3)``, its median colour removed."""
        return _Prepare(self.options.size)

    def normal_model(self, category: str) -> NormalModel:
        """The category's references and calibration, built once per category."""
        if category not in self._models:
            pool = self.context.references.get(category, ())
            if len(pool) < self.options.shots:
                raise IADBenchError(
                    f"pixel-stats: {len(pool)} normal reference image(s) for {category!r}, "
                    f"{self.options.shots} needed (--set shots=N with N at most {len(pool)})"
                )
            prepare = self.preprocessor()
            images = [prepare(s) for s in pool[: self.options.shots]]
            self._models[category] = fit_normal_model(images, self.options.radius)
        return self._models[category]

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """A score in [0, 1] per image: 0.5 where the most unusual normal reference lies."""
        arrays = require_inputs(self, inputs)
        predictions = []
        for sample, image in zip(batch, arrays, strict=True):
            score, z_map = self.normal_model(sample.category).score_and_map(image)
            predictions.append(Prediction(score=score, anomaly_map=z_map))
        return predictions

    def describe(self) -> dict[str, Any]:
        """Per category: the spread and the raw score mapped to 0.5 (for the manifest)."""
        return {
            "calibration": {
                category: {"spread": round(m.spread, 4), "raw_at_0.5": round(m.scale, 4)}
                for category, m in sorted(self._models.items())
            }
        }


@dataclass(frozen=True)
class _Prepare:
    """Load, resize to ``size`` (bilinear), remove the median colour (lighting drift)."""

    size: int

    def __call__(self, sample: Sample) -> Any:
        import numpy as np
        from PIL import Image

        from iadbench.contract.images import load_rgb

        side = (self.size, self.size)
        image = load_rgb(sample.image_path).resize(side, Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.float32)
        return array - np.median(array.reshape(-1, 3), axis=0)

"""Constant predictors.

A method whose accuracy or F1 does not beat these on a dataset has learned nothing usable there.
On MVTec-AD's All split, ``always-defect`` scores 23.50 % accuracy; on VisA 11.09 % — exactly the
paper's WinCLIP row on VisA (Table III).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from iadbench.contract.method import Capabilities, MethodAdapter, NoOptions
from iadbench.contract.records import DEFECT, NORMAL, Label, Prediction, Sample


class _ConstantPredictor(MethodAdapter[NoOptions]):
    """Answers the same label for every image, without opening it."""

    capabilities = Capabilities(needs_pixels=False, builds_models=False)
    default_batch_size = 4096
    answer: ClassVar[Label]

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """The constant label for every sample (no score: AUROC of a constant is meaningless)."""
        return [Prediction(label=self.answer)] * len(batch)


class AlwaysDefect(_ConstantPredictor):
    """Predicts "defect" for every image (recall 1 on defects, 0 on normals)."""

    answer = DEFECT


class AlwaysNormal(_ConstantPredictor):
    """Predicts "normal" for every image (the majority class on both datasets)."""

    answer = NORMAL

"""AprilGAN's options (``--set KEY=VALUE``) and the mapping of block numbers onto a model's depth.

Kept free of torch so that ``iadbench list --options`` and planning a run stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from iadbench.contract.devices import PRECISIONS, resolve_precision
from iadbench.contract.options import OptionError, option

from .prompts import ClassNames

ScoreKind = Literal["text", "map-max", "combined"]

# The official schedule per training dataset: train.sh of VAND-APRIL-GAN trains on MVTec AD with
# `--epoch 3` and on VisA with `--epoch 15`, both with `--batch_size 8 --image_size 518`.
OFFICIAL_EPOCHS: dict[str, int] = {"mvtec": 3, "visa": 15}
# train.sh trains on MVTec AD with --aug_rate 0.2 (dataset.py MVTecDataset.combine_img); its
# VisA command passes none and VisaDataset has no mosaic.
OFFICIAL_AUG_RATE: dict[str, float] = {"mvtec": 0.2}


@dataclass(frozen=True)
class AprilGANOptions:
    """Options of the AprilGAN adapter; every default is the paper's (or its code's) setting.

    Attributes:
        arch: OpenCLIP architecture.
        pretrained: OpenCLIP pretrained tag (read from the Hugging Face cache); ``none`` builds
            the real architecture with random weights (timing, smoke tests).
        weights: Local checkpoint file of ``arch``; replaces ``pretrained`` when given.
        image_size: Input side in pixels (position embeddings are interpolated: 518 = 37 × 14).
        feature_layers: 1-based numbers of the visual blocks whose patch tokens are mapped,
            comma-separated. Under ``--tiny`` they are mapped proportionally onto the tiny
            model's depth (6,12,18,24 of 24 → 1,2,3,4 of 4).
        epochs: Training epochs; ``auto`` (default) = the official ``train.sh`` value for the
            training dataset (MVTec AD 3, VisA 15, see :data:`OFFICIAL_EPOCHS`).
        aug_rate: Share of training items replaced by a 2 × 2 mosaic of four random images of
            the item's category, with their masks; ``auto`` (default) = the official value for
            the training dataset (MVTec AD 0.2 from ``train.sh`` ``--aug_rate 0.2``; VisA 0: its
            dataset class has no mosaic; see :data:`OFFICIAL_AUG_RATE`).
        lr: Adam learning rate.
        beta1: Adam β1.
        beta2: Adam β2.
        batch_size: Training batch size (inference uses ``--batch-size``).
        num_workers: DataLoader worker processes that decode training images (0 = in process).
        score: Image score: ``text`` (softmax of the global embedding against the prompt
            ensembles, the original's zero-shot score), ``map-max`` (maximum of the anomaly map)
            or ``combined`` (the mean of the two).
        map_sigma: Gaussian smoothing of the anomaly map in pixels before ``map-max`` and the
            saved PNGs; 0 (default) = none, as in the original's zero-shot evaluation.
        save_maps: Write an 8-bit anomaly-map PNG per test image under the run's artifacts.
        precision: ``auto`` (fp32 CLIP weights as the official code keeps them, run under fp16
            autocast on a GPU as its ``torch.cuda.amp.autocast()``; plain fp32 on the CPU),
            ``fp32`` (no autocast), ``fp16`` / ``bf16`` (weights cast to that type, autocast).
        class_names: Object name in the prompts: ``official`` (the category folder name as
            is, as the official ``meta.json`` ``cls_name``: ``metal_nut``) or ``natural``
            (:func:`iadbench.contract.categories.natural_name`: ``metal nut``).
    """

    arch: str = "ViT-L-14-336"
    pretrained: str | None = "openai"
    weights: str | None = None
    image_size: int = option(518, tiny="112")  # tiny ViT at 518 px: attention over 1,370 tokens
    feature_layers: str = "6,12,18,24"
    epochs: int | Literal["auto"] = option("auto", tiny="1")
    aug_rate: float | Literal["auto"] = "auto"
    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 8
    num_workers: int = 0
    score: ScoreKind = option("text", inference_only=True)  # how maps become a score
    map_sigma: float = option(0.0, inference_only=True)
    save_maps: bool = option(False, inference_only=True)
    precision: str = "auto"
    class_names: ClassNames = "official"

    def __post_init__(self) -> None:
        # Fail while the run is planned, not after a model has been built.
        parse_layers(self.feature_layers)
        for name in ("image_size", "epochs", "batch_size"):
            if name == "epochs" and self.epochs == "auto":
                continue
            if getattr(self, name) < 1:
                raise OptionError(f"option {name} must be at least 1, got {getattr(self, name)}")
        if self.aug_rate != "auto" and not 0.0 <= float(self.aug_rate) <= 1.0:
            raise OptionError(f"option aug_rate must lie in [0, 1] or be auto, got {self.aug_rate}")
        if self.num_workers < 0 or self.map_sigma < 0 or self.lr <= 0:
            raise OptionError("options num_workers and map_sigma must be ≥ 0 and lr > 0")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise OptionError(f"Adam betas must lie in [0, 1), got {self.beta1}, {self.beta2}")
        if self.precision not in PRECISIONS:
            raise OptionError(
                f"option precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.class_names not in ("official", "natural"):
            raise OptionError(
                f"option class_names must be official or natural, got {self.class_names!r}"
            )


def resolve_aug_rate(aug_rate: float | str, datasets: set[str]) -> float:
    """The mosaic rate; ``auto``: the official one of the training dataset, 0 for any other.

    Example:
        >>> resolve_aug_rate("auto", {"mvtec"}), resolve_aug_rate("auto", {"visa"})
        (0.2, 0.0)
        >>> resolve_aug_rate(0.5, {"visa"})
        0.5
    """
    if aug_rate != "auto":
        return float(aug_rate)
    if len(datasets) == 1:
        return OFFICIAL_AUG_RATE.get(next(iter(datasets)), 0.0)
    return 0.0


def resolve_epochs(epochs: int | str, datasets: set[str]) -> int:
    """The number of training epochs; ``auto`` looks up the official value of the training dataset.

    Raises:
        OptionError: ``auto`` with training data from no, several or an unknown dataset.

    Example:
        >>> resolve_epochs("auto", {"mvtec"}), resolve_epochs("auto", {"visa"})
        (3, 15)
        >>> resolve_epochs(5, {"x"})
        5
    """
    if epochs != "auto":
        return int(epochs)
    if len(datasets) == 1 and next(iter(datasets)) in OFFICIAL_EPOCHS:
        return OFFICIAL_EPOCHS[next(iter(datasets))]
    raise OptionError(
        "option epochs=auto knows the official schedule only for training on one of "
        f"{', '.join(f'{k} ({v})' for k, v in OFFICIAL_EPOCHS.items())}; the training data comes "
        f"from {sorted(datasets)}: set epochs=N"
    )


def resolve_clip_precision(requested: str, device: str) -> tuple[str, str | None]:
    """``(weights precision, autocast precision or None)`` of the CLIP tower.

    ``auto`` is the official set-up: ``open_clip.create_model_and_transforms`` with its default
    ``precision='fp32'`` (``open_clip/factory.py``), then every forward pass inside
    ``torch.cuda.amp.autocast()`` (``test.py``, ``train.py``), whose dtype is fp16. On the CPU
    that autocast does nothing, so ``auto`` is plain fp32 there.

    Raises:
        IADBenchError: Unknown precision, or fp16 / bf16 asked for on the CPU.

    Example:
        >>> resolve_clip_precision("auto", "cuda"), resolve_clip_precision("auto", "cpu")
        (('fp32', 'fp16'), ('fp32', None))
        >>> resolve_clip_precision("bf16", "cuda"), resolve_clip_precision("fp32", "cuda")
        (('bf16', 'bf16'), ('fp32', None))
    """
    if requested == "auto":
        return "fp32", ("fp16" if device.startswith("cuda") else None)
    weights = resolve_precision(requested, device)
    return weights, (None if weights == "fp32" else weights)


def parse_layers(text: str) -> list[int]:
    """Parse ``"6,12,18,24"`` into 1-based block numbers.

    Raises:
        OptionError: Empty, non-integer or non-positive entries.

    Example:
        >>> parse_layers("6, 12,18,24")
        [6, 12, 18, 24]
    """
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        layers = []
    if not layers or min(layers) < 1:
        raise OptionError(
            f"option feature_layers expects comma-separated block numbers ≥ 1, got {text!r}"
        )
    return layers


def resolve_layers(layers: list[int], depth: int, reference_depth: int | None = None) -> list[int]:
    """0-based block indices of a model with ``depth`` blocks.

    Args:
        layers: 1-based block numbers as the user wrote them, counted on ``reference_depth``.
        depth: Number of blocks of the model actually built.
        reference_depth: Depth the numbers refer to (the real architecture's, under ``--tiny``);
            None when they refer to the built model itself.

    Raises:
        OptionError: A block number beyond the reference depth.

    Example:
        >>> resolve_layers([6, 12, 18, 24], depth=4, reference_depth=24)
        [0, 1, 2, 3]
        >>> resolve_layers([6, 12, 18, 24], depth=24)
        [5, 11, 17, 23]
    """
    reference = reference_depth or depth
    if max(layers) > reference:
        raise OptionError(
            f"option feature_layers names block {max(layers)}, but the model has {reference} blocks"
        )
    # ceil keeps block 1 of a deep model on block 1 of a shallow one and the last on the last.
    return [math.ceil(layer * depth / reference) - 1 for layer in layers]

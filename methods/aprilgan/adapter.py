"""The AprilGAN method adapter: CLIP patch tokens → trained linear maps → text-similarity maps.

See Also:
    ``methods/aprilgan/README.md`` for weights, options, training and the mapping to the paper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from iadbench.contract.method import Capabilities, MethodAdapter, require_inputs
from iadbench.contract.records import Prediction, Sample

from .data import ClipPreprocessor
from .options import (
    AprilGANOptions,
    parse_layers,
    resolve_clip_precision,
    resolve_layers,
)

if TYPE_CHECKING:
    import torch

    from .model import AprilGANModel
    from .training import TrainingStats

logger = logging.getLogger(__name__)


class AprilGAN(MethodAdapter[AprilGANOptions]):
    """AprilGAN: CLIP ViT-L/14@518 patch tokens, trained linear maps, prompt-ensemble scores.

    CLIP stays frozen. The patch tokens of four visual blocks each pass through a trained
    ``Linear(1024 → 768)``; their cosine with the category's normal / abnormal prompt ensembles
    gives per-layer pixel maps, trained with focal + dice loss on the masks of the training
    dataset's Test subset (Table II). The image score is, as in the original, the softmax of
    the global image embedding against the two ensembles (``--set score=map-max`` or
    ``combined`` use the anomaly map).

    Paper: X. Chen, Y. Han, J. Zhang, "APRIL-GAN: A Zero-/Few-Shot Anomaly Classification and
    Segmentation Method for CVPR 2023 VAND Workshop Challenge", https://arxiv.org/abs/2305.17382

    Example:
        >>> from iadbench import RunContext
        >>> context = RunContext(tiny=True, device="cpu")
        >>> adapter = AprilGAN(AprilGANOptions(score="combined"), context=context)
        >>> adapter.capabilities.needs_masks, adapter.options.feature_layers
        (True, '6,12,18,24')

        From the command line::

            iadbench run --method aprilgan --train visa --test mvtec --set save_maps=true

    See Also:
        :mod:`iadbench_methods.aprilgan.model`, :mod:`iadbench_methods.aprilgan.training`.
    """

    capabilities = Capabilities(
        needs_pixels=True,
        needs_masks=True,
        trains=True,
        prefers_gpu=True,
        gives_scores=True,
        builds_models=True,
        gives_maps=True,
    )
    Options: ClassVar[type] = AprilGANOptions
    # Inference-only options (score, map_sigma, save_maps) and what --tiny sets (image_size 112,
    # one epoch; `--tiny --set image_size=518` restores the real size) are field metadata of
    # AprilGANOptions (iadbench.contract.options.option).
    # 2: the official prompt ensemble and class names, summed maps, align_corners=True,
    #    fp32 weights + fp16 autocast by default, epochs=auto.
    # 3: the official mosaic augmentation when training on MVTec AD (aug_rate=auto).
    # 4: every prediction carries its anomaly map (stored by the run for pixel metrics).
    version: ClassVar[str] = "4"
    default_batch_size: ClassVar[int] = 16

    def setup(self) -> None:
        """The model is built on first use; nothing heavy happens here."""
        self.options: AprilGANOptions
        self._model: AprilGANModel | None = None
        self._facts: dict[str, Any] = {}
        self.training_stats: TrainingStats | None = None
        self.trained = False
        self._warned_untrained = False

    # -- building ---------------------------------------------------------------------------

    @property
    def model(self) -> AprilGANModel:
        """The model, built on first use (CLIP weights load here, not in ``__init__``)."""
        if self._model is None:
            self._model = self._build(seed=0)
        return self._model

    def _build(self, seed: int) -> AprilGANModel:
        from iadbench.contract.devices import resolve_device, torch_dtype

        from ..clip_common import create_clip
        from .model import AprilGANModel

        opts = self.options
        device = resolve_device(self.context.device)
        precision, autocast = resolve_clip_precision(opts.precision, device)
        pretrained = opts.weights or opts.pretrained
        bundle = create_clip(
            opts.arch, pretrained, tiny=self.context.tiny, image_size=opts.image_size,
            device=device, precision=precision,
        )  # fmt: skip
        depth = len(bundle.model.visual.transformer.resblocks)
        reference = _reference_depth(opts.arch) if self.context.tiny else None
        indices = resolve_layers(parse_layers(opts.feature_layers), depth, reference)
        model = AprilGANModel(
            bundle.model, bundle.tokenizer, indices, opts.image_size, device,
            torch_dtype(precision), torch_dtype(autocast) if autocast else None,
            class_names=opts.class_names,
        )  # fmt: skip
        model.reset_maps(seed)
        self._facts = {
            "arch": bundle.arch,
            "weights": bundle.weights,
            "image_size": opts.image_size,
            "feature_layers": [i + 1 for i in indices],
            "width": model.width,
            "embed_dim": model.embed_dim,
            "device": device,
            "precision": precision,
            "autocast": autocast,
        }
        return model

    # -- training ---------------------------------------------------------------------------

    def fit(self, samples: Sequence[Sample]) -> None:
        """Train the linear maps on ``samples`` and save them in ``context.workdir``.

        The runner calls this once per training configuration (content-hashed: options,
        training data, seed) and :meth:`load` every later time.
        """
        from . import training

        workdir, seed = self.context.training_dir(), self.context.seed
        if self._model is None:
            self._model = self._build(seed=seed)
        self._model.reset_maps(seed)  # also when predict ran before fit
        self.training_stats = training.train_linear_maps(
            self._model, samples, self.options, seed=seed, workdir=workdir
        )
        training.save_checkpoint(self._model, self.training_stats, workdir)
        self.trained = True

    def load(self) -> None:
        """Load the linear maps a finished :meth:`fit` saved in ``context.workdir``."""
        from . import training

        self.training_stats = training.load_checkpoint(
            self.model, self.context.training_dir() / training.CHECKPOINT_NAME
        )
        self.trained = True

    # -- inference --------------------------------------------------------------------------

    def map_shape(self) -> tuple[int, int]:
        """``(image_size, image_size)``: the maps are upsampled to the input size (``test.py``).

        Values: the official sum over blocks of the abnormal probability divided by the number
        of blocks, so in [0, 1] (the scale of ``save_maps`` and of ``score=map-max``; the same
        ranking as the official sum).
        """
        return (self.options.image_size, self.options.image_size)

    def preprocessor(self) -> Callable[[Sample], Any]:
        """Picklable: load RGB, bicubic resize to ``image_size``², CLIP mean/std normalisation."""
        return ClipPreprocessor(self.options.image_size)

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """Score a batch of preprocessed images.

        Args:
            batch: The samples.
            inputs: The preprocessor's tensors for them (the runner decodes; call
                :func:`iadbench.predict_samples` outside a run).
        """
        import torch

        tensors = require_inputs(self, inputs)
        if not self.trained and self.options.score != "text" and not self._warned_untrained:
            self._warned_untrained = True  # once, not per batch
            logger.warning("AprilGAN: predicting with untrained linear maps (fit was not called)")
        return self._score(list(batch), torch.stack(list(tensors)))

    def _score(self, samples: list[Sample], images: torch.Tensor) -> list[Prediction]:
        import torch

        model, opts = self.model, self.options
        with torch.inference_mode():
            global_embeddings, tokens = model.encode(images)
            text = model.text_embeddings([s.category for s in samples])
            scores = model.text_scores(global_embeddings, text)
            # Every image's map is computed (the run stores it for pixel metrics). It is a sum
            # over blocks (official test.py); divided by their number it is a probability again,
            # and its maximum one for the run's threshold (same ranking).
            maps = model.anomaly_map(model.layer_logits(tokens, text), opts.map_sigma)
            maps = maps / len(model.layer_indices)
            map_max = maps.flatten(1).amax(1)
            if opts.score == "map-max":
                scores = map_max
            elif opts.score == "combined":
                scores = (scores + map_max) / 2
        values = scores.float().cpu().tolist()
        if opts.save_maps:
            self._save_maps(samples, maps)
        arrays = maps.float().cpu().numpy()
        return [_prediction(value, array) for value, array in zip(values, arrays, strict=True)]

    def _save_maps(self, samples: list[Sample], maps: torch.Tensor) -> None:
        import torch
        from PIL import Image

        if self.context.artifacts_dir is None:
            logger.warning("AprilGAN: save_maps is set but the runner gave no artifacts dir")
            return
        # ``maps`` here: the summed map divided by the number of blocks. Absolute scale (0 → 0,
        # 1 → 255), not per-image min-max: maps compare across images.
        pixels = (maps.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        for sample, image in zip(samples, pixels, strict=True):
            path = map_path(self.context.artifacts_dir, sample)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, mode="L").save(path)

    def describe(self) -> dict[str, Any]:
        """Model, weights, input size, blocks, device, precision, names and training stats."""
        from ..clip_common import tiny_name

        facts: dict[str, Any] = {
            # Until the model is built: what will be built (the tiny stand-in under --tiny).
            "arch": tiny_name(self.options.arch) if self.context.tiny else self.options.arch,
            "weights": None
            if self.context.tiny
            else (self.options.weights or self.options.pretrained),
            "image_size": self.options.image_size,
            "feature_layers": self.options.feature_layers,
            "device": self.context.device,
            "precision": self.options.precision,
            "epochs": self.options.epochs,
            "class_names": self.options.class_names,
            **self._facts,
            "score": self.options.score,
        }
        if self.training_stats is not None:
            facts["training"] = asdict(self.training_stats)
        return facts


def map_path(artifacts_dir: Path, sample: Sample) -> Path:
    """Where the anomaly-map PNG of a sample goes (:func:`iadbench.contract.artifacts.map_path`)."""
    from iadbench.contract.artifacts import map_path as stored_map_path

    return stored_map_path(artifacts_dir, sample.id)


def _prediction(score: float, anomaly_map: Any) -> Prediction:
    import numpy as np

    if score != score:  # NaN: e.g. an overflow in half precision; never silently "normal"
        return Prediction.failed("AprilGAN produced a non-finite score")
    if not np.isfinite(anomaly_map).all():
        return Prediction.failed("AprilGAN produced a non-finite anomaly map")
    score = min(1.0, max(0.0, score))
    # Provisional: the run's threshold policy makes the final decision from the score.
    return Prediction(score=score, anomaly_map=anomaly_map)


def _reference_depth(arch: str) -> int | None:
    """Depth of the real architecture that ``feature_layers`` count on (None: unknown)."""
    import open_clip

    config = open_clip.get_model_config(arch)
    return int(config["vision_cfg"]["layers"]) if config else None

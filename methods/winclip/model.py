"""anomalib's WinCLIP model built on the CLIP that a run asks for (heavy module: import lazily).

anomalib's ``WinClipModel.__init__`` builds its CLIP itself, with
``open_clip.create_model_and_transforms(BACKBONE, pretrained=PRETRAINED)``, where both names are
module constants of ``anomalib.models.image.winclip.torch_model``. :func:`anomalib_backbone`
sets those two constants for the duration of one construction (under a lock, restored in
``finally``), so real weights (pretrained tag or local checkpoint file), the tiny random-weight
architecture of ``--tiny`` and random real-size weights all go through anomalib's own code path:
nothing of WinCLIP (prompt ensemble, text embeddings, scoring) is re-implemented here.

Paper:
    J. Jeong et al., "WinCLIP: Zero-/Few-Shot Anomaly Classification and Segmentation",
    CVPR 2023, https://arxiv.org/abs/2303.14814

See Also:
    - :class:`iadbench_methods.winclip.WinClip`: the adapter that uses this module.
    - ``anomalib.models.image.winclip.torch_model.WinClipModel``
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from iadbench.contract.errors import IADBenchError

from ..clip_common import random_weights_from, register_tiny_configs

with warnings.catch_warnings():
    # Importing any anomalib model imports all of them; some use deprecated timm/dinov2 paths
    # and warn about it on every start, which says nothing about WinCLIP.
    warnings.simplefilter("ignore", FutureWarning)
    from anomalib.models.image.winclip import torch_model as anomalib_winclip
    from anomalib.models.image.winclip.torch_model import WinClipModel

# anomalib's constants are process-wide: two constructions must not interleave.
_CONSTANTS_LOCK = threading.Lock()


@contextlib.contextmanager
def anomalib_backbone(arch: str, weights: str | None, seed: int = 0) -> Iterator[None]:
    """Make every ``WinClipModel`` constructed inside the block build ``arch`` with ``weights``.

    Why the constants: anomalib takes the backbone from ``torch_model.BACKBONE`` and
    ``torch_model.PRETRAINED`` and passes them to ``open_clip.create_model_and_transforms``, which
    accepts an architecture registered with OpenCLIP (our tiny configs included) and, as
    ``pretrained``, a tag, a checkpoint file or None (random weights). Setting the constants for
    one construction is the only input anomalib's constructor reads for this; the alternatives
    (swapping the CLIP after construction, or re-implementing ``__init__``) would build CLIP
    twice or fork anomalib's code. The lock keeps concurrent constructions from seeing each
    other's values, ``finally`` restores anomalib's defaults, and the random initialisation
    draws from a fixed seed without touching the caller's RNG state.

    Args:
        arch: OpenCLIP architecture name, e.g. ``"ViT-B-16-plus-240"`` or the tiny stand-in.
        weights: Pretrained tag, path of a local checkpoint file, or None for random weights.
        seed: Seed of the random initialisation (what random weights are drawn from).

    Example:
        >>> with anomalib_backbone("iadbench-tiny-ViT-B-16-plus-240", None):  # doctest: +SKIP
        ...     model = WinClipModel(scales=(2, 3))
    """
    register_tiny_configs()
    with _CONSTANTS_LOCK:
        saved = anomalib_winclip.BACKBONE, anomalib_winclip.PRETRAINED
        # None: random weights (anomalib types the constant str; open_clip accepts None).
        anomalib_winclip.BACKBONE, anomalib_winclip.PRETRAINED = arch, weights  # type: ignore[assignment]
        try:
            with random_weights_from(seed, quiet=weights is None):
                yield
        finally:
            anomalib_winclip.BACKBONE, anomalib_winclip.PRETRAINED = saved


class WinClipModelSequenceFirstWindows(WinClipModel):
    """anomalib's ``WinClipModel``, with its sliding-window pass kept correct on open_clip ≥ 2.26.

    anomalib was written against open_clip < 2.26.1 (the pin of its ``[clip]`` extra, which
    iadbench avoids): its window pass hands the visual transformer sequence-first tensors
    (length, windows, width). Since open_clip 2.26 that transformer runs batch-first, so
    attention would mix all windows of all images of a batch: anomaly maps that depend on the
    batch, at a cost quadratic in batch size × windows. The transformer's own ``batch_first``
    flag tells it to accept sequence-first input; it is switched off for the window pass only.
    Zero-shot image scores come from the full-image embedding and never go through this pass.

    Example:
        >>> with anomalib_backbone("iadbench-tiny-ViT-B-16-plus-240", None):  # doctest: +SKIP
        ...     model = WinClipModelSequenceFirstWindows(scales=(2, 3))

    See Also:
        ``anomalib.models.image.winclip.torch_model.WinClipModel._get_window_embeddings``
    """

    def _get_window_embeddings(
        self, feature_map: torch.Tensor, masks: torch.Tensor
    ) -> torch.Tensor:
        transformer = self.clip.visual.transformer
        if not getattr(transformer, "batch_first", False):  # open_clip < 2.26: already right
            return super()._get_window_embeddings(feature_map, masks)
        transformer.batch_first = False
        try:
            return super()._get_window_embeddings(feature_map, masks)
        finally:
            transformer.batch_first = True


def build_model(
    arch: str,
    weights: str | None,
    *,
    scales: Sequence[int] = (2, 3),
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> WinClipModelSequenceFirstWindows:
    """Build anomalib's WinCLIP model in eval mode on ``device`` in ``dtype``.

    Args:
        arch: OpenCLIP architecture (the tiny stand-in's name under ``--tiny``).
        weights: Pretrained tag, local checkpoint file, or None for random weights.
        scales: Sliding-window scales (anomalib's ``scales``); empty for none.
        device: Torch device.
        dtype: Parameter dtype (half precision only on a GPU).
        seed: Seed of random weights (``weights=None``), so the same call builds the same model.

    Raises:
        IADBenchError: The architecture is unknown or the weights cannot be loaded (offline
            without a cached copy, a file that is not a checkpoint of ``arch``).

    Example:
        >>> model = build_model("iadbench-tiny-ViT-B-16-plus-240", None)  # doctest: +SKIP
        >>> model.grid_size  # doctest: +SKIP
        (15, 15)
    """
    try:
        with anomalib_backbone(arch, weights, seed):
            model = WinClipModelSequenceFirstWindows(scales=tuple(scales))
    except Exception as exc:  # open_clip raises RuntimeError/OSError/HF errors for missing weights
        raise IADBenchError(
            f"could not build WinCLIP's CLIP {arch} with weights {weights!r}: {exc}. Pretrained "
            "tags are read from the Hugging Face cache (download them once with network access); "
            "a local copy is passed as --set weights=/path/to/open_clip_pytorch_model.bin; "
            "--tiny needs no weights."
        ) from exc
    return model.eval().to(device=device, dtype=dtype)


class WinClipScorer:
    """A built WinCLIP model with its text embeddings, computed once per class name.

    ``WinClipModel.setup(name)`` encodes the 231 prompts of anomalib's compositional ensemble
    (a few seconds at real size on a CPU); a category seen again gets its cached embeddings
    swapped back into the model's ``_text_embeddings`` buffer, where ``setup`` stores them.

    Args:
        model: A model from :func:`build_model`.

    Example:
        >>> model = build_model("iadbench-tiny-ViT-B-16-plus-240", None)  # doctest: +SKIP
        >>> scorer = WinClipScorer(model)  # doctest: +SKIP
        >>> scorer.scores("metal_nut", torch.zeros(2, 3, 240, 240))  # doctest: +SKIP
        [0.37..., 0.37...]
    """

    def __init__(self, model: WinClipModel) -> None:
        self.model = model
        parameter = next(model.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        self._text_embeddings: dict[str, torch.Tensor] = {}

    def use_class(self, class_name: str) -> None:
        """Put the text embeddings of ``class_name`` into the model, computing them once."""
        cached = self._text_embeddings.get(class_name)
        if cached is None:
            with torch.inference_mode():
                self.model.setup(class_name)
            self._text_embeddings[class_name] = self.model.text_embeddings
        else:
            self.model._text_embeddings = cached  # the buffer setup() fills

    def scores(self, class_name: str, images: torch.Tensor) -> list[float]:
        """The zero-shot image scores (anomalib's ``pred_score``) of a batch of one class.

        Args:
            class_name: The object name the prompts use: the category folder name as anomalib
                feeds it (``"metal_nut"``), or the natural name (``"metal nut"``).
            images: ``(N, 3, S, S)`` preprocessed images (any device and dtype).
        """
        return self.scores_and_maps(class_name, images)[0]

    def scores_and_maps(
        self, class_name: str, images: torch.Tensor
    ) -> tuple[list[float], list[Any]]:
        """The image scores and anomalib's ``anomaly_map`` per image (``(S, S)`` numpy float32).

        The map is anomalib's zero-shot pixel score: per window scale the harmonic mean of the
        windows' softmax probabilities of the anomalous prompts, averaged over scales and
        upsampled bilinearly to the input size, so in [0, 1].
        """
        self.use_class(class_name)
        with torch.inference_mode():
            batch = images.to(device=self.device, dtype=self.dtype, non_blocking=True)
            output = self.model(batch)
            scores: list[float] = output.pred_score.float().cpu().tolist()
            maps = list(output.anomaly_map.float().cpu().numpy())
            return scores, maps

"""The WinCLIP method adapter: zero-shot scores from anomalib's WinCLIP implementation.

Importing this module is cheap (``iadbench list`` does it): torch, open_clip and anomalib are
imported when an adapter is constructed or first predicts.

See Also:
    ``methods/winclip/README.md`` for weights, options and the mapping to the paper.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from iadbench.contract.categories import natural_name
from iadbench.contract.devices import PRECISIONS, resolve_device, resolve_precision, torch_dtype
from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import Capabilities, MethodAdapter, require_inputs
from iadbench.contract.records import Prediction, Sample

from ..clip_common import TINY_WEIGHTS_SEED, register_tiny_configs, tiny_name
from .preprocess import WinClipPreprocessor

if TYPE_CHECKING:
    from .model import WinClipScorer

# Random weights (--tiny, pretrained=none) are drawn from the seed every tiny CLIP uses: the same
# configuration always gives the same model, so a resumed run (or another torchrun rank) scores
# its images as the first attempt did.
RANDOM_INIT_SEED = TINY_WEIGHTS_SEED


@dataclass(frozen=True)
class WinClipOptions:
    """Options of ``winclip`` (``--set KEY=VALUE``); every one enters the run's content hash.

    Attributes:
        arch: OpenCLIP architecture; ``--tiny`` builds its tiny stand-in instead.
        pretrained: OpenCLIP pretrained tag, read from the Hugging Face cache; ``none`` gives
            random weights (for speed measurements only).
        weights: Local checkpoint file of ``arch`` (an OpenCLIP ``state_dict``); overrides
            ``pretrained``. Under ``--tiny`` it is loaded into the tiny architecture.
        image_size: Input side in pixels; must be the architecture's own input size.
        scales: anomalib's sliding-window scales, comma-separated (empty: none). They shape
            anomalib's anomaly map only; the zero-shot image score does not depend on them.
        precision: ``auto`` (= ``fp32`` on every device: anomalib's reference, see
            :func:`winclip_precision`), ``fp32``, or ``fp16`` / ``bf16`` (GPU only, explicit).
        class_names: The object name in the prompts: ``official`` (default) is what anomalib
            feeds for an MVTec AD / VisA category, the category folder name verbatim
            (``metal_nut``, ``pcb1``, ``pipe_fryum``); ``natural`` is iadbench's natural name
            (``metal nut``, ``printed circuit board``, ``pipe fryum``). See :func:`class_name`.
    """

    arch: str = "ViT-B-16-plus-240"
    pretrained: str | None = "laion400m_e31"
    weights: str | None = None
    image_size: int = 240
    # Window scales feed only the anomaly map; the zero-shot image score (the one iadbench uses)
    # comes from the full-image embedding, so none are computed by default (12x faster).
    scales: str = ""
    precision: str = "auto"
    class_names: Literal["official", "natural"] = "official"


def class_name(category: str, class_names: str) -> str:
    """The object name WinCLIP's prompts use for a category folder.

    ``official`` reproduces anomalib: its Lightning ``WinClip._get_class_name`` returns the
    datamodule's ``category`` unchanged (``anomalib/models/image/winclip/lightning_model.py``
    lines 163-181), which is the category folder name (``MVTecAD(category="metal_nut")``,
    ``Visa(category="pipe_fryum")``), and ``create_prompt_ensemble`` formats it into the
    templates as is (``prompting.py`` lines 103-107): no ``_`` is replaced. ``natural`` is
    :func:`iadbench.contract.categories.natural_name`.

    Example:
        >>> class_name("metal_nut", "official"), class_name("metal_nut", "natural")
        ('metal_nut', 'metal nut')
        >>> class_name("pcb1", "official"), class_name("pcb1", "natural")
        ('pcb1', 'printed circuit board')
    """
    if class_names == "official":
        return category
    if class_names == "natural":
        return natural_name(category)
    raise IADBenchError(f"class_names must be official or natural, got {class_names!r}")


def winclip_precision(requested: str, device: str) -> str:
    """The precision WinCLIP's weights are kept in; ``auto`` is ``fp32`` on every device.

    anomalib keeps WinCLIP's CLIP in fp32: ``WinClipModel.__init__`` calls
    ``open_clip.create_model_and_transforms(backbone, pretrained=...)`` without a
    ``precision`` (``anomalib/models/image/winclip/torch_model.py`` line 127; open_clip's
    default is ``"fp32"``) and never casts, the Lightning ``WinClip.trainer_arguments`` is
    empty (``lightning_model.py`` lines 226-233) and ``Engine`` passes no ``precision`` to
    Lightning's ``Trainer`` (``anomalib/engine/engine.py`` lines 157-176), whose default is
    ``"32-true"``. ``fp16`` / ``bf16`` stay available when asked for explicitly (GPU only).
    Pure: torch is not consulted for ``auto``, so the answer for ``"cuda"`` is testable on a
    CPU-only machine.

    Raises:
        IADBenchError: Unknown precision, or half precision asked for on the CPU.

    Example:
        >>> winclip_precision("auto", "cuda"), winclip_precision("bf16", "cuda:0")
        ('fp32', 'bf16')
    """
    if requested == "auto":
        return "fp32"
    if requested not in PRECISIONS:
        raise IADBenchError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    return resolve_precision(requested, device)


class WinClip(MethodAdapter[WinClipOptions]):
    """WinCLIP zero-shot: anomalib's CLIP prompt-ensemble score (ViT-B-16-plus-240, 240 px).

    The image and the two compositional prompt ensembles of anomalib's WinCLIP ("a photo of a
    flawless {name}", "a close-up photo of the damaged {name}", ...; 231 prompts) are embedded
    with OpenCLIP ViT-B-16-plus-240 (laion400m_e31) at 240 px; the score is the softmax
    probability of the anomalous ensemble (temperature 0.07), in [0, 1]. ``{name}`` is the
    category folder name as anomalib feeds it (``metal_nut``), or with ``class_names=natural``
    the natural name (``metal_nut`` → "metal nut", ``pcb3`` → "printed circuit board"). Weights
    stay in fp32 as in anomalib unless ``precision`` asks for half precision. Text embeddings
    are computed once per name; a batch may mix categories. Nothing is trained.

    Paper: J. Jeong, Y. Zou, T. Kim, D. Zhang, A. Ravichandran, O. Dabeer, "WinCLIP: Zero-/Few-Shot
    Anomaly Classification and Segmentation", CVPR 2023, https://arxiv.org/abs/2303.14814

    Example:
        >>> from iadbench import RunContext
        >>> context = RunContext(tiny=True, device="cpu")
        >>> adapter = WinClip(WinClipOptions(scales="2,3"), context=context)
        >>> adapter.describe()["arch"], adapter.describe()["precision"]
        ('iadbench-tiny-ViT-B-16-plus-240', 'fp32')

        From the command line::

            iadbench run --method winclip --train visa --test mvtec
            iadbench run --method winclip --train visa --test mvtec --set weights=/models/b16p.bin

    See Also:
        - :class:`iadbench_methods.winclip.model.WinClipScorer`: model, text-embedding cache.
        - :class:`iadbench_methods.winclip.preprocess.WinClipPreprocessor`: image → tensor.
        - ``anomalib.models.image.winclip``: the implementation used.
    """

    capabilities = Capabilities(
        needs_pixels=True,
        gives_scores=True,
        prefers_gpu=False,
        builds_models=True,
        gives_maps=True,
    )
    Options = WinClipOptions
    # 2: defaults now follow anomalib: folder names in the prompts, fp32 weights on a GPU.
    # 3: every prediction carries anomalib's anomaly map (stored by the run).
    version = "3"
    default_batch_size = 32

    def setup(self) -> None:
        """Check options and weights before torch is imported; the model is built on first use."""
        opts: WinClipOptions = self.options
        # Cheap checks first: a wrong option fails in a second, before torch is imported.
        self.scales = parse_scales(opts.scales)
        self.arch = tiny_name(opts.arch) if self.context.tiny else opts.arch
        self.weights = _local_weights(opts.weights, self.arch) if opts.weights else None
        if self.weights is None and not self.context.tiny:
            self.weights = opts.pretrained
        # Direct construction may say "auto"; the run (and what describe() records) needs the
        # device it ends up on.
        self.context = replace(self.context, device=resolve_device(self.context.device))
        self.precision = winclip_precision(opts.precision, self.context.device)
        class_name("", opts.class_names)  # a wrong value fails here, not at the first batch
        _check_image_size(self.arch, opts.image_size)
        self._scorer: WinClipScorer | None = None
        self._build_error: IADBenchError | None = None

    def map_shape(self) -> tuple[int, int]:
        """``(image_size, image_size)``: anomalib upsamples its pixel scores to the input size.

        Values: anomalib's ``anomaly_map``, zero-shot pixel scores in [0, 1]
        (:meth:`~iadbench_methods.winclip.model.WinClipScorer.scores_and_maps`).
        """
        return (self.options.image_size, self.options.image_size)

    def preprocessor(self) -> WinClipPreprocessor:
        """Image → normalised tensor, as anomalib's WinClip pre-processor makes it (picklable)."""
        return WinClipPreprocessor(self.options.image_size)

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """One score per sample, batched per prompt class name (see ``class_names``).

        Args:
            batch: The samples; their categories may differ.
            inputs: The preprocessor's tensors, one per sample (the runner decodes; call
                :func:`iadbench.predict_samples` outside a run).
        """
        import torch

        tensors = require_inputs(self, inputs)
        predictions: list[Prediction | None] = [None] * len(batch)
        scorer = self.scorer()
        groups: dict[str, list[int]] = {}
        for index, sample in enumerate(batch):
            name = class_name(sample.category, self.options.class_names)
            groups.setdefault(name, []).append(index)
        for name, indices in groups.items():
            images = torch.stack([tensors[i] for i in indices])
            scores, maps = scorer.scores_and_maps(name, images)
            for index, score, anomaly_map in zip(indices, scores, maps, strict=True):
                predictions[index] = _prediction(score, anomaly_map)
        return [p for p in predictions if p is not None]

    def scorer(self) -> WinClipScorer:
        """The model and its text-embedding cache, built on first use and kept.

        Raises:
            IADBenchError: The weights cannot be loaded, or the model's input size is not
                ``image_size``.
        """
        if self._build_error is not None:  # the runner retries image by image: fail fast
            raise self._build_error
        if self._scorer is None:
            from .model import WinClipScorer, build_model

            try:
                model = build_model(
                    self.arch,
                    self.weights,
                    scales=self.scales,
                    device=self.context.device,
                    dtype=torch_dtype(self.precision),
                    seed=RANDOM_INIT_SEED,
                )
                built = _side(model.clip.visual.image_size)
                if built != self.options.image_size:  # hf-hub:/local-dir: archs
                    raise IADBenchError(
                        f"{self.arch} takes {built} px images; set --set image_size={built}"
                    )
            except IADBenchError as exc:
                self._build_error = exc
                raise
            self._scorer = WinClipScorer(model)
        return self._scorer

    def describe(self) -> dict[str, Any]:
        """What is (or will be) built: arch, weights, size, scales, device, precision, names."""
        return {
            "arch": self.arch,
            "weights": self.weights,
            "random_init_seed": RANDOM_INIT_SEED if self.weights is None else None,
            "image_size": self.options.image_size,
            "scales": list(self.scales),
            "device": self.context.device,
            "precision": self.precision,
            "class_names": self.options.class_names,
            "prompts": "anomalib WinCLIP compositional ensemble, "
            + _PROMPT_NAMES[self.options.class_names],
            "anomalib": _version("anomalib"),
            "open_clip": _version("open_clip_torch"),
        }


_PROMPT_NAMES = {
    "official": "category folder names as anomalib feeds them",
    "natural": "natural category names",
}


def parse_scales(text: str) -> tuple[int, ...]:
    """``"2,3"`` → ``(2, 3)``; empty → ``()``.

    Raises:
        IADBenchError: A scale that is not a positive integer.

    Example:
        >>> parse_scales("2, 3"), parse_scales("")
        ((2, 3), ())
    """
    try:
        scales = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        scales = (0,)
    if any(scale < 1 for scale in scales):
        raise IADBenchError(
            f"scales must be comma-separated positive integers (window sides in patches, "
            f"e.g. 2,3) or empty, got {text!r}"
        )
    return scales


def _local_weights(path: str, arch: str) -> str:
    """The absolute path of a local checkpoint file, checked before anything is built."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise IADBenchError(
            f"weights file {path!r} does not exist or is not a file. --set weights=PATH names a "
            f"local OpenCLIP checkpoint (state_dict) of {arch}, such as the "
            "open_clip_pytorch_model.bin of its Hugging Face repo; leave it unset to use the "
            "pretrained tag from the Hugging Face cache."
        )
    return str(file.resolve())


def _check_image_size(arch: str, image_size: int) -> None:
    """Fail early when ``image_size`` differs from what ``arch`` takes (anomalib cannot resize).

    anomalib builds the CLIP at its configured input size and derives the window grid from
    it, so the preprocessor must produce exactly that size.
    """
    import open_clip

    register_tiny_configs()
    if arch.startswith(("hf-hub:", "local-dir:")):  # config read at build time; checked then
        return
    config = open_clip.get_model_config(arch)
    if config is None:
        close = difflib.get_close_matches(arch, open_clip.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise IADBenchError(f"unknown OpenCLIP architecture {arch!r}.{hint}")
    native = _side(config["vision_cfg"]["image_size"])
    if native != image_size:
        raise IADBenchError(
            f"{arch} takes {native} px images and anomalib's WinCLIP cannot change that; "
            f"got image_size={image_size}, use --set image_size={native}"
        )


def _side(size: int | Sequence[int]) -> int:
    return int(size if isinstance(size, int) else size[0])


def _prediction(score: float, anomaly_map: Any) -> Prediction:
    import numpy as np

    if not math.isfinite(score):
        return Prediction.failed(f"WinCLIP gave a non-finite score ({score})")
    if not np.isfinite(anomaly_map).all():
        return Prediction.failed("WinCLIP gave a non-finite anomaly map")
    score = min(1.0, max(0.0, score))  # a softmax probability; clamp rounding excursions
    # The run's threshold policy decides the label.
    return Prediction(score=score, anomaly_map=anomaly_map)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None

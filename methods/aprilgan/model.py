"""The AprilGAN model: a frozen CLIP plus one trainable linear map per chosen visual block.

Pixel level: the patch tokens of each chosen block (the raw block output, without ``ln_post``,
as the original feeds its linear layers) go through that block's ``Linear(width → embed_dim)``,
are L2-normalised and compared by cosine with the normal and abnormal text embeddings of the
image's category; ``100 · cos`` are the two logits of a patch, upsampled bilinearly with
``align_corners=True`` to the image size and turned into an abnormal probability by a two-class
softmax. The anomaly map is the SUM of the layers' probability maps (so it lies in
``[0, number of blocks]``), as the official ``test.py`` does (``F.interpolate(...,
mode='bilinear', align_corners=True)``, ``torch.softmax(...)[:, 1]``, then
``np.sum(anomaly_maps, axis=0)``).

Image level: the original's zero-shot score is the softmax of ``100 · cos`` between the global
image embedding and the two text embeddings — it does not involve the linear maps at all.

Paper: X. Chen, Y. Han, J. Zhang, "APRIL-GAN: A Zero-/Few-Shot Anomaly Classification and
Segmentation Method for CVPR 2023 VAND Workshop Challenge", https://arxiv.org/abs/2305.17382

See Also:
    :mod:`iadbench_methods.aprilgan.losses`, :mod:`iadbench_methods.aprilgan.training`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .prompts import ClassNames, prompt_ensemble

# CLIP's learned temperature converges to its cap of 100; AprilGAN uses that constant.
LOGIT_SCALE = 100.0


class LinearMaps(nn.Module):
    """One ``Linear(width → embed_dim)`` per chosen block: the only trained weights of AprilGAN.

    Example:
        >>> import torch
        >>> maps = LinearMaps(n_layers=2, width=32, embed_dim=16)
        >>> [t.shape for t in maps([torch.randn(1, 9, 32)] * 2)]
        [torch.Size([1, 9, 16]), torch.Size([1, 9, 16])]
    """

    def __init__(self, n_layers: int, width: int, embed_dim: int) -> None:
        super().__init__()
        self.maps = nn.ModuleList(nn.Linear(width, embed_dim) for _ in range(n_layers))

    def forward(self, tokens: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Map and L2-normalise each layer's ``(batch, patches, width)`` tokens."""
        return [F.normalize(layer(t), dim=-1) for layer, t in zip(self.maps, tokens, strict=True)]


class AprilGANModel:
    """A frozen CLIP model, the trainable :class:`LinearMaps` and the per-category text cache.

    Args:
        clip: The OpenCLIP model (a ``VisionTransformer`` visual tower).
        tokenizer: Its tokenizer.
        layer_indices: 0-based visual blocks whose patch tokens are used.
        image_size: Input side in pixels.
        device: Torch device.
        dtype: Dtype of the CLIP weights.
        autocast_dtype: Dtype of the autocast around CLIP's forward passes on a GPU; None = no
            autocast. Default: ``dtype`` when that is a half precision, else None. The official
            set-up is fp32 weights with fp16 autocast (``precision=auto``).
        class_names: Object names in the prompts (:func:`prompts.object_name`).
    """

    def __init__(
        self,
        clip: Any,
        tokenizer: Any,
        layer_indices: list[int],
        image_size: int,
        device: str,
        dtype: torch.dtype = torch.float32,
        autocast_dtype: torch.dtype | None = None,
        class_names: ClassNames = "official",
    ) -> None:
        self.clip = clip.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.layer_indices = layer_indices
        self.image_size = image_size
        self.device = device
        self.dtype = dtype
        if autocast_dtype is None and dtype != torch.float32:
            autocast_dtype = dtype
        self.autocast_dtype = autocast_dtype
        self.class_names: ClassNames = class_names
        visual = clip.visual
        self.width = int(visual.transformer.width)
        self.embed_dim = int(visual.output_dim)
        self.grid = image_size // int(visual.patch_size[0])
        self.maps = LinearMaps(len(layer_indices), self.width, self.embed_dim).to(device)
        self._text: dict[str, torch.Tensor] = {}

    def reset_maps(self, seed: int) -> None:
        """Fresh linear maps drawn from ``seed``, leaving the global random state untouched."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            maps = LinearMaps(len(self.layer_indices), self.width, self.embed_dim)
        self.maps = maps.to(self.device)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast at ``autocast_dtype`` on a GPU; nothing on the CPU or without one."""
        if self.device.startswith("cuda") and self.autocast_dtype is not None:
            return torch.autocast(device_type="cuda", dtype=self.autocast_dtype)
        return contextlib.nullcontext()

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Global embedding and patch tokens of the chosen blocks, in one pass of the tower.

        Args:
            images: ``(batch, 3, S, S)`` CLIP-normalised images.

        Returns:
            The L2-normalised global embeddings ``(batch, embed_dim)`` and, per chosen block,
            its patch tokens ``(batch, grid², width)`` (class token dropped), all float32.
        """
        images = images.to(self.device, self.dtype)
        # A block named twice (possible under --tiny) is computed once and handed out twice.
        unique = sorted(set(self.layer_indices))
        with self.autocast():
            out = self.clip.visual.forward_intermediates(images, indices=unique, output_fmt="NLC")
        by_index = dict(zip(unique, out["image_intermediates"], strict=True))
        tokens = [by_index[i].float() for i in self.layer_indices]
        return F.normalize(out["image_features"].float(), dim=-1), tokens

    @torch.no_grad()
    def text_embeddings(self, categories: Iterable[str]) -> torch.Tensor:
        """``(n, embed_dim, 2)`` normal / abnormal embeddings, computed once per category."""
        categories = list(categories)
        for category in dict.fromkeys(categories):
            if category not in self._text:
                self._text[category] = self._encode_category(category)
        return torch.stack([self._text[c] for c in categories])

    def _encode_category(self, category: str) -> torch.Tensor:
        normal, abnormal = prompt_ensemble(category, self.class_names)
        tokens = self.tokenizer(normal + abnormal).to(self.device)
        with self.autocast():
            embedded = F.normalize(self.clip.encode_text(tokens).float(), dim=-1)
        # As prompt_ensemble.py: each sentence embedding L2-normalised, a state is their mean,
        # normalised again; the (embed_dim, 2) columns are normal, abnormal.
        states = [embedded[: len(normal)].mean(0), embedded[len(normal) :].mean(0)]
        return F.normalize(torch.stack(states, dim=1), dim=0)

    def text_scores(self, global_embeddings: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Abnormal probability of the softmax of ``100 · cos(image, [normal, abnormal])``."""
        logits = LOGIT_SCALE * torch.einsum("bd,bdk->bk", global_embeddings, text)
        return logits.softmax(dim=-1)[:, 1]

    def layer_logits(
        self, tokens: Sequence[torch.Tensor], text: torch.Tensor
    ) -> list[torch.Tensor]:
        """Per chosen block, the ``(batch, S, S)`` abnormal-minus-normal logit map.

        Differentiable with respect to the linear maps (training calls it with gradients).
        """
        batch = text.shape[0]
        maps = []
        for mapped in self.maps(tokens):
            logits = LOGIT_SCALE * torch.einsum("bpd,bdk->bpk", mapped, text)
            # softmax over two classes = sigmoid of the difference; upsampling is linear, so
            # upsampling the difference equals differencing the upsampled logits.
            diff = (logits[..., 1] - logits[..., 0]).reshape(batch, 1, self.grid, self.grid)
            size = (self.image_size, self.image_size)
            # test.py / train.py: F.interpolate(..., mode='bilinear', align_corners=True).
            maps.append(F.interpolate(diff, size=size, mode="bilinear", align_corners=True)[:, 0])
        return maps

    @staticmethod
    def anomaly_map(layer_logits: Sequence[torch.Tensor], sigma: float = 0.0) -> torch.Tensor:
        """``(batch, S, S)`` SUM over layers of the abnormal probability, optionally smoothed.

        The sum, as the official ``test.py`` (``np.sum(anomaly_maps, axis=0)``): values lie in
        ``[0, len(layer_logits)]``.
        """
        total = torch.stack([torch.sigmoid(x) for x in layer_logits]).sum(0)
        return gaussian_blur(total, sigma) if sigma > 0 else total


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian smoothing of ``(batch, H, W)`` maps, reflect-padded, radius 4σ.

    Example:
        >>> import torch
        >>> round(float(gaussian_blur(torch.ones(1, 8, 8), sigma=1.0).mean()), 6)
        1.0
    """
    radius = max(1, math.ceil(4 * sigma))
    radius = min(radius, maps.shape[-1] - 1, maps.shape[-2] - 1)  # reflect padding's limit
    offsets = torch.arange(-radius, radius + 1, device=maps.device, dtype=maps.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.pad(maps[:, None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]

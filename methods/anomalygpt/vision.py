"""ImageBind-Huge's image tower, with the parameter names of ``imagebind_huge.pth``.

AnomalyGPT encodes images with ImageBind's vision encoder and reads the patch tokens of four of
its blocks. No maintained ImageBind package installs cleanly with current torch (the unofficial
wheels import pytorchvideo and decord at package import), so this is our own module, written
from the structure of the reference code (facts read in CASIA-IVA-Lab/AnomalyGPT, which vendors
ImageBind: ``code/model/ImageBind/models/imagebind_model.py`` (``imagebind_huge``,
``_create_modality_*``, ``forward``), ``transformer.py`` (``BlockWithMasking``,
``SimpleTransformer``, ``MultiheadAttention``, ``Mlp``), ``multimodal_preprocessors.py``
(``PadIm2Video``, ``PatchEmbedGeneric``, ``RGBDTPreprocessor``,
``SpatioTemporalPosEmbeddingHelper``), ``helpers.py`` (``Normalize``, ``SelectElement``)):

* stem: the image repeated as 2 frames (``PadIm2Video(repeat, 2)``), ``Conv3d(3→D, kernel =
  stride = (2, 14, 14), bias=False)``, flattened to tokens; one CLS token; a learned position
  embedding of 1 + (224/14)² tokens;
* trunk: ``LayerNorm(eps=1e-6)`` before the blocks, then pre-norm blocks (``norm_1`` →
  ``nn.MultiheadAttention`` (bias, no bias_kv) → residual; ``norm_2`` → ``Mlp(fc1, GELU, fc2)``,
  ratio 4 → residual), sequence-first (L, B, D), no drop path, no layer scale; the outputs of the
  blocks in ``out_layers`` (0-based; AnomalyGPT: 7, 15, 23, 31) are returned as they are;
* head: ``LayerNorm(eps=1e-6)`` → CLS → ``Linear(D → 1024, bias=False)``; postprocessor: L2
  normalisation.

Huge: D = 1280, 32 blocks, 16 heads, output 1024. :func:`tower_state_dict` picks the vision keys
out of a whole ImageBind checkpoint and checks that every one this module expects is present
(the official loader uses ``strict=False`` and can silently miss keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from iadbench.contract.errors import IADBenchError

VISION = "vision"


@dataclass(frozen=True)
class VisionConfig:
    """Sizes of the tower (defaults: ImageBind-Huge, ``imagebind_huge`` in the reference)."""

    width: int = 1280
    blocks: int = 32
    heads: int = 16
    out_dim: int = 1024
    image_size: int = 224
    patch: int = 14
    frames: int = 2
    out_layers: tuple[int, ...] = (7, 15, 23, 31)

    @property
    def tokens(self) -> int:
        """CLS plus the patch grid."""
        return 1 + (self.image_size // self.patch) ** 2


TINY_VISION = VisionConfig(width=32, blocks=4, heads=2, out_dim=16, image_size=56,
                           out_layers=(0, 1, 2, 3))  # fmt: skip


class _PatchStem(nn.Module):
    """``rgbt_stem``: ``proj`` is ``Sequential(PadIm2Video, Conv3d)`` (keys ``proj.1.weight``)."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        kernel = (config.frames, config.patch, config.patch)
        self.frames = config.frames
        self.proj = nn.Sequential(
            nn.Identity(),  # PadIm2Video has no parameters: the repeat happens in forward
            nn.Conv3d(3, config.width, kernel_size=kernel, stride=kernel, bias=False),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        video = images.unsqueeze(2).repeat(1, 1, self.frames, 1, 1)  # B 3 T H W
        return self.proj(video).flatten(2).transpose(1, 2)  # B (T·h·w) D


class _PosEmbedding(nn.Module):
    """``pos_embedding_helper.pos_embed``: learned, one row per token (CLS first)."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, config.tokens, config.width))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)


class _Preprocessor(nn.Module):
    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.width))
        self.rgbt_stem = _PatchStem(config)
        self.pos_embedding_helper = _PosEmbedding(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.rgbt_stem(images)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat((cls, tokens), dim=1) + self.pos_embedding_helper.pos_embed


class _Mlp(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """ImageBind's pre-norm block (``BlockWithMasking``), shared by its image and text towers.

    Sequence-first (L, B, D) like the reference (``nn.MultiheadAttention``'s default layout).
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, bias=True)
        self.norm_1 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = _Mlp(width)
        self.norm_2 = nn.LayerNorm(width, eps=1e-6)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """One block; ``attn_mask`` is additive (the text tower's causal mask)."""
        normed = self.norm_1(x)
        x = x + self.attn(normed, normed, normed, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.norm_2(x))


class _Trunk(nn.Module):
    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        # Sequential(LayerNorm, rearrange): keys pre_transformer_layer.0.*
        self.pre_transformer_layer = nn.Sequential(nn.LayerNorm(config.width, eps=1e-6))
        self.blocks = nn.Sequential(
            *[TransformerBlock(config.width, config.heads) for _ in range(config.blocks)]
        )

    def forward(
        self, tokens: torch.Tensor, out_layers: tuple[int, ...]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.pre_transformer_layer(tokens).transpose(0, 1)  # B L D -> L B D
        kept = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in out_layers:
                kept.append(x)  # L B D, as the reference hands them to AnomalyGPT's decoder
        return x.transpose(0, 1), kept


class ImageBindVision(nn.Module):
    """ImageBind's vision encoder: image → (L2-normalised embedding, patch tokens of 4 blocks).

    Module names reproduce ``imagebind_huge.pth``'s vision keys, so
    ``load_state_dict(tower_state_dict(checkpoint, model))`` loads the published weights
    strictly.
    """

    def __init__(self, config: VisionConfig = VisionConfig()) -> None:
        super().__init__()
        self.config = config
        self.modality_preprocessors = nn.ModuleDict({VISION: _Preprocessor(config)})
        self.modality_trunks = nn.ModuleDict({VISION: _Trunk(config)})
        # Sequential(LayerNorm, SelectElement(0), Linear): keys .0.* and .2.weight.
        self.modality_heads = nn.ModuleDict(
            {
                VISION: nn.Sequential(
                    nn.LayerNorm(config.width, eps=1e-6),
                    nn.Identity(),  # SelectElement(index=0): the CLS token, taken in forward
                    nn.Linear(config.width, config.out_dim, bias=False),
                )
            }
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed ``images`` (B, 3, S, S), normalised as ImageBind's transform does.

        Returns:
            The L2-normalised image embedding (B, out_dim) and the outputs of the
            ``out_layers`` blocks, each (L, B, width) with the CLS token first.
        """
        tokens = self.modality_preprocessors[VISION](images)
        final, kept = self.modality_trunks[VISION](tokens, self.config.out_layers)
        head = cast(nn.Sequential, self.modality_heads[VISION])
        embedding = head[2](head[0](final)[:, 0])
        return nn.functional.normalize(embedding, dim=-1), kept


def tower_state_dict(
    checkpoint: Mapping[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """The part of a whole ImageBind state dict that ``model`` (one tower) holds, checked.

    Works for :class:`ImageBindVision` and the text tower alike: their module names are the
    checkpoint's keys, so exactly the keys ``model.state_dict()`` lists are taken.

    Raises:
        IADBenchError: A key the model expects is missing, or a tensor has another shape.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(checkpoint))
    if missing:
        raise IADBenchError(
            f"the ImageBind checkpoint lacks {len(missing)} of the {type(model).__name__} keys, "
            f"e.g. {missing[:3]}; is it imagebind_huge.pth?"
        )
    wrong = [k for k, v in expected.items() if tuple(checkpoint[k].shape) != tuple(v.shape)]
    if wrong:
        key = wrong[0]
        raise IADBenchError(
            f"ImageBind key {key} has shape {tuple(checkpoint[key].shape)}, the model expects "
            f"{tuple(expected[key].shape)} (another model size?)"
        )
    return {k: checkpoint[k] for k in expected}

"""ImageBind-Huge's text tower, with the parameter names of ``imagebind_huge.pth``.

AnomalyGPT's image decoder compares patch features with text embeddings of normal and abnormal
prompts from this tower. Structure read in the ImageBind code vendored by
CASIA-IVA-Lab/AnomalyGPT (``code/model/ImageBind/models/imagebind_model.py``:
``_create_modality_preprocessors`` / ``_trunks`` / ``_heads`` / ``_postprocessors`` for TEXT;
``multimodal_preprocessors.py``: ``TextPreprocessor``, ``build_causal_attention_mask``;
``helpers.py``: ``SelectEOSAndProject``, ``LearnableLogitScaling``; ``data.py``:
``load_and_transform_text``):

* token embedding (vocabulary 49,408) + learned position embedding of 77, a causal additive
  mask (registered buffer ``mask``, so it is in the checkpoint);
* trunk: no LayerNorm before the blocks, then the same pre-norm blocks as the image tower
  (:class:`~iadbench_methods.anomalygpt.vision.TransformerBlock`) under the causal mask;
* head: the token at the end-of-text position (the highest token id of each row) →
  ``LayerNorm(eps=1e-6)`` → ``Linear(D → 1024, bias=False)``;
* postprocessor: L2 normalisation, then × ``exp(log_logit_scale)`` clipped at 100 (learnable in
  the checkpoint) — the reference returns the scaled vector, and so does :meth:`forward`.

Huge: D = 1024, 24 blocks, 16 heads. Tokens come from the CLIP BPE tokenizer (ImageBind's
``SimpleTokenizer`` with CLIP's ``bpe_simple_vocab_16e6``); :func:`tokenize` uses open_clip's copy
of the same tokenizer (start 49406, end 49407, zero padding to 77) — assumed equivalent, not
compared string by string against ImageBind's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .vision import TransformerBlock

TEXT = "text"


@dataclass(frozen=True)
class TextConfig:
    """Sizes of the text tower (defaults: ImageBind-Huge)."""

    width: int = 1024
    blocks: int = 24
    heads: int = 16
    out_dim: int = 1024
    vocab_size: int = 49408
    context_length: int = 77


TINY_TEXT = TextConfig(width=32, blocks=2, heads=2, out_dim=16)


def causal_mask(length: int) -> torch.Tensor:
    """Additive mask: ``-inf`` above the diagonal (``build_causal_attention_mask``)."""
    return torch.full((length, length), float("-inf")).triu_(1)


class _Preprocessor(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.pos_embed = nn.Parameter(torch.empty(1, config.context_length, config.width))
        self.register_buffer("mask", causal_mask(config.context_length))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(tokens) + self.pos_embed


class _Trunk(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *[TransformerBlock(config.width, config.heads) for _ in range(config.blocks)]
        )

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = tokens.transpose(0, 1)  # B L D -> L B D
        for block in self.blocks:
            x = block(x, attn_mask=mask)
        return x.transpose(0, 1)


class _Head(nn.Module):
    """``SelectEOSAndProject``: keys ``proj.0.*`` (LayerNorm) and ``proj.1.weight``."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.LayerNorm(config.width, eps=1e-6),
            nn.Linear(config.width, config.out_dim, bias=False),
        )

    def forward(self, x: torch.Tensor, end_of_text: torch.Tensor) -> torch.Tensor:
        return self.proj(x[torch.arange(x.shape[0]), end_of_text])


class _LogitScaling(nn.Module):
    """``LearnableLogitScaling(learnable=True)``: key ``log_logit_scale``, init log(1/0.07)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clip(self.log_logit_scale.exp(), max=100.0) * x


class _Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1)


class ImageBindText(nn.Module):
    """ImageBind's text encoder: token ids (B, 77) → scaled, L2-normalised embeddings."""

    def __init__(self, config: TextConfig = TextConfig()) -> None:
        super().__init__()
        self.config = config
        self.modality_preprocessors = nn.ModuleDict({TEXT: _Preprocessor(config)})
        self.modality_trunks = nn.ModuleDict({TEXT: _Trunk(config)})
        self.modality_heads = nn.ModuleDict({TEXT: _Head(config)})
        # Sequential(Normalize, LearnableLogitScaling): key modality_postprocessors.text.1.*
        self.modality_postprocessors = nn.ModuleDict(
            {TEXT: nn.Sequential(_Normalize(), _LogitScaling())}
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Embed token rows; the end of text is each row's highest id (CLIP's end token)."""
        preprocess = self.modality_preprocessors[TEXT]
        hidden = self.modality_trunks[TEXT](preprocess(tokens), preprocess.mask)
        embedding = self.modality_heads[TEXT](hidden, tokens.argmax(dim=-1))
        return self.modality_postprocessors[TEXT](embedding)


def tokenize(texts: Sequence[str], context_length: int = 77) -> torch.Tensor:
    """CLIP BPE token ids, start and end tokens included, zero-padded to ``context_length``."""
    from open_clip.tokenizer import tokenize as clip_tokenize

    return clip_tokenize(list(texts), context_length=context_length)

"""AnomalyGPT's image decoder, prompt learner and pixel losses, re-implemented from the facts.

Read in https://github.com/CASIA-IVA-Lab/AnomalyGPT (snapshot f21c51b, folder ``code/``;
CC BY-NC-SA, so nothing here is copied, only what the code does):

* ``model/openllama.py`` (``OpenLLAMAPEFTModel``): ``image_decoder = LinearLayer(1280, 1024,
  4)``, ``prompt_learner = PromptLearner(1, 4096)``, ``llama_proj = nn.Linear(1024,
  hidden_size)``; the pixel maps (``forward`` and ``extract_multimodal_feature``): L2-normalise
  each layer's decoded patch tokens, ``100 · tokens @ text_features.T``, reshape to the 16 × 16
  grid, bilinear to 224 with ``align_corners=True``, THEN a softmax over the two channels; the
  training loss sums focal + dice over the four layers' maps, against the mask binarised at
  ``> 0.3``; the map handed on (to the prompt learner and to the caller) is the abnormal channel
  averaged over the four layers. ``encode_text_with_prompt_ensemble`` and the module-level
  ``prompt_normal`` / ``prompt_abnormal`` / ``prompt_templates`` build the text features.
* ``model/AnomalyGPT_models.py``: ``LinearLayer`` (``fc``: one ``Linear`` per layer; it drops
  the CLS token of the sequence-first trunk tokens) and ``PromptLearner`` (``meta_net``: five
  ``Conv2d(k=3, padding=1) → ReLU → MaxPool2d(2)`` stages widening ``dim_in`` by 4, 16, 64,
  256, 1024, then ``Conv2d(k=5, padding=0)`` to ``dim_out``; ``base_prompts``: a ``(9,
  dim_out)`` parameter from ``randn``; output ``[base_prompts, image prompts]``).
* ``model/ImageBind/models/imagebind_model.py``: ``imagebind_huge`` taps vision blocks
  ``[7, 15, 23, 31]`` (0-based ``blk_id`` in ``transformer.py``'s ``SimpleTransformer``), vision
  width 1280, 1 CLS token, 16 × 16 patches of 14 px, output embedding 1024 (L2-normalised).
* ``utils/loss.py``: ``FocalLoss`` (used with its defaults) and ``BinaryDiceLoss``.
* ``model/agent.py``: only ``image_decoder`` and ``prompt_learner`` are trained and saved to
  ``pytorch_model.pt``; ``llama_proj`` comes from the PandaGPT delta checkpoint.
* ``test_mvtec.py``: the image score is the map's maximum.

The module attribute names here equal the official ones, so :class:`AnomalyGPTHeads`'
``state_dict`` keys are the official checkpoints' keys (``image_decoder.fc.0.weight``,
``prompt_learner.meta_net.15.weight``, ``prompt_learner.base_prompts``, ``llama_proj.weight``).

Paper: Z. Gu et al., "AnomalyGPT: Detecting Industrial Anomalies Using Large Vision-Language
Models", AAAI 2024, https://arxiv.org/abs/2308.15366
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..aprilgan.prompts import ABNORMAL_STATES, NORMAL_STATES

# ImageBind-H vision blocks whose outputs the decoder reads (imagebind_model.py, 0-based).
PATCH_LAYERS: tuple[int, ...] = (7, 15, 23, 31)
LOGIT_SCALE = 100.0
MAP_SIZE = 224
MASK_THRESHOLD = 0.3  # openllama.py: gt > 0.3 → 1
FOCAL_GAMMA = 2.0  # FocalLoss() defaults in utils/loss.py
FOCAL_SMOOTH = 1e-5
DICE_SMOOTH = 1.0  # BinaryDiceLoss

# openllama.py's `prompt_normal` and `prompt_abnormal` are AprilGAN's 7 + 5 states, word for word
# and in the same order (compared): one copy, in aprilgan/prompts.py. Its `prompt_templates` differ.
# openllama.py `prompt_templates`, verbatim and in order.
TEMPLATES: tuple[str, ...] = ("a photo of a {}.", "a photo of the {}.")


@dataclass(frozen=True)
class Widths:
    """Layer widths; the defaults are the official ones, tests use tiny ones.

    Attributes:
        vision: Width of the vision trunk's tokens (ImageBind-H: 1280).
        embed: Joint embedding width, that of the text features (1024).
        llm: Hidden size of the language model (Vicuna-7B: 4096).
        layers: Number of tapped vision blocks (4).
        prompt_channels: Output channels of the prompt learner's five conv stages.
        base_prompts: Number of learned, image-independent prompt embeddings (9).
    """

    vision: int = 1280
    embed: int = 1024
    llm: int = 4096
    layers: int = 4
    prompt_channels: tuple[int, ...] = (4, 16, 64, 256, 1024)
    base_prompts: int = 9


OFFICIAL = Widths()


class LinearLayer(nn.Module):
    """One ``Linear(vision → embed)`` per tapped block, applied to the patch tokens only.

    Example:
        >>> import torch
        >>> decoder = LinearLayer(Widths(vision=32, embed=16))
        >>> [t.shape for t in decoder([torch.randn(2, 257, 32)] * 4)][0]
        torch.Size([2, 256, 16])
    """

    def __init__(self, widths: Widths = OFFICIAL) -> None:
        super().__init__()
        self.fc = nn.ModuleList(
            nn.Linear(widths.vision, widths.embed) for _ in range(widths.layers)
        )

    def forward(self, tokens: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Project each block's tokens, dropping the CLS token.

        Args:
            tokens: Per block, ``(batch, 1 + patches, vision)`` batch-first tokens, CLS first.
                (The official trunk yields them sequence-first; its ``LinearLayer`` transposes.)

        Returns:
            Per block, ``(batch, patches, embed)``, not normalised.
        """
        return [fc(t[:, 1:, :]) for fc, t in zip(self.fc, tokens, strict=True)]


class PromptLearner(nn.Module):
    """Turns the ``(batch, 1, 224, 224)`` anomaly map into LLM input embeddings.

    ``meta_net``: five stages of ``Conv2d(k=3, pad=1) → ReLU → MaxPool2d(2)`` (224 → 7), then
    ``Conv2d(k=5, pad=0)`` to the LLM width (7 → 3): nine image prompts, row-major over the 3 × 3
    grid, after the nine ``base_prompts``: 18 embeddings.

    Example:
        >>> import torch
        >>> learner = PromptLearner(Widths(llm=24, prompt_channels=(2, 2, 2, 2, 4)))
        >>> learner(torch.rand(1, 1, 224, 224)).shape
        torch.Size([1, 18, 24])
    """

    def __init__(self, widths: Widths = OFFICIAL) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        channels_in = 1
        for channels in widths.prompt_channels:
            stages += [
                nn.Conv2d(channels_in, channels, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels_in = channels
        stages.append(nn.Conv2d(channels_in, widths.llm, kernel_size=5, padding=0))
        # Sequential indices (0, 3, …, 15 for the convs) are the official key names.
        self.meta_net = nn.Sequential(*stages)
        self.base_prompts = nn.Parameter(torch.randn(widths.base_prompts, widths.llm))

    def forward(self, anomaly_map: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, H, W)`` map → ``(batch, base_prompts + image prompts, llm)``."""
        image_prompts = self.meta_net(anomaly_map).flatten(2).transpose(1, 2)
        base = self.base_prompts.expand(anomaly_map.shape[0], -1, -1)
        return torch.cat([base, image_prompts], dim=1)


class AnomalyGPTHeads(nn.Module):
    """The parts AnomalyGPT adds around ImageBind and the LLM, named as in the official model.

    Attributes:
        image_decoder: :class:`LinearLayer`.
        prompt_learner: :class:`PromptLearner`.
        llama_proj: ``Linear(embed → llm)``: ImageBind's image embedding → one LLM token.
    """

    def __init__(self, widths: Widths = OFFICIAL) -> None:
        super().__init__()
        self.image_decoder = LinearLayer(widths)
        self.prompt_learner = PromptLearner(widths)
        self.llama_proj = nn.Linear(widths.embed, widths.llm)

    def layer_maps(
        self, tokens: Sequence[torch.Tensor], text_features: torch.Tensor
    ) -> list[torch.Tensor]:
        """Per-block two-class probability maps; see :func:`layer_maps`."""
        return layer_maps(self.image_decoder(tokens), text_features)


def layer_maps(
    patch_tokens: Sequence[torch.Tensor], text_features: torch.Tensor, size: int = MAP_SIZE
) -> list[torch.Tensor]:
    """Normal/abnormal probabilities per block: ``softmax(upsample(100 · cos))``.

    Args:
        patch_tokens: Per block, decoded ``(batch, patches, embed)`` tokens of a square grid.
        text_features: ``(batch, 2, embed)`` unit vectors, normal then abnormal
            (:func:`text_features`).
        size: Output side; the softmax comes after the bilinear upsampling, as officially.

    Returns:
        Per block, ``(batch, 2, size, size)`` probabilities (channel 1: abnormal).

    Raises:
        ValueError: If the patches do not form a square grid.
    """
    maps = []
    for tokens in patch_tokens:
        batch, patches, _ = tokens.shape
        side = round(patches**0.5)
        if side * side != patches:
            raise ValueError(f"{patches} patches do not form a square grid")
        logits = LOGIT_SCALE * F.normalize(tokens, dim=-1) @ text_features.transpose(-2, -1)
        logits = logits.transpose(1, 2).reshape(batch, 2, side, side)
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=True)
        maps.append(torch.softmax(logits, dim=1))
    return maps


def anomaly_map(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """The abnormal channel averaged over blocks: ``(batch, 1, H, W)`` in [0, 1]."""
    return torch.stack([m[:, 1] for m in maps]).mean(0).unsqueeze(1)


def few_shot_map(
    query: Sequence[torch.Tensor], normal: Sequence[torch.Tensor], size: int = 224
) -> torch.Tensor:
    """The official few-shot map: 1 − each patch's best cosine match among the normal patches.

    ``extract_multimodal_feature`` with ``normal_img_paths``: per tapped block, the cosine of
    every query patch token (the tower's raw 1280-d tokens, CLS dropped, not the decoder's) with
    every patch of the reference images, maximum over those; mean over blocks; the 16 × 16 grid
    bilinear to 224 (``align_corners=True``); ``1 − sim``. It replaces the text map (the
    official code keeps the mix with it commented out), also as the prompt learner's input.

    Args:
        query: Per block, ``(batch, patches, width)``.
        normal: Per block, ``(references, patches, width)`` of one category.
        size: Side of the returned map (224, the official).

    Returns:
        ``(batch, 1, size, size)``; 0 where a patch has an identical normal patch.
    """
    similarities = []
    for tokens, references in zip(query, normal, strict=True):
        bank = F.normalize(references.reshape(-1, references.shape[-1]), dim=-1)
        similarities.append((F.normalize(tokens, dim=-1) @ bank.T).amax(dim=-1))
    similarity = torch.stack(similarities).mean(0)
    batch, patches = similarity.shape
    side = math.isqrt(patches)
    if side * side != patches:
        raise ValueError(f"{patches} patches do not form a square grid")
    grid = similarity.reshape(batch, 1, side, side)
    return 1 - F.interpolate(grid, size=size, mode="bilinear", align_corners=True)


def image_score(amap: torch.Tensor) -> torch.Tensor:
    """Image-level score at test time (``test_mvtec.py``): the map's maximum, ``(batch,)``."""
    return amap.flatten(1).amax(1)


def few_shot_score(amap: torch.Tensor) -> torch.Tensor:
    """Image score of a few-shot map: its maximum halved, ``(batch,)`` in [0, 1].

    The few-shot map ``1 − cos`` lies in [0, 2] (:func:`few_shot_map`). The official test ranks
    by the raw maximum; halving is monotone, so every AUROC equals the official one, and the
    score lands in [0, 1] like the zero-shot one without clamping peaks above 1 into a tie.

    Example:
        >>> scores = few_shot_score(torch.tensor([1.3, 1.7, 0.2]).view(3, 1, 1, 1))
        >>> [round(s, 2) for s in scores.tolist()]
        [0.65, 0.85, 0.1]
    """
    return image_score(amap) / 2


def prompt_sentences(object_name: str) -> tuple[list[str], list[str]]:
    """The 14 normal and 10 abnormal sentences for one object, in the official order.

    ``_`` in the name becomes a space, as ``encode_text_with_prompt_ensemble`` does.

    Example:
        >>> normal, abnormal = prompt_sentences("metal_nut")
        >>> len(normal), len(abnormal), normal[2], abnormal[0]
        (14, 10, 'a photo of a flawless metal nut.', 'a photo of a damaged metal nut.')
    """
    name = object_name.replace("_", " ")
    return tuple(  # type: ignore[return-value]
        [template.format(state.format(name)) for state in states for template in TEMPLATES]
        for states in (NORMAL_STATES, ABNORMAL_STATES)
    )


def text_features(normal: torch.Tensor, abnormal: torch.Tensor) -> torch.Tensor:
    """Mean of each ensemble, L2-normalised: ``(batch, 2, embed)``, normal first.

    Args:
        normal: ``(batch, 14, embed)`` ImageBind text embeddings of the normal sentences.
            ImageBind's text head normalises and scales each by one shared logit scale, which
            the final normalisation cancels.
        abnormal: ``(batch, 10, embed)`` embeddings of the abnormal sentences.
    """
    return F.normalize(torch.stack([normal.mean(1), abnormal.mean(1)], dim=1), dim=-1)


def binarise_mask(mask: torch.Tensor) -> torch.Tensor:
    """Ground-truth mask → {0, 1} at the official threshold (``> 0.3``)."""
    return (mask > MASK_THRESHOLD).to(mask.dtype)


def focal_loss(
    probs: torch.Tensor,
    target: torch.Tensor,
    gamma: float = FOCAL_GAMMA,
    smooth: float = FOCAL_SMOOTH,
) -> torch.Tensor:
    """``utils/loss.py``'s ``FocalLoss()`` on probabilities: mean ``−(1 − p)^γ · log p``.

    With its defaults (no nonlinearity, alpha 1 for both classes, γ = 2, smooth = 1e-5) the
    one-hot target is clamped to ``[smooth, 1 − smooth]`` and ``p = Σ_c onehot_c · probs_c +
    smooth`` — not torchvision's ``sigmoid_focal_loss`` (logits, alpha 0.25, no smoothing).

    Args:
        probs: ``(batch, 2, H, W)`` softmax probabilities.
        target: ``(batch, H, W)`` {0, 1} mask.
        gamma: Focusing parameter.
        smooth: Label smoothing and the floor added to ``p``.

    Example:
        >>> import torch
        >>> probs = torch.tensor([0.5, 0.5]).view(1, 2, 1, 1)
        >>> round(float(focal_loss(probs, torch.zeros(1, 1, 1))), 4)  # 0.25 · ln 2
        0.1733
    """
    classes = probs.shape[1]
    onehot = F.one_hot(target.long(), classes).movedim(-1, 1).to(probs.dtype)
    onehot = onehot.clamp(smooth / (classes - 1), 1.0 - smooth)
    p = (onehot * probs).sum(1) + smooth
    return (-((1 - p) ** gamma) * p.log()).mean()


def dice_loss(
    probs: torch.Tensor, target: torch.Tensor, smooth: float = DICE_SMOOTH
) -> torch.Tensor:
    """``BinaryDiceLoss``: ``1 − mean over images of (2·Σpt + s) / (Σp + Σt + s)``.

    Args:
        probs: ``(batch, H, W)`` abnormal probabilities.
        target: ``(batch, H, W)`` {0, 1} mask.
        smooth: Added to numerator and denominator (keeps empty masks defined).
    """
    probs, target = probs.flatten(1), target.to(probs.dtype).flatten(1)
    dice = (2 * (probs * target).sum(1) + smooth) / (probs.sum(1) + target.sum(1) + smooth)
    return 1 - dice.mean()


def pixel_loss(maps: Sequence[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """The decoder's training loss: Σ over blocks of focal + dice against the binarised mask.

    Args:
        maps: Per block, ``(batch, 2, H, W)`` probabilities (:func:`layer_maps`).
        mask: ``(batch, H, W)`` ground truth in [0, 1] (the NSA mask), binarised here.
    """
    target = binarise_mask(mask)
    total = torch.zeros((), dtype=maps[0].dtype, device=maps[0].device)
    for probs in maps:
        total = total + focal_loss(probs, target) + dice_loss(probs[:, 1], target)
    return total

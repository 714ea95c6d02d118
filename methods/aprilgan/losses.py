"""AprilGAN's segmentation losses: focal loss plus dice loss on every layer's pixel map.

The pixel map of a layer is a two-class (normal, abnormal) softmax. With two classes the
softmax equals a sigmoid of the logit difference, so the functions here take that difference
(``abnormal − normal``, one channel) and stay numerically stable through ``logsigmoid``.

See Also:
    :mod:`iadbench_methods.aprilgan.model` for where the logits come from.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

FOCAL_GAMMA = 2.0
DICE_SMOOTH = 1.0


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA
) -> torch.Tensor:
    """Mean focal loss ``−(1 − p_t)^γ · log p_t`` over all pixels (Lin et al., 2017).

    Args:
        logits: Abnormal-minus-normal logits, any shape.
        target: Same shape, 1 where a defect is, 0 elsewhere.
        gamma: Focusing parameter; 0 gives the plain cross-entropy.

    Example:
        >>> import torch
        >>> round(float(focal_loss(torch.zeros(4), torch.tensor([0.0, 1, 0, 1]))), 4)  # 0.25·ln 2
        0.1733
    """
    target = target.to(logits.dtype)
    # log p_t: the log-probability the map gives the true class of each pixel.
    log_pt = target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)
    return -((1 - log_pt.exp()) ** gamma * log_pt).mean()


def dice_loss(
    probs: torch.Tensor, target: torch.Tensor, smooth: float = DICE_SMOOTH
) -> torch.Tensor:
    """Soft dice loss ``1 − (2·Σpt + s) / (Σp + Σt + s)`` per image, averaged over the batch.

    The smoothing term ``s`` keeps a normal image (empty mask) defined: its loss falls towards
    0 as the predicted abnormal mass does.

    Args:
        probs: Abnormal probabilities, shape ``(batch, ...)``.
        target: Same shape, 1 where a defect is.
        smooth: Added to numerator and denominator.

    Example:
        >>> import torch
        >>> float(dice_loss(torch.ones(1, 2, 2), torch.ones(1, 2, 2), smooth=0.0))
        0.0
    """
    probs = probs.flatten(1)
    target = target.to(probs.dtype).flatten(1)
    overlap = (probs * target).sum(1)
    dice = (2 * overlap + smooth) / (probs.sum(1) + target.sum(1) + smooth)
    return (1 - dice).mean()


def segmentation_loss(layer_logits: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """AprilGAN's training loss: Σ over layers of focal + dice, each against the same mask.

    Args:
        layer_logits: One ``(batch, H, W)`` abnormal-minus-normal logit map per layer, already
            at the mask's resolution.
        target: ``(batch, H, W)`` binary mask (zeros for normal images).
    """
    total = torch.zeros((), device=target.device)
    for logits in layer_logits:
        total = total + focal_loss(logits, target) + dice_loss(torch.sigmoid(logits), target)
    return total

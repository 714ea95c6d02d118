"""Sample → model input for WinCLIP, exactly as anomalib's WinClip pre-processor prepares it.

The preprocessor runs in DataLoader worker processes, so it is a small picklable object that
holds only the image size; torch and torchvision are imported when it is first called.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from iadbench.contract.images import load_rgb
from iadbench.contract.records import Sample

from ..clip_common import CLIP_MEAN, CLIP_STD

if TYPE_CHECKING:
    import torch


@cache
def _transform(image_size: int) -> Any:
    """The test transform of anomalib's WinClip at ``image_size`` (one per process and size)."""
    from torchvision.transforms.v2 import Compose, InterpolationMode, Normalize, Resize

    # The same steps as WinClip.configure_pre_processor: bicubic antialiased resize of the whole
    # image to a square (no centre crop, so defects near a border stay in view), then CLIP's
    # normalisation. anomalib resizes float tensors in [0, 1], not uint8 images; so do we, so
    # that the pixels match to the last bit (a test compares them).
    return Compose(
        [
            Resize(
                (image_size, image_size), antialias=True, interpolation=InterpolationMode.BICUBIC
            ),
            Normalize(mean=CLIP_MEAN, std=CLIP_STD),
        ]
    )


class WinClipPreprocessor:
    """``Sample`` → ``(3, S, S)`` float32 tensor, normalised as anomalib's WinClip expects.

    Decodes the image with :func:`iadbench.contract.images.load_rgb` (single-channel MVTec images
    become
    RGB), scales it to [0, 1] as anomalib's ``read_image(as_tensor=True)`` does, and applies the
    transform of ``WinClip.configure_pre_processor`` (bicubic antialiased resize to S×S, CLIP
    mean/std normalisation).

    Args:
        image_size: Side S in pixels; WinCLIP's ViT-B-16-plus-240 takes 240.

    Raises:
        ImageReadError: (when called) the image is missing, truncated or not an image.

    Example:
        >>> import pickle
        >>> pre = pickle.loads(pickle.dumps(WinClipPreprocessor(240)))
        >>> pre.image_size
        240

    See Also:
        - :class:`iadbench_methods.winclip.WinClip`: the adapter that hands it to the runner.
        - ``anomalib.models.image.winclip.lightning_model.WinClip.configure_pre_processor``
    """

    def __init__(self, image_size: int = 240) -> None:
        self.image_size = image_size

    def __call__(self, sample: Sample) -> torch.Tensor:
        """The normalised tensor of one sample's image."""
        import torch
        from torchvision.transforms.v2.functional import to_dtype, to_image

        pixels = to_dtype(to_image(load_rgb(sample.image_path)), torch.float32, scale=True)
        # A plain tensor, not torchvision's Image subclass: cheaper to pickle and to stack.
        return _transform(self.image_size)(pixels).as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(image_size={self.image_size})"

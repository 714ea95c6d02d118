"""What the CLIP-based methods (WinCLIP, AprilGAN) share: building an OpenCLIP model offline.

Real runs name an OpenCLIP architecture and a pretrained tag (downloaded once into the
Hugging Face cache) or a local checkpoint file. ``--tiny`` swaps the architecture for a tiny one
with the same classes (``model_configs/iadbench-tiny-<arch>.json``: same patch size and input
size, 2–4 blocks of width 32) and random weights, so every code path runs without a download.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from iadbench.contract.errors import IADBenchError

TINY_PREFIX = "iadbench-tiny-"
TINY_WEIGHTS_SEED = 0
_CONFIG_DIR = Path(__file__).parent / "model_configs"

# CLIP's own normalisation (OpenAI); OpenCLIP's laion weights use the same constants.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@cache
def register_tiny_configs() -> None:
    """Make the tiny architectures known to OpenCLIP (idempotent)."""
    import open_clip

    open_clip.add_model_config(_CONFIG_DIR)


def tiny_name(arch: str) -> str:
    """Name of the tiny stand-in of an OpenCLIP architecture.

    Raises:
        IADBenchError: No tiny config ships for ``arch``.
    """
    name = TINY_PREFIX + arch
    if not (_CONFIG_DIR / f"{name}.json").exists():
        shipped = sorted(p.stem.removeprefix(TINY_PREFIX) for p in _CONFIG_DIR.glob("*.json"))
        raise IADBenchError(
            f"no tiny config for CLIP architecture {arch!r}; tiny configs exist for {shipped}"
        )
    return name


class _DropRandomInitWarning(logging.Filter):
    """Drops open_clip's "No pretrained weights loaded" warning (expected for random weights)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")


@contextmanager
def random_weights_from(seed: int, *, quiet: bool) -> Iterator[None]:
    """Draw any random initialisation inside the block from ``seed``, leaving the caller's RNG.

    Every process and every resumed attempt of a run must see the same random-weight model, or
    resumed predictions would not match. With ``quiet``, open_clip's root-logger warning that no
    weights were loaded is dropped: random weights are what was asked for.
    """
    import torch

    root, drop = logging.getLogger(), _DropRandomInitWarning()
    if quiet:
        root.addFilter(drop)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        root.removeFilter(drop)


@dataclass
class ClipBundle:
    """A built CLIP model with its tokenizer and what was actually loaded."""

    model: Any
    tokenizer: Any
    arch: str  # the architecture built (the tiny name under --tiny)
    weights: str | None  # pretrained tag or file; None for random weights
    image_size: int


def create_clip(
    arch: str,
    pretrained: str | None,
    *,
    tiny: bool = False,
    image_size: int | None = None,
    device: str = "cpu",
    precision: str = "fp32",
) -> ClipBundle:
    """Build an OpenCLIP model in eval mode.

    Args:
        arch: OpenCLIP architecture, e.g. ``"ViT-B-16-plus-240"``.
        pretrained: Pretrained tag (``"laion400m_e31"``, ``"openai"``) or path of a local
            checkpoint file; ignored under ``tiny`` (random weights).
        tiny: Build the tiny stand-in of ``arch`` with random weights.
        image_size: Input size to force (position embeddings are interpolated), e.g. 518.
        device: Torch device.
        precision: ``fp32``, ``fp16`` or ``bf16``.

    Raises:
        IADBenchError: The weights cannot be loaded (offline without a cached copy, bad file).
    """
    import open_clip

    name, weights = (tiny_name(arch), None) if tiny else (arch, pretrained)
    if tiny:
        register_tiny_configs()
    try:
        with random_weights_from(TINY_WEIGHTS_SEED, quiet=weights is None):
            model = open_clip.create_model(
                name,
                pretrained=weights,
                precision=precision,
                device=device,
                force_image_size=image_size,
            )
    except Exception as exc:  # open_clip raises RuntimeError/OSError/HF errors for missing weights
        raise IADBenchError(
            f"could not build CLIP {arch} with weights {pretrained!r}: {exc}. Real weights come "
            "from the Hugging Face cache (download them once with network access) or a local "
            "checkpoint file: --set weights=/path/to/open_clip_model.bin. --tiny needs no weights."
        ) from exc
    model.eval()
    size = model.visual.image_size
    return ClipBundle(
        model=model,
        tokenizer=open_clip.get_tokenizer(name),
        arch=name,
        weights=weights,
        image_size=int(size[0] if isinstance(size, tuple | list) else size),
    )

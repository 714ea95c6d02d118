"""Device and precision choices shared by model-based methods (torch is imported lazily)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from iadbench.contract.errors import ArgumentError, IADBenchError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def check_device(requested: object, *, name: str = "--device") -> str:
    """``requested`` when it names a device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Checked for every method, model-free ones too: a baseline took ``--device tpu`` and recorded
    it (issue 18). Needs no torch, so a command refuses a bad name before anything is read.

    Example:
        >>> check_device("cuda:1")
        'cuda:1'

    Raises:
        ArgumentError: Anything else (``tpu``, ``cuda:x``, a non-string), named as ``name``.
    """
    if not isinstance(requested, str) or (
        requested not in DEVICES and re.fullmatch(r"cuda:[0-9]+", requested) is None
    ):
        raise ArgumentError(
            f"{name} must be one of {', '.join(DEVICES)} or cuda:N (N a GPU number), "
            f"got {requested!r}"
        )
    return requested


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without a GPU is an error.

    Raises:
        IADBenchError: Unknown device name, or ``cuda`` asked for on a machine without a GPU.
    """
    check_device(requested)
    import torch

    available = torch.cuda.is_available()
    if requested == "auto":
        return "cuda" if available else "cpu"
    if requested.startswith("cuda") and not available:
        raise IADBenchError(f"--device {requested} was asked for, but torch sees no CUDA GPU here")
    return requested


def resolve_precision(requested: str, device: str) -> str:
    """``auto`` → ``bf16`` on a GPU that supports it (else ``fp16``), ``fp32`` on the CPU.

    Raises:
        IADBenchError: Unknown precision, or half precision asked for on the CPU.
    """
    if requested not in PRECISIONS:
        raise IADBenchError(f"precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    on_gpu = device.startswith("cuda")
    if requested == "auto":
        if not on_gpu:
            return "fp32"
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested in ("fp16", "bf16") and not on_gpu:
        raise IADBenchError(f"precision {requested} needs a GPU; use fp32 (or auto) on the CPU")
    return requested


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype of a resolved precision name."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]

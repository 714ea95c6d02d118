"""Load a Qwen2-VL (or Qwen2.5-VL) checkpoint and its processor, ready for batched generation.

One function serves the base ``qwen2-vl`` row, LR-IAD's inference (base + LoRA adapter) and the
tiny checkpoint of ``--tiny``: the checkpoint's ``config.json`` picks the classes through
``AutoModelForImageTextToText`` / ``AutoProcessor``, so Qwen2.5-VL needs no code of its own.

Paper: Qwen2-VL, arXiv 2409.12191, https://arxiv.org/abs/2409.12191

See Also:
    :func:`iadbench_methods.qwen2vl.tiny.tiny_model_dir`: the tiny checkpoint.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from iadbench.contract.devices import resolve_device, resolve_precision, torch_dtype
from iadbench.contract.errors import IADBenchError

DEFAULT_MODEL = "Qwen/Qwen2-VL-7B-Instruct"
# The paper's image budget: 512 · 28² pixels, at most 512 visual tokens per image.
DEFAULT_MAX_PIXELS = 401_408
ATTENTION_CHOICES = ("auto", "flash_attention_2", "sdpa", "eager")


def resolve_attention(requested: str, device: str, precision: str) -> str:
    """The attention implementation to load with.

    ``auto`` gives ``flash_attention_2`` when the ``flash_attn`` package is installed, the model
    runs on a GPU and in half precision (flash-attention has no fp32 kernels); ``sdpa`` otherwise.

    Args:
        requested: ``auto``, ``flash_attention_2``, ``sdpa`` or ``eager``.
        device: A resolved device (``cpu``, ``cuda``, ``cuda:N``).
        precision: A resolved precision (``fp32``, ``fp16``, ``bf16``).

    Raises:
        IADBenchError: An unknown name, or ``flash_attention_2`` where it cannot run.

    Example:
        >>> resolve_attention("auto", "cpu", "fp32")
        'sdpa'
    """
    if requested not in ATTENTION_CHOICES:
        raise IADBenchError(
            f"attn_implementation must be one of {', '.join(ATTENTION_CHOICES)}, got {requested!r}"
        )
    flash_possible = (
        device.startswith("cuda")
        and precision in ("fp16", "bf16")
        and importlib.util.find_spec("flash_attn") is not None
    )
    if requested == "auto":
        return "flash_attention_2" if flash_possible else "sdpa"
    if requested == "flash_attention_2" and not flash_possible:
        raise IADBenchError(
            "attn_implementation=flash_attention_2 needs the flash-attn package (pip install "
            "'iadbench[gpu]'), a CUDA device and fp16/bf16 precision; use auto or sdpa instead"
        )
    return requested


def check_model_source(model: str) -> str:
    """Where ``model`` will be read from, checked before anything heavy is loaded.

    Args:
        model: A local checkpoint directory or a Hugging Face hub id.

    Returns:
        The absolute directory for a local checkpoint, else the hub id unchanged.

    Raises:
        IADBenchError: A local path that does not hold a checkpoint, or a hub id that is not in
            the Hugging Face cache while the hub is offline; the message says how to provide it.
    """
    path = Path(model).expanduser()
    if path.exists() or model.startswith(("/", ".", "~")):
        if not (path / "config.json").is_file():
            raise IADBenchError(
                f"model path {model!r} is not a checkpoint directory (no config.json there). "
                "Point --set model=PATH at a directory saved with save_pretrained (e.g. a copy "
                f"of {DEFAULT_MODEL}), or give a Hugging Face hub id."
            )
        return str(path.resolve())
    if _hub_offline() and not _in_hub_cache(model):
        raise IADBenchError(_missing_weights_message(model, "the hub is offline"))
    return model


def check_adapter_dir(adapter: str) -> str:
    """The absolute path of a peft LoRA adapter directory.

    Raises:
        IADBenchError: The directory does not exist or holds no ``adapter_config.json``.
    """
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise IADBenchError(
            f"adapter {adapter!r} is not a peft adapter directory (no adapter_config.json "
            "there). --set adapter=PATH names a directory saved by PeftModel.save_pretrained, "
            "e.g. the adapter an LR-IAD training run stores."
        )
    return str(path.resolve())


def load_model_and_processor(
    model: str,
    *,
    device: str,
    precision: str,
    attn_implementation: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_pixels: int | None = None,
    adapter: str | None = None,
    padding_side: str = "left",
    merge_adapter: bool = True,
) -> tuple[Any, Any]:
    """Load a Qwen2-VL-family model in eval mode and its processor.

    Args:
        model: Hugging Face hub id (default checkpoint: ``Qwen/Qwen2-VL-7B-Instruct``) or a local
            checkpoint directory (``save_pretrained`` layout); Qwen2.5-VL checkpoints work too.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``auto`` (bf16 on a GPU that has it, fp32 on the CPU), ``fp32``, ``fp16``,
            ``bf16``.
        attn_implementation: See :func:`resolve_attention`.
        max_pixels: Largest image area fed to the vision tower; larger images are scaled down
            (aspect kept, sides multiples of 28).
        min_pixels: Smallest image area; None keeps the checkpoint's own setting.
        adapter: A peft LoRA adapter directory to apply on top of the base weights.
        padding_side: Tokenizer padding side; batched generation needs ``left``.
        merge_adapter: Merge the LoRA weights into the base ones (faster generation); False
            keeps a ``PeftModel``.

    Returns:
        ``(model, processor)``: the model on ``device`` in eval mode, the processor with the pixel
        budget and padding side applied.

    Raises:
        IADBenchError: Weights that cannot be found or loaded (the message names the model and
            how to provide it), an invalid adapter directory, or invalid settings.

    Example:
        >>> from iadbench_methods.qwen2vl.tiny import tiny_model_dir
        >>> model, processor = load_model_and_processor(
        ...     str(tiny_model_dir()), device="cpu", precision="auto"
        ... )  # doctest: +SKIP
        >>> processor.tokenizer.padding_side  # doctest: +SKIP
        'left'
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    attention = resolve_attention(attn_implementation, device, precision)
    source = check_model_source(model)
    adapter_dir = check_adapter_dir(adapter) if adapter else None
    try:
        processor = AutoProcessor.from_pretrained(source)
        network: Any = AutoModelForImageTextToText.from_pretrained(
            source,
            dtype=torch_dtype(precision),
            attn_implementation=attention,
            # Straight onto the GPU: a 7B model never needs a full copy in host memory.
            device_map=device if device.startswith("cuda") else None,
        )
    except (OSError, ValueError) as exc:  # not cached, no network, not a checkpoint
        raise IADBenchError(
            _missing_weights_message(model, f"{type(exc).__name__}: {exc}")
        ) from exc
    if not device.startswith("cuda"):
        network = network.to(device)
    if adapter_dir is not None:
        network = _apply_adapter(network, adapter_dir, merge=merge_adapter)
    network.eval()
    set_pixel_budget(processor, max_pixels=max_pixels, min_pixels=min_pixels)
    processor.tokenizer.padding_side = padding_side
    return network, processor


def set_pixel_budget(processor: Any, *, max_pixels: int, min_pixels: int | None = None) -> None:
    """Set the image processor's area bounds (``size`` shortest/longest edge, in pixels).

    Raises:
        IADBenchError: A bound below one merged patch (28²) or ``min_pixels > max_pixels``.
    """
    size = dict(processor.image_processor.size)
    low = size.get("shortest_edge") if min_pixels is None else min_pixels
    if max_pixels < 28 * 28 or (low is not None and not 28 * 28 <= low <= max_pixels):
        raise IADBenchError(
            f"need 784 (28²) <= min_pixels <= max_pixels, got min_pixels={low}, "
            f"max_pixels={max_pixels}"
        )
    size.update(longest_edge=max_pixels, shortest_edge=low)
    processor.image_processor.size = type(processor.image_processor.size)(**size)


def _apply_adapter(network: Any, adapter_dir: str, *, merge: bool) -> Any:
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(network, adapter_dir, is_trainable=False)
    except (OSError, ValueError, KeyError) as exc:
        raise IADBenchError(
            f"cannot apply the adapter {adapter_dir} to this model ({type(exc).__name__}: {exc}); "
            "an adapter only fits the base model it was trained on"
        ) from exc
    return peft_model.merge_and_unload() if merge else peft_model


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("TRANSFORMERS_OFFLINE", ""), os.environ.get("HF_HUB_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(f.upper() in ("1", "ON", "YES", "TRUE") for f in flags)


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def _missing_weights_message(model: str, reason: str) -> str:
    from huggingface_hub import constants

    return (
        f"cannot load the weights of {model!r} ({reason}). Either download them into the "
        f"Hugging Face cache ({constants.HF_HUB_CACHE}; e.g. `hf download {model}` "
        "on a machine with network access, then copy the cache), or point at a local checkpoint "
        "directory with --set model=PATH."
    )

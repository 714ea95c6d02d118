"""Loading the published weights into the assembled model, every expected key checked.

The official code loads ``imagebind_huge.pth`` strictly but its two deltas with
``load_state_dict(..., strict=False)`` (``code/model/openllama.py``, ``code/test_mvtec.py``),
which silently skips a key that is missing or misnamed. Here every file is checked against the
keys the model expects:

* ``imagebind_huge.pth``: the image and text towers' keys (:func:`tower_state_dict`);
* PandaGPT's delta ``pytorch_model.pt``: ``llama_proj.{weight,bias}`` and the LoRA weights
  ``llama_model.<peft names>`` (peft 0.3.0 and current peft name them the same way,
  ``…lora_A.default.weight``; see the README);
* an AnomalyGPT ``pytorch_model.pt``: ``image_decoder.*`` and ``prompt_learner.*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from iadbench.contract.errors import IADBenchError

from .model import AnomalyGPTModel
from .vision import tower_state_dict

LLM_PREFIX = "llama_model."
HEAD_PREFIXES = ("image_decoder.", "prompt_learner.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A ``torch.save``-d state dict (tensors only: ``weights_only``).

    Raises:
        IADBenchError: The file is missing or holds no state dict.
    """
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise IADBenchError(f"weights file {path} does not exist") from None
    if not isinstance(state, Mapping):
        raise IADBenchError(f"{path} holds no state dict")
    return dict(state)


def load_imagebind(model: AnomalyGPTModel, checkpoint: Mapping[str, torch.Tensor]) -> None:
    """Both ImageBind towers from a whole ImageBind state dict (strict per tower)."""
    model.vision.load_state_dict(tower_state_dict(checkpoint, model.vision), strict=True)
    model.text.load_state_dict(tower_state_dict(checkpoint, model.text), strict=True)


def load_pandagpt_delta(model: AnomalyGPTModel, delta: Mapping[str, torch.Tensor]) -> None:
    """``llama_proj`` and every LoRA weight of the LLM from PandaGPT's delta.

    Raises:
        IADBenchError: A LoRA weight or ``llama_proj`` tensor the model has is not in the file.
    """
    lora = {k: v for k, v in model.llm.state_dict().items() if ".lora_" in k}
    wanted = {f"{LLM_PREFIX}{k}": k for k in lora} | {
        f"llama_proj.{k}": k for k in model.heads.llama_proj.state_dict()
    }
    expected = {**lora, **model.heads.llama_proj.state_dict()}
    _require(delta, wanted, "PandaGPT delta", expected)
    model.llm.load_state_dict({k: delta[f"{LLM_PREFIX}{k}"] for k in lora}, strict=False)
    model.heads.llama_proj.load_state_dict(
        {k: delta[f"llama_proj.{k}"] for k in model.heads.llama_proj.state_dict()}, strict=True
    )


def load_anomalygpt_heads(model: AnomalyGPTModel, checkpoint: Mapping[str, torch.Tensor]) -> None:
    """The trained ``image_decoder`` and ``prompt_learner`` (an AnomalyGPT ``pytorch_model.pt``).

    Raises:
        IADBenchError: One of their keys is missing, or has another shape.
    """
    heads = {k: v for k, v in model.heads.state_dict().items() if k.startswith(HEAD_PREFIXES)}
    _require(checkpoint, {k: k for k in heads}, "AnomalyGPT checkpoint", heads)
    model.heads.load_state_dict({k: checkpoint[k] for k in heads}, strict=False)


def _require(
    state: Mapping[str, Any],
    wanted: Mapping[str, str],
    what: str,
    expected: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Every ``wanted`` key present in ``state`` (and, given ``expected``, of the same shape)."""
    missing = sorted(key for key in wanted if key not in state)
    if missing:
        raise IADBenchError(
            f"the {what} lacks {len(missing)} of the {len(wanted)} expected keys, e.g. "
            f"{missing[:3]} (the official loader would have skipped them silently)"
        )
    for key, target in wanted.items():
        if expected is not None and tuple(state[key].shape) != tuple(expected[target].shape):
            raise IADBenchError(
                f"the {what}'s {key} has shape {tuple(state[key].shape)}, the model expects "
                f"{tuple(expected[target].shape)} (another model size?)"
            )


def build_model(
    imagebind: str | Path,
    vicuna: str | Path,
    pandagpt: str | Path,
    checkpoint: str | Path | None = None,
    *,
    vision_config: Any = None,
    text_config: Any = None,
    lora_r: int = 32,
    lora_alpha: int = 32,
    lora_dropout: float = 0.1,
    prompt_channels: tuple[int, ...] | None = None,
) -> AnomalyGPTModel:
    """The model from the published files (``openllama.py``'s construction, current libraries).

    ImageBind towers from ``imagebind`` (huge by default), a ``LlamaForCausalLM`` from the Vicuna
    directory with peft LoRA (official: r 32, alpha 32, dropout 0.1 on q/k/v/o,
    ``code/config/openllama_peft.yaml``), its tokenizer (pad = eos, right padding, as the
    official code sets them), PandaGPT's delta, then optionally a trained AnomalyGPT checkpoint.
    The official code asks for the slow ``LlamaTokenizer``; ``AutoTokenizer`` with
    ``use_fast=False`` gives the same class for a Vicuna directory.
    """
    for path in (imagebind, vicuna, pandagpt, *([checkpoint] if checkpoint else [])):
        if not Path(path).exists():  # before building 1.5 B parameters of towers
            raise IADBenchError(f"weights path {path} does not exist")
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoTokenizer, LlamaForCausalLM

    from .decoder import AnomalyGPTHeads, Widths
    from .text import ImageBindText, TextConfig
    from .tiny import LORA_TARGETS
    from .vision import ImageBindVision, VisionConfig

    vision = ImageBindVision(vision_config or VisionConfig())
    text = ImageBindText(text_config or TextConfig())
    tokenizer = AutoTokenizer.from_pretrained(str(vicuna), use_fast=False)
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM, r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        target_modules=list(LORA_TARGETS),
    )  # fmt: skip
    llm = get_peft_model(LlamaForCausalLM.from_pretrained(str(vicuna)), lora)
    widths = Widths(
        vision=vision.config.width, embed=vision.config.out_dim, llm=llm.config.hidden_size
    )
    if prompt_channels is not None:  # tests build tiny widths; the official ones are the default
        widths = Widths(widths.vision, widths.embed, widths.llm, prompt_channels=prompt_channels)
    model = AnomalyGPTModel(vision, text, AnomalyGPTHeads(widths), llm, tokenizer)
    load_imagebind(model, read_state_dict(imagebind))
    load_pandagpt_delta(model, read_state_dict(pandagpt))
    if checkpoint:
        load_anomalygpt_heads(model, read_state_dict(checkpoint))
    return model.eval()

"""A tiny AnomalyGPT built locally with random weights: the same classes, small widths.

For tests and ``--tiny`` (issue 11): tiny ImageBind towers, tiny decoder / prompt learner, a tiny
``LlamaForCausalLM`` (the architecture of Vicuna) with peft LoRA on q/k/v/o as the official
``LoraConfig`` (r and alpha scaled down), and a byte-level BPE tokenizer trained on
the prompt texts, with LLaMA's special tokens (``<s>``, ``</s>``; pad = eos as the official code).
"""

from __future__ import annotations

from typing import Any

import torch

from .decoder import AnomalyGPTHeads, Widths
from .model import (
    ANSWER_END,
    ASSISTANT,
    PROMPT_MIDDLE,
    PROMPT_START,
    AnomalyGPTModel,
)
from .text import TINY_TEXT, ImageBindText
from .vision import TINY_VISION, ImageBindVision

TINY_LLM_WIDTH = 32
# The official LoraConfig (openllama.py): target modules; r 32, alpha 32, dropout 0.1 from
# code/config/openllama_peft.yaml (read there). The tiny model uses r 4, alpha 4, dropout 0.1.
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        PROMPT_START, PROMPT_MIDDLE, ASSISTANT, ANSWER_END,
        "This is a photo of a bottle for anomaly detection. Is there any anomaly in the image?",
        "No, there is no anomaly in the image.",
        "Yes, there is an anomaly in the image, at the top left of the image.",
    ] * 20  # fmt: skip
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,  # its bar writes to fd 1 from Rust: blank lines in a log
    )
    bpe.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="</s>",
    )  # fmt: skip


def build_tiny_model(seed: int = 0) -> AnomalyGPTModel:
    """Tiny random-weight AnomalyGPT, seeded (the same seed gives the same weights)."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tokenizer = _tokenizer()
    vision = ImageBindVision(TINY_VISION)
    text = ImageBindText(TINY_TEXT)
    heads = AnomalyGPTHeads(
        Widths(
            vision=TINY_VISION.width, embed=TINY_VISION.out_dim, llm=TINY_LLM_WIDTH,
            prompt_channels=(2, 2, 4, 4, 8),
        )
    )  # fmt: skip
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=TINY_LLM_WIDTH, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    lora = LoraConfig(
        task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=4, lora_dropout=0.1,
        target_modules=list(LORA_TARGETS),
    )  # fmt: skip
    llm = get_peft_model(LlamaForCausalLM(config), lora)
    return AnomalyGPTModel(vision, text, heads, llm, tokenizer).eval()

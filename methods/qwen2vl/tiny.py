"""A tiny random-weight Qwen2-VL checkpoint, built locally, loaded exactly like a real one.

``--tiny`` runs, the tests and LR-IAD's training tests need a model of the real classes
(``Qwen2VLForConditionalGeneration``, ``Qwen2VLProcessor`` with its image and video processors, a
Qwen2 byte-level BPE tokenizer with Qwen's special tokens and chat template) that builds without
a download. :func:`tiny_model_dir` writes one with ``save_pretrained`` into the iadbench cache,
once; every later call returns the same directory, which ``from_pretrained`` (and so
:func:`iadbench_methods.qwen2vl.loading.load_model_and_processor`) loads as it loads
``Qwen/Qwen2-VL-7B-Instruct``.

The recipe is deterministic (a fixed BPE corpus, a seeded initialisation), so every machine builds
the same weights; bump :data:`TINY_VERSION` whenever it changes, so that a cached directory of an
older recipe is never reused.

Paper: Qwen2-VL, arXiv 2409.12191, https://arxiv.org/abs/2409.12191

See Also:
    :func:`iadbench_methods.qwen2vl.loading.load_model_and_processor`: loads the directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iadbench.contract.categories import MVTEC_CATEGORIES, VISA_CATEGORIES, natural_name

TINY_VERSION = "1"
TINY_SEED = 0

# Qwen2's special tokens, in the order Qwen's vocabulary holds them (after the BPE tokens).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)  # fmt: skip

# Qwen2-VL's chat format: a default system turn, images and videos as vision-wrapped pad tokens,
# string or list content (trl hands completions back as assistant turns with list content).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}"
    "{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# A 64×64 image becomes 56×56 (multiples of patch 14 × merge 2): 16 patches, 4 visual tokens;
# nothing larger than 112×112 (16 visual tokens) reaches the tiny vision tower by default.
TINY_MIN_PIXELS = 56 * 56
TINY_MAX_PIXELS = 112 * 112

# Text: head size 16, so the three M-RoPE sections (temporal, height, width) add up to 8.
_TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
    "tie_word_embeddings": False,
}
# Vision: the merger's output size (``hidden_size``) must be the text hidden size.
_VISION_CONFIG: dict[str, Any] = {
    "depth": 2,
    "embed_dim": 32,
    "num_heads": 2,
    "mlp_ratio": 2,
    "hidden_size": 64,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}
_BPE_VOCAB_SIZE = 640  # a few hundred merges: the prompt tokenizes to ~100 tokens, not ~400 bytes


def tiny_model_dir(cache_dir: Path | None = None) -> Path:
    """The directory of the tiny Qwen2-VL checkpoint, built on first use.

    Args:
        cache_dir: The iadbench cache root; default
        :func:`iadbench.contract.settings.default_cache_dir`
            (``$IADBENCH_CACHE_DIR`` or ``~/.cache/iadbench``).

    Returns:
        ``<cache_dir>/tiny-models/qwen2-vl-<TINY_VERSION>``, holding ``config.json``,
        ``model.safetensors``, ``generation_config.json``, the tokenizer files and the
        processor configuration (chat template included).

    Example:
        >>> from transformers import AutoModelForImageTextToText, AutoProcessor
        >>> path = tiny_model_dir()  # doctest: +SKIP
        >>> model = AutoModelForImageTextToText.from_pretrained(path)  # doctest: +SKIP
        >>> processor = AutoProcessor.from_pretrained(path)  # doctest: +SKIP
    """
    if cache_dir is None:
        from iadbench.contract.settings import default_cache_dir

        cache_dir = default_cache_dir()
    return build_once(
        Path(cache_dir) / "tiny-models" / f"qwen2-vl-{TINY_VERSION}", _write_checkpoint
    )


def build_once(target: Path, write: Callable[[Path], None]) -> Path:
    """``target``, written by ``write`` into a staging directory and renamed into place once.

    A directory at ``target`` is only ever created by that rename, so it is complete; two
    processes building at once both succeed (the loser of the rename race drops its copy).

    Args:
        target: The directory to provide.
        write: Fills a given empty directory.

    Returns:
        ``target``.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write_checkpoint(directory: Path) -> None:
    """Save a tiny model, tokenizer and processor into ``directory`` (save_pretrained)."""
    import torch
    from transformers import GenerationConfig, Qwen2VLConfig, Qwen2VLForConditionalGeneration

    processor = _build_processor()
    tokenizer = processor.tokenizer
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    config = Qwen2VLConfig(
        text_config={
            **_TEXT_CONFIG,
            "vocab_size": _round_up(len(tokenizer), 64),  # padded, as Qwen's embeddings are
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config=_VISION_CONFIG,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    # fork_rng: seeding must not disturb the caller's random stream (e.g. a training run's).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        model = Qwen2VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)


def _build_processor() -> Any:
    from transformers import (
        Qwen2Tokenizer,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    vocab, merges = _train_bpe()
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]  # pairs: what the BPE trainer gives, accepted
        unk_token=None,  # type: ignore[arg-type]  # byte-level: no unknown token exists
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=list(SPECIAL_TOKENS),
        model_max_length=4096,
    )
    size = {"shortest_edge": TINY_MIN_PIXELS, "longest_edge": TINY_MAX_PIXELS}
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(size=size),
        chat_template=CHAT_TEMPLATE,
    )


# The prompt as recipe 1 trained its vocabulary on (the project's form before issue 19: line breaks
# of the "lines" transcription, ``<think>...</think>``). Frozen here so the tiny weights, and the
# learning proof's figures measured on them, do not move when the prompt options change; every
# byte is in the alphabet, so either transcription still encodes (a few more tokens).
_CORPUS_PROMPT = (
    "This is an image containing a {object}. Analyze the given image and determine if there is "
    "any defect in the object.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> "
    "tags.\n"
    "Options: (A) defect (B) normal.\n"
    "The output answer format should be as follows:\n"
    "<think>...</think> <answer>A or B</answer>\n"
    "Please strictly follow the format."
)


def _train_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE vocabulary trained on the texts a tiny run sees (deterministic).

    Every byte is in the alphabet, so any text round-trips; the merges make the prompt, the
    answer format and the chat markup short, which keeps tiny runs fast.
    """
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    categories = sorted({*MVTEC_CATEGORIES, *VISA_CATEGORIES})
    corpus = [_CORPUS_PROMPT.format(object=natural_name(category)) for category in categories] + [
        "system\nYou are a helpful assistant.\nuser\nassistant\n",
        "<think>The object looks clean: no scratch, crack, dent, hole, stain or missing part."
        "</think> <answer>A</answer> <answer>B</answer> <answer>(A)</answer>",
    ]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    # Special tokens get fixed ids after the BPE tokens, in Qwen's order (<|endoftext|> first).
    vocab.update({token: len(vocab) + i for i, token in enumerate(SPECIAL_TOKENS)})
    return vocab, [tuple(pair) for pair in model["merges"]]


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple

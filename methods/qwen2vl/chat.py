"""The one way Qwen2-VL inputs are built and answers generated, for every caller.

The ``qwen2-vl`` adapter (and LR-IAD's, which inherits it), LR-IAD's held-out monitor, its GRPO
trainer (the letter probabilities) and the learning task's warm start all turn a chat turn and
an image into model inputs, and the evaluating ones generate greedily. Doing it here once keeps
the text the model is trained on, monitored on and evaluated on the same, token for token.

Example:
    >>> from iadbench_methods.qwen2vl.loading import load_model_and_processor
    >>> from iadbench_methods.qwen2vl.tiny import tiny_model_dir
    >>> model, processor = load_model_and_processor(
    ...     str(tiny_model_dir()), device="cpu", precision="auto")  # doctest: +SKIP
    >>> encoded = encode_chat(processor, [category_chat_text(processor, "bottle")], [image])
    ... # doctest: +SKIP
    >>> new_ids, _ = greedy_generate(model, encoded, max_new_tokens=8)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .prompt import DEFAULT_PROMPT, build_messages


def chat_text(processor: Any, messages: Sequence[Mapping[str, Any]], **template_kwargs: Any) -> str:
    """A conversational prompt as the model reads it, with the assistant's turn opened.

    Args:
        processor: The Qwen2-VL processor (its chat template).
        messages: The chat turns (a user turn with an image placeholder and the prompt).
        template_kwargs: More chat-template arguments (trl's ``chat_template_kwargs``).
    """
    text: str = processor.apply_chat_template(
        list(messages), add_generation_prompt=True, tokenize=False, **template_kwargs
    )
    return text


def category_chat_text(processor: Any, category: str, prompt: str = DEFAULT_PROMPT) -> str:
    """The paper's prompt (variant ``prompt``) for an image of ``category`` (:mod:`~.prompt`)."""
    return chat_text(processor, build_messages(category, prompt))


def encode_chat(processor: Any, texts: Sequence[str], images: Sequence[Any]) -> Any:
    """Model inputs for chat texts and their images, left-padded to one width.

    Args:
        processor: The Qwen2-VL processor; its tokenizer pads on the left (set at loading),
            so every prompt ends at the same column and generation continues from there.
        texts: One chat text per image (:func:`chat_text`).
        images: One image (RGB ``PIL.Image``) per text, or one list of images per text.

    Returns:
        The processor's batch (``input_ids``, ``attention_mask``, ``pixel_values``...) as
        tensors on the CPU.
    """
    return processor(text=list(texts), images=list(images), padding=True, return_tensors="pt")


def greedy_generate(
    model: Any, encoded: Any, *, max_new_tokens: int, **generate_kwargs: Any
) -> tuple[Any, Any]:
    """Greedy continuations of ``encoded`` prompts: the new token ids, and ``generate``'s output.

    Args:
        model: The Qwen2-VL model.
        encoded: :func:`encode_chat`'s batch, on the model's device.
        max_new_tokens: Generation cap.
        generate_kwargs: More ``generate`` arguments (``output_logits``, ``use_cache``...).

    Returns:
        ``(new_ids, output)``: the generated ids after each prompt (``(rows, steps)``), and
        ``generate``'s dict output (``sequences``, and ``logits`` when asked for).
    """
    output = model.generate(
        **encoded,
        do_sample=False,
        max_new_tokens=max_new_tokens,
        # Checkpoints ship sampling defaults; greedy ignores them, so unset them.
        temperature=None,
        top_p=None,
        top_k=None,
        return_dict_in_generate=True,
        **generate_kwargs,
    )
    # Left padding: every prompt ends at the same column.
    return output.sequences[:, encoded["input_ids"].shape[1] :], output

"""The prompt of LR-IAD and of the base Qwen2-VL row, and the chat turn that carries it.

The text is the paper's as the project's design card transcribes it (not re-checked against the
paper, which could not be read offline; whether a space or a line break follows "a {object}."
is open); ``{object}`` is the category's natural name
(:func:`iadbench.contract.categories.natural_name`: ``metal_nut`` → "metal nut", ``pcb1`` → "printed
circuit board").

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.qwen2vl.answers`: the strict parser of the format it asks for.
"""

from __future__ import annotations

from typing import Any

from iadbench.contract.categories import natural_name

PROMPT_TEMPLATE = (
    "This is an image containing a {object}. Analyze the given image and determine if there is "
    "any defect in the object.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> "
    "tags.\n"
    "Options: (A) defect (B) normal.\n"
    "The output answer format should be as follows:\n"
    "<think>...</think> <answer>A or B</answer>\n"
    "Please strictly follow the format."
)


def build_prompt(category: str) -> str:
    """The prompt for one image of ``category`` (a dataset's category folder name).

    Example:
        >>> build_prompt("metal_nut").splitlines()[0][:40]
        'This is an image containing a metal nut.'
    """
    return PROMPT_TEMPLATE.format(object=natural_name(category))


def build_messages(category: str) -> list[dict[str, Any]]:
    """One user chat turn: the image placeholder, then the prompt.

    This is the conversational form that both ``processor.apply_chat_template`` and trl's
    ``GRPOTrainer`` (a ``prompt`` column next to an ``image`` column) take; the placeholder
    becomes ``<|vision_start|><|image_pad|><|vision_end|>`` in Qwen's chat template.

    Example:
        >>> turn, = build_messages("bottle")
        >>> turn["role"], [part["type"] for part in turn["content"]]
        ('user', ['image', 'text'])
    """
    return [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": build_prompt(category)}],
        }
    ]

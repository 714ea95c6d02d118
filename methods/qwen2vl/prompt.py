"""The prompt of LR-IAD and of the base Qwen2-VL row, and the chat turn that carries it.

The paper's prompt reaches the project in two transcriptions that disagree in two places (both
quoted in the design card, ``shared/DESIGN.md``, "Prompt"; neither could be checked against the
PDF offline):

* ``lines`` (the default): one line per sentence, and ``<think></think>`` in the format line;
* ``typeset``: the first two sentences and the "Output the thinking process" sentence on one
  line, and ``<think> ... </think>`` in the format line.

The ``prompt`` option (``--set prompt=typeset``) picks one; it enters the run's configuration
hash and the method's description in the manifest and summary. ``{object}`` is the category's
natural name (:func:`iadbench.contract.categories.natural_name`: ``metal_nut`` → "metal nut",
``pcb1`` → "printed circuit board").

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.qwen2vl.answers`: the strict parser of the format it asks for.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from iadbench.contract.categories import natural_name

_FIRST = (
    "This is an image containing a {object}. Analyze the given image and determine if there is "
    "any defect in the object."
)
_OUTPUT = (
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
)
_OPTIONS = "Options: (A) defect (B) normal.\nThe output answer format should be as follows:"
_STRICT = "Please strictly follow the format."

#: Prompt variant → template: the two transcriptions of the paper's text (see the module doc).
PROMPT_TEMPLATES: dict[str, str] = {
    "lines": "\n".join(
        [_FIRST, _OUTPUT, _OPTIONS, "<think></think> <answer>A or B</answer>", _STRICT]
    ),
    "typeset": "\n".join(
        [f"{_FIRST} {_OUTPUT}", _OPTIONS, "<think> ... </think> <answer>A or B</answer>", _STRICT]
    ),
}
#: The variant used unless the ``prompt`` option names the other.
DEFAULT_PROMPT: Final[Literal["lines"]] = "lines"


def build_prompt(category: str, variant: str = DEFAULT_PROMPT) -> str:
    """The prompt for one image of ``category`` (a dataset's category folder name).

    Args:
        category: The category folder name.
        variant: ``lines`` (default) or ``typeset``: which transcription of the paper's text.

    Example:
        >>> build_prompt("metal_nut").splitlines()[0][:40]
        'This is an image containing a metal nut.'
        >>> [len(build_prompt("pill", v).splitlines()) for v in ("lines", "typeset")]
        [6, 5]
    """
    return PROMPT_TEMPLATES[variant].format(object=natural_name(category))


def build_messages(category: str, variant: str = DEFAULT_PROMPT) -> list[dict[str, Any]]:
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
            "content": [
                {"type": "image"},
                {"type": "text", "text": build_prompt(category, variant)},
            ],
        }
    ]

"""The normal / abnormal prompt ensembles that AprilGAN compares image features with.

The three tuples below are the official AprilGAN ensemble, as data and in its order:
``prompt_normal``, ``prompt_abnormal`` and ``prompt_templates`` of
``encode_text_with_prompt_ensemble`` in ``prompt_ensemble.py`` of
https://github.com/ByChelsea/VAND-APRIL-GAN (7 normal states, 5 abnormal states, 35
templates). A state's sentences are every state phrase (filled with the object name) inside
every template, state-major: ``[template.format(state.format(name)) for state in states for
template in templates]``, as the official loop builds them.

The object name: the official code fills in ``cls_name`` of its ``meta.json``, i.e. the
category folder name as is (``data/mvtec.py`` and ``data/visa.py`` write ``cls_name=cls_name``
from their ``CLSNAMES`` lists: ``metal_nut``, ``pcb1``, ``pipe_fryum``; ``dataset.py`` and
``test.py`` pass it on unchanged). ``class_names="natural"`` uses
:func:`iadbench.contract.categories.natural_name` instead (``metal nut``, ``printed circuit
board``).
"""

from __future__ import annotations

from typing import Literal

from iadbench.contract.categories import natural_name

ClassNames = Literal["official", "natural"]

# prompt_ensemble.py (VAND-APRIL-GAN), `prompt_normal`, verbatim and in order.
NORMAL_STATES: tuple[str, ...] = (
    "{}",
    "flawless {}",
    "perfect {}",
    "unblemished {}",
    "{} without flaw",
    "{} without defect",
    "{} without damage",
)

# prompt_ensemble.py (VAND-APRIL-GAN), `prompt_abnormal`, verbatim and in order.
ABNORMAL_STATES: tuple[str, ...] = (
    "damaged {}",
    "broken {}",
    "{} with flaw",
    "{} with defect",
    "{} with damage",
)

# prompt_ensemble.py (VAND-APRIL-GAN), `prompt_templates`, verbatim and in order.
TEMPLATES: tuple[str, ...] = (
    "a bad photo of a {}.",
    "a low resolution photo of the {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a bright photo of a {}.",
    "a dark photo of the {}.",
    "a photo of my {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a photo of one {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "a low resolution photo of a {}.",
    "a photo of a large {}.",
    "a blurry photo of a {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a photo of the small {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "a dark photo of a {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "there is a {} in the scene.",
    "there is the {} in the scene.",
    "this is a {} in the scene.",
    "this is the {} in the scene.",
    "this is one {} in the scene.",
)


def object_name(category: str, class_names: ClassNames = "official") -> str:
    """The object name that fills the prompts.

    Example:
        >>> object_name("metal_nut"), object_name("metal_nut", "natural")
        ('metal_nut', 'metal nut')
    """
    if class_names == "official":
        return category  # the folder name as is, as the official meta.json's cls_name
    if class_names == "natural":
        return natural_name(category)
    raise ValueError(f"class_names must be 'official' or 'natural', got {class_names!r}")


def prompt_ensemble(
    category: str, class_names: ClassNames = "official"
) -> tuple[list[str], list[str]]:
    """The normal and the abnormal prompts of a category.

    Args:
        category: Category folder name (``"metal_nut"``).
        class_names: ``official`` (the folder name as is) or ``natural``.

    Returns:
        ``(normal_prompts, abnormal_prompts)``: 7 × 35 and 5 × 35 sentences, state-major.

    Example:
        >>> normal, abnormal = prompt_ensemble("metal_nut")
        >>> normal[0], abnormal[-1]
        ('a bad photo of a metal_nut.', 'this is one metal_nut with damage in the scene.')
    """
    name = object_name(category, class_names)

    def fill(states: tuple[str, ...]) -> list[str]:
        return [template.format(state.format(name)) for state in states for template in TEMPLATES]

    return fill(NORMAL_STATES), fill(ABNORMAL_STATES)

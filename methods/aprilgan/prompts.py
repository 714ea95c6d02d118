"""The normal / abnormal prompt ensembles that AprilGAN compares image features with.

AprilGAN (like WinCLIP before it) does not describe a state with one sentence: it averages the
text embeddings of every combination of a *state phrase* ("flawless {object}", "{object} with a
defect") and a *template* ("a photo of a {}."). The lists below are this project's own wording
of that idea; the category's natural name (``iadbench.categories.natural_name``) fills
``{object}``.
"""

from __future__ import annotations

from iadbench.categories import natural_name

NORMAL_STATES: tuple[str, ...] = (
    "{}",
    "flawless {}",
    "perfect {}",
    "intact {}",
    "{} without defect",
    "{} without damage",
    "{} without flaw",
)

ABNORMAL_STATES: tuple[str, ...] = (
    "damaged {}",
    "broken {}",
    "defective {}",
    "{} with a defect",
    "{} with damage",
    "{} with a flaw",
)

TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a photo of the {}.",
    "a close-up photo of a {}.",
    "a cropped photo of the {}.",
    "a bright photo of a {}.",
    "a dark photo of the {}.",
    "a blurry photo of a {}.",
    "a low resolution photo of the {}.",
    "an industrial photo of a {}.",
    "a photo of a {} for visual inspection.",
    "a photo of the {} for anomaly detection.",
    "there is a {} in the scene.",
)


def prompt_ensemble(category: str) -> tuple[list[str], list[str]]:
    """The normal and the abnormal prompts of a category.

    Args:
        category: Category folder name (``"metal_nut"``); its natural name fills the prompts.

    Returns:
        ``(normal_prompts, abnormal_prompts)``, every state phrase inside every template.

    Example:
        >>> normal, abnormal = prompt_ensemble("metal_nut")
        >>> normal[1], abnormal[0]
        ('a photo of the metal nut.', 'a photo of a damaged metal nut.')
    """
    name = natural_name(category)

    def fill(states: tuple[str, ...]) -> list[str]:
        return [template.format(state.format(name)) for state in states for template in TEMPLATES]

    return fill(NORMAL_STATES), fill(ABNORMAL_STATES)

"""The question AnomalyGPT is asked about an image, and the class name its text features use.

Descriptions are data (``descriptions.toml``, verbatim from the official code, training and test
texts apart). A category the official code never described (a user's own parts) gets a generic
description in the same words as the official texture categories — iadbench's choice, not the
official code's.

At test time the official code does not take the class name of the text features from the
category: ``code/model/openllama.py`` (f21c51b, ``extract_multimodal_feature``, lines 588-593)
takes the first entry of its ``CLASS_NAMES`` (lines 14-15) found as a substring of the whole
prompt, else ``'object'`` (:func:`official_class_name`). On the official test prompts that maps
VisA capsules → capsule, macaroni1/2 → macaroni, pcb1-4 → pcb, pipe_fryum → fryum (``fryum``
comes first in the list) and chewinggum → object (its description says "chewinggom").
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

ClassNameRule = Literal["official", "folder"]

ASK = "Is there any anomaly in the image?"  # code/datasets/mvtec.py, code/test_mvtec.py
GENERIC = (
    "This is a photo of {name} for anomaly detection, which should be without any damage, flaw, "
    "defect, scratch, hole or broken part."
)


# openllama.py lines 14-15, verbatim and in order: the ORDER matters (first match wins).
OFFICIAL_CLASS_NAMES: tuple[str, ...] = (
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal nut", "pill",
    "screw", "tile", "toothbrush", "transistor", "wood", "zipper", "object",
    "candle", "cashew", "chewinggum", "fryum", "macaroni", "pcb", "pipe fryum",
)  # fmt: skip
FALLBACK_CLASS_NAME = "object"  # openllama.py line 589


@cache
def _descriptions() -> dict[str, dict[str, dict[str, str]]]:
    text = (
        resources.files("iadbench_methods.anomalygpt")
        .joinpath("descriptions.toml")
        .read_text(encoding="utf-8")
    )
    return tomllib.loads(text)


def question(dataset: str, category: str, stage: Literal["train", "test"] = "test") -> str:
    """``"{description} Is there any anomaly in the image?"`` for one image's category.

    Example:
        >>> question("mvtec", "bottle")[:44]
        'This is a photo of a bottle for anomaly dete'
        >>> question("my-parts", "gear_box").startswith("This is a photo of gear box for")
        True
    """
    described = _descriptions()[stage].get(dataset, {})
    description = described.get(category) or GENERIC.format(name=category.replace("_", " "))
    return f"{description} {ASK}"


def official_class_name(prompt: str) -> str:
    """The official test-time class name: the first ``CLASS_NAMES`` entry inside ``prompt``.

    Example:
        >>> official_class_name(question("visa", "pipe_fryum"))  # "fryum" precedes "pipe fryum"
        'fryum'
        >>> official_class_name(question("visa", "chewinggum"))  # the description's "chewinggom"
        'object'
    """
    return next((name for name in OFFICIAL_CLASS_NAMES if name in prompt), FALLBACK_CLASS_NAME)


def text_class_name(dataset: str, category: str, rule: ClassNameRule = "official") -> str:
    """The class name whose text features give an image's zero-shot map at test time.

    Args:
        dataset: The image's dataset name (``mvtec``, ``visa`` or a user's own).
        category: The image's category (its folder name).
        rule: ``official``: :func:`official_class_name` of the question iadbench asks (the test
            description, typo included, then the ask) — what the published numbers used;
            ``folder``: the category itself (``_`` becomes a space later, as in training).

    Example:
        >>> text_class_name("visa", "pcb3"), text_class_name("visa", "pcb3", "folder")
        ('pcb', 'pcb3')
    """
    if rule == "folder":
        return category
    return official_class_name(question(dataset, category, "test"))

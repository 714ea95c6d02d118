"""The question AnomalyGPT is asked about an image: its category's description, then the ask.

Descriptions are data (``descriptions.toml``, verbatim from the official code, training and test
texts apart). A category the official code never described (a user's own parts) gets a generic
description in the same words as the official texture categories — iadbench's choice, not the
official code's.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

ASK = "Is there any anomaly in the image?"  # code/datasets/mvtec.py, code/test_mvtec.py
GENERIC = (
    "This is a photo of {name} for anomaly detection, which should be without any damage, flaw, "
    "defect, scratch, hole or broken part."
)


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

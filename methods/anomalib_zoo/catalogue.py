"""The anomalib model zoo as data: one entry per anomalib image model, without importing anomalib.

``iadbench list``, ``--help`` and planning read this module, so it imports neither anomalib nor
torch (importing ``anomalib.models`` costs 10-16 s of CPU). Its data, ``catalogue_data.json``,
is written by :mod:`iadbench_methods.anomalib_zoo.generate_catalogue` from the installed anomalib
(constructor signatures, docstrings, default pre-processors) plus that module's hand-checked
tables (``--tiny`` overrides, offline needs); a test regenerates it and compares byte for byte.
The zoo page, ``docs/anomalib-zoo.md``, says where each fact was read.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

DATA_FILE = Path(__file__).with_name("catalogue_data.json")

# The types a ``--set KEY=VALUE`` can carry, as ZooOption.type spells them; sequences are
# written comma-separated on the command line (``layers=layer2,layer3``).
SCALAR_TYPES = ("int", "float", "bool", "str")
SEQUENCE_TYPES = ("list[int]", "list[float]", "list[str]", "tuple[int,int]")
OPTION_TYPES = tuple(
    kind + suffix for kind in SCALAR_TYPES + SEQUENCE_TYPES for suffix in ("", "|None")
)

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ZooOption:
    """One constructor argument of an anomalib model that ``--set`` can carry.

    Attributes:
        name: The constructor argument's name.
        type: One of :data:`OPTION_TYPES` (what ``--set`` parses; ``|None`` accepts ``none``).
        default: The constructor's default, JSON-ready (enums as their value, tuples as lists).
        help: One line from anomalib's docstring (its ``Args:`` section).
        choices: The accepted values when anomalib takes an enum (empty otherwise).
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ZooEntry:
    """One anomalib image model as an iadbench method.

    Attributes:
        method: The iadbench method name, ``anomalib-<lowercase class name>``.
        model_class: The class's name in ``anomalib.models``.
        summary: One line for ``iadbench list`` (the class docstring's first line).
        options: The constructor's own arguments that ``--set`` can carry.
        tiny: Constructor overrides ``--tiny`` applies (small backbone, ``pre_trained=False``,
            ...); every key is one of ``options``.
        needs: None when the model builds and trains offline with ``tiny``; else one sentence
            naming the asset missing offline and where it goes.
        image_size: The side of anomalib's default pre-processor's output.
        tiny_image_size: The side under ``--tiny`` (the output of ``tiny_pre_processor``).
        tiny_pre_processor: Keyword arguments of the class's ``configure_pre_processor`` under
            ``--tiny`` (sizes as lists; pass them as tuples).
        learning_type: anomalib's ``learning_type`` (``one_class``, ``zero_shot``, ...).
        memory_bank: A memory-bank model: one pass over the normals, no optimiser.
        max_epochs: The ``max_epochs`` the model's ``trainer_arguments`` fix (None: the caller's).
        gives_maps: The model returns an anomaly map (False: image scores only).
        skipped: Constructor arguments ``--set`` cannot carry (objects, nested lists).
    """

    method: str
    model_class: str
    summary: str
    options: tuple[ZooOption, ...]
    tiny: Mapping[str, Any]
    needs: str | None
    image_size: int
    tiny_image_size: int
    tiny_pre_processor: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    learning_type: str = "one_class"
    memory_bank: bool = False
    max_epochs: int | None = None
    gives_maps: bool = True
    skipped: tuple[str, ...] = ()

    def option(self, name: str) -> ZooOption:
        """The option called ``name``.

        Raises:
            KeyError: The model has no such option.
        """
        for item in self.options:
            if item.name == name:
                return item
        raise KeyError(f"{self.method} has no option {name!r}")


def _frozen(value: Any) -> Any:
    """JSON lists as tuples, so entries stay immutable and hashable values."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _entry(record: Mapping[str, Any]) -> ZooEntry:
    options = tuple(
        ZooOption(
            name=o["name"],
            type=o["type"],
            default=_frozen(o["default"]),
            help=o["help"],
            choices=tuple(o.get("choices", ())),
        )
        for o in record["options"]
    )
    return ZooEntry(
        method=record["method"],
        model_class=record["model_class"],
        summary=record["summary"],
        options=options,
        tiny=MappingProxyType({k: _frozen(v) for k, v in record["tiny"].items()}),
        needs=record["needs"],
        image_size=record["image_size"],
        tiny_image_size=record["tiny_image_size"],
        tiny_pre_processor=MappingProxyType(
            {k: _frozen(v) for k, v in record["tiny_pre_processor"].items()}
        ),
        learning_type=record["learning_type"],
        memory_bank=record["memory_bank"],
        max_epochs=record["max_epochs"],
        gives_maps=record["gives_maps"],
        skipped=tuple(record["skipped"]),
    )


def _load() -> tuple[str, Mapping[str, ZooEntry], Mapping[str, str]]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    entries = sorted((_entry(r) for r in data["models"]), key=lambda e: e.method)
    return (
        data["anomalib_version"],
        MappingProxyType({e.method: e for e in entries}),
        MappingProxyType(dict(sorted(data["excluded"].items()))),
    )


ANOMALIB_VERSION, ZOO, EXCLUDED = _load()
"""The anomalib version the data was generated from; entries by method name (sorted); the
anomalib image models left out of the zoo (class name → the reason, one sentence)."""


def zoo_entry(method: str) -> ZooEntry:
    """The entry of ``method`` (``anomalib-patchcore``).

    Raises:
        KeyError: No zoo method has that name.
    """
    try:
        return ZOO[method]
    except KeyError:
        raise KeyError(f"no anomalib zoo method {method!r}") from None


def offline_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the Hugging Face offline switch (``HF_HUB_OFFLINE``) is on in ``environ``."""
    env = os.environ if environ is None else environ
    return env.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def offline_problem(entry: ZooEntry, environ: Mapping[str, str] | None = None) -> str | None:
    """Why ``entry`` cannot run here, as one sentence, or None when it can.

    Only offline (``HF_HUB_OFFLINE`` on) is refused: online, anomalib downloads what it needs
    on first use. The sentence names the missing asset and where it goes (``entry.needs``).

    Example:
        >>> offline_problem(ZOO["anomalib-patchcore"], {"HF_HUB_OFFLINE": "1"}) is None
        True
    """
    if entry.needs is None or not offline_enabled(environ):
        return None
    return f"{entry.method} cannot run offline (HF_HUB_OFFLINE is set): {entry.needs}"


def parse_option(option: ZooOption, text: str) -> Any:
    """The constructor value of ``--set name=text`` for ``option``.

    Sequences are comma-separated; ``none`` (or empty) is None where the type allows it.

    Raises:
        ValueError: The text does not fit the option's type or choices.

    Example:
        >>> parse_option(ZooOption("layers", "list[str]", ["layer2"], ""), "layer2,layer3")
        ('layer2', 'layer3')
    """
    kind, optional = option.type.removesuffix("|None"), option.type.endswith("|None")
    if optional and text.strip().lower() in {"", "none", "null"}:
        return None
    if option.choices and text not in option.choices:
        raise ValueError(
            f"option {option.name} must be one of {', '.join(option.choices)}, got {text!r}"
        )
    if kind in SCALAR_TYPES:
        return _scalar(option.name, kind, text)
    inner = "int" if kind == "tuple[int,int]" else kind[len("list[") : -1]
    values = tuple(_scalar(option.name, inner, part.strip()) for part in text.split(","))
    if kind == "tuple[int,int]" and len(values) != 2:
        raise ValueError(f"option {option.name} expects two integers A,B, got {text!r}")
    return values


def option_text(option: ZooOption, value: Any) -> str:
    """``value`` as ``--set`` text that :func:`parse_option` reads back (``tiny`` values).

    Example:
        >>> option_text(ZooOption("pre_trained", "bool", True, ""), False)
        'false'
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(option_text(option, v) for v in value)
    return str(value)


def _scalar(name: str, kind: str, text: str) -> Any:
    if kind == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"option {name} expects true/false, got {text!r}")
    if kind in ("int", "float"):
        try:
            number = int(text) if kind == "int" else float(text)
        except ValueError:
            raise ValueError(f"option {name} expects {kind}, got {text!r}") from None
        if not math.isfinite(number):  # nan passes every range check and poisons training
            raise ValueError(f"option {name} expects a finite number, got {text!r}")
        return number
    return text

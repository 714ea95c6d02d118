"""A method's options: ``--set KEY=VALUE`` overrides, per-option metadata, and their help.

Options are a frozen dataclass. A field may carry metadata through :func:`option`: whether it
only changes inference (left out of the training hash, so one trained model serves every value),
whether it names trained weights that replace the training stage, and what ``--tiny`` sets it
to. Help text comes from ``option(help=...)`` or, failing that, from
the dataclass docstring's ``Attributes:`` section, so each option is documented once.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from iadbench.contract.errors import IADBenchError, UnknownNameError

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class OptionError(IADBenchError):
    """A ``--set`` override is malformed or has the wrong type."""


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``.

    Raises:
        OptionError: An item has no ``=`` or an empty key.
    """
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"expected KEY=VALUE, got {item!r}")
        result[key.strip()] = value
    return result


def _coerce(text: str, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if type(None) in args and text.lower() in {"none", "null", ""}:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(text, arg, key)
            except OptionError:
                continue
        raise OptionError(f"option {key}={text!r} fits none of {annotation}")
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        if text not in choices:
            raise OptionError(
                f"option {key} must be one of {', '.join(map(str, choices))}, got {text!r}"
            )
        return text
    if annotation is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise OptionError(f"option {key} expects true/false, got {text!r}")
    if annotation in (int, float):
        try:
            value = annotation(text)
        except ValueError:
            raise OptionError(f"option {key} expects {annotation.__name__}, got {text!r}") from None
        if not math.isfinite(value):  # nan passes every `< 0` check and poisons training
            raise OptionError(f"option {key} expects a finite number, got {text!r}")
        return value
    if annotation is str:
        return text
    raise OptionError(f"option {key} has a type ({annotation}) that --set cannot fill")


def option_text(value: Any) -> str:
    """An option value as ``--set KEY=VALUE`` writes it, so :func:`build_options` reads it back.

    Example:
        >>> option_text(True), option_text(None), option_text(0.5)
        ('true', 'none', '0.5')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def build_options(options_cls: type, overrides: dict[str, str]) -> Any:
    """An instance of the method's options dataclass with ``overrides`` applied.

    Raises:
        UnknownNameError: A key that is not an option of the method (with close matches).
        OptionError: A value that does not convert to the option's type.
    """
    if not dataclasses.is_dataclass(options_cls):
        raise TypeError(f"{options_cls} must be a dataclass")
    fields = {f.name: f for f in dataclasses.fields(options_cls) if f.init}
    hints = typing.get_type_hints(options_cls)
    values = {}
    for key, text in overrides.items():
        if key not in fields:
            raise UnknownNameError("option", key, fields)
        values[key] = _coerce(text, hints[key], key)
    return options_cls(**values)


def option(
    default: Any,
    *,
    help: str = "",
    inference_only: bool = False,
    replaces_training: bool = False,
    tiny: str | None = None,
) -> Any:
    """A dataclass field for an options class, with what iadbench needs to know about it.

    Args:
        default: The default value (immutable: options are frozen dataclasses).
        help: One line for ``iadbench list --options`` (else the docstring's Attributes entry).
        inference_only: Changes inference only: left out of the training hash.
        replaces_training: When set (truthy), names trained weights to evaluate: the method
            then does not train (:func:`iadbench.contract.method.trains`).
        tiny: The value ``--tiny`` sets (as ``--set`` text), before the user's ``--set``.

    Example:
        >>> @dataclasses.dataclass(frozen=True)
        ... class Options:
        ...     epochs: int = option(15, tiny="1", help="training epochs")
        >>> tiny_values(Options), describe_options(Options)[0].help
        ({'epochs': '1'}, 'training epochs')
    """
    metadata = {
        "help": help,
        "inference_only": inference_only,
        "replaces_training": replaces_training,
        "tiny": tiny,
    }
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class OptionInfo:
    """One option as ``iadbench list --options`` shows it."""

    name: str
    type: str
    default: Any
    choices: tuple[str, ...]
    help: str
    inference_only: bool
    replaces_training: bool
    tiny: str | None


def describe_options(options_cls: type) -> list[OptionInfo]:
    """Every option of ``options_cls`` with type, default, choices, help and metadata."""
    if not dataclasses.is_dataclass(options_cls):
        return []
    try:
        hints = typing.get_type_hints(options_cls)
    except NameError:  # an annotation that names something not importable: show it as written
        hints = {f.name: f.type for f in dataclasses.fields(options_cls)}
    documented = _attribute_docs(options_cls)
    tiny = tiny_values(options_cls)
    infos = []
    for field in dataclasses.fields(options_cls):
        if not field.init:
            continue
        annotation = hints.get(field.name, Any)
        infos.append(
            OptionInfo(
                name=field.name,
                type=_type_name(annotation),
                default=field.default if field.default is not dataclasses.MISSING else None,
                choices=_choices(annotation),
                help=field.metadata.get("help") or documented.get(field.name, ""),
                inference_only=bool(field.metadata.get("inference_only")),
                replaces_training=bool(field.metadata.get("replaces_training")),
                tiny=tiny.get(field.name),
            )
        )
    return infos


def inference_only_names(options_cls: type) -> frozenset[str]:
    """Options left out of the training hash (``option(..., inference_only=True)``)."""
    if not dataclasses.is_dataclass(options_cls):
        return frozenset()
    fields = dataclasses.fields(options_cls)
    return frozenset(f.name for f in fields if f.metadata.get("inference_only"))


def tiny_values(options_cls: type) -> dict[str, str]:
    """What ``--tiny`` sets (``option(..., tiny="...")``), as ``--set`` text."""
    if not dataclasses.is_dataclass(options_cls):
        return {}
    return {
        f.name: str(f.metadata["tiny"])
        for f in dataclasses.fields(options_cls)
        if f.metadata.get("tiny") is not None
    }


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "choice"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _choices(annotation: Any) -> tuple[str, ...]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return tuple(str(c) for c in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return tuple(c for arg in typing.get_args(annotation) for c in _choices(arg))
    return ()


_ATTRIBUTE_LINE = re.compile(r"^(\s+)(\w+)(?: \([^)]*\))?: (.*)$")


def _attribute_docs(options_cls: type) -> dict[str, str]:
    """``name → text`` from Google-style ``Attributes:`` sections (the class and its bases)."""
    docs: dict[str, str] = {}
    for cls in reversed(options_cls.__mro__):
        text = inspect.getdoc(cls) if cls.__doc__ else None
        if not text or "Attributes:" not in text:
            continue
        section = text.split("Attributes:", 1)[1]
        current, indent = None, None
        for line in section.splitlines():
            if not line.strip():
                continue
            match = _ATTRIBUTE_LINE.match(line)
            if match and (indent is None or len(match.group(1)) == indent):
                indent = len(match.group(1))
                current = match.group(2)
                docs[current] = match.group(3).strip()
            elif current and indent is not None and len(line) - len(line.lstrip()) > indent:
                docs[current] += " " + line.strip()
            elif indent is not None and len(line) - len(line.lstrip()) < indent:
                break
    return docs

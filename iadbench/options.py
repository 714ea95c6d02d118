"""``--set KEY=VALUE`` overrides turned into a method's typed options dataclass."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable
from typing import Any

from iadbench.errors import IADBenchError, UnknownNameError

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

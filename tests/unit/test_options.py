from dataclasses import dataclass
from typing import Literal

import pytest

from iadbench.errors import UnknownNameError
from iadbench.options import OptionError, build_options, parse_assignments


@dataclass(frozen=True)
class _Options:
    lr: float = 1e-3
    steps: int = 10
    bf16: bool = False
    model: str = "Qwen/Qwen2-VL-7B-Instruct"
    adapter: str | None = None
    score: Literal["text", "map-max"] = "text"


def test_values_are_converted_to_the_field_types():
    options = build_options(
        _Options, {"lr": "5e-5", "steps": "3", "bf16": "true", "adapter": "none"}
    )
    assert options == _Options(lr=5e-5, steps=3, bf16=True, adapter=None)


def test_optional_string_takes_a_path():
    assert build_options(_Options, {"adapter": "/x/y"}).adapter == "/x/y"


def test_literal_rejects_other_values():
    with pytest.raises(OptionError, match="must be one of text, map-max"):
        build_options(_Options, {"score": "max"})


def test_unknown_key_suggests_close_names():
    with pytest.raises(UnknownNameError, match="Did you mean 'steps'"):
        build_options(_Options, {"step": "1"})


def test_bad_number_names_the_option():
    with pytest.raises(OptionError, match="steps expects int"):
        build_options(_Options, {"steps": "many"})


def test_assignment_without_equals_is_rejected():
    with pytest.raises(OptionError, match="KEY=VALUE"):
        parse_assignments(["lr"])


def test_value_may_contain_equals():
    assert parse_assignments(["model=a=b"]) == {"model": "a=b"}

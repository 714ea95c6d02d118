import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

from iadbench.contract.errors import UnknownNameError
from iadbench.contract.options import (
    OptionError,
    build_options,
    describe_options,
    inference_only_names,
    option,
    parse_assignments,
    tiny_values,
)


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


@dataclasses.dataclass(frozen=True)
class _DocumentedOptions:
    """Options.

    Attributes:
        epochs: Training epochs, documented
            on two lines.
        score: How maps become a score.
    """

    epochs: int = option(15, tiny="1")
    score: Literal["text", "map-max"] = option("text", inference_only=True, help="Score.")
    plain: float = 0.5


def test_option_metadata_help_choices_and_docstring_fallback():
    Options = _DocumentedOptions
    infos = {info.name: info for info in describe_options(Options)}
    assert infos["epochs"].help == "Training epochs, documented on two lines."
    assert infos["epochs"].tiny == "1" and not infos["epochs"].inference_only
    assert infos["score"].help == "Score." and infos["score"].choices == ("text", "map-max")
    assert infos["score"].inference_only and infos["plain"].help == ""
    assert inference_only_names(Options) == {"score"}
    assert tiny_values(Options) == {"epochs": "1"}
    assert not any(info.replaces_training for info in infos.values())


def test_inference_only_metadata_keeps_one_trained_model_per_training_setting(
    tmp_path, synth_mvtec, synth_visa
):
    from iadbench.execution.planning import RunRequest, plan_run, train_hash

    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}

    def plan(**options: str):
        request = RunRequest(
            method="aprilgan", train="visa", test="mvtec", data_roots=roots, tiny=True,
            options=options, out=tmp_path / "r", cache_dir=tmp_path / "c",
        )  # fmt: skip
        return plan_run(request)

    base = plan()
    assert base.options.image_size == 112 and base.options.epochs == 1  # tiny metadata
    assert train_hash(plan(score="map-max", save_maps="true")) == train_hash(base)
    assert plan(score="map-max").config_hash != base.config_hash
    assert train_hash(plan(lr="0.01")) != train_hash(base)

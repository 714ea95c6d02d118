"""LR-IAD's configuration: the defaults file, --set overrides, the hash, trl / peft configs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from iadbench.contract.options import (
    OptionError,
    build_options,
    inference_only_names,
)
from iadbench.runs.runspec import DatasetRef, RunSpec
from iadbench_methods.lr_iad import LRIAD, LRIADOptions
from iadbench_methods.lr_iad.config import (
    ZERO3_FILE,
    deepspeed_config,
    grpo_config,
    load_defaults,
    lora_config,
)


def _train_hash(options: LRIADOptions) -> str:
    return RunSpec(
        method="lr-iad", method_version=LRIAD.version, options=LRIAD.options_dict(options),
        tiny=True, train=DatasetRef("visa", "all", "/data/visa"),
    ).train_hash()  # fmt: skip


def test_every_key_of_the_defaults_file_is_an_option_with_that_default():
    defaults, options = load_defaults(), LRIADOptions()
    fields = {f.name for f in dataclasses.fields(LRIADOptions)}
    assert set(defaults) <= fields
    for key, value in defaults.items():
        assert getattr(options, key) == value, key
    # Only the evaluation options inherited from qwen2-vl and two switches live outside it.
    inherited = {f.name for f in dataclasses.fields(LRIAD.__mro__[1].Options)}
    assert fields - set(defaults) - inherited == {"report_to", "deepspeed"}


def test_defaults_follow_the_paper():
    o = LRIADOptions()
    assert (o.lora_r, o.lora_alpha, o.lora_dropout, o.target_modules()) == (
        4, 16, 0.1, ["q_proj", "v_proj"],
    )  # fmt: skip
    # trl counts completions: 4 per device = 1 image × 4 generations; accumulation 2.
    assert (o.num_generations, o.per_device_train_batch_size) == (4, 4)
    assert (o.gradient_accumulation_steps, o.num_train_epochs, o.save_steps) == (2, 1.0, 100)
    assert o.max_pixels == 401_408 and o.beta > 0 and o.scale_rewards == "group"
    assert (o.focal_alpha, o.focal_gamma, o.class_weighting) == (1.0, 2.0, "inverse-frequency")


def test_set_overrides_enter_the_hash_and_ints_hash_like_floats():
    base = LRIADOptions()
    assert build_options(LRIADOptions, {}) == base
    changed = build_options(LRIADOptions, {"beta": "0", "scale_rewards": "none"})
    assert (changed.beta, changed.scale_rewards) == (0.0, "none")
    assert _train_hash(changed) != _train_hash(base)
    assert _train_hash(build_options(LRIADOptions, {"num_train_epochs": "1"})) == _train_hash(base)
    assert _train_hash(LRIADOptions(beta=1)) == _train_hash(LRIADOptions(beta=1.0))


@pytest.mark.parametrize(
    "overrides",
    [
        {"num_generations": "1"},
        {"scale_rewards": "per-prompt"},
        {"max_steps": "0"},
        {"lora_target_modules": " , "},
        {"deepspeed": "/no/such/ds.json"},
        {"focal_gamma": "-1"},
        {"class_weighting": "sqrt"},
    ],
)
def test_bad_options_fail_while_planning(overrides):
    with pytest.raises(OptionError):
        build_options(LRIADOptions, overrides)


def test_deepspeed_zero3_is_shipped_and_resolves(tmp_path):
    assert deepspeed_config(None) is None and deepspeed_config("none") is None
    assert deepspeed_config("zero3") == str(ZERO3_FILE)
    assert json.loads(ZERO3_FILE.read_text())["zero_optimization"]["stage"] == 3
    own = tmp_path / "ds.json"
    own.write_text("{}")
    assert deepspeed_config(str(own)) == str(own.resolve())


def test_grpo_config_sets_drifted_trl_defaults_explicitly(tmp_path: Path):
    options = LRIADOptions(num_generations=2, per_device_train_batch_size=2)
    ckpt = tmp_path / "ckpt"
    args = grpo_config(options, output_dir=ckpt, seed=7, device="cpu", precision="fp32")
    assert args.use_cpu and not args.bf16 and not args.fp16
    assert (args.beta, args.loss_type, args.scale_rewards) == (0.04, "grpo", "group")
    assert (args.num_generations, args.max_completion_length, args.temperature) == (2, 256, 1.0)
    assert (args.save_steps, args.logging_steps, args.report_to) == (100, 1, ["tensorboard"])
    assert (args.seed, args.learning_rate, args.num_train_epochs) == (7, 1e-5, 1.0)
    assert args.remove_unused_columns is False and args.gradient_checkpointing is True
    assert args.deepspeed is None and args.output_dir == str(tmp_path / "ckpt")
    quiet = dataclasses.replace(options, report_to="none")
    off = grpo_config(quiet, output_dir=tmp_path, seed=0, device="cpu", precision="fp32")
    assert off.report_to in ([], "none", ["none"])


def test_deepspeed_refused_on_the_cpu(tmp_path):
    with pytest.raises(OptionError, match="GPU"):
        grpo_config(LRIADOptions(deepspeed="zero3"), output_dir=tmp_path, seed=0, device="cpu",
                    precision="fp32")  # fmt: skip


def test_lora_config_is_the_papers():
    config = lora_config(LRIADOptions())
    assert (config.r, config.lora_alpha, config.lora_dropout) == (4, 16, 0.1)
    assert set(config.target_modules) == {"q_proj", "v_proj"}


def test_only_inference_options_stay_out_of_the_training_hash():
    def train_hash(options: LRIADOptions) -> str:
        return RunSpec(
            method="lr-iad", method_version="1", options=LRIAD.options_dict(options),
            train=DatasetRef("visa", "all", "/v"),
        ).train_hash(inference_only_names(LRIADOptions))  # fmt: skip

    base = train_hash(LRIADOptions())
    assert train_hash(LRIADOptions(max_new_tokens=8, report_to="none")) == base
    assert train_hash(LRIADOptions(max_pixels=200_704)) != base  # training sees the pixels too


def test_adapter_declares_training_and_text():
    caps = LRIAD.capabilities
    assert caps.trains and caps.gives_text and caps.needs_pixels and not caps.gives_scores
    assert set(load_defaults()) <= set(LRIAD.options_dict(LRIADOptions()))


def test_no_default_is_attributed_to_a_command_the_authors_never_published():
    # The LR-IAD repository holds a README only: num_generations is chosen, with its source named.
    from iadbench_methods.lr_iad.config import DEFAULTS_FILE

    text = DEFAULTS_FILE.read_text(encoding="utf-8")
    readme = (DEFAULTS_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert "authors' public command" not in text + readme
    (line,) = [line for line in text.splitlines() if line.startswith("num_generations")]
    assert "chosen" in line

"""LR-IAD's GRPO stage on the tiny Qwen2-VL, in process: learning, resuming, storing, reusing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("trl")

from transformers import TrainerCallback

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import RunContext, trains
from iadbench.data import open_dataset
from iadbench.execution.predict_loop import predict_samples
from iadbench_methods.lr_iad import LRIAD, LRIADOptions
from iadbench_methods.lr_iad.training import (
    CHECKPOINTS_DIR,
    DONE_NAME,
    TENSORBOARD_DIR,
    finished_adapter,
    train_lr_iad,
)

# Tiny everything: 2 completions per image, 8 tokens each, 4 training images.
FAST = LRIADOptions(
    max_steps=2, num_generations=2, per_device_train_batch_size=2, gradient_accumulation_steps=1,
    max_completion_length=8, max_new_tokens=4, max_train_samples=4, gradient_checkpointing=False,
    monitor_samples=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def train_samples(synth_visa):
    return open_dataset("visa", synth_visa).samples("all")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def token_reward(prompts, completions, completion_ids, **kwargs):
    """Test-only reward with variance: a random model scores 0 on format and focal rewards,
    so every GRPO advantage would be 0 and nothing could change."""
    return [float(ids[0] % 7) if ids else 0.0 for ids in completion_ids]


def _train(samples, options, workdir: Path, **hooks):
    adapter = LRIAD(options, context=RunContext(tiny=True, device="cpu"))
    return train_lr_iad(
        samples, options, model_source=adapter.model_source, workdir=workdir, seed=0,
        device="cpu", precision="fp32", attention="sdpa", **hooks,
    )  # fmt: skip


def _lora_b_norm(adapter_dir: Path) -> float:
    from safetensors.torch import load_file

    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    b = [t for name, t in weights.items() if "lora_B" in name]
    assert b, "no LoRA B matrix in the adapter"
    return float(sum(t.abs().sum() for t in b))


def test_steps_change_lora_weights_only_when_rewards_vary(train_samples, tmp_path):
    # LoRA B starts at zero; a zero advantage gives a zero gradient and Adam leaves it there.
    flat = _train(train_samples, FAST, tmp_path / "flat")
    assert _lora_b_norm(flat.adapter_dir) == 0.0
    varied = _train(
        train_samples, dataclasses.replace(FAST, learning_rate=1e-2), tmp_path / "varied",
        extra_rewards=[token_reward],
    )  # fmt: skip
    assert _lora_b_norm(varied.adapter_dir) > 0.0
    assert varied.global_step == 2 and varied.processes == 1
    assert list((tmp_path / "varied" / TENSORBOARD_DIR).glob("events.out.tfevents.*"))


class Interrupted(Exception):
    """Stands for a kill (Ctrl-C, a lost node) right after a checkpoint was written."""


class InterruptAfterSave(TrainerCallback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise Interrupted


class StepRecorder(TrainerCallback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def test_interrupted_training_resumes_from_its_last_checkpoint(train_samples, tmp_path):
    options = dataclasses.replace(FAST, max_steps=4, save_steps=2)
    workdir = tmp_path / "work"
    with pytest.raises(Interrupted):
        _train(train_samples, options, workdir, callbacks=[InterruptAfterSave(2)])
    assert (workdir / CHECKPOINTS_DIR / "checkpoint-2" / "trainer_state.json").is_file()
    assert finished_adapter(workdir) is None and not (workdir / DONE_NAME).exists()

    recorder = StepRecorder()
    result = _train(train_samples, options, workdir, callbacks=[recorder])
    assert result.resumed_from == "checkpoint-2"
    assert recorder.steps == [3, 4] and result.global_step == 4  # continued, not from 0
    assert finished_adapter(workdir) == workdir / "adapter"


def test_adapter_is_stored_under_the_workdir_and_reused(train_samples, tmp_path):
    workdir = tmp_path / "trained" / "hash"
    context = RunContext(tiny=True, device="cpu", workdir=workdir)
    first = LRIAD(FAST, context=context)
    first.fit(train_samples)
    assert first.training["trained"] and first.training["global_step"] == 2
    adapter = workdir / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (workdir / DONE_NAME).is_file()
    assert first.adapter_dir == str(adapter)
    stamp = (adapter / "adapter_model.safetensors").stat().st_mtime_ns

    second = LRIAD(FAST, context=context)
    second.load()  # what the runner calls for a training dir marked TRAINED
    assert second.training == {"trained": False, "reused": str(adapter)}
    assert (adapter / "adapter_model.safetensors").stat().st_mtime_ns == stamp
    predictions = predict_samples(second, train_samples[:2])
    assert len(predictions) == 2 and all(p.text is not None for p in predictions)

    # An adapter without DONE (killed while storing) is never reused: training resumes from the
    # final checkpoint (no step left to run) and stores the adapter again.
    (workdir / DONE_NAME).unlink()
    with pytest.raises(IADBenchError, match="no finished LR-IAD adapter"):
        LRIAD(FAST, context=context).load()
    third = LRIAD(FAST, context=context)
    third.fit(train_samples)
    assert third.training["trained"] and third.training["resumed_from"] == "checkpoint-2"
    assert (workdir / DONE_NAME).is_file()

    # --set adapter=PATH: evaluated as given; the configuration does not train (no fit, no load).
    given_options = dataclasses.replace(FAST, adapter=str(adapter))
    assert not trains(LRIAD, given_options) and trains(LRIAD, FAST)
    given = LRIAD(given_options, context=RunContext(tiny=True, device="cpu"))
    assert given.adapter_dir == str(adapter) and given.training is None

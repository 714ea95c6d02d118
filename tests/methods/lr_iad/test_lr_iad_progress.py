"""LR-IAD's console lines: one compact line per trl log event instead of transformers' dicts."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

pytest.importorskip("transformers")

import torch
from transformers import (
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from iadbench_methods.lr_iad import progress
from iadbench_methods.lr_iad.progress import StepLines, quiet_trainer_console, step_line

# What trl 1.16 logs for one LR-IAD step (keys as found in a 2-step tiny run).
TRL_LOGS = {
    "loss": 0.0041, "grad_norm": 0.3142, "learning_rate": 1e-05, "num_tokens": 248.0,
    "completions/mean_length": 8.0, "completions/clipped_ratio": 1.0,
    "rewards/format_reward/mean": 0.5, "rewards/focal_reward/mean": 0.875, "reward": 1.375,
    "reward_std": 0.2, "frac_reward_zero_std": 0.0, "accuracy": 0.625, "accuracy/defect": 0.7,
    "accuracy/normal": 0.55, "defect_share": 0.55, "focal_p": 0.6, "invalid_rate": 0.03,
    "kl": 0.00123, "entropy": 6.34, "clip_ratio/region_mean": 0.0, "step_time": 3.1, "epoch": 0.25,
}  # fmt: skip


def test_step_line_from_trl_keys():
    assert step_line(TRL_LOGS, step=12, max_steps=100, seconds_per_step=3.2) == (
        "step 12/100 | reward 1.38 | acc 0.62 (defect 0.70 normal 0.55) | invalid 0.03 | "
        "KL 0.0012 | loss 0.0041 | grad 0.31 | 3.2 s/step | eta 4m42s"
    )


def test_missing_none_nan_and_odd_values_are_skipped():
    assert step_line({"loss": 0.5}, step=3, max_steps=10) == "step 3/10 | loss 0.5"
    odd = {"reward": None, "kl": float("nan"), "loss": "x", "grad_norm": float("inf"), "a": 1}
    assert step_line(odd, step=3, max_steps=10) == "step 3/10"
    assert step_line({}, step=3, max_steps=0) == "step 3"
    only_class = {"accuracy/normal": 1.0, "invalid_rate": torch.tensor(0.25)}
    assert step_line(only_class, step=10, max_steps=10, seconds_per_step=float("nan")) == (
        "step 10/10 | acc (normal 1.00) | invalid 0.25"
    )


def _state(step: int, max_steps: int = 10, main: bool = True) -> TrainerState:
    return TrainerState(global_step=step, max_steps=max_steps, is_world_process_zero=main)


def test_step_lines_times_steps_prints_summary_and_verbose_dicts(monkeypatch):
    clock = itertools.chain([100.0, 106.0, 109.0], itertools.count(200.0))
    monkeypatch.setattr(progress, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    lines: list[str] = []
    callback = StepLines(verbose=False, log=lines.append)
    assert isinstance(callback, TrainerCallback)
    args, control = None, TrainerControl()
    callback.on_train_begin(args, _state(0), control)
    callback.on_log(args, _state(2), control, logs={"loss": 0.5})
    callback.on_log(args, _state(3), control, logs={"loss": 0.25})
    summary = {"train_runtime": 282.0, "train_loss": 0.0123, "total_flos": 0.0, "epoch": 1.0}
    callback.on_log(args, _state(3), control, logs=summary)
    assert lines == [
        "step 2/10 | loss 0.5 | 3 s/step | eta 24s",
        "step 3/10 | loss 0.25 | 3 s/step | eta 21s",
        "training done | step 3 | 4m42s | mean loss 0.012",
    ]
    assert "total_flos" in summary  # the event's dict is not changed (transformers pops it)

    verbose: list[str] = []
    loud = StepLines(verbose=True, log=verbose.append)
    loud.on_log(args, _state(1), control, logs={"loss": 0.5, "kl": 0.001})
    assert verbose == ["step 1/10 | KL 0.001 | loss 0.5", "{'loss': '0.5', 'kl': '0.001'}"]
    loud.on_log(args, _state(2, main=False), control, logs={"loss": 0.5})
    assert len(verbose) == 2  # only world process 0 prints


class Regression(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": ((self.linear(x) - labels) ** 2).mean()}


@pytest.mark.parametrize("disable_tqdm", [False, True])
def test_quiet_trainer_console_replaces_transformers_printing(tmp_path, capsys, disable_tqdm):
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=2, logging_steps=1, per_device_train_batch_size=2,
        report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=disable_tqdm,
    )  # fmt: skip
    rows = [{"x": torch.tensor([float(i)]), "labels": torch.tensor([2.0 * i])} for i in range(4)]
    trainer = Trainer(model=Regression(), args=args, train_dataset=rows)
    printing = PrinterCallback if disable_tqdm else ProgressCallback
    assert any(isinstance(cb, printing) for cb in trainer.callback_handler.callbacks)

    lines = quiet_trainer_console(trainer, verbose=False)
    callbacks = trainer.callback_handler.callbacks
    assert not any(isinstance(cb, PrinterCallback | ProgressCallback) for cb in callbacks)
    assert callbacks.count(lines) == 1
    capsys.readouterr()
    trainer.train()
    out = capsys.readouterr()
    # Issue 19: on stderr with the LR-IAD heading, where the "GRPO on N images" line goes.
    printed = out.err.splitlines()
    assert out.out == ""
    heads = [line.split(" | ")[0] for line in printed]
    assert heads == ["LR-IAD step 1/2", "LR-IAD step 2/2", "LR-IAD training done"]
    assert "loss" in printed[0] and "{" not in out.out + out.err and "%|" not in out.err

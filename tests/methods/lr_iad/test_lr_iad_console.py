"""What a user sees while LR-IAD trains: compact step and monitor lines, TensorBoard curves, and
the adapter kept by ``keep_best``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

from iadbench.contract.method import RunContext
from iadbench.data import open_dataset
from iadbench_methods.lr_iad import LRIAD, LRIADOptions

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _train(tmp_path: Path, data_args: list[str], *global_flags: str) -> tuple[str, Path]:
    cache = tmp_path / "cache"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [str(BIN / "iadbench"), *global_flags, "train", "--method", "lr-iad", "--tiny",
         "--train", "visa", *data_args, "--cache-dir", str(cache), "--device", "cpu"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (workdir,) = (cache / "trained" / "lr-iad").iterdir()
    return result.stdout + result.stderr, workdir


def test_train_prints_compact_lines_and_tensorboard_holds_the_monitor(tmp_path, data_args):
    output, workdir = _train(tmp_path, data_args)
    lines = output.splitlines()
    assert any(line.startswith("LR-IAD step 1/2 | reward") for line in lines), output
    assert any(line.startswith("LR-IAD step 2/2 | reward") for line in lines)
    monitor = [line for line in lines if line.startswith("LR-IAD monitor ")]
    assert [line.split()[2] for line in monitor] == ["0", "1", "2"]  # --tiny: every step
    assert sum(line.startswith("LR-IAD monitor: ") for line in lines) == 1  # the legend
    for noise in ("{'loss'", "Loading weights", "Writing model shards", "FutureWarning", "%|"):
        assert noise not in output, noise
    # 132 columns: since --tiny trains on both labels (issue 19) a step line carries both
    # classes' accuracy, "(defect 0.00 normal 0.00)", as at real size; it was 120 on one label.
    steps = ("LR-IAD step", "LR-IAD monitor ")
    assert max(len(line) for line in lines if line.startswith(steps)) <= 132

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(workdir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"monitor/balanced_accuracy", "monitor/invalid_rate"} <= tags
    assert [e.step for e in events.Scalars("monitor/balanced_accuracy")] == [0, 1, 2]
    assert any(tag.startswith("train/") and "accuracy" in tag for tag in tags)
    summary = json.loads((workdir / "training_summary.json").read_text())
    assert [entry["step"] for entry in summary["monitor"]] == [0, 1, 2]


def test_verbose_shows_trls_full_dicts(tmp_path, data_args):
    output, _ = _train(tmp_path, data_args, "--verbose")
    assert "'loss'" in output and "LR-IAD step 1/2 | reward" in output


def token_reward(prompts, completions, completion_ids, **kwargs):
    """A reward with variance, so the weights move (a random model scores 0 on the others)."""
    return [float(ids[0] % 7) if ids else 0.0 for ids in completion_ids]


def _lora_b(path: Path) -> float:
    from safetensors.torch import load_file

    weights = load_file(str(path / "adapter_model.safetensors"))
    return float(sum(t.abs().sum() for name, t in weights.items() if "lora_B" in name))


@pytest.mark.parametrize("keep_best", [True, False])
def test_keep_best_stores_the_best_evaluations_adapter(tmp_path, synth_visa, keep_best):
    samples = open_dataset("visa", synth_visa).samples("all")
    options = dataclasses.replace(
        LRIADOptions(), max_steps=2, num_generations=2, per_device_train_batch_size=2,
        gradient_accumulation_steps=1, max_completion_length=8, max_train_samples=4,
        gradient_checkpointing=False, monitor_samples=2, monitor_every=1, keep_best=keep_best,
        learning_rate=1e-2,
    )  # fmt: skip
    adapter = LRIAD(options, context=RunContext(tiny=True, device="cpu", workdir=tmp_path / "w"))
    adapter.extra_rewards = [token_reward]
    adapter.fit(samples)
    stored = tmp_path / "w" / "adapter"
    if keep_best:
        # A random model answers nothing valid: no evaluation beats the first (step 0, LoRA B
        # still zero), so that adapter is stored although training moved the weights.
        assert adapter.training["best_step"] == 0
        assert _lora_b(stored) == _lora_b(tmp_path / "w" / "best_adapter") == 0.0
    else:
        assert adapter.training["best_step"] is None
        assert _lora_b(stored) > 0.0  # the last step's adapter: the weights did move

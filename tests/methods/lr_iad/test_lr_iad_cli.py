"""LR-IAD through the real CLI: run trains and evaluates, train then run reuses, torchrun 2 CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import in_process
import pytest

pytest.importorskip("trl")

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
# Tiny settings: 2 completions of 8 tokens per image, 2 steps on 4 images, 4-token answers.
TINY_SETS = [
    "max_steps=2", "num_generations=2", "per_device_train_batch_size=2",
    "gradient_accumulation_steps=1", "max_completion_length=8", "max_new_tokens=4",
    "max_train_samples=4", "gradient_checkpointing=false",
]  # fmt: skip


def _sets(*extra: str) -> list[str]:
    return [arg for item in (*TINY_SETS, *extra) for arg in ("--set", item)]


def _run(command: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    # One thread per process: the tiny model's matrices only pay for a thread pool.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "COLUMNS": "200"}  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _trained_dirs(cache: Path) -> list[Path]:
    return sorted((cache / "trained" / "lr-iad").iterdir())


def test_run_trains_then_evaluates_base_plus_adapter(tmp_path, data_args):
    cache, out = tmp_path / "cache", tmp_path / "run"
    _run([str(BIN / "iadbench"), "run", "--method", "lr-iad", "--tiny", "--train", "visa",
          "--test", "mvtec", "--test-split", "test", *data_args, *_sets(), "--cache-dir",
          str(cache), "--out", str(out), "--device", "cpu", "--workers", "0"])  # fmt: skip
    (workdir,) = _trained_dirs(cache)
    assert (workdir / "DONE").is_file() and (workdir / "adapter" / "adapter_config.json").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["trained_artifacts"] == str(workdir) and manifest["status"] == "complete"
    resolved = manifest["method"]["resolved"]  # described again after fit
    assert resolved["adapter"] == str(workdir / "adapter") and resolved["training"]["trained"]
    trained = json.loads((workdir / "training_summary.json").read_text())
    assert trained["global_step"] == 2 and trained["resumed_from"] is None
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train"] == {"dataset": "visa", "split": "all"}  # Table II: LR-IAD on All
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == summary["overall"]["n"] > 0
    assert all(r["text"] is not None and r["pred"] in ("defect", "normal", "invalid")
               for r in records)  # fmt: skip


def test_train_then_run_reuses_the_adapter(tmp_path, data_args):
    cache = tmp_path / "cache"
    common = ["--method", "lr-iad", "--tiny", "--train", "visa", *data_args, *_sets(),
              "--cache-dir", str(cache), "--device", "cpu"]  # fmt: skip
    # max_new_tokens only shapes answers: `run` with another value reuses the same adapter.
    trained = _run([str(BIN / "iadbench"), "train", *common, "--set", "max_new_tokens=2"])
    (workdir,) = _trained_dirs(cache)
    assert workdir.name in trained.stdout.replace("\n", "")
    stamp = (workdir / "DONE").stat().st_mtime_ns

    out = tmp_path / "run"
    # The run in this process (the first test runs `iadbench run` as users type it).
    ran = in_process.iadbench("run", *common, "--test", "mvtec", "--test-split", "test",
                              "--out", str(out), "--workers", "0")  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert _trained_dirs(cache) == [workdir] and (workdir / "DONE").stat().st_mtime_ns == stamp
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["trained_artifacts"] == str(workdir) and (out / "summary.json").is_file()
    resolved = manifest["method"]["resolved"]
    assert resolved["training"] == {"trained": False, "reused": str(workdir / "adapter")}


def test_two_cpu_processes_train_one_adapter(tmp_path, data_args):
    cache = tmp_path / "cache"
    # One completion per process and micro-step: every GRPO group spans both processes.
    _run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "iadbench",
          "train", "--method", "lr-iad", "--tiny", "--train", "visa", *data_args,
          *_sets("per_device_train_batch_size=1"), "--cache-dir", str(cache),
          "--device", "cpu"])  # fmt: skip
    (workdir,) = _trained_dirs(cache)
    assert (workdir / "adapter" / "adapter_config.json").is_file()
    assert not list(workdir.glob("adapter.partial*"))
    summary = json.loads((workdir / "training_summary.json").read_text())
    assert summary["processes"] == 2 and summary["global_step"] == 2

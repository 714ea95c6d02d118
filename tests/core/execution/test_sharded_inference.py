"""torchrun with 2 CPU processes writes the same predictions file as one process, and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import in_process
import pytest

pytest.importorskip("torch")
TORCHRUN = str(Path(sys.executable).parent / "torchrun")


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}


def _sharded(args: list[str]) -> subprocess.CompletedProcess:
    command = [TORCHRUN, "--standalone", "--nproc_per_node", "2", "-m", "iadbench", "run", *args]
    return subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=120)


def _single(args: list[str]) -> subprocess.CompletedProcess:
    """One process: this one (what is compared is torchrun's two processes against one)."""
    return in_process.iadbench("run", *args, env={"COLUMNS": "200"})


@pytest.mark.slow
@pytest.mark.parametrize("method", ["always-normal", "brightness"])
def test_two_processes_write_the_single_process_file(tmp_path, data_args, plugin_file, method):
    common = [
        "--method",
        method,
        "--train",
        "visa",
        "--test",
        "mvtec",
        *data_args,
        "--plugin",
        str(plugin_file),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--workers",
        "0",
    ]
    single = _single([*common, "--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    sharded = _sharded([*common, "--out", str(tmp_path / "two")])
    assert sharded.returncode == 0, sharded.stderr
    one, two = tmp_path / "one", tmp_path / "two"
    assert (one / "predictions.jsonl").read_bytes() == (two / "predictions.jsonl").read_bytes()
    assert json.loads((one / "summary.json").read_text()) == json.loads(
        (two / "summary.json").read_text()
    )
    assert not (two / "shards").exists()
    assert json.loads((two / "manifest.json").read_text())["processes"] == 2


def _shard(lines: list[str]) -> str:
    """The lines one rank appended to its own shard file (chained from its first line)."""
    from iadbench.runs.chain import GENESIS, chained_lines

    return chained_lines([json.loads(line) for line in lines], GENESIS)[0]


def _interrupted_sharded_attempt(
    tmp_path, common: list[str], rank0: slice, rank1: slice, torn: bool
) -> list[str]:
    """A single-process run in ``one/``, and in ``two/`` what an interrupted 2-process attempt
    leaves: each rank's share of the records up to where it got, a manifest saying running.

    Returns the single-process file's lines.
    """
    single = _single([*common, "--out", str(tmp_path / "one")])
    assert single.returncode == 0, single.stderr
    lines = (tmp_path / "one" / "predictions.jsonl").read_text().splitlines(keepends=True)
    shards = tmp_path / "two" / "shards"
    shards.mkdir(parents=True)
    # Each rank's shard carries its own digest chain, as a rank's appends write it.
    (shards / "predictions.rank0.jsonl").write_text(_shard(lines[rank0]))
    tail = lines[21][:30] if torn else ""  # a line torn by the kill
    (shards / "predictions.rank1.jsonl").write_text(_shard(lines[rank1]) + tail)
    # A real attempt writes its manifest before any prediction: shards alone are never adopted.
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    (tmp_path / "two" / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    return lines


@pytest.mark.slow
def test_sharded_run_resumes_from_shards_left_by_an_interrupted_attempt(tmp_path, data_args):
    common = ["--method", "always-defect", "--train", "visa", "--test", "mvtec", *data_args]
    lines = _interrupted_sharded_attempt(
        tmp_path, common, slice(0, 20, 2), slice(1, 20, 2), torn=True
    )
    sharded = _sharded([*common, "--out", str(tmp_path / "two")])
    assert sharded.returncode == 0, sharded.stderr
    merged = (tmp_path / "two" / "predictions.jsonl").read_text().splitlines(keepends=True)
    assert merged == lines  # byte-identical to the single-process file
    assert "20 resumed" in sharded.stdout


def test_shards_resumed_by_one_process_give_the_single_process_file(tmp_path, data_args):
    common = ["--method", "always-defect", "--train", "visa", "--test", "mvtec", *data_args]
    # Rank 1 got less far than rank 0: the finished records are not a prefix of the test order.
    lines = _interrupted_sharded_attempt(
        tmp_path, common, slice(0, 20, 2), slice(1, 10, 2), torn=False
    )
    resumed = _single([*common, "--out", str(tmp_path / "two")])
    assert resumed.returncode == 0, resumed.stderr
    assert "15 resumed" in resumed.stdout
    merged = (tmp_path / "two" / "predictions.jsonl").read_text().splitlines(keepends=True)
    assert merged == lines

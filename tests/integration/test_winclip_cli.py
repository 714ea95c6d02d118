"""``iadbench run --method winclip --tiny`` as users type it: a real subprocess, both directions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The console script installed next to this interpreter: what users type.
CLI = [str(Path(sys.executable).parent / "iadbench")]


def iadbench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(("train", "test"), [("visa", "mvtec"), ("mvtec", "visa")])
def test_tiny_winclip_run_scores_every_image_and_reports_auroc(train, test, tmp_path, data_args):
    out = tmp_path / "run"
    result = iadbench(
        "run", "--method", "winclip", "--tiny", "--train", train, "--test", test,
        "--test-split", "test", "--device", "cpu", *data_args, "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "winclip" and summary["tiny"] is True
    assert summary["test"] == {"dataset": test, "split": "test"}
    assert summary["threshold"] == "fixed:0.5"
    overall = summary["overall"]
    assert overall["errors"] == 0 and 0.0 <= overall["auroc"] <= 1.0
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == overall["n"] > 0
    assert all(r["error"] is None and 0.0 <= r["score"] <= 1.0 for r in records)
    resolved = json.loads((out / "manifest.json").read_text())["method"]["resolved"]
    assert resolved["arch"] == "iadbench-tiny-ViT-B-16-plus-240" and resolved["weights"] is None


def test_missing_weights_file_exits_2_with_a_message_and_no_traceback(tmp_path, data_args):
    result = iadbench(
        "run", "--method", "winclip", "--train", "visa", "--test", "mvtec", *data_args,
        "--set", "weights=/nonexistent/b16p.bin", "--device", "cpu", "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "/nonexistent/b16p.bin" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr

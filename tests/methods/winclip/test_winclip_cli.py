"""``iadbench run --method winclip --tiny`` as users type it: real subprocesses, both directions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytest.importorskip("anomalib")

# The console script installed next to this interpreter: what users type.
CLI = [str(Path(sys.executable).parent / "iadbench")]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
DIRECTIONS = [("visa", "mvtec"), ("mvtec", "visa")]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, synth_mvtec, synth_visa) -> dict[tuple[str, str], tuple]:
    """Both directions, started together (most of each is a single-threaded import of torch,
    open_clip and anomalib, so two processes overlap well); (exit code, stderr, run dir) each."""
    data = ["--data", f"mvtec={synth_mvtec}", "--data", f"visa={synth_visa}"]
    root = tmp_path_factory.mktemp("winclip-cli")
    started = {}
    for train, test in DIRECTIONS:
        out = root / f"{train}-{test}"
        command = [
            *CLI, "run", "--method", "winclip", "--tiny", "--train", train, "--test", test,
            "--test-split", "test", "--device", "cpu", *data, "--out", str(out),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
        )
        started[(train, test)] = (process, out)
    results = {}
    for key, (process, out) in started.items():
        _, stderr = process.communicate(timeout=300)
        results[key] = (process.returncode, stderr, out)
    return results


@pytest.mark.slow
@pytest.mark.parametrize(("train", "test"), DIRECTIONS)
def test_tiny_winclip_run_scores_every_image_and_reports_auroc(tiny_runs, train, test):
    returncode, stderr, out = tiny_runs[(train, test)]
    assert returncode == 0, stderr
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
    result = subprocess.run(
        [
            *CLI, "run", "--method", "winclip", "--train", "visa", "--test", "mvtec", *data_args,
            "--set", "weights=/nonexistent/b16p.bin", "--out", str(tmp_path / "run"),
        ],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "/nonexistent/b16p.bin" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_options_shows_class_names_and_precision_defaults():
    """``iadbench list winclip --options`` documents the class_names option (new) and its
    default ``official``, next to ``precision`` (``auto`` = fp32, anomalib's reference)."""
    result = subprocess.run(
        [*CLI, "list", "winclip", "--options"], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert result.returncode == 0, result.stderr
    cells = [[cell.strip() for cell in line.split("│")] for line in result.stdout.splitlines()]
    rows = {
        row[0]: row[2] for row in cells if len(row) > 3 and row[0] in {"class_names", "precision"}
    }
    assert rows == {"class_names": "'official'", "precision": "'auto'"}
    assert "choices: official, natural" in " ".join(result.stdout.split())

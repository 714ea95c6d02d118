"""``iadbench run --method qwen2-vl --tiny`` as users type it, in both directions, and resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench_methods.qwen2vl.tiny import TINY_VERSION

pytest.importorskip("torch")
pytest.importorskip("transformers")

# The console script installed next to this interpreter: what users type.
CLI = [str(Path(sys.executable).parent / "iadbench")]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One iadbench cache for the module: the tiny checkpoint is built once, not in ~/.cache."""
    return tmp_path_factory.mktemp("qwen2vl-cache")


def iadbench(cache_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "IADBENCH_CACHE_DIR": str(cache_dir),
        "COLUMNS": "200",
    }
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


def run_args(train: str, test: str, out: Path, data_args: list[str]) -> list[str]:
    return [
        "run", "--method", "qwen2-vl", "--tiny", "--train", train, "--test", test,
        "--test-split", "test", "--device", "cpu", "--set", "max_new_tokens=8",
        *data_args, "--out", str(out),
    ]  # fmt: skip


def read_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def check_finished_run(out: Path, test: str) -> list[dict]:
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "qwen2-vl" and summary["tiny"] is True
    assert summary["test"] == {"dataset": test, "split": "test"}
    assert summary["threshold"] is None  # answers, not scores
    overall = summary["overall"]
    # A random model does not write "<answer>A</answer>": its answers are invalid, and counted.
    assert overall["errors"] == 0 and overall["auroc"] is None
    assert overall["invalid_rate"] == pytest.approx(overall["n_invalid"] / overall["n"])
    records = read_records(out)
    assert len(records) == overall["n"] > 0
    assert all(isinstance(r["text"], str) and r["score"] is None for r in records)
    assert overall["n_invalid"] == sum(r["pred"] == "invalid" for r in records)
    resolved = json.loads((out / "manifest.json").read_text())["method"]["resolved"]
    assert resolved["model"].endswith(f"qwen2-vl-{TINY_VERSION}")
    assert resolved["decoding"] == "greedy"
    assert resolved["max_new_tokens"] == 8
    return records


@pytest.mark.slow
def test_tiny_run_mvtec_to_visa_answers_every_image(tmp_path, data_args, cache_dir):
    out = tmp_path / "run"
    result = iadbench(cache_dir, *run_args("mvtec", "visa", out, data_args))
    assert result.returncode == 0, result.stderr
    check_finished_run(out, "visa")


@pytest.mark.slow
def test_tiny_run_visa_to_mvtec_resumes_to_the_same_predictions(
    tmp_path, data_args, cache_dir, monkeypatch
):
    out = tmp_path / "run"
    args = run_args("visa", "mvtec", out, data_args)
    # In this process (the other direction runs as users type it, above).
    monkeypatch.setenv("IADBENCH_CACHE_DIR", str(cache_dir))
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    records = check_finished_run(out, "mvtec")

    # A crash: half the lines survive plus a torn one, no summary, the manifest says running.
    lines = (out / "predictions.jsonl").read_text().splitlines()
    keep = len(lines) // 2
    (out / "predictions.jsonl").write_text("\n".join(lines[: keep + 1])[:-10])
    (out / "summary.json").unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    # The same command again.
    resumed = CliRunner().invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"{keep} resumed" in resumed.output
    # Greedy decoding is deterministic: the resumed half is what the first run wrote.
    assert check_finished_run(out, "mvtec") == records


def test_missing_weights_exit_2_with_a_message_and_no_traceback(tmp_path, data_args):
    result = CliRunner().invoke(
        app,
        [
            "run", "--method", "qwen2-vl", "--train", "visa", "--test", "mvtec", *data_args,
            "--set", "model=/nonexistent/qwen2-vl", "--device", "cpu",
            "--out", str(tmp_path / "r"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "/nonexistent/qwen2-vl" in result.output and "--set model=PATH" in result.output
    assert "Traceback" not in result.output

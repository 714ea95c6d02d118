"""AprilGAN through the runner (checkpoint reuse under the content hash) and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run

pytest.importorskip("torch")
pytest.importorskip("open_clip")

CLI = [str(Path(sys.executable).parent / "iadbench")]
# Small inputs keep the tiny model fast; the default 518 px is covered by the unit tests.
FAST = {"image_size": "112", "epochs": "1"}


def _request(tmp_path: Path, roots: dict[str, str], out: str, **options: str) -> RunRequest:
    return RunRequest(
        method="aprilgan", train="visa", test="mvtec", test_split="test", tiny=True,
        options={**FAST, **options}, data_roots=roots, out=tmp_path / out,
        cache_dir=tmp_path / "cache", device="cpu",
    )  # fmt: skip


@pytest.mark.slow
def test_trained_maps_are_stored_under_the_hash_and_reused(tmp_path, synth_mvtec, synth_visa):
    roots = {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}
    trained = tmp_path / "cache" / "trained" / "aprilgan"

    first = execute_run(plan_run(_request(tmp_path, roots, "run1")))
    (workdir,) = trained.iterdir()
    checkpoint, log = workdir / "linear_maps.pt", workdir / "training_log.jsonl"
    stamp, log_text = checkpoint.stat().st_mtime_ns, log.read_text()
    assert len(log_text.splitlines()) == 1  # one epoch
    assert first.summary["overall"]["auroc"] is not None

    # Same configuration, another run dir (so the run itself is not reused): fit reloads.
    second = execute_run(plan_run(_request(tmp_path, roots, "run2")))
    assert second.computed == first.computed and not second.reused
    assert list(trained.iterdir()) == [workdir]
    assert checkpoint.stat().st_mtime_ns == stamp and log.read_text() == log_text
    assert second.summary["overall"] == first.summary["overall"]

    # Any training option changes the hash: a new workdir, trained from scratch.
    execute_run(plan_run(_request(tmp_path, roots, "run3", lr="0.01")))
    workdirs = sorted(trained.iterdir())
    assert len(workdirs) == 2 and all((w / "linear_maps.pt").exists() for w in workdirs)


def _iadbench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.mark.slow
@pytest.mark.parametrize(("train", "test"), [("visa", "mvtec"), ("mvtec", "visa")])
def test_cli_runs_aprilgan_both_ways(train, test, tmp_path, data_args):
    out = tmp_path / "run"
    settings = [f"--set={k}={v}" for k, v in FAST.items()]
    result = _iadbench(
        "run", "--method", "aprilgan", "--tiny", "--train", train, "--test", test,
        "--test-split", "test", *settings, "--set", "save_maps=true", *data_args,
        "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "aprilgan"
    assert summary["train"] == {"dataset": train, "split": "test"}
    assert summary["tiny"] is True
    assert isinstance(summary["overall"]["auroc"], float)
    assert summary["overall"]["errors"] == 0
    n = summary["overall"]["n"]
    assert len(list((out / "artifacts" / "maps").rglob("*.png"))) == n
    resolved = json.loads((out / "manifest.json").read_text())["method"]["resolved"]
    assert resolved["arch"].startswith("iadbench-tiny-") and resolved["image_size"] == 112
    # The official object names and precision set-up are the defaults and are recorded.
    assert resolved["class_names"] == "official"
    assert (resolved["precision"], resolved["autocast"]) == ("fp32", None)  # CPU: no autocast


def test_cli_lists_the_official_options():
    result = _iadbench("list", "aprilgan", "--options")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    assert "'official'" in rows["class_names"] and "'auto'" in rows["epochs"]

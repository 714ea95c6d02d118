"""kill -9 at random points, then resume: the result is byte-identical to an uninterrupted run."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import in_process
import pytest

pytestmark = pytest.mark.slow

# Slow enough to be killed mid-run, and long text lines so some kills land inside a write.
_SLOW_PLUGIN = textwrap.dedent(
    """
    import time, zlib
    import iadbench

    @iadbench.register_method("slow-crc")
    class SlowCrc(iadbench.MethodAdapter):
        capabilities = iadbench.Capabilities(gives_scores=True, gives_text=True)
        default_batch_size = 2

        def predict(self, batch):
            time.sleep(0.01 * len(batch))
            out = []
            for sample in batch:
                crc = zlib.crc32(sample.id.encode())
                out.append(iadbench.Prediction(
                    label="defect", score=(crc % 1000) / 1000, text=f"{crc:x}" * 2000
                ))
            return out
    """
)


def _arguments(plugin: Path, out: Path, data_args: list[str]) -> list[str]:
    return [
        "run", "--method", "slow-crc", "--plugin", str(plugin),
        "--train", "visa", "--test", "mvtec", *data_args, "--out", str(out),
    ]  # fmt: skip


def _command(plugin: Path, out: Path, data_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "iadbench", *_arguments(plugin, out, data_args)]


def _without_attempt_records(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("provenance", "digest")}


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_result(
    tmp_path, data_args, seed
):
    plugin = tmp_path / "slow.py"
    plugin.write_text(_SLOW_PLUGIN)
    # The uninterrupted run and the final resume run in this process; the attempts that are
    # killed are processes of their own (kill -9 is the point).
    clean = in_process.iadbench(*_arguments(plugin, tmp_path / "clean", data_args))
    assert clean.returncode == 0, clean.stderr
    out = tmp_path / "killed"
    rng = random.Random(seed)
    kills = 0
    predictions = out / "predictions.jsonl"
    for _ in range(3):
        size = predictions.stat().st_size if predictions.exists() else -1
        process = subprocess.Popen(
            _command(plugin, out, data_args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Wait until this attempt writes predictions, then kill it at a random moment.
        deadline = time.monotonic() + 60
        while process.poll() is None and (
            not predictions.exists() or predictions.stat().st_size == size
        ):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is None:
            process.kill()  # SIGKILL: no handler runs
            kills += 1
        process.wait()
    final = in_process.iadbench(*_arguments(plugin, out, data_args))
    assert final.returncode == 0, final.stderr
    assert kills >= 1
    assert (out / "predictions.jsonl").read_bytes() == (
        tmp_path / "clean" / "predictions.jsonl"
    ).read_bytes()
    summary = json.loads((out / "summary.json").read_text())
    clean_summary = json.loads((tmp_path / "clean" / "summary.json").read_text())
    assert _without_attempt_records(summary) == _without_attempt_records(clean_summary)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["attempts"]) == kills + 1
    assert summary["provenance"]["mixed"] is False
    assert not (out / ".space-reserve").exists()

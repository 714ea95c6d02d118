"""``iadbench run`` ends with its verdict against both baselines (issue 19 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.execution.registry import METHODS
from iadbench.views.verdict import verdict_line
from iadbench_methods.pixel_stats import PixelStats


@pytest.fixture()
def pixel_stats() -> None:
    """pixel-stats registered even before the package metadata is refreshed."""
    if "pixel-stats" not in METHODS.names():
        METHODS.add("pixel-stats", PixelStats, "tests (pixel-stats before reinstall)")


def _run(tmp_path: Path, synth_mvtec: Path, method: str) -> str:
    result = CliRunner().invoke(
        app,
        ["run", "--method", method, "--test", "mvtec", "--test-split", "test",
         "--data", f"mvtec={synth_mvtec}", "--out", str(tmp_path / method),
         "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--workers", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith("Verdict:")]
    assert lines[start + 1 :] and all(len(line) <= 80 for line in lines[start:])
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("Run dir"))
    return " ".join(lines[start:end])  # one sentence, wrapped at spaces to 80 columns


def test_a_detector_with_signal_is_told_it_beats_both_baselines(tmp_path, synth_mvtec, pixel_stats):
    # Before: `run` printed the table and the run dir, and never said whether it beat them.
    line = _run(tmp_path, synth_mvtec, "pixel-stats")
    assert (
        line.startswith("Verdict: beats always-defect (p<0.001, +")
        and " and always-normal (p" in line
    )
    assert "does not" not in line and "95% interval " in line


def test_a_baseline_run_is_told_it_does_not_beat_them(tmp_path, synth_mvtec):
    line = _run(tmp_path, synth_mvtec, "always-normal")
    assert line.startswith("Verdict: does not beat always-defect (p")
    assert " or always-normal (p=1, +0.0 pts)" in line


def _summary(p_defect: float, p_normal: float, threshold: str = "fixed:0.5") -> dict[str, object]:
    def block(p: float, delta: float) -> dict[str, float]:
        return {"p_value": p, "better": 30, "worse": 2, "accuracy_delta": delta}

    tests = {"always-defect": block(p_defect, 0.3), "always-normal": block(p_normal, 0.1)}
    return {
        "threshold": threshold,
        "overall": {"accuracy": 0.8},
        "statistics": {
            "mcnemar": tests,
            "bootstrap": {"level": 0.95, "resamples": 1000,
                          "overall": {"accuracy": [0.75, 0.85]}},
        },
    }  # fmt: skip


def test_the_line_words_the_tables_decision_mixed_oracle_and_untested():
    mixed = verdict_line(_summary(0.0001, 0.2))
    assert mixed == (
        "Verdict: beats always-defect (p<0.001, +30.0 pts) but does not beat always-normal "
        "(p=0.2, +10.0 pts); accuracy 80.0%, 95% interval 75.0–85.0."
    )
    oracle = verdict_line(_summary(0.0001, 0.0001, threshold="oracle"))
    assert oracle.startswith("Verdict: not counted‡: oracle threshold") and "beats" not in oracle
    assert verdict_line({"overall": {}}) == "Verdict: untested (no statistics in summary.json)."

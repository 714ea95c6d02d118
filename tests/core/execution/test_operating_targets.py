"""Operating-point targets are run options (issue 20 item 4: "1 % and 5 % by default, ...").

``run`` / ``matrix`` ``--far-targets`` / ``--recall-targets`` and ``evaluate(far_targets=...)``
choose them, checked by ``contract.numbers``; ``summary.json`` records them; they stay out of the
configuration hash, so a finished run asked for other targets is re-summarised from its sealed
predictions (nothing predicted) and the exports get a column per recorded target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.contract.errors import ArgumentError
from iadbench.contract.method import Capabilities, MethodAdapter, NoOptions
from iadbench.contract.numbers import fraction_targets
from iadbench.contract.records import Prediction, Sample
from iadbench.execution.api import evaluate
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.runs.seal import seal_problem


class _TargetScores(MethodAdapter[NoOptions]):
    """A score in [0, 1] from the image id, higher for defects (some signal, no model)."""

    capabilities = Capabilities(needs_pixels=False, gives_scores=True, builds_models=False)

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        def score(sample: Sample) -> float:
            noise = hashlib.sha256(sample.id.encode()).digest()[0] / 255
            return 0.6 * noise + (0.4 if sample.label == "defect" else 0.0)

        return [Prediction(score=score(sample)) for sample in batch]


@pytest.fixture()
def method() -> str:
    METHODS.add("target-scores", _TargetScores, "tests (operating-point targets)")
    return "target-scores"


def _run(out: Path, data: Path, method: str, **targets: tuple[float, ...]) -> Any:
    request = RunRequest(method=method, train=None, test="mvtec",
                         data_roots={"mvtec": str(data)}, out=out, cache_dir=out.parent / "cache",
                         **targets)  # fmt: skip
    return execute_run(plan_run(request))


def _keys(summary: dict[str, Any]) -> tuple[list[str], list[str]]:
    overall = summary["operating_points"]["overall"]
    return sorted(overall["recall_at_far"]), sorted(overall["far_at_recall"])


def test_targets_are_parsed_and_checked_by_the_numbers_owner() -> None:
    assert fraction_targets("0.05,0.01, 0.05", name="--far-targets") == (0.01, 0.05)
    assert fraction_targets([0.9, 1], name="recall_targets") == (0.9, 1.0)
    for bad in ("0.01,x", "", "1.5", "nan", "0.1,", [], [True], "-0.1"):
        with pytest.raises(ArgumentError, match="far-targets|far_targets"):
            fraction_targets(bad, name="--far-targets" if isinstance(bad, str) else "far_targets")


def test_run_records_the_asked_targets_and_resummarises_a_finished_run(
    tmp_path: Path, synth_mvtec: Path, method: str
) -> None:
    out = tmp_path / "run"
    first = _run(out, synth_mvtec, method, far_targets=(0.1, 0.2), recall_targets=(0.9,))
    points = first.summary["operating_points"]
    assert (points["far_targets"], points["recall_targets"]) == ([0.1, 0.2], [0.9])
    assert _keys(first.summary) == (["0.1", "0.2"], ["0.9"])
    assert set(points["overall"]["intervals"]["recall_at_far"]) == {"0.1", "0.2"}
    predictions = (out / "predictions.jsonl").read_bytes()

    # The same configuration with the default targets: reused (nothing predicted), the block
    # recomputed at 1 % / 5 % and 95 % / 99 %, sealed again, everything else as it was.
    again = _run(out, synth_mvtec, method)
    assert again.reused and again.computed == 0
    assert _keys(again.summary) == (["0.01", "0.05"], ["0.95", "0.99"])
    stored = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert stored == again.summary and seal_problem(stored, out / "predictions.jsonl") is None
    assert (out / "predictions.jsonl").read_bytes() == predictions
    assert stored["config_hash"] == first.summary["config_hash"]
    for key in ("overall", "per_class", "statistics", "score_calibration"):
        assert stored[key] == first.summary[key]
    # A fresh run at the defaults gives the very same block (same predictions, same seed).
    fresh = _run(tmp_path / "fresh", synth_mvtec, method)
    assert fresh.summary["operating_points"] == stored["operating_points"]
    # Asked again for what it holds: nothing rewritten.
    before = (out / "summary.json").stat().st_mtime_ns
    assert _run(out, synth_mvtec, method).summary == stored
    assert (out / "summary.json").stat().st_mtime_ns == before


def test_the_cli_takes_targets_and_refuses_bad_ones_before_any_work(
    tmp_path: Path, synth_mvtec: Path, method: str
) -> None:
    base = ["run", "--method", method, "--test", "mvtec", "--data", f"mvtec={synth_mvtec}",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    bad = tmp_path / "bad"
    result = CliRunner().invoke(app, [*base, "--out", str(bad), "--far-targets", "0.01,5"])
    assert result.exit_code == 2 and "--far-targets" in result.output
    assert "Traceback" not in result.output and not bad.exists()
    good = tmp_path / "good"
    result = CliRunner().invoke(app, [*base, "--out", str(good), "--recall-targets", "0.5"])
    assert result.exit_code == 0, result.output
    summary = json.loads((good / "summary.json").read_text(encoding="utf-8"))
    assert summary["operating_points"]["recall_targets"] == [0.5]
    assert summary["operating_points"]["far_targets"] == [0.01, 0.05]


def test_the_api_takes_targets_under_their_python_names(
    tmp_path: Path, synth_mvtec: Path, method: str
) -> None:
    common: dict[str, Any] = {"data": {"mvtec": synth_mvtec}, "cache_dir": tmp_path / "cache"}
    with pytest.raises(ArgumentError, match="far_targets"):
        evaluate(method, "mvtec", out=tmp_path / "a", far_targets="0.1", **common)
    with pytest.raises(ArgumentError, match="recall_targets"):
        evaluate(method, "mvtec", out=tmp_path / "a", recall_targets=[2.0], **common)
    assert not (tmp_path / "a").exists()
    summary = evaluate(method, "mvtec", out=tmp_path / "b", far_targets=[0.3], **common)
    assert _keys(summary)[0] == ["0.3"]


def test_the_exports_get_a_column_per_recorded_target(
    tmp_path: Path, synth_mvtec: Path, method: str
) -> None:
    from iadbench.views.leaderboard import collect_runs
    from iadbench.views.leaderboard.export import COLUMNS, leaderboard_csv, leaderboard_records

    runs = tmp_path / "runs"
    summary = _run(runs / "other", synth_mvtec, method, far_targets=(0.01, 0.3)).summary
    records = leaderboard_records(collect_runs(runs))
    pooled = next(r for r in records if r["group"] == "pooled" and r["method"] == method)
    overall = summary["operating_points"]["overall"]
    assert pooled["recall_at_far_0.3"] == overall["recall_at_far"]["0.3"]["recall"]
    assert pooled["miss_rate_at_far_0.3"] == overall["recall_at_far"]["0.3"]["miss_rate"]
    assert pooled["recall_at_far_0.05"] is None  # not recorded by this run: an empty cell
    header = leaderboard_csv(collect_runs(runs)).splitlines()[0].split(",")
    assert header[: len(COLUMNS)] == list(COLUMNS)
    assert header[len(COLUMNS) :] == ["recall_at_far_0.3", "miss_rate_at_far_0.3"]


def test_matrix_passes_the_targets_to_every_cell(
    tmp_path: Path, synth_mvtec: Path, synth_visa: Path, method: str
) -> None:
    base = ["matrix", "--methods", method, "--datasets", "mvtec,visa", "--data",
            f"mvtec={synth_mvtec}", "--data", f"visa={synth_visa}", "--cache-dir",
            str(tmp_path / "cache")]  # fmt: skip
    refused = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "bad"),
                                       "--recall-targets", "0.9,x"])  # fmt: skip
    assert refused.exit_code == 2 and "--recall-targets" in refused.output
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "matrix"
    result = CliRunner().invoke(app, [*base, "--out", str(out), "--far-targets", "0.2"])
    assert result.exit_code == 0, result.output
    summaries = sorted(out.glob("*/*/summary.json"))
    assert len(summaries) == 2  # zero-shot: one run per test set
    for path in summaries:
        points = json.loads(path.read_text(encoding="utf-8"))["operating_points"]
        assert points["far_targets"] == [0.2] and points["recall_targets"] == [0.95, 0.99]

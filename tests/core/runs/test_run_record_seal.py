"""Sealed summaries (issue 9 item 6) and per-attempt provenance (item 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import RunOutcome, execute_run
from iadbench.runs.provenance import provenance
from iadbench.runs.seal import DIGEST_KEY
from iadbench.views.leaderboard import collect_runs


@pytest.fixture()
def finished(tmp_path: Path, synth_mvtec: Path, synth_visa: Path) -> RunRequest:
    request = RunRequest(
        method="always-defect", train="visa", test="mvtec", out=tmp_path / "runs" / "ad",
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    execute_run(plan_run(request))
    return request


def _run(request: RunRequest, **changes: object) -> RunOutcome:
    return execute_run(plan_run(RunRequest(**{**vars(request), **changes})))  # type: ignore[arg-type]


def _summary(request: RunRequest) -> dict:
    assert request.out is not None
    return json.loads((request.out / "summary.json").read_text())


def test_a_finished_run_is_sealed_and_served_again(finished):
    summary = _summary(finished)
    assert summary["schema"] == 2 and len(summary[DIGEST_KEY]["predictions"]) == 64
    assert _run(finished).reused
    assert [r.method for r in collect_runs(finished.out.parent).runs] == ["always-defect"]


def test_a_hand_edited_summary_is_refused_by_run_and_leaderboard(finished):
    summary = _summary(finished)
    summary["overall"]["accuracy"] = 0.99  # a better number, by hand
    (finished.out / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RunConflictError, match="changed after iadbench wrote it"):
        _run(finished)
    with pytest.raises(IADBenchError, match=r"ad: summary.json was changed"):
        collect_runs(finished.out.parent)
    replaced = _run(finished, overwrite=True)
    assert not replaced.reused and replaced.summary["overall"]["accuracy"] != 0.99


def test_predictions_edited_after_the_summary_are_refused(finished):
    path = finished.out / "predictions.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["pred"] = "normal" if record["pred"] == "defect" else "defect"
    path.write_text(json.dumps(record) + "\n" + "".join(lines[1:]))
    with pytest.raises(RunConflictError, match="predictions.jsonl was changed"):
        _run(finished)
    with pytest.raises(IADBenchError, match="predictions.jsonl was changed"):
        collect_runs(finished.out.parent)


def test_an_unsealed_older_summary_is_recomputed_by_run_and_refused_by_the_leaderboard(finished):
    summary = _summary(finished)
    del summary[DIGEST_KEY]
    (finished.out / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(IADBenchError, match="carries no digest"):
        collect_runs(finished.out.parent)
    again = _run(finished)
    assert not again.reused and again.computed == 0
    assert DIGEST_KEY in _summary(finished)
    assert collect_runs(finished.out.parent).runs


def _interrupt_after(request: RunRequest, keep: int, **attempt_changes: object) -> None:
    """Make the finished run look like an attempt that stopped after ``keep`` predictions."""
    assert request.out is not None
    path = request.out / "predictions.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:keep]))
    (request.out / "summary.json").unlink()
    manifest = json.loads((request.out / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    manifest["attempts"][0].update(attempt_changes)
    (request.out / "manifest.json").write_text(json.dumps(manifest))


def test_one_attempt_or_equal_attempts_are_not_mixed(finished):
    assert _summary(finished)["provenance"] == {
        "attempts": 1, "contributing": [1], "mixed": False, "differences": []
    }  # fmt: skip
    _interrupt_after(finished, 10)
    resumed = _run(finished)
    assert resumed.resumed == 10
    assert resumed.summary["provenance"]["contributing"] == [1, 2]
    assert resumed.summary["provenance"]["mixed"] is False


def test_predictions_from_attempts_with_other_versions_are_marked_mixed(finished):
    _interrupt_after(finished, 10, versions={"python": "3.0.0", "torch": "0.0-fake"})
    resumed = _run(finished)
    record = resumed.summary["provenance"]
    assert record["mixed"] is True and record["contributing"] == [1, 2]
    assert any("python 3.0.0 → " in d for d in record["differences"])
    manifest = json.loads((finished.out / "manifest.json").read_text())
    assert [a["number"] for a in manifest["attempts"]] == [1, 2]
    assert manifest["attempts"][0]["versions"]["python"] == "3.0.0"  # history kept, not overwritten
    assert manifest["attempts"][1]["predictions_at_start"] == 10


def test_an_attempt_that_wrote_nothing_does_not_count(finished):
    _interrupt_after(finished, 0, git={"commit": "0" * 40, "dirty": True})
    resumed = _run(finished)
    assert resumed.summary["provenance"]["contributing"] == [2]
    assert resumed.summary["provenance"]["mixed"] is False


def test_provenance_of_an_older_manifest_is_unknown_and_mixed():
    attempts = [{"number": 1, "unknown": True}, {"number": 2, "predictions_at_start": 5,
                "versions": {"torch": "2"}, "git": None, "device": "cpu", "processes": 1,
                "batch_size": 8}]  # fmt: skip
    record = provenance(attempts, 9)
    assert record["mixed"] is True and "older iadbench" in record["differences"][0]
    alone = provenance(attempts[1:], 9)
    assert alone["mixed"] is False and alone["contributing"] == [2]

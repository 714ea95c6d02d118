"""A run dir whose predictions no valid manifest vouches for is never resumed (issue 9, item 1)."""

from __future__ import annotations

import json

import pytest

from iadbench.contract.errors import RunConflictError
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run


def _run(roots, out, method, **changes):
    request = RunRequest(method=method, train="visa", test="mvtec", data_roots=roots, out=out,
                         **changes)  # fmt: skip
    return execute_run(plan_run(request))


@pytest.fixture()
def roots(synth_mvtec, synth_visa):
    return {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}


@pytest.fixture()
def finished(tmp_path, roots):
    out = tmp_path / "run"
    _run(roots, out, "always-defect")
    return out


def _preds(out):
    lines = (out / "predictions.jsonl").read_text().splitlines()
    return {json.loads(line)["pred"] for line in lines}


@pytest.mark.parametrize("damage", ["corrupt", "delete"])
def test_predictions_without_a_valid_manifest_are_not_adopted(finished, roots, damage):
    manifest = finished / "manifest.json"
    if damage == "corrupt":
        manifest.write_text("{not json")
    else:
        manifest.unlink()
    with pytest.raises(RunConflictError, match="--overwrite"):
        _run(roots, finished, "always-normal")
    assert _preds(finished) == {"defect"}  # nothing was touched

    outcome = _run(roots, finished, "always-normal", overwrite=True)
    assert outcome.summary["method"] == "always-normal" and outcome.resumed == 0
    assert _preds(finished) == {"normal"}


def test_a_corrupt_summary_is_not_served_and_overwrite_recomputes(finished, roots):
    (finished / "summary.json").write_text("[")
    with pytest.raises(RunConflictError, match="summary.json"):
        _run(roots, finished, "always-defect")
    outcome = _run(roots, finished, "always-defect", overwrite=True)
    assert not outcome.reused and outcome.summary["method"] == "always-defect"
    assert json.loads((finished / "summary.json").read_text())["method"] == "always-defect"

"""Zero-shot runs (issue 12 item 3): no ``--train``, keyed and grouped by the test set alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.contract.errors import IADBenchError
from iadbench.execution.matrix import MatrixRequest, plan_matrix, run_matrix
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.views.leaderboard import collect_runs
from iadbench.views.leaderboard.rows import Direction, group_by_direction


@pytest.fixture()
def roots(synth_mvtec: Path, synth_visa: Path) -> dict[str, str]:
    return {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}


def _request(tmp_path: Path, roots: dict[str, str], **changes) -> RunRequest:
    base = dict(method="always-defect", train=None, test="mvtec", data_roots=roots,
                cache_dir=tmp_path / "cache")  # fmt: skip
    return RunRequest(**{**base, **changes})


def test_a_zero_shot_run_is_the_same_run_whatever_train_is_given(tmp_path, roots):
    plans = [plan_run(_request(tmp_path, roots, train=t)) for t in (None, "visa", "mvtec")]
    assert {p.config_hash for p in plans} == {plans[0].config_hash}
    assert all(p.spec.train is None and p.data.train is None for p in plans)
    assert plans[0].out.name.startswith("zero-shot_to_mvtec-all_")
    # Nothing of a training dataset is read: a --train whose root is not even set is ignored.
    plan_run(_request(tmp_path, {"mvtec": roots["mvtec"]}, train="visa"))


def test_its_summary_records_no_training_data(tmp_path, roots):
    outcome = execute_run(plan_run(_request(tmp_path, roots, out=tmp_path / "run")))
    assert outcome.summary["train"] is None
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["train"] is None


def test_a_training_method_and_a_training_data_threshold_still_need_train(
    tmp_path, roots, plugin_file
):
    METHODS.load_plugin_file(plugin_file)  # brightness: trains, gives scores
    with pytest.raises(IADBenchError, match="brightness.* trains; name the training dataset"):
        plan_run(_request(tmp_path, roots, method="brightness"))
    assert plan_run(_request(tmp_path, roots, method="brightness", train="visa")).spec.train
    # A score method that does not train is zero-shot under fixed:0.5 but not when its
    # threshold is chosen on the training data.
    METHODS.load_plugin_file(plugin_file)
    with pytest.raises(IADBenchError, match="normal-quantile.*--train"):
        plan_run(_request(tmp_path, roots, method="winclip", threshold="normal-quantile:0.99"))
    assert plan_run(_request(tmp_path, roots, method="winclip", tiny=True)).spec.train is None
    calibrated = plan_run(_request(tmp_path, roots, method="winclip", threshold="calibrated",
                                   train="visa", tiny=True))  # fmt: skip
    assert calibrated.spec.train is not None and calibrated.data.calibration


def test_a_matrix_runs_a_zero_shot_method_once_per_test_set(tmp_path, roots, plugin_file):
    METHODS.load_plugin_file(plugin_file)
    request = MatrixRequest(
        methods=["always-defect", "brightness"], datasets=["mvtec", "visa"], out=tmp_path / "m",
        data_roots=roots, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    cells = sorted(str(p.out.relative_to(tmp_path / "m")) for p in plan_matrix(request))
    assert cells == [
        "always-defect/zero-shot_to_mvtec", "always-defect/zero-shot_to_visa",
        "brightness/mvtec_to_visa", "brightness/visa_to_mvtec",
    ]  # fmt: skip
    run_matrix(request)
    # In the tables the zero-shot run is a row of each direction that tests on its test set.
    grouped = group_by_direction(collect_runs(tmp_path / "m"))
    assert set(grouped) == {Direction("visa", "mvtec", "all"), Direction("mvtec", "visa", "all")}
    for direction, rows in grouped.items():
        stored = {(r.method, r.derived) for r in rows.rows}
        assert ("always-defect", False) in stored and ("brightness", False) in stored, direction


def test_zero_shot_runs_alone_form_a_zero_shot_direction(tmp_path, roots):
    execute_run(plan_run(_request(tmp_path, roots, out=tmp_path / "runs" / "a")))
    grouped = group_by_direction(collect_runs(tmp_path / "runs"))
    assert list(grouped) == [Direction("zero-shot", "mvtec", "all")]


def test_the_cli_runs_a_zero_shot_method_without_train(tmp_path, roots):
    result = CliRunner().invoke(app, ["run", "--method", "always-normal", "--test", "mvtec",
                                      "--data", f"mvtec={roots['mvtec']}",
                                      "--out", str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "zero-shot" in result.output
    refused = CliRunner().invoke(app, ["train", "--method", "always-normal", "--train", "mvtec",
                                       "--data", f"mvtec={roots['mvtec']}"])  # fmt: skip
    assert refused.exit_code == 2 and "has no training stage" in refused.output

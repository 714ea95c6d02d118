"""Own parts end to end: `data split`, then a training method trains on Train and tests on Test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.data import FolderDataset
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.data.split_file import read_split_file, split_file_path
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run


def _split(root: Path, *args: str) -> None:
    result = CliRunner().invoke(
        app, ["data", "split", "parts", "--data", f"parts={root}", "--train-normal-ratio", "0.5",
              "--normal-folders", "nominal,pass", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_anomalygpt_trains_on_the_train_subset_and_tests_on_the_test_subset(
    tmp_path: Path, parts: Path
) -> None:
    pytest.importorskip("torch")
    _split(parts)
    rows = read_split_file(split_file_path(parts))
    train_ids = {r.image for r in rows if r.subset == "train"}
    test_ids = {r.image for r in rows if r.subset == "test"}
    assert len(train_ids) == 4 and len(test_ids) == 8  # half of 8 normals; every defect tests
    out, cache = tmp_path / "run", tmp_path / "cache"
    result = CliRunner().invoke(
        app, ["run", "--method", "anomalygpt", "--tiny", "--train", "parts", "--test", "parts",
              "--data", f"parts={parts}", "--set", "max_train_samples=0", "--out", str(out),
              "--cache-dir", str(cache), "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    summary = json.loads((out / "summary.json").read_text())
    assert summary["train"] == {"dataset": "parts", "split": "train"}
    assert summary["test"] == {"dataset": "parts", "split": "test"}
    predicted = {json.loads(line)["id"] for line in (out / "predictions.jsonl").open()}
    assert predicted == test_ids and not predicted & train_ids
    manifest = json.loads((out / "manifest.json").read_text())
    # Training saw exactly the Train subset: its size and fingerprint, and the adapter's count.
    train_samples = FolderDataset(parts, name="parts").samples("train")
    (trained,) = (cache / "trained" / "anomalygpt").iterdir()
    record = json.loads((trained / "training-data.json").read_text())
    assert (record["split"], record["n_samples"]) == ("train", 4)
    assert record["fingerprint"] == fingerprint_samples(train_samples).digest
    assert manifest["method"]["resolved"]["training"]["images"] == 4


def _request(tmp_path: Path, parts: Path, **changes: object) -> RunRequest:
    base: dict[str, object] = dict(
        method="always-defect", train="parts", test="parts", data_roots={"parts": str(parts)},
        out=tmp_path / "run", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    return RunRequest(**{**base, **changes})  # type: ignore[arg-type]


def test_a_split_folder_dataset_defaults_to_train_and_test_subsets(
    tmp_path: Path, parts: Path
) -> None:
    assert plan_run(_request(tmp_path, parts)).spec.test.split == "all"  # type: ignore[union-attr]
    _split(parts)
    plan = plan_run(_request(tmp_path, parts, method="anomalygpt", tiny=True))
    assert (plan.spec.train.split, plan.spec.test.split) == ("train", "test")  # type: ignore[union-attr]
    assert {s.subset for s in plan.data.train or []} == {"train"}
    assert {s.subset for s in plan.data.test} == {"test"}
    explicit = plan_run(_request(tmp_path, parts, test_split="all"))
    assert explicit.spec.test.split == "all"  # type: ignore[union-attr]


def test_a_method_that_trains_on_masks_is_told_what_fits_normal_only_parts(
    tmp_path: Path, parts: Path
) -> None:
    _split(parts)
    with pytest.raises(IADBenchError, match=r"folder dataset: .* \(anomalygpt\)"):
        plan_run(_request(tmp_path, parts, method="aprilgan", tiny=True))


def test_a_new_split_file_changes_the_hash_and_the_old_run_is_refused(
    tmp_path: Path, parts: Path
) -> None:
    _split(parts, "--seed", "0")
    first = execute_run(plan_run(_request(tmp_path, parts)))
    assert execute_run(plan_run(_request(tmp_path, parts))).reused
    _split(parts, "--seed", "1", "--force")
    redrawn = plan_run(_request(tmp_path, parts))
    assert redrawn.config_hash != first.summary["config_hash"]
    with pytest.raises(RunConflictError, match=r"test\.fingerprint"):
        execute_run(redrawn)
    redone = execute_run(plan_run(_request(tmp_path, parts, overwrite=True)))
    assert not redone.reused


def test_a_method_learning_from_both_labels_refuses_normal_only_training(parts: Path) -> None:
    _split(parts)  # normal-only Train, as factories have
    request = RunRequest(method="lr-iad", train="parts", test="parts", tiny=True,
                         data_roots={"parts": str(parts)})  # fmt: skip
    with pytest.raises(IADBenchError, match="holds only normal images .*--train-defect-ratio"):
        plan_run(request)
    _split(parts, "--train-defect-ratio", "0.5", "--force")
    plan = plan_run(request)
    assert plan.data.train is not None and {s.label for s in plan.data.train} == {
        "normal", "defect"
    }

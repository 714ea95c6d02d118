"""Runner behaviour on real files: errors per image, conflicts, overlap, threshold, interrupts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from iadbench.contract.errors import RunConflictError
from iadbench.data.splits import SplitError
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run


def _request(tmp_path: Path, roots: dict[str, str], **changes) -> RunRequest:
    base = dict(
        method="always-defect",
        train="visa",
        test="mvtec",
        data_roots=roots,
        out=tmp_path / "run",
        cache_dir=tmp_path / "cache",
    )
    return RunRequest(**{**base, **changes})


@pytest.fixture()
def roots(synth_mvtec, synth_visa):
    return {"mvtec": str(synth_mvtec), "visa": str(synth_visa)}


def test_unreadable_image_is_recorded_against_it_and_the_run_goes_on(
    tmp_path, roots, synth_mvtec, plugin_file
):
    METHODS.load_plugin_file(plugin_file)
    copy = tmp_path / "mvtec"
    shutil.copytree(synth_mvtec, copy)
    broken = copy / "bottle" / "test" / "good" / "000.png"
    broken.write_bytes(broken.read_bytes()[:40])
    outcome = execute_run(
        plan_run(_request(tmp_path, {**roots, "mvtec": str(copy)}, method="brightness"))
    )
    assert outcome.summary["overall"]["errors"] == 1
    assert outcome.summary["per_class"]["bottle"]["errors"] == 1
    records = [json.loads(line) for line in (outcome.out / "predictions.jsonl").open()]
    (failed,) = [r for r in records if r["error"]]
    assert failed["id"] == "bottle/test/good/000.png" and failed["pred"] == "invalid"
    assert "000.png" in failed["error"]


def test_score_method_decisions_follow_the_threshold_policy(tmp_path, roots, plugin_file):
    METHODS.load_plugin_file(plugin_file)
    outcome = execute_run(
        plan_run(_request(tmp_path, roots, method="brightness", threshold="fixed:0.0"))
    )
    assert outcome.summary["threshold"] == "fixed:0.0"
    assert outcome.summary["overall"]["accuracy"] == pytest.approx(
        outcome.summary["overall"]["tp"] / outcome.summary["overall"]["n"]
    )
    assert outcome.summary["overall"]["auroc"] is not None


def test_another_configuration_never_reuses_a_run_dir(tmp_path, roots):
    execute_run(plan_run(_request(tmp_path, roots)))
    with pytest.raises(RunConflictError, match="another configuration"):
        execute_run(plan_run(_request(tmp_path, roots, test_split="test")))
    replaced = execute_run(plan_run(_request(tmp_path, roots, test_split="test", overwrite=True)))
    assert not replaced.reused and replaced.summary["test"]["split"] == "test"


def test_training_method_is_refused_on_its_own_training_images(tmp_path, roots, plugin_file):
    METHODS.load_plugin_file(plugin_file)
    request = _request(
        tmp_path, roots, method="brightness", train="mvtec", test="mvtec", train_split="all"
    )
    with pytest.raises(SplitError, match="memorisation"):
        execute_run(plan_run(request))
    disjoint = _request(
        tmp_path,
        roots,
        method="brightness",
        train="mvtec",
        test="mvtec",
        train_split="train",
        test_split="test",
        out=tmp_path / "disjoint",
    )
    assert execute_run(plan_run(disjoint)).summary["overall"]["n"] > 0


def test_an_overlap_refusal_writes_nothing_and_keeps_an_earlier_run(tmp_path, roots, plugin_file):
    # The refused attempt used to leave manifest.json and .lock in --out, and the next run there
    # was refused as "another configuration".
    METHODS.load_plugin_file(plugin_file)
    out = tmp_path / "run"
    common = dict(method="brightness", train="mvtec", test="mvtec", out=out)
    overlapping = _request(tmp_path, roots, **common, train_split="all", test_split="all")
    with pytest.raises(SplitError, match="memorisation"):
        execute_run(plan_run(overlapping))
    assert not out.exists()
    disjoint = _request(tmp_path, roots, **common, train_split="train", test_split="test")
    assert not execute_run(plan_run(disjoint)).reused
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with pytest.raises(SplitError, match="memorisation"):  # an earlier run's dir: left as it was
        execute_run(plan_run(overlapping))
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert execute_run(plan_run(disjoint)).reused


def test_trained_artifacts_are_reused_across_test_sets(tmp_path, roots, plugin_file):
    METHODS.load_plugin_file(plugin_file)
    first = plan_run(_request(tmp_path, roots, method="brightness"))
    second = plan_run(
        _request(tmp_path, roots, method="brightness", test_split="test", out=tmp_path / "r2")
    )
    assert first.spec.train_hash() == second.spec.train_hash()
    execute_run(first)
    stats = first.cache_dir / "trained" / "brightness" / first.spec.train_hash() / "stats.json"
    stamp = stats.stat().st_mtime_ns
    execute_run(second)
    assert stats.stat().st_mtime_ns == stamp
    manifest = json.loads((second.out / "manifest.json").read_text())
    assert manifest["trained_artifacts"] == str(stats.parent)


def test_manifest_records_configuration_versions_and_status(tmp_path, roots):
    outcome = execute_run(plan_run(_request(tmp_path, roots, command=["iadbench", "run"])))
    manifest = json.loads((outcome.out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["config_hash"] == outcome.summary["config_hash"]
    test = manifest["config"]["test"]
    assert (test["name"], test["split"], test["root"]) == ("mvtec", "all", roots["mvtec"])
    assert len(test["fingerprint"]) == 64
    assert {"python", "iadbench", "numpy", "scikit-learn"} <= set(manifest["versions"])
    assert manifest["threshold"] is None and manifest["seed"] == 0
    assert manifest["command"] == ["iadbench", "run"]


def test_method_that_fails_on_every_image_stops_the_run(tmp_path, roots):
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        "import iadbench\n"
        "@iadbench.register_method('always-broken')\n"
        "class AlwaysBroken(iadbench.MethodAdapter):\n"
        "    def predict(self, batch):\n"
        "        raise RuntimeError('weights missing')\n"
    )
    METHODS.load_plugin_file(plugin)
    with pytest.raises(Exception, match="failed on all .* weights missing"):
        execute_run(plan_run(_request(tmp_path, roots, method="always-broken")))


def test_tiny_flag_is_not_recorded_for_methods_without_models(tmp_path, roots):
    plan = plan_run(_request(tmp_path, roots, tiny=True))
    assert plan.spec.tiny is False
    assert plan.config_hash == plan_run(_request(tmp_path, roots, tiny=False)).config_hash


def test_the_summary_breaks_results_down_by_defect_type(tmp_path, roots, synth_mvtec):
    defect = execute_run(plan_run(_request(tmp_path, roots)))
    normal = execute_run(plan_run(_request(tmp_path, roots, method="always-normal",
                                           out=tmp_path / "n")))  # fmt: skip
    types = defect.summary["per_defect_type"]
    expected = {p.name for p in (synth_mvtec / "bottle" / "test").iterdir()}
    assert set(types["bottle"]) == expected and "good" in expected
    for category, kinds in types.items():
        assert sum(k["n"] for k in kinds.values()) == defect.summary["per_class"][category]["n"]
        assert all(k["rate"] == 1.0 for k in kinds.values())  # always-defect flags every kind
        assert all(k["rate"] == 0.0 for k in normal.summary["per_defect_type"][category].values())

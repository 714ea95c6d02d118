"""`iadbench run --method anomalib-patchcore --tiny` trains, predicts and reuses its training.

Planning's one-class protocols (issue 21): same dataset (Train normals of the tested category →
Test, the defaults: no split named), few-shot (``--set shots=K``), cross-dataset refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.execution.registry import METHODS
from iadbench_methods.anomalib_zoo.adapter import INDEX_FILE
from iadbench_methods.anomalib_zoo.models import Patchcore

pytestmark = pytest.mark.slow
NAME = "anomalib-patchcore"


def _invoke(out: Path, *args: str) -> Any:
    if NAME not in METHODS.names():  # the entry point, once the checkout is re-installed
        METHODS.add(NAME, Patchcore, f"tests ({Patchcore.__qualname__})")
    command = ["run", "--method", NAME, "--tiny", "--categories", "bottle", *args,
               "--out", str(out)]  # fmt: skip
    return CliRunner().invoke(app, command, env={"COLUMNS": "200", "OMP_NUM_THREADS": "1"})


def _run(out: Path, root: Path, *extra: str) -> str:
    result = _invoke(out, "--train", "mvtec", "--test", "mvtec", "--data", f"mvtec={root}", *extra)
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_a_tiny_same_dataset_run_trains_once_and_scores_every_test_image(tmp_path, synth_mvtec):
    root = synth_mvtec
    first = _run(tmp_path / "run1", root)
    rows = [json.loads(line) for line in (tmp_path / "run1" / "predictions.jsonl").open()]
    assert rows and all(0.0 <= row["score"] <= 1.0 for row in rows)
    assert all(row.get("map") for row in rows)  # every image's anomaly map stored
    assert "Trainer" not in first  # Lightning's banners stay quiet
    manifest = json.loads((tmp_path / "run1" / "manifest.json").read_text())
    assert "anomalib" in json.dumps(manifest)
    (index,) = (Path(os.environ["IADBENCH_CACHE_DIR"]) / "trained" / NAME).glob("*/" + INDEX_FILE)
    assert json.loads(index.read_text())["categories"].keys() == {"bottle"}
    stored = {p: p.stat().st_mtime_ns for p in index.parent.rglob("*") if p.is_file()}
    # A second run of the same configuration loads the stored training (no Engine.fit again).
    _run(tmp_path / "run2", root)
    rows2 = [json.loads(line) for line in (tmp_path / "run2" / "predictions.jsonl").open()]
    assert [r["score"] for r in rows2] == [r["score"] for r in rows]
    assert {p: p.stat().st_mtime_ns for p in stored} == stored
    assert all(r["id"].split("/")[0] == "bottle" or "bottle" in r["id"] for r in rows)


def test_the_few_shot_form_trains_nothing_and_keeps_its_references_out_of_the_test(
    tmp_path, synth_mvtec
):
    out = tmp_path / "few"
    _run(out, synth_mvtec, "--set", "shots=4")
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert rows and all(0.0 <= row["score"] <= 1.0 for row in rows)
    manifest = json.dumps(json.loads((out / "manifest.json").read_text()))
    assert "shots" in manifest


def test_a_cross_dataset_request_is_refused_naming_both_protocols(
    tmp_path, synth_mvtec, synth_visa
):
    out = tmp_path / "cross"
    result = _invoke(out, "--train", "visa", "--test", "mvtec", "--data", f"mvtec={synth_mvtec}",
                     "--data", f"visa={synth_visa}")  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "--train mvtec" in text and "shots=" in text
    assert not out.exists()

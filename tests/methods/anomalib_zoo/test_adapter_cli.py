"""`iadbench run --method anomalib-patchcore --tiny` trains, predicts and reuses its training.

Same dataset, one category (a tree holding a link to the synthetic MVTec-AD bottle folder).
Until planning's one-class protocol lands (issue 21, zooprotocol) the subsets are named
explicitly (``--train-split train --test-split test``); they are its defaults afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.execution.registry import METHODS
from iadbench_methods.anomalib_zoo.adapter import INDEX_FILE
from iadbench_methods.anomalib_zoo.models import Patchcore

pytestmark = pytest.mark.slow
NAME = "anomalib-patchcore"


def _run(out: Path, root: Path) -> str:
    if NAME not in METHODS.names():  # the entry point, once the checkout is re-installed
        METHODS.add(NAME, Patchcore, f"tests ({Patchcore.__qualname__})")
    args = ["run", "--method", NAME, "--train", "mvtec", "--test", "mvtec", "--tiny",
            "--train-split", "train", "--test-split", "test", "--data", f"mvtec={root}",
            "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "OMP_NUM_THREADS": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_tiny_same_dataset_run_trains_once_and_scores_every_test_image(tmp_path, synth_mvtec):
    root = tmp_path / "one-category"
    root.mkdir()
    (root / "bottle").symlink_to(synth_mvtec / "bottle")
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

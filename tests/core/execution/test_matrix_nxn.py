"""The N × N matrix (issue 22 item 5): every ordered pair, ``--directions``, the diagonal, cells
planning refuses skipped with their reason, and a 3 × 3 matrix end to end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.contract.errors import DatasetNotFoundError, IADBenchError
from iadbench.contract.method import Capabilities, MethodAdapter
from iadbench.contract.records import Prediction
from iadbench.execution.matrix import MatrixRequest, parse_directions, plan_cells, run_matrix
from iadbench.execution.registry import METHODS

DATASETS = ["mvtec", "visa", "parts"]


def write_parts(root: Path) -> Path:
    """A folder dataset (own parts) of drawn images, split: 3 train normals per category."""
    from iadbench.data.folder import FolderDataset
    from iadbench.data.split_file import draw_split, split_file_path, write_split_file
    from iadbench.data.synth_drawing import Painter

    for category, defect in (("bracket", "scratch"), ("hinge", "bent")):
        painter = Painter("bottle", 32, False, np.random.default_rng(0))
        for folder, n in (("good", 6), (defect, 3)):
            (root / category / folder).mkdir(parents=True)
            for i in range(n):
                pixels = painter.normal() if folder == "good" else painter.defect()[0]
                Image.fromarray(pixels).save(root / category / folder / f"{i:02d}.png")
    # As `iadbench data split parts --train-normal-ratio 0.5` draws it.
    samples = FolderDataset(root, name="parts").samples("all")
    write_split_file(split_file_path(root), draw_split(samples, root, train_normal_ratio=0.5))
    return root


@pytest.fixture(scope="module")
def roots(synth_mvtec: Path, synth_visa: Path, tmp_path_factory) -> dict[str, str]:
    parts = write_parts(tmp_path_factory.mktemp("own") / "parts")
    return {"mvtec": str(synth_mvtec), "visa": str(synth_visa), "parts": str(parts)}


def _request(tmp_path: Path, roots: dict[str, str], **changes: Any) -> MatrixRequest:
    base: dict[str, Any] = dict(methods=["brightness"], datasets=DATASETS, out=tmp_path / "m",
                                data_roots=roots, cache_dir=tmp_path / "cache")  # fmt: skip
    return MatrixRequest(**{**base, **changes})


def _cells(tmp_path: Path, request: MatrixRequest) -> list[str]:
    return sorted(str(p.out.relative_to(tmp_path / "m")) for p in plan_cells(request).plans)


def test_every_ordered_pair_of_n_datasets_and_directions_restricts(tmp_path, roots, plugin_file):
    METHODS.load_plugin_file(plugin_file)  # brightness: trains, gives scores
    every = _cells(tmp_path, _request(tmp_path, roots))
    assert every == sorted(f"brightness/{a}_to_{b}" for a in DATASETS for b in DATASETS if a != b)
    only = _request(tmp_path, roots, directions=[("visa", "parts"), ("parts", "mvtec")])
    assert _cells(tmp_path, only) == ["brightness/parts_to_mvtec", "brightness/visa_to_parts"]
    # A zero-shot method runs once per test set among the named directions.
    zero = _request(tmp_path, roots, methods=["always-normal"], directions=[("visa", "parts")])
    assert _cells(tmp_path, zero) == ["always-normal/zero-shot_to_parts"]


def test_directions_are_validated_against_datasets():
    assert parse_directions("mvtec:visa, visa:visa,mvtec:visa", ["mvtec", "visa"]) == [
        ("mvtec", "visa"), ("visa", "visa"),
    ]  # fmt: skip
    with pytest.raises(IADBenchError, match=r"'mvtec:mpdd' names 'mpdd', not in --datasets"):
        parse_directions("mvtec:mpdd", ["mvtec", "visa"])
    for bad in ("mvtec-visa", "mvtec:", ":visa", "a:b:c", " , "):
        with pytest.raises(IADBenchError, match="--directions"):
            parse_directions(bad, ["mvtec", "visa", "a", "b"])


def test_the_cli_refuses_a_direction_outside_datasets_in_one_sentence(tmp_path, roots):
    out = tmp_path / "m"
    result = CliRunner().invoke(app, [
        "matrix", "--methods", "always-normal", "--datasets", "mvtec,visa",
        "--directions", "mvtec:parts", "--data", f"mvtec={roots['mvtec']}", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "'mvtec:parts' names 'parts', not in --datasets (mvtec, visa)" in text
    assert not out.exists()  # nothing written


def test_the_diagonal_only_where_asked_and_refused_cells_are_skipped_with_why(
    tmp_path, roots, plugin_file
):
    METHODS.load_plugin_file(plugin_file)
    request = _request(tmp_path, roots, diagonal=True)
    matrix = plan_cells(request)
    cells = sorted(str(p.out.relative_to(tmp_path / "m")) for p in matrix.plans)
    # Own parts train on Train and test on Test (their split file): a real diagonal cell. On
    # MVTec-AD / VisA the test split is All, which holds the Train images: the overlap guard
    # refuses those two diagonal cells in planning, and the matrix goes on without them.
    assert "brightness/parts_to_parts" in cells and len(cells) == 7
    assert {(s.train, s.test) for s in matrix.skipped} == {("mvtec", "mvtec"), ("visa", "visa")}
    assert all("also in the training subset" in s.reason for s in matrix.skipped)
    # The advice is what a matrix user can do: the matrix has no --force-overlap.
    for skipped in matrix.skipped:
        assert "--force-overlap if" not in skipped.reason, skipped.reason
        cell = f"{skipped.train}→{skipped.test} trains on 'train' and tests on 'all'"
        assert f"({cell}; --test-split test changes every cell)" in skipped.reason, skipped.reason
        assert skipped.reason.endswith(
            "(drop --diagonal, or name the cells to run with --directions)."
        )
    # With the Test subset every diagonal cell runs.
    tested = plan_cells(_request(tmp_path, roots, diagonal=True, test_split="test"))
    assert len(tested.plans) == 9 and not tested.skipped


class _MaskTrainer(MethodAdapter[Any]):
    """Trains on defect masks: planning refuses a training set without them (own parts)."""

    capabilities = Capabilities(needs_pixels=False, trains=True, needs_masks=True)

    def fit(self, samples: Any) -> None:
        pass

    def load(self) -> None:
        pass

    def predict(self, batch: Any, inputs: Any = None) -> list[Prediction]:
        return [Prediction(label="defect") for _ in batch]


class _OneClass(_MaskTrainer):
    """A one-class model: its protocol is the same dataset (its diagonal is a cell by default)."""

    capabilities = Capabilities(needs_pixels=False, trains=True, one_class=True)


def test_a_cell_planning_refuses_is_skipped_and_the_others_run(tmp_path, roots):
    METHODS.add("mask-trainer", _MaskTrainer, "test")
    # Trained on the Test subsets: VisA's hold defect masks, own parts' none.
    request = _request(tmp_path, roots, methods=["mask-trainer", "always-normal"],
                       directions=[("parts", "mvtec"), ("visa", "mvtec")], limit=2,
                       train_split="test")  # fmt: skip
    seen: list[Any] = []
    outcomes = run_matrix(request, on_skipped=seen.append)
    assert [(s.method, s.train, s.test) for s in seen] == [("mask-trainer", "parts", "mvtec")]
    assert "trains on defect masks" in seen[0].reason
    ran = sorted((o.summary["method"], (o.summary["train"] or {}).get("dataset")) for o in outcomes)
    assert ran == [("always-normal", None), ("mask-trainer", "visa")]
    # Every cell refused: one error, nothing run.
    with pytest.raises(IADBenchError, match="every cell of the matrix was refused"):
        plan_cells(_request(tmp_path, roots, methods=["mask-trainer"], train_split="test",
                            directions=[("parts", "mvtec")]))  # fmt: skip
    # A missing root is the whole matrix's problem: it still stops it before anything runs.
    with pytest.raises(DatasetNotFoundError):
        plan_cells(_request(tmp_path, {**roots, "parts": str(tmp_path / "gone")},
                            methods=["always-normal"]))  # fmt: skip


def test_a_one_class_configuration_gets_its_diagonal_by_default(tmp_path, roots):
    METHODS.add("one-class", _OneClass, "test")
    cells = _cells(tmp_path, _request(tmp_path, roots, methods=["one-class"], test_split="test"))
    assert {f"one-class/{d}_to_{d}" for d in DATASETS} <= set(cells)
    # Named in --directions, a cross-dataset cell is planned, and planning's one-class rule
    # refuses it (issue 21): the matrix says why instead of running it.
    restricted = _request(tmp_path, roots, methods=["one-class"], directions=[("mvtec", "visa")])
    with pytest.raises(IADBenchError, match="one model per category.*--train visa"):
        _cells(tmp_path, restricted)
    named = [("mvtec", "visa"), ("visa", "visa")]
    both = _request(tmp_path, roots, methods=["one-class"], directions=named, test_split="test")
    assert _cells(tmp_path, both) == ["one-class/visa_to_visa"]  # exactly what is named


@pytest.mark.slow
def test_a_3x3_matrix_end_to_end_with_the_baselines(tmp_path, roots, plugin_file):
    out = tmp_path / "m"
    data = [arg for name, root in roots.items() for arg in ("--data", f"{name}={root}")]
    result = CliRunner().invoke(app, [
        "matrix", "--plugin", str(plugin_file), "--methods",
        "always-normal,always-defect,pixel-stats,brightness", "--datasets", ",".join(DATASETS),
        "--diagonal", "--test-split", "test", "--tiny", "--limit", "2",
        "--set", "pixel-stats:shots=2", *data, "--out", str(out), "--cache-dir",
        str(tmp_path / "cache"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    cells = {str(p.parent.relative_to(out)) for p in out.rglob("summary.json")}
    baselines = {f"{m}/zero-shot_to_{d}" for m in ("always-normal", "always-defect",
                                                   "pixel-stats") for d in DATASETS}  # fmt: skip
    assert cells == baselines | {f"brightness/{a}_to_{b}" for a in DATASETS for b in DATASETS}
    leaderboard = (out / "LEADERBOARD.md").read_text()
    overview = leaderboard.index("## Overview: trained on (rows) × tested on (columns), test split")
    assert overview < leaderboard.index("## Pooled over all test images")
    report = CliRunner().invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    page = (out / "report.html").read_text()
    assert page.index('<h2 id="overview">') < page.index('<h2 id="leaderboard">')


def test_the_cli_names_a_skipped_cell_and_runs_the_others(tmp_path, roots, plugin_file):
    out = tmp_path / "m"
    result = CliRunner().invoke(app, [
        "matrix", "--plugin", str(plugin_file), "--methods", "brightness",
        "--datasets", "mvtec,visa", "--directions", "mvtec:mvtec,visa:mvtec",
        "--data", f"mvtec={roots['mvtec']}", "--data", f"visa={roots['visa']}",
        "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # Before the cells run and again at the end, with planning's sentence.
    said = r"Skipped: brightness mvtec→mvtec: \d+ of \d+ test images are also in the training"
    assert len(re.findall(said, text)) == 2
    assert "--force-overlap if" not in text and "(drop mvtec:mvtec from --directions)" in text
    assert "1 runs in" in text and "1 cell(s) skipped (above)" in text
    assert [p.parent.name for p in out.rglob("summary.json")] == ["visa_to_mvtec"]


def test_a_few_shot_threshold_chosen_on_another_dataset_is_refused_and_skipped(tmp_path, roots):
    """pixel-stats has references for the test dataset's categories only: under a threshold
    chosen on the training dataset every calibration image failed and the matrix stopped."""
    request = _request(tmp_path, roots, methods=["pixel-stats", "always-normal"],
                       datasets=["mvtec", "visa"], threshold="normal-quantile:0.9", limit=2,
                       diagonal=True, test_split="test")  # fmt: skip
    seen: list[Any] = []
    outcomes = run_matrix(request, on_skipped=seen.append)
    assert sorted((s.method, s.train, s.test) for s in seen) == [
        ("pixel-stats", "mvtec", "visa"), ("pixel-stats", "visa", "mvtec"),
    ]  # fmt: skip
    assert "references of its category from the test dataset 'visa'" in seen[0].reason
    assert "--threshold fixed:T or oracle" in seen[0].reason
    # Chosen on the test dataset itself (its diagonal), the threshold is chosen and applied.
    diagonal = [o.summary for o in outcomes if o.summary["method"] == "pixel-stats"]
    assert sorted((s["train"]["dataset"], s["test"]["dataset"]) for s in diagonal) == [
        ("mvtec", "mvtec"), ("visa", "visa"),
    ]  # fmt: skip
    assert all(s["calibration"]["policy"] == "normal-quantile" for s in diagonal)
    # `run` refuses it in planning: one sentence, nothing written.
    out = tmp_path / "one"
    result = CliRunner().invoke(app, [
        "run", "--method", "pixel-stats", "--train", "mvtec", "--test", "visa",
        "--threshold", "calibrated", "--data", f"mvtec={roots['mvtec']}",
        "--data", f"visa={roots['visa']}", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "cannot score the images of 'mvtec'" in " ".join(result.output.split())
    assert not out.exists()

"""MVTec LOCO AD (issue 22 items 1, 2, 6): mask folders, logical vs structural, synth and check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.contract.categories import natural_name
from iadbench.contract.images import ImageReadError, load_mask, mask_files
from iadbench.data import DATASET_READERS, open_dataset
from iadbench.data.base import RootDepthError
from iadbench.data.check import check_dataset
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.data.mvtec_loco import LOCO_COUNTS, MVTecLOCO
from iadbench.data.synth import planned_counts, synthesize
from iadbench.data.synth_mvtec_loco import SCRATCH_GREY

SCALE = 0.05


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two categories of a synthetic LOCO tree (read-only)."""
    root = tmp_path_factory.mktemp("loco") / "mvtec_loco_anomaly_detection"
    synthesize("mvtec-loco", root, scale=SCALE, image_size=32,
               categories=["juice_bottle", "pushpins"])  # fmt: skip
    return root


def _grey(path: Path) -> set[int]:
    return {int(v) for v in np.unique(np.asarray(Image.open(path)))}


def test_the_synthetic_tree_has_one_mask_per_defect_in_a_folder_per_image(tree: Path) -> None:
    cat = tree / "juice_bottle"
    want = planned_counts("mvtec-loco", scale=SCALE)["juice_bottle"]
    logical = sorted((cat / "test" / "logical_anomalies").iterdir())
    structural = sorted((cat / "test" / "structural_anomalies").iterdir())
    assert len(logical) + len(structural) == want.test_defect
    # juice_bottle has more logical than structural anomalies (142 / 94): the split follows.
    assert len(logical) > len(structural) > 0
    n_validation = max(3, round(LOCO_COUNTS["juice_bottle"][1] * SCALE))
    assert len(list((cat / "validation" / "good").iterdir())) == n_validation
    folders = sorted((cat / "ground_truth" / "logical_anomalies").iterdir())
    assert [f.name for f in folders] == [p.stem for p in logical]
    files = [sorted(f.iterdir()) for f in folders]
    assert all(names and names[0].name == "000.png" for names in files)
    assert any(len(names) > 1 for names in files)  # several masks for some images
    greys = set().union(*(_grey(p) for p in tree.glob("*/ground_truth/*/*/*.png")))
    assert SCRATCH_GREY in greys and 255 in greys  # a grey value per defect kind


def test_the_reader_gives_mask_folders_and_the_two_anomaly_types(tree: Path) -> None:
    assert DATASET_READERS["mvtec-loco"] is MVTecLOCO
    reader = open_dataset("mvtec-loco", tree)
    test = reader.samples("test")
    types = {s.defect_type for s in test}
    assert types == {"good", "logical_anomalies", "structural_anomalies"}
    defects = [s for s in test if s.label == "defect"]
    assert all(s.mask_path and Path(s.mask_path).is_dir() for s in defects)
    assert all(s.mask_path is None for s in test if s.label == "normal")
    assert {s.subset for s in reader.samples("all")} == {"train", "calibration", "test"}
    assert reader.ignored_images() == {}
    assert natural_name("pushpins") == "push pins"
    assert natural_name("juice_bottle") == "juice bottle"


def test_load_mask_unions_the_masks_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "000"
    folder.mkdir()
    first, second = np.zeros((4, 5), np.uint8), np.zeros((4, 5), np.uint8)
    first[0, 0], second[3, 4] = 98, 255  # LOCO's grey values: any non-zero is defect
    Image.fromarray(first).save(folder / "000.png")
    Image.fromarray(second).save(folder / "001.png")
    (folder / ".hidden.png").write_bytes(b"not an image")
    mask = load_mask(folder)
    assert mask.shape == (4, 5) and mask.sum() == 2 and mask[0, 0] and mask[3, 4]
    assert [Path(p).name for p in mask_files(folder)] == ["000.png", "001.png"]
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(folder / "002.png")
    with pytest.raises(ImageReadError, match="beside masks of size"):
        load_mask(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="holds no mask file"):
        load_mask(tmp_path / "empty")


def test_check_decodes_every_mask_of_a_folder_and_reports_an_empty_one(
    tree: Path, tmp_path: Path
) -> None:
    report = check_dataset("mvtec-loco", tree, scale=SCALE)
    assert not any("juice_bottle" in p or "pushpins" in p for p in report.problems)
    assert "CC BY-NC-SA 4.0" in report.licence
    n_masks = sum(len(mask_files(s.mask_path)) for s in open_dataset("mvtec-loco", tree)
                  .samples("all") if s.mask_path)  # fmt: skip
    n_images = len(open_dataset("mvtec-loco", tree).samples("all"))
    assert report.n_decoded == n_images + n_masks
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    folder = next((copy / "pushpins" / "ground_truth" / "structural_anomalies").iterdir())
    masks = sorted(folder.iterdir())
    masks[0].write_bytes(b"truncated")
    for extra in masks[1:]:
        extra.unlink()
    assert any("cannot decode" in p and folder.name in p for p in
               check_dataset("mvtec-loco", copy, scale=SCALE).problems)  # fmt: skip
    masks[0].unlink()
    assert any("absent on disk" in p and str(folder) in p for p in
               check_dataset("mvtec-loco", copy, scale=SCALE).problems)  # fmt: skip


def test_the_fingerprint_follows_the_masks_inside_a_folder(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    samples = open_dataset("mvtec-loco", copy).samples("test")
    before = fingerprint_samples(samples, "content").digest
    folder = Path(next(s.mask_path for s in samples if s.mask_path))
    (folder / "000.png").write_bytes((folder / "000.png").read_bytes() + b"\0")
    assert fingerprint_samples(samples, "content").digest != before


def test_a_root_one_folder_off_is_named(tree: Path) -> None:
    with pytest.raises(RootDepthError, match="pass the folder above it"):
        MVTecLOCO(tree / "pushpins").samples()
    with pytest.raises(RootDepthError, match="mvtec_loco_anomaly_detection/ does"):
        MVTecLOCO(tree.parent).samples()


def test_an_mvtec_ad_tree_is_not_read_as_loco(synth_mvtec: Path) -> None:
    with pytest.raises(Exception, match="no images in the expected layout|holds"):
        MVTecLOCO(synth_mvtec).samples()


def test_a_run_reports_logical_vs_structural_in_summary_and_leaderboard(
    tree: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    made = CliRunner().invoke(app, ["run", "--method", "pixel-stats", "--test", "mvtec-loco",
                                    "--test-split", "test", "--data", f"mvtec-loco={tree}",
                                    "--out", str(run)])  # fmt: skip
    assert made.exit_code == 0, made.output
    summary = json.loads((run / "summary.json").read_text())
    groups = summary["per_defect_group"]["groups"]
    assert set(groups) == {"logical", "structural"}
    test = open_dataset("mvtec-loco", tree).samples("test")
    normals = sum(s.label == "normal" for s in test)
    logical = sum(s.defect_type == "logical_anomalies" for s in test)
    assert groups["logical"]["overall"]["n"] == normals + logical
    assert set(groups["logical"]["per_class"]) == {"juice_bottle", "pushpins"}
    assert groups["structural"]["overall"]["auroc"] is not None
    assert "pixel_metrics" in summary  # the masks (folders) were read for pixel metrics
    board = CliRunner().invoke(app, ["leaderboard", str(run), "--format", "md"])
    assert "## Logical vs structural anomalies" in board.output
    assert "| structural" in board.output

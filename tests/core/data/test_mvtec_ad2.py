"""MVTec AD 2 (issue 22 items 1, 2, 4, 6): reader, synth, check, private sets refused, submitted."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.contract.categories import natural_name
from iadbench.contract.errors import IADBenchError
from iadbench.data import DATASET_READERS, open_dataset
from iadbench.data.base import RootDepthError
from iadbench.data.check import check_dataset
from iadbench.data.mvtec_ad2 import MVTEC_AD2_CATEGORIES, PRIVATE_COUNTS, MVTecAD2
from iadbench.data.synth import planned_counts, synthesize
from iadbench.execution.submission import float16_tiff

SCALE = 0.02


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two categories of a synthetic MVTec AD 2 tree (read-only)."""
    root = tmp_path_factory.mktemp("ad2") / "mvtec_ad_2"
    synthesize("mvtec-ad2", root, scale=SCALE, image_size=32, categories=["can", "wallplugs"])
    return root


def test_the_synthetic_tree_has_the_official_layout_and_scaled_counts(tree: Path) -> None:
    can = tree / "can"
    want = planned_counts("mvtec-ad2", scale=SCALE)["can"]
    assert len(list((can / "train" / "good").glob("*.png"))) == want.train_normal
    assert len(list((can / "test_public" / "good").glob("*.png"))) == want.test_normal
    bad = sorted(p.name for p in (can / "test_public" / "bad").glob("*.png"))
    masks = sorted(p.name for p in (can / "test_public" / "ground_truth" / "bad").glob("*.png"))
    assert len(bad) == want.test_defect
    assert masks == [name.replace(".png", "_mask.png") for name in bad]
    assert set(np.unique(np.asarray(Image.open(can / "test_public" / "ground_truth" / "bad" /
                                              masks[0])))) <= {0, 255}  # fmt: skip
    # The private sets carry the names the authors' upload checker expects.
    n_private = max(3, round(PRIVATE_COUNTS["can"] * SCALE))
    regular = sorted(p.name for p in (can / "test_private").iterdir())
    assert regular == [f"{i:03d}_regular.png" for i in range(n_private)]
    mixed = sorted(p.name for p in (can / "test_private_mixed").iterdir())
    assert mixed == [f"{i:03d}_mixed.png" for i in range(n_private)]
    assert any((can / "validation" / "good").iterdir())


def test_the_reader_gives_train_calibration_and_public_test_and_never_the_private_sets(
    tree: Path,
) -> None:
    assert DATASET_READERS["mvtec-ad2"] is MVTecAD2
    reader = open_dataset("mvtec-ad2", tree)
    every = reader.samples("all")
    assert {s.subset for s in every} == {"train", "calibration", "test"}
    assert not [s for s in every if "private" in s.image_path]
    test = reader.samples("test")
    defects = [s for s in test if s.label == "defect"]
    assert defects and {s.defect_type for s in defects} == {"bad"}
    assert all(s.mask_path and s.mask_path.endswith("_mask.png") for s in defects)
    assert all(s.mask_path is None for s in test if s.label == "normal")
    calibration = [s for s in every if s.subset == "calibration"]
    assert calibration and all("/validation/good/" in s.image_path for s in calibration)
    assert reader.categories() == ["can", "wallplugs"]
    assert natural_name("wallplugs") == "wall plugs"
    assert reader.ignored_images() == {}


def test_data_check_prints_the_licence_and_notes_unconfirmed_counts(tree: Path, tmp_path: Path):
    report = check_dataset("mvtec-ad2", tree, scale=SCALE)
    assert "CC BY-NC-SA 4.0" in report.licence
    missing = {r.category for r in report.rows if r.status == "missing"}
    assert missing == set(MVTEC_AD2_CATEGORIES) - {"can", "wallplugs"}  # only two were written
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    next((copy / "can" / "train" / "good").iterdir()).unlink()
    synthetic = check_dataset("mvtec-ad2", copy, scale=SCALE)
    # A synthetic tree must hold exactly what it was written with: there a difference fails.
    assert any("can:" in p and "unconfirmed" in p for p in synthetic.problems)
    (copy / ".iadbench-synthetic.json").unlink()  # now read as a real copy of the release
    report = check_dataset("mvtec-ad2", copy, scale=SCALE)
    # The per-category counts are not the authors': a difference is a note, not a failure.
    assert any("can:" in n and "unconfirmed" in n for n in report.notes)
    assert not any("can:" in p for p in report.problems)
    result = CliRunner().invoke(app, ["data", "check", "mvtec-ad2", "--data",
                                      f"mvtec-ad2={copy}", "--scale", str(SCALE)])  # fmt: skip
    assert "Licence:" in result.output and "CC BY-NC-SA 4.0" in " ".join(result.output.split())


def test_a_root_one_folder_off_is_named(tree: Path) -> None:
    with pytest.raises(RootDepthError, match="pass the folder above it"):
        MVTecAD2(tree / "can").samples()
    with pytest.raises(RootDepthError, match="mvtec_ad_2/ does"):
        MVTecAD2(tree.parent).samples()


@pytest.mark.parametrize("subset", ["test_private", "test_private_mixed"])
def test_run_refuses_to_score_a_private_test_set(tree: Path, tmp_path: Path, subset: str) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--method", "pixel-stats", "--test", "mvtec-ad2",
                                      "--test-split", subset, "--data", f"mvtec-ad2={tree}",
                                      "--out", str(out)])  # fmt: skip
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"--test-split {subset}" in text and "no public labels" in text
    assert "--test-split test" in text and "--submission" in text
    assert not out.exists()


def test_float16_tiff_is_a_single_channel_float16_image() -> None:
    tifffile = pytest.importorskip("tifffile")
    values = np.linspace(0, 70000, 12, dtype=np.float32).reshape(3, 4)
    path_bytes = float16_tiff(values)
    import io

    read = tifffile.imread(io.BytesIO(path_bytes))
    assert read.dtype == np.float16 and read.shape == (3, 4)
    assert read[0, 0] == 0 and read[-1, -1] == np.float16(65504)  # clipped, not inf
    np.testing.assert_allclose(read[1], values[1].astype(np.float16))


def test_predict_writes_the_private_maps_in_the_servers_layout(tree: Path, tmp_path: Path):
    tifffile = pytest.importorskip("tifffile")
    run = tmp_path / "run"
    made = CliRunner().invoke(app, ["run", "--method", "pixel-stats", "--test", "mvtec-ad2",
                                    "--test-split", "test", "--data", f"mvtec-ad2={tree}",
                                    "--out", str(run), "--limit", "1"])  # fmt: skip
    assert made.exit_code == 0, made.output
    sub = tmp_path / "submission"
    private = [tree / "can" / "test_private", tree / "can" / "test_private_mixed"]
    result = CliRunner().invoke(app, ["predict", *map(str, private), "--from-run", str(run),
                                      "--category", "can", "--output", str(tmp_path / "can.jsonl"),
                                      "--submission", str(sub)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in sub.iterdir()) == ["anomaly_images"]
    for folder, suffix in zip(private, ("regular", "mixed"), strict=True):
        written = sorted((sub / "anomaly_images" / "can" / folder.name).iterdir())
        assert [p.name for p in written] == [
            p.name.replace(".png", ".tiff") for p in sorted(folder.iterdir())
        ]
        assert all(suffix in p.name for p in written)
        maps = [tifffile.imread(p) for p in written]
        assert all(m.dtype == np.float16 and m.shape == (32, 32) for m in maps)
    # Public images have no place in a submission; nor has a folder inside the dataset.
    public = CliRunner().invoke(app, ["predict", str(tree / "can" / "test_public" / "good"),
                                      "--from-run", str(run), "--category", "can", "--output",
                                      str(tmp_path / "p.jsonl"), "--submission",
                                      str(tmp_path / "s2")])  # fmt: skip
    assert public.exit_code == 2 and "private test sets only" in " ".join(public.output.split())
    inside = CliRunner().invoke(app, ["predict", str(private[0]), "--from-run", str(run),
                                      "--category", "can", "--output", str(tmp_path / "q.jsonl"),
                                      "--submission", str(tree / "sub")])  # fmt: skip
    assert inside.exit_code == 2 and "inside the dataset folder" in " ".join(inside.output.split())
    assert not (tree / "sub").exists()


def test_check_submission_refuses_a_folder_holding_other_things(tmp_path: Path) -> None:
    from iadbench.contract.records import Sample
    from iadbench.execution.submission import check_submission

    image = tmp_path / "d" / "can" / "test_private" / "000_regular.png"
    sample = Sample("x", "unlabeled", "can", "test", "normal", str(image))
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("")
    with pytest.raises(IADBenchError, match="no part of a submission"):
        check_submission(tmp_path / "s", [sample], [])
    with pytest.raises(IADBenchError, match="'always-normal' gives none"):
        check_submission(tmp_path / "t", [sample], [], method="always-normal", gives_maps=False)
    assert check_submission(tmp_path / "t", [sample], [])["x"].parts[-4:] == (
        "anomaly_images", "can", "test_private", "000_regular.tiff",
    )  # fmt: skip

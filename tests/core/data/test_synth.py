from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.contract.errors import IADBenchError, UnknownNameError
from iadbench.data import MVTecAD, VisA
from iadbench.data.mvtec import MVTEC_DEFECT_TYPES
from iadbench.data.synth import MARKER_NAME, planned_counts, synthesize


def files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern))


def test_planned_counts_at_small_scale_use_rounded_share_with_a_floor() -> None:
    plan = planned_counts("mvtec", scale=0.02, min_per_group=3)
    assert plan["hazelnut"].train_normal == 8  # round(391 * 0.02)
    assert plan["bottle"].test_normal == 3  # round(0.4) = 0, floor 3
    assert plan["pill"].test_defect == 3  # round(2.82) = 3


@pytest.mark.parametrize(
    ("dataset", "total", "defects"), [("mvtec", 5354, 1258), ("visa", 10821, 1200)]
)
def test_planned_counts_at_full_scale_are_the_official_totals(
    dataset: str, total: int, defects: int
) -> None:
    plan = planned_counts(dataset, scale=1.0)
    assert sum(c.total for c in plan.values()) == total
    assert sum(c.test_defect for c in plan.values()) == defects


def test_full_scale_writes_the_official_counts_of_one_category(tmp_path: Path) -> None:
    report = synthesize("mvtec", tmp_path, scale=1.0, categories=["toothbrush"], image_size=16)
    assert report.n_images == 102
    assert len(files(tmp_path, "toothbrush/train/good/*.png")) == 60
    assert len(files(tmp_path, "toothbrush/test/good/*.png")) == 12
    assert len(files(tmp_path, "toothbrush/test/defective/*.png")) == 30


def test_synthetic_trees_hold_the_planned_number_of_images(
    synth_mvtec: Path, synth_visa: Path
) -> None:
    for root, reader in ((synth_mvtec, MVTecAD), (synth_visa, VisA)):
        plan = planned_counts(reader.name, scale=0.02)
        assert len(reader(root).samples("all")) == sum(c.total for c in plan.values())


def test_mvtec_single_channel_categories_are_written_as_l_pngs(synth_mvtec: Path) -> None:
    for category in MVTecAD.official_counts:
        mode = Image.open(synth_mvtec / category / "train" / "good" / "000.png").mode
        assert mode == ("L" if category in ("grid", "screw", "zipper") else "RGB")


def test_mvtec_defect_folders_use_official_names(synth_mvtec: Path) -> None:
    for category, types in MVTEC_DEFECT_TYPES.items():
        folders = {p.name for p in (synth_mvtec / category / "test").iterdir()} - {"good"}
        assert folders and folders <= set(types)


def test_mvtec_masks_are_0_255_and_named_stem_mask(synth_mvtec: Path) -> None:
    image = synth_mvtec / "bottle" / "test" / "broken_large" / "000.png"
    mask = synth_mvtec / "bottle" / "ground_truth" / "broken_large" / "000_mask.png"
    assert image.is_file()
    assert set(np.unique(np.asarray(Image.open(mask))).tolist()) == {0, 255}


def test_visa_uses_upper_case_jpg_with_colliding_basenames(synth_visa: Path) -> None:
    normal = {p.name for p in files(synth_visa, "candle/Data/Images/Normal/*")}
    anomaly = {p.name for p in files(synth_visa, "candle/Data/Images/Anomaly/*")}
    assert all(name.endswith(".JPG") for name in normal | anomaly)
    assert anomaly <= normal
    with Image.open(synth_visa / "candle/Data/Images/Anomaly/0000.JPG") as image:
        assert image.format == "JPEG"


def test_visa_masks_hold_class_indices(synth_visa: Path) -> None:
    values: set[int] = set()
    for mask in files(synth_visa, "*/Data/Masks/Anomaly/*.png"):
        values |= set(np.unique(np.asarray(Image.open(mask))).tolist())
    assert values == {0, 1, 2}


def test_visa_split_csv_and_image_anno_have_the_official_headers(synth_visa: Path) -> None:
    with open(synth_visa / "split_csv" / "1cls.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["object", "split", "label", "image", "mask"]
    assert {row[2] for row in rows[1:]} == {"normal", "anomaly"}
    anno = (synth_visa / "candle" / "image_anno.csv").read_text().splitlines()
    assert anno[0] == "image,label,mask"


def test_marker_records_dataset_scale_seed_and_counts(synth_mvtec: Path) -> None:
    marker = json.loads((synth_mvtec / MARKER_NAME).read_text())
    assert (marker["dataset"], marker["scale"], marker["seed"]) == ("mvtec", 0.02, 0)
    assert marker["counts"]["bottle"] == {"train_normal": 4, "test_normal": 3, "test_defect": 3}
    assert marker["complete"] is True


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        synthesize("visa", tmp_path / name, categories=["pcb1"], seed=7)
    image = "pcb1/Data/Images/Anomaly/0001.JPG"
    assert (tmp_path / "a" / image).read_bytes() == (tmp_path / "b" / image).read_bytes()
    csv_a = (tmp_path / "a" / "split_csv" / "1cls.csv").read_text()
    assert csv_a == (tmp_path / "b" / "split_csv" / "1cls.csv").read_text()


def test_different_seeds_write_different_images(tmp_path: Path) -> None:
    for seed in (1, 2):
        synthesize("mvtec", tmp_path / str(seed), categories=["wood"], seed=seed)
    image = "wood/train/good/000.png"
    assert (tmp_path / "1" / image).read_bytes() != (tmp_path / "2" / image).read_bytes()


def test_refuses_a_non_empty_directory_that_is_not_synthetic(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(IADBenchError, match="Refusing"):
        synthesize("mvtec", tmp_path, categories=["bottle"])
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_replaces_an_earlier_synthetic_tree(tmp_path: Path) -> None:
    synthesize("mvtec", tmp_path, categories=["bottle", "cable"])
    synthesize("mvtec", tmp_path, categories=["bottle"], scale=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER_NAME, "bottle"]
    assert len(files(tmp_path, "bottle/train/good/*.png")) == 21


def test_refuses_a_synthetic_tree_holding_foreign_files(tmp_path: Path) -> None:
    synthesize("mvtec", tmp_path, categories=["bottle"])
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(IADBenchError, match="notes.txt"):
        synthesize("mvtec", tmp_path, categories=["bottle"])
    assert (tmp_path / "bottle").is_dir()


def test_progress_is_told_about_every_image(tmp_path: Path) -> None:
    seen: list[int] = []
    report = synthesize("visa", tmp_path, categories=["cashew"], progress=seen.append)
    assert sum(seen) == report.n_images == 15


def test_unknown_dataset_and_category_suggest_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="mvtec"):
        synthesize("mvtek", tmp_path)
    with pytest.raises(UnknownNameError, match="bottle"):
        synthesize("mvtec", tmp_path, categories=["bottel"])


def test_non_positive_scale_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(IADBenchError, match="scale"):
        synthesize("mvtec", tmp_path, scale=0)


# -- issue 18 item 15: every number checked, the size bounded, before anything is written ----


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "inf"], "--scale must be a finite number, got inf"),
        (["--scale", "nan"], "--scale must be a finite number"),
        (["--scale", "0"], "--scale must be greater than 0"),
        (["--scale", "100000"], "--scale 100000 would write 535,400,000 images of mvtec (limit "
                                "100,000: a synthetic tree is for tests and dry runs"),
        (["--image-size", "8"], "--image-size must be between 16 and 2048, got 8"),
        (["--seed", "-1"], "--seed must be 0 or more, got -1"),
    ],
)  # fmt: skip
def test_data_synth_refuses_bad_numbers_before_writing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # Today --scale inf was an OverflowError traceback and --scale 100000 started writing.
    from typer.testing import CliRunner

    from iadbench.cli.app import app

    root = tmp_path / "tree"
    result = CliRunner().invoke(app, ["data", "synth", "mvtec", str(root), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not root.exists()


def test_the_refusal_names_the_largest_scale_that_fits() -> None:
    from iadbench.contract.errors import ArgumentError
    from iadbench.data.synth import MAX_SYNTH_IMAGES, check_synth_arguments

    with pytest.raises(ArgumentError, match=r"use scale 9\.24 or less") as info:
        check_synth_arguments("visa", scale=100_000)
    assert "1,082,100,000 images" in str(info.value)
    assert check_synth_arguments("visa", scale=9.24) <= MAX_SYNTH_IMAGES
    with pytest.raises(ArgumentError, match="use scale 9.24 or less"):
        check_synth_arguments("visa", scale=9.25)
    with pytest.raises(ArgumentError, match="more than"):
        check_synth_arguments("mvtec", scale=1e300)
    with pytest.raises(ArgumentError, match="finite"):
        synthesize("mvtec", "/nonexistent/never-written", scale=float("inf"))


def test_data_check_refuses_a_scale_that_is_not_a_positive_number(synth_mvtec: Path) -> None:
    from typer.testing import CliRunner

    from iadbench.cli.app import app

    args = ["data", "check", "mvtec", "--data", f"mvtec={synth_mvtec}", "--no-decode"]
    result = CliRunner().invoke(app, [*args, "--scale", "inf"])
    assert result.exit_code == 2 and "--scale must be a finite number" in result.output

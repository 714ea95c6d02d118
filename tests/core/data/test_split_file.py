"""Split files of folder datasets: the format, the seeded draw, `data split` and `data check`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.contract.errors import ArgumentError, DatasetNotFoundError
from iadbench.data import FolderDataset, has_split_file, open_dataset
from iadbench.data.check import check_dataset
from iadbench.data.split_file import (
    SplitFileError,
    SplitRow,
    draw_split,
    read_split_file,
    split_file_path,
    write_split_file,
)

HEADER = "object,split,label,image,mask\n"


def make_tree(root: Path, counts: dict[str, int]) -> Path:
    """``{"bracket/good": 10, ...}`` -> that many 8x8 PNGs per folder."""
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i, i, i)).save(root / folder / f"{i:03d}.png")
    return root


@pytest.fixture()
def parts(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "parts",
        {"bracket/good": 10, "bracket/scratch": 4, "bracket/dent": 2,
         "hinge/pass": 6, "hinge/bent": 3},
    )  # fmt: skip


def split(root: Path, *args: str, name: str = "parts") -> object:
    # hinge's normal images are in pass/: without the mapping hinge has none, and a split that
    # cannot test both labels there is refused (issue 18 item 3).
    if "--normal-folders" not in args:
        args = (*args, "--normal-folders", "good,pass")
    return CliRunner().invoke(app, ["data", "split", name, "--data", f"{name}={root}", *args])


def rows_by_image(root: Path) -> dict[str, SplitRow]:
    return {r.image: r for r in read_split_file(split_file_path(root))}


# -- the record format ----------------------------------------------------------------------


def test_written_rows_read_back_equal_and_in_visa_header(tmp_path: Path) -> None:
    rows = [
        SplitRow("hinge", "test", "defect", "hinge/bent/001.png", "hinge/masks/001.png"),
        SplitRow("bracket", "train", "normal", "bracket/good/001.png"),
    ]
    path = tmp_path / "split.csv"
    write_split_file(path, rows)
    assert path.read_text().splitlines()[:2] == [
        "object,split,label,image,mask",
        "bracket,train,normal,bracket/good/001.png,",
    ]
    back = read_split_file(path)
    assert [(r.category, r.subset, r.label, r.image, r.mask) for r in back] == [
        ("bracket", "train", "normal", "bracket/good/001.png", None),
        ("hinge", "test", "defect", "hinge/bent/001.png", "hinge/masks/001.png"),
    ]
    assert not (tmp_path / "split.csv.tmp").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("object,split,image\n", r"lacks the column\(s\) label, mask"),
        (HEADER + "a,val,normal,a/good/1.png,\n", "line 2: split must be train, test or calib"),
        (HEADER + "a,test,ok,a/good/1.png,\n", "label normal or anomaly"),
        (HEADER + "a,test,normal,a/good/1.png,\n" * 2, "line 3 lists a/good/1.png again"),
        (HEADER + "a,test,normal,../x.png,\n", "outside the dataset root"),
    ],
)
def test_malformed_split_files_are_refused_naming_the_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "split.csv"
    path.write_text(content)
    with pytest.raises(SplitFileError, match=message):
        read_split_file(path)


# -- the seeded draw ------------------------------------------------------------------------


def test_draw_trains_the_normal_share_per_category_and_tests_every_defect(parts: Path) -> None:
    reader = FolderDataset(parts, normal_folders=("good", "pass"))
    rows = draw_split(reader.folder_samples(), reader.root, train_normal_ratio=0.7, seed=0)
    train = [r for r in rows if r.subset == "train"]
    assert {r.label for r in train} == {"normal"}
    assert sum(r.category == "bracket" for r in train) == 7  # 0.7 x 10
    assert sum(r.category == "hinge" for r in train) == 4  # 0.7 x 6 = 4.2
    assert all(r.subset == "test" for r in rows if r.label == "defect")


def test_draw_with_a_defect_ratio_trains_that_share_of_defects(parts: Path) -> None:
    reader = FolderDataset(parts, normal_folders=("good", "pass"))
    rows = draw_split(reader.folder_samples(), reader.root, train_normal_ratio=0.5,
                      train_defect_ratio=0.5, seed=0)  # fmt: skip
    bracket_defects = [r for r in rows if r.category == "bracket" and r.label == "defect"]
    assert sum(r.subset == "train" for r in bracket_defects) == 3  # half of 6


def test_same_seed_same_split_and_another_seed_another(parts: Path) -> None:
    reader = FolderDataset(parts, normal_folders=("good", "pass"))
    samples, root = reader.folder_samples(), reader.root

    def train_of(seed: int) -> set[str]:
        rows = draw_split(samples, root, train_normal_ratio=0.5, seed=seed)
        return {r.image for r in rows if r.subset == "train"}

    assert train_of(3) == train_of(3)
    assert train_of(3) != train_of(4)


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_draw_refuses_a_ratio_outside_0_1(parts: Path, ratio: float) -> None:
    with pytest.raises(ArgumentError, match="between 0 and 1"):
        draw_split([], parts, train_normal_ratio=ratio)


# -- FolderDataset with a split file --------------------------------------------------------


def test_without_a_split_file_everything_is_test(parts: Path) -> None:
    reader = FolderDataset(parts)
    assert reader.split_file is None and reader.samples("train") == []
    assert not has_split_file("parts", parts)


def test_subset_and_label_come_from_the_file_and_defect_type_from_the_folder(
    parts: Path,
) -> None:
    rows = {  # every image, labelled by the default mapping except hinge/pass
        image.relative_to(parts).as_posix(): "anomaly" for image in parts.glob("*/*/*.png")
    }
    rows.update({image: "normal" for image in rows if "/good/" in image or "/pass/" in image})
    rows["bracket/good/001.png"] = "anomaly"  # relabelled by hand
    train = {"bracket/good/000.png", "hinge/pass/000.png"}
    (parts / "split.csv").write_text(
        HEADER
        + "".join(
            f"{image.split('/')[0]},{'train' if image in train else 'test'},{label},{image},\n"
            for image, label in rows.items()
        )
    )
    reader = open_dataset("parts", parts)
    assert has_split_file("parts", parts)
    by_id = {s.id: s for s in reader.samples("all")}
    assert {s.id for s in reader.samples("train")} == {"bracket/good/000.png", "hinge/pass/000.png"}
    assert (by_id["hinge/pass/000.png"].label, by_id["hinge/pass/000.png"].defect_type) == (
        "normal",
        "pass",
    )
    assert by_id["bracket/good/001.png"].label == "defect"
    assert by_id["bracket/scratch/000.png"].defect_type == "scratch"
    assert reader.label_balance()["hinge"].normal == 6  # from the file, not the folder names


def test_images_not_in_the_file_and_rows_without_files_are_refused_with_the_fix(
    parts: Path,
) -> None:
    assert split(parts).exit_code == 0
    (parts / "bracket" / "good" / "000.png").unlink()
    make_tree(parts, {"hinge/new": 2})
    with pytest.raises(SplitFileError) as info:
        FolderDataset(parts, name="parts").samples("all")
    message = str(info.value)
    assert "2 images on disk are not in it (e.g. hinge/new/000.png, hinge/new/001.png)" in message
    assert "1 row(s) name an image that is not on disk" in message
    assert "bracket/good/000.png" in message
    # Issue 19: the fix keeps earlier assignments (--append); --force stays the redraw.
    assert f"iadbench data split parts --data parts={parts.resolve()} --append" in message
    assert "--prune" in message and "--force instead draws every image again" in message


def test_a_row_naming_a_missing_mask_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"c/good": 1})
    (root / "split.csv").write_text(HEADER + "c,test,normal,c/good/000.png,c/masks/000.png\n")
    with pytest.raises(SplitFileError, match="a mask file that does not exist"):
        FolderDataset(root).samples("all")


def test_a_mask_named_in_the_file_is_read(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"c/good": 1, "c/bent": 1, "masks": 0})
    Image.new("L", (8, 8)).save(root / "mask.png")
    (root / "split.csv").write_text(
        HEADER + "c,test,normal,c/good/000.png,\nc,test,anomaly,c/bent/000.png,mask.png\n"
    )
    by_id = {s.id: s for s in FolderDataset(root).samples("all")}
    assert by_id["c/bent/000.png"].mask_path == str(root.resolve() / "mask.png")


def test_split_file_argument_overrides_the_default_location(parts: Path, tmp_path: Path) -> None:
    assert split(parts).exit_code == 0
    other = tmp_path / "elsewhere.csv"
    rows = read_split_file(parts / "split.csv")
    write_split_file(other, [SplitRow(r.category, "test", r.label, r.image) for r in rows])
    assert FolderDataset(parts).samples("train")
    assert FolderDataset(parts, split_file=other).samples("train") == []
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        FolderDataset(parts, split_file=tmp_path / "nope.csv")


# -- iadbench data split --------------------------------------------------------------------


def test_data_split_writes_the_file_and_prints_per_category_counts(parts: Path) -> None:
    # The option repeated: both folders count (typer kept only the last value before).
    result = split(parts, "--train-normal-ratio", "0.6", "--normal-folders", "good",
                   "--normal-folders", "pass")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = rows_by_image(parts)
    assert len(rows) == 25
    assert rows["hinge/pass/000.png"].label == "normal"  # the mapping went into the file
    assert sum(r.subset == "train" and r.category == "hinge" for r in rows.values()) == 4
    assert "bracket" in result.output and "hinge" in result.output
    reader = open_dataset("parts", parts)  # no mapping given: the labels come from the file
    assert {s.label for s in reader.samples("train")} == {"normal"}
    assert len(reader.samples("train")) == 6 + 4


def test_data_split_same_seed_same_file_other_seed_other_file(parts: Path) -> None:
    assert split(parts, "--seed", "1").exit_code == 0
    first = (parts / "split.csv").read_bytes()
    assert split(parts, "--seed", "1", "--force").exit_code == 0
    assert (parts / "split.csv").read_bytes() == first
    assert split(parts, "--seed", "2", "--force").exit_code == 0
    assert (parts / "split.csv").read_bytes() != first


def test_data_split_refuses_to_overwrite_without_force(parts: Path) -> None:
    assert split(parts).exit_code == 0
    before = (parts / "split.csv").read_bytes()
    result = split(parts, "--seed", "9")
    assert result.exit_code == 2 and "--force" in result.output
    assert (parts / "split.csv").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train-normal-ratio", "1.2"], "--train-normal-ratio must be between 0 and 1"),
        (["--train-defect-ratio", "-1"], "--train-defect-ratio must be between 0 and 1"),
        (["--normal-folders", " , "], "--normal-folders must name at least one folder"),
    ],
)
def test_data_split_refuses_bad_arguments(parts: Path, args: list[str], message: str) -> None:
    result = split(parts, *args)
    assert result.exit_code == 2 and message in result.output
    assert not (parts / "split.csv").exists()


def test_data_split_refuses_official_datasets(synth_mvtec: Path) -> None:
    result = split(synth_mvtec, name="mvtec")
    assert result.exit_code == 2 and "official split" in result.output


# -- iadbench data check --------------------------------------------------------------------


def test_check_reports_per_split_counts_of_a_split_folder_dataset(parts: Path) -> None:
    args = ["--train-normal-ratio", "0.5", "--train-defect-ratio", "0.5", "--normal-folders",
            "good,pass"]  # fmt: skip
    assert split(parts, *args).exit_code == 0
    report = check_dataset("parts", parts, decode=False)
    assert report.split_file == parts.resolve() / "split.csv"
    bracket = next(r for r in report.rows if r.category == "bracket")
    assert (bracket.found.train_normal, bracket.train_defect) == (5, 3)
    assert (bracket.found.test_normal, bracket.found.test_defect) == (5, 3)
    assert report.ok, report.problems  # defects in train are the user's choice: a note
    assert any("trains on 3 defect image(s)" in note for note in report.notes)
    result = CliRunner().invoke(app, ["data", "check", "parts", "--data", f"parts={parts}"])
    assert result.exit_code == 0, result.output
    assert "train defect" in result.output and "lists every image" in result.output


def test_check_fails_with_the_fix_when_the_split_file_is_stale(parts: Path) -> None:
    assert split(parts).exit_code == 0
    make_tree(parts, {"bracket/crack": 1})
    result = CliRunner().invoke(app, ["data", "check", "parts", "--data", f"parts={parts}"])
    assert result.exit_code == 2
    assert "not in it" in result.output and "--force" in result.output


def test_a_file_name_that_is_not_utf8_survives_the_split_file(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"c/good": 2, "c/bent": 1})
    raw = os.fsencode(root / "c" / "good") + b"/caf\xe9.png"
    Image.new("RGB", (8, 8)).save(os.fsdecode(raw))
    reader = FolderDataset(root)
    rows = draw_split(reader.folder_samples(), reader.root, train_normal_ratio=1.0)
    write_split_file(root / "split.csv", rows)
    samples = FolderDataset(root).samples("all")
    assert "c/good/caf\\xe9.png" in {s.id for s in samples}
    assert os.fsdecode(raw) in {s.image_path for s in samples}

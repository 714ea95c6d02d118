"""`data split` and split files never drop, duplicate or mislabel an image (issue 18).

Items 3 (both labels in every category's Test), 4 (one image however it is spelled; injective
ids), 16 (what `data split` writes reads back as the same samples) and 9 (`data split --output`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.data import FolderDataset, VisA
from iadbench.data.split_file import (
    SplitDrawError,
    SplitFileError,
    draw_split,
    read_split_file,
    split_file_path,
)

HEADER = "object,split,label,image,mask\n"
POSIX = pytest.mark.skipif(sys.platform != "linux", reason="byte and backslash names: POSIX")


def make_tree(root: Path, counts: dict[str, int]) -> Path:
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i, i, i)).save(root / folder / f"{i:03d}.png")
    return root


def split(root: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["data", "split", "parts", "--data", f"parts={root}", *args])


# -- item 3: both labels stay in every category's test subset --------------------------------


@pytest.mark.parametrize("ratio", ["0.8", "1.0"])
def test_two_normal_images_leave_one_in_test_at_any_ratio(tmp_path: Path, ratio: str) -> None:
    # Today 0.8 x 2 rounds up to 2 and --train-normal-ratio 1.0 takes every normal: no test
    # normal was left, and always-defect scored 100 % on that category.
    root = make_tree(tmp_path / "parts", {"pin/good": 2, "pin/bent": 3, "cap/good": 7,
                                          "cap/dent": 1})  # fmt: skip
    result = split(root, "--train-normal-ratio", ratio)
    assert result.exit_code == 0, result.output
    rows = read_split_file(split_file_path(root))
    for category, normals in (("pin", 2), ("cap", 7)):
        test_labels = {r.label for r in rows if r.category == category and r.subset == "test"}
        assert test_labels == {"normal", "defect"}
        trained = sum(r.category == category and r.subset == "train" for r in rows)
        assert trained == (
            normals - 1 if ratio == "1.0" else min(round(0.8 * normals), normals - 1)
        )


def test_a_defect_ratio_of_one_keeps_a_defect_in_test(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"pin/good": 4, "pin/bent": 2})
    reader = FolderDataset(root)
    rows = draw_split(reader.folder_samples(), reader.root, train_normal_ratio=0.5,
                      train_defect_ratio=1.0)  # fmt: skip
    assert sum(r.label == "defect" and r.subset == "test" for r in rows) == 1


def test_a_category_without_normal_images_is_refused_by_name(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"pin/good": 3, "pin/bent": 1, "hinge/pass": 3,
                                          "hinge/bent": 2, "cap/good": 2})  # fmt: skip
    result = split(root)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "hinge has no normal image (folders: bent, pass)" in message
    assert "cap has no defect image" in message and "--normal-folders" in message
    assert "pin has" not in message
    assert not (root / "split.csv").exists()
    with pytest.raises(SplitDrawError, match="hinge has no normal image"):
        draw_split(FolderDataset(root).folder_samples(), root, train_normal_ratio=0.5)


# -- item 4: one image however it is spelled; ids are injective -----------------------------


@pytest.mark.parametrize(
    "spelling",
    ["candle/Data/Images/Anomaly/./0000.JPG", "candle/Data/Images//Anomaly/0000.JPG",
     "./candle/Data/Images/Anomaly/0000.JPG"],
)  # fmt: skip
def test_a_visa_row_repeated_in_another_spelling_is_refused_with_both_lines(
    synth_visa: Path, tmp_path: Path, spelling: str
) -> None:
    # Today the second spelling was a second sample: 246 predictions for 245 images.
    root = tmp_path / "visa"
    shutil.copytree(synth_visa, root, symlinks=True)
    csv_path = root / "split_csv" / "1cls.csv"
    lines = csv_path.read_text().splitlines()
    n = len(lines)
    with csv_path.open("a") as handle:
        handle.write(f"candle,test,anomaly,{spelling},candle/Data/Masks/Anomaly/0000.png\n")
    with pytest.raises(SplitFileError) as info:
        VisA(root).samples("all")
    first = next(
        i for i, line in enumerate(lines, 1) if ",candle/Data/Images/Anomaly/0000.JPG" in line
    )
    assert (
        f"line {n + 1} lists candle/Data/Images/Anomaly/0000.JPG again (first on line {first})"
        in str(info.value)
    )


def test_absolute_and_climbing_paths_are_still_refused(tmp_path: Path) -> None:
    for listed in ("/etc/passwd", "a/../../x.png", "//etc/passwd"):
        path = tmp_path / "split.csv"
        path.write_text(HEADER + f"a,test,normal,{listed},\n")
        with pytest.raises(SplitFileError, match="outside the dataset root"):
            read_split_file(path)


@POSIX
def test_a_byte_name_and_its_escaped_spelling_are_two_samples_with_two_ids(
    tmp_path: Path,
) -> None:
    # Today both became the id c/good/caf\xe9.png: n = 1 for two files.
    root = make_tree(tmp_path / "parts", {"c/bent": 1, "c/good": 0})
    Image.new("RGB", (8, 8)).save(os.fsdecode(os.fsencode(root / "c" / "good") + b"/caf\xe9.png"))
    Image.new("RGB", (8, 8)).save(root / "c" / "good" / "caf\\xe9.png")
    samples = [s for s in FolderDataset(root).samples("all") if s.label == "normal"]
    assert len(samples) == 2
    assert sorted(s.id for s in samples) == ["c/good/caf\\\\xe9.png", "c/good/caf\\xe9.png"]


# -- item 16: write -> read -> the same samples, over hostile names --------------------------

HOSTILE_CATEGORIES = ["lot:7", "two words", "-lead", "=cmd", "ünïcode", " pad "]
HOSTILE_FILES = ["a\\b.png", " lead space.png", "-x.png", "=1+1.png", "@at.png", "é.png",
                 "quote\".png", "com,ma.png", "new\nline.png", "C:drive.png"]  # fmt: skip


@POSIX
def test_data_split_round_trips_hostile_names(tmp_path: Path) -> None:
    root = tmp_path / "parts"
    for category in HOSTILE_CATEGORIES:
        for folder in ("good", "scratch"):
            (root / category / folder).mkdir(parents=True)
            for name in HOSTILE_FILES:
                Image.new("RGB", (8, 8)).save(root / category / folder / name)
    raw = os.fsencode(root / "lot:7" / "good") + b"/caf\xe9.png"
    Image.new("RGB", (8, 8)).save(os.fsdecode(raw), format="PNG")
    drawn = FolderDataset(root, name="parts").samples("all")
    result = split(root, "--train-normal-ratio", "0.5")
    assert result.exit_code == 0, result.output
    read = FolderDataset(root, name="parts")
    assert read.split_file is not None
    back = read.samples("all")
    key = lambda s: (s.id, s.category, s.label, s.image_path, s.defect_type)  # noqa: E731
    assert sorted(map(key, back)) == sorted(map(key, drawn))
    assert len(back) == len(HOSTILE_CATEGORIES) * 2 * len(HOSTILE_FILES) + 1
    assert {s.subset for s in back} == {"train", "test"}
    # The written file reads back row for row, and data check agrees (exit 0).
    check = CliRunner().invoke(
        app, ["data", "check", "parts", "--data", f"parts={root}", "--no-decode"]
    )
    assert check.exit_code == 0, check.output


def test_a_split_file_refused_as_stale_is_fixed_by_the_advised_command(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"lot:7/good": 3, "lot:7/bent": 2})
    assert split(root).exit_code == 0
    make_tree(root, {"lot:7/dent": 1})
    with pytest.raises(SplitFileError, match="--force") as info:
        FolderDataset(root, name="parts").samples("all")
    assert "points outside" not in str(info.value)
    assert split(root, "--force").exit_code == 0
    assert len(FolderDataset(root, name="parts").samples("all")) == 6


# -- item 9: data split --output -------------------------------------------------------------


def test_data_split_output_elsewhere_is_guarded_and_readable(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 3, "c/bent": 2})
    target = tmp_path / "splits" / "parts.csv"
    assert split(root, "--output", str(target)).exit_code == 0
    assert not (root / "split.csv").exists()
    assert FolderDataset(root, split_file=target).samples("train")
    before = target.read_bytes()
    again = split(root, "--output", str(target), "--seed", "5")
    assert again.exit_code == 2 and "--force" in again.output
    assert target.read_bytes() == before
    assert split(root, "--output", str(target), "--seed", "5", "--force").exit_code == 0


@pytest.mark.parametrize("inside", ["c/good/000.png", "c/elsewhere.csv"])
def test_data_split_output_inside_the_dataset_is_refused(tmp_path: Path, inside: str) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 3, "c/bent": 2})
    before = (root / "c" / "good" / "000.png").read_bytes()
    result = split(root, "--output", str(root / inside), "--force")
    assert result.exit_code == 2 and "dataset root" in result.output
    assert (root / "c" / "good" / "000.png").read_bytes() == before
    assert not (root / "c" / "elsewhere.csv").exists()


def test_data_split_output_naming_the_default_place_is_the_default(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 3, "c/bent": 2})
    assert split(root, "--output", str(root / "split.csv")).exit_code == 0
    assert (root / "split.csv").is_file()


def test_data_split_output_into_a_run_dir_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 3, "c/bent": 2})
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    result = split(root, "--output", str(run / "summary.json"))
    assert result.exit_code == 2 and "run dir" in result.output
    assert not (run / "summary.json").exists()


def test_data_split_output_elsewhere_ignores_a_stale_split_at_the_root(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 3, "c/bent": 2, "c/bent/deeper": 1})
    assert split(root).exit_code == 0
    make_tree(root, {"c/dent": 1})  # the root's split.csv is stale now
    target = tmp_path / "fresh.csv"
    result = split(root, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert "c/bent/deeper/000.png" in result.output  # the warning still names what is not read
    assert len(FolderDataset(root, split_file=target).samples("all")) == 6


@POSIX
@pytest.mark.parametrize("category", [b"\xff", b"a\\b"])
def test_a_split_of_an_escaped_category_name_reads_back_for_check(
    tmp_path: Path, category: bytes
) -> None:
    # The issue-18 attack re-run: data split, then data check -> raw KeyError: '\\xff'.
    name = os.fsdecode(category)
    root = make_tree(tmp_path / "parts", {f"{name}/good": 4, f"{name}/bent": 3})
    assert split(root).exit_code == 0
    result = CliRunner().invoke(app, ["data", "check", "parts", "--data", f"parts={root}"])
    assert not isinstance(result.exception, KeyError), result.output
    assert "Traceback" not in result.output and result.exit_code in (0, 1), result.output


@pytest.mark.parametrize("seed", ["-1", "18446744073709551616"])
def test_data_split_refuses_a_seed_that_run_would_refuse(tmp_path: Path, seed: str) -> None:
    # The attack re-run: data split took seeds that run and evaluate refuse (0..2**32-1).
    root = make_tree(tmp_path / "parts", {"pin/good": 4, "pin/bent": 3})
    result = split(root, "--seed", seed)
    assert result.exit_code == 2 and "--seed must be" in result.output
    assert not split_file_path(root).exists()


def test_normalising_a_path_drops_exactly_its_empty_and_dot_segments() -> None:
    """The fast path (a path already normal is returned as it is) against the plain rule, for
    every path of up to 7 characters drawn from ``a``, ``.`` and ``/``."""
    import itertools

    from iadbench.data.split_file import normalise_relpath

    for length in range(8):
        for letters in itertools.product("a./", repeat=length):
            path = "".join(letters)
            plain = "/".join(part for part in path.split("/") if part not in ("", "."))
            assert normalise_relpath(path) == plain, path

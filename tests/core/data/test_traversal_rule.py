"""One folder-walking rule in every reader; nothing under a category is dropped silently (issue 18).

Items 5 (images the layout does not read are named by `data check` and by `run`), 13 (links are
followed wherever they point, loops end) and 12 (names from the disk reach the terminal inert).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli.app import app
from iadbench.data import FolderDataset, MVTecAD, VisA
from iadbench.data.check import check_dataset
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run


def make_tree(root: Path, counts: dict[str, int]) -> Path:
    for folder, n in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i, i, i)).save(root / folder / f"{i:03d}.png")
    return root


def check(name: str, root: Path) -> object:
    return CliRunner().invoke(app, ["data", "check", name, "--data", f"{name}={root}"])


# -- item 5: images below the layout's folders are named, not dropped ----------------------


def test_data_check_names_mvtec_images_one_folder_too_deep(
    synth_mvtec: Path, tmp_path: Path
) -> None:
    # Today they were ignored and `data check` passed (exit 0).
    root = tmp_path / "mvtec"
    shutil.copytree(synth_mvtec, root)
    make_tree(root, {"bottle/test/broken_large/more": 2, "bottle/train": 1})
    assert MVTecAD(root).ignored_images() == {
        "bottle": ["bottle/test/broken_large/more/000.png",
                   "bottle/test/broken_large/more/001.png", "bottle/train/000.png"],
    }  # fmt: skip
    report = check_dataset("mvtec", root, scale=0.02, decode=False)
    assert not report.ok
    bottle = next(r for r in report.rows if r.category == "bottle")
    assert bottle.status == "images not read"
    result = check("mvtec", root)
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "category bottle: 3 images under it are not read" in output
    assert "(e.g. bottle/test/broken_large/more/000.png)" in output


def test_data_check_names_folder_images_below_a_defect_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 2, "c/bent": 2, "c/bent/2024": 1, "d/good": 1,
                                          "d/bent": 1})  # fmt: skip
    (root / "c" / "stray.png").write_bytes((root / "c" / "good" / "000.png").read_bytes())
    assert FolderDataset(root).ignored_images() == {"c": ["c/bent/2024/000.png", "c/stray.png"]}
    result = check("parts", root)
    assert result.exit_code == 1
    assert "category c: 2 images under it are not read" in " ".join(result.output.split())


def test_data_check_names_visa_images_the_csv_does_not_list(
    synth_visa: Path, tmp_path: Path
) -> None:
    root = tmp_path / "visa"
    shutil.copytree(synth_visa, root)
    extra = root / "candle" / "Data" / "Images" / "Normal" / "9999.JPG"
    shutil.copy(root / "candle" / "Data" / "Images" / "Normal" / "0000.JPG", extra)
    assert VisA(root).ignored_images() == {"candle": ["candle/Data/Images/Normal/9999.JPG"]}
    assert VisA(synth_visa).ignored_images() == {}


def test_a_run_warns_about_images_it_does_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 2, "c/bent": 2, "c/bent/deeper": 3})
    request = RunRequest(method="always-normal", train=None, test="parts",
                         data_roots={"parts": str(root)}, out=tmp_path / "run",
                         cache_dir=tmp_path / "cache")  # fmt: skip
    with caplog.at_level(logging.WARNING):
        execute_run(plan_run(request))
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "category c: 3 images under it are not read (e.g. c/bent/deeper/000.png)" in warned


# -- item 13: links are followed wherever they point; a loop ends ---------------------------


def test_a_category_linked_outside_the_root_is_read_and_fingerprinted(tmp_path: Path) -> None:
    outside = make_tree(tmp_path / "elsewhere", {"good": 2, "bent": 1})
    root = make_tree(tmp_path / "parts", {"c/good": 1, "c/bent": 1})
    (root / "linked").symlink_to(outside, target_is_directory=True)
    samples = FolderDataset(root).samples("all")
    assert sorted(s.id for s in samples if s.category == "linked") == [
        "linked/bent/000.png", "linked/good/000.png", "linked/good/001.png",
    ]  # fmt: skip
    before = fingerprint_samples(samples).digest
    Image.new("RGB", (9, 9)).save(outside / "good" / "001.png")  # the file outside changes
    after = fingerprint_samples(FolderDataset(root).samples("all")).digest
    assert after != before


def test_an_mvtec_category_linked_outside_the_root_is_read(
    synth_mvtec: Path, tmp_path: Path
) -> None:
    root = tmp_path / "mvtec"
    root.mkdir()
    (root / "bottle").symlink_to(synth_mvtec / "bottle", target_is_directory=True)
    assert {s.category for s in MVTecAD(root).samples("all")} == {"bottle"}
    assert len(MVTecAD(root).samples("all")) == len(
        [s for s in MVTecAD(synth_mvtec).samples("all") if s.category == "bottle"]
    )


def test_link_loops_end_and_add_nothing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 2, "c/bent": 1})
    (root / "c" / "good" / "loop").symlink_to(root / "c", target_is_directory=True)
    (root / "c" / "bent" / "self").symlink_to(".", target_is_directory=True)
    reader = FolderDataset(root)
    assert len(reader.samples("all")) == 3
    assert reader.ignored_images() == {}
    assert check("parts", root).exit_code == 0


def test_a_fifo_named_like_an_image_is_not_read(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"c/good": 2, "c/bent": 1})
    os.mkfifo(root / "c" / "good" / "pipe.png")
    os.mkfifo(root / "c" / "good" / "deeper.png.d")  # not a folder either
    assert len(FolderDataset(root).samples("all")) == 3
    assert FolderDataset(root).ignored_images() == {}


# -- item 12: names from the disk reach the terminal inert ----------------------------------

HOSTILE = ["\x1b]0;pwned\x07cat", "[link=file:x]click", "[red]hot"]


@pytest.mark.parametrize("command", ["check", "split"])
def test_data_commands_print_hostile_folder_names_inert(tmp_path: Path, command: str) -> None:
    # Today the escape sequence reached the terminal and the rich markup was interpreted.
    root = tmp_path / "parts"
    for category in HOSTILE:
        make_tree(root, {f"{category}/good": 2, f"{category}/bent": 1})
    make_tree(root, {"[red]hot/bent/[bold]deep": 1})  # not read: a warning line names it
    args = ["data", command, "parts", "--data", f"parts={root}"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    output = result.output
    assert "\x1b]" not in output and "\x07" not in output
    assert " ]0;pwned cat" in output
    assert "[link=file:x]click" in output and "[red]hot" in output
    assert "[red]hot/bent/[bold]deep/000.png" in output


def test_a_refusal_naming_a_hostile_folder_prints_it_as_text(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "parts", {"[bold]lone/good": 2, "c/good": 2, "c/bent": 1})
    result = CliRunner().invoke(app, ["data", "split", "parts", "--data", f"parts={root}"])
    assert result.exit_code == 2
    assert "[bold]lone has no defect image" in " ".join(result.output.split())

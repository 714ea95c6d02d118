"""`data split --append` (issue 19, item 8): new images assigned, assigned ones never move."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from iadbench.cli.app import app
from iadbench.data import FolderDataset
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.data.split_file import (
    draw_split,
    read_split_file,
    split_file_path,
    train_share,
)


def _images(root: Path, category: str, folder: str, first: int, n: int) -> None:
    """``n`` distinct small images ``first``..``first+n-1`` in ``root/category/folder``."""
    (root / category / folder).mkdir(parents=True, exist_ok=True)
    for i in range(first, first + n):
        pixels = np.full((8, 8, 3), (i * 7) % 256, np.uint8)
        Image.fromarray(pixels).save(root / category / folder / f"{i:02d}.png")


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """Two categories of 8 normal (``good``) and 4 defect (``scratch``) images each."""
    root = tmp_path / "parts"
    for category in ("a", "b"):
        _images(root, category, "good", 0, 8)
        _images(root, category, "scratch", 0, 4)
    return root


def _split(root: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["data", "split", "parts", "--data", f"parts={root}", *args])


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _refused(result: Result) -> str:
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def test_listed_lines_stay_byte_for_byte_and_only_new_images_are_added(tree: Path) -> None:
    _ok(_split(tree))
    before = split_file_path(tree).read_bytes()
    old_rows = read_split_file(split_file_path(tree))
    _images(tree, "b", "good", 8, 4)
    _images(tree, "b", "scratch", 9, 1)

    shown = _ok(_split(tree, "--append"))

    after = split_file_path(tree).read_bytes()
    assert after.startswith(before)  # every old line, its place and its bytes
    rows = read_split_file(split_file_path(tree))
    assert [(r.image, r.subset, r.label, r.line) for r in rows[: len(old_rows)]] == [
        (r.image, r.subset, r.label, r.line) for r in old_rows
    ]
    added = rows[len(old_rows) :]
    assert sorted(r.image for r in added) == [
        *(f"b/good/{i:02d}.png" for i in range(8, 12)), "b/scratch/09.png"
    ]  # fmt: skip
    assert "5 new image(s) assigned" in shown and "24 line(s) kept" in shown
    # The result reads back through the dataset reader as every image on disk.
    assert len(FolderDataset(tree, name="parts").samples("all")) == 29


@pytest.mark.parametrize(
    ("ratio", "n_new", "new_train"),
    [
        # 8 old normals, 6 train (0.8). 8+4=12 → round(9.6)=10 train: all 4 new ones train.
        ("0.8", 4, 4),
        # 8+1=9 → round(7.2)=7: the new one trains.
        ("0.8", 1, 1),
        # 8+20=28 → round(22.4)=22: 16 of the 20 new ones train, 4 test.
        ("0.8", 20, 16),
    ],
)
def test_new_images_top_up_the_train_share_towards_the_ratio(
    tree: Path, ratio: str, n_new: int, new_train: int
) -> None:
    _ok(_split(tree, "--train-normal-ratio", ratio))
    _images(tree, "a", "good", 8, n_new)
    _ok(_split(tree, "--append", "--train-normal-ratio", ratio))
    rows = read_split_file(split_file_path(tree))
    new = [r for r in rows if r.image >= "a/good/08.png" and r.image.startswith("a/good/")]
    assert len(new) == n_new and sum(r.subset == "train" for r in new) == new_train
    normals_a = [r for r in rows if (r.category, r.label) == ("a", "normal")]
    assert sum(r.subset == "train" for r in normals_a) == train_share(float(ratio), 8 + n_new)


def test_old_images_never_move_even_when_the_share_is_already_past_the_ratio(tree: Path) -> None:
    _ok(_split(tree, "--train-normal-ratio", "1.0"))  # 7 of 8 normals train
    _images(tree, "a", "good", 8, 2)
    # At 0.5, 10 normals want 5 training images; the 7 old ones stay, so both new ones test.
    _ok(_split(tree, "--append", "--train-normal-ratio", "0.5"))
    rows = read_split_file(split_file_path(tree))
    normals_a = [r for r in rows if (r.category, r.label) == ("a", "normal")]
    assert sum(r.subset == "train" for r in normals_a) == 7
    assert {r.subset for r in normals_a if r.image >= "a/good/08.png"} == {"test"}


def test_a_whole_new_category_gets_the_rows_a_fresh_split_would_draw(tree: Path) -> None:
    _ok(_split(tree, "--seed", "3", "--train-defect-ratio", "0.5"))
    _images(tree, "c", "good", 0, 9)
    _images(tree, "c", "scratch", 0, 5)
    _ok(_split(tree, "--append", "--seed", "3", "--train-defect-ratio", "0.5"))
    appended = {
        r.image: r.subset for r in read_split_file(split_file_path(tree)) if r.category == "c"
    }
    samples = FolderDataset(tree, name="parts").folder_samples()
    fresh = draw_split(samples, tree, train_normal_ratio=0.8, train_defect_ratio=0.5, seed=3)
    assert appended == {r.image: r.subset for r in fresh if r.category == "c"}


def test_nothing_new_says_so_and_writes_nothing(tree: Path) -> None:
    _ok(_split(tree))
    path = split_file_path(tree)
    stamp = path.stat().st_mtime_ns
    shown = _ok(_split(tree, "--append"))
    assert "lists every image of parts already; nothing written" in shown
    assert path.stat().st_mtime_ns == stamp


def test_images_gone_from_disk_are_refused_by_name_unless_pruned(tree: Path) -> None:
    _ok(_split(tree))
    path = split_file_path(tree)
    before = path.read_bytes()
    (tree / "a" / "good" / "03.png").unlink()
    _images(tree, "b", "good", 8, 1)

    message = _refused(_split(tree, "--append"))
    assert "a/good/03.png" in message and "--prune" in message and "nothing was written" in message
    assert path.read_bytes() == before

    shown = _ok(_split(tree, "--append", "--prune"))
    assert "dropped 1 line(s)" in shown
    kept = [line for line in before.splitlines(keepends=True) if b"a/good/03.png" not in line]
    assert path.read_bytes().startswith(b"".join(kept))
    assert len(FolderDataset(tree, name="parts").samples("all")) == 24


def test_contradictory_or_pointless_flags_are_refused(tree: Path) -> None:
    message = _refused(_split(tree, "--append"))
    assert "nothing to append to" in message and "without --append" in message
    assert not split_file_path(tree).exists()
    missing = tree.parent / "nowhere.csv"
    message = _refused(_split(tree, "--append", "--output", str(missing)))
    assert f"--output {missing}` (without --append)" in message
    assert not missing.exists()
    _ok(_split(tree))
    assert "pass one of the two" in _refused(_split(tree, "--append", "--force"))
    assert "add --append" in _refused(_split(tree, "--prune"))


def test_the_one_label_guards_of_a_fresh_split_apply_to_the_result(tree: Path) -> None:
    _ok(_split(tree))
    before = split_file_path(tree).read_bytes()
    _images(tree, "c", "good", 0, 3)  # a new category without a defect image
    message = _refused(_split(tree, "--append"))
    assert "c has no defect image" in message and "nothing was written" in message
    assert split_file_path(tree).read_bytes() == before


def test_pruning_the_last_tested_normal_of_a_category_is_refused(tree: Path) -> None:
    _ok(_split(tree))
    tested = [
        r.image for r in read_split_file(split_file_path(tree))
        if (r.category, r.subset, r.label) == ("a", "test", "normal")
    ]  # fmt: skip
    for image in tested:
        (tree / image).unlink()
    message = _refused(_split(tree, "--append", "--prune"))
    assert "a would test no normal image" in message


def test_a_new_image_read_with_another_normal_folder_mapping_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "parts"
    _images(root, "a", "pass", 0, 4)
    _images(root, "a", "bent", 0, 2)
    _ok(_split(root, "--normal-folders", "pass"))
    _images(root, "a", "pass", 4, 1)
    message = _refused(_split(root, "--append"))  # forgot --normal-folders: pass reads as defect
    assert "a/pass" in message and "--normal-folders" in message
    _ok(_split(root, "--append", "--normal-folders", "pass"))


def test_a_hand_written_file_keeps_its_bytes_and_line_ends(tree: Path) -> None:
    rows = ["object,split,label,image,mask"]
    for category in ("a", "b"):
        rows += [f"{category},train,normal,{category}/good/{i:02d}.png," for i in range(6)]
        rows += [f"{category},test,normal,{category}/good/{i:02d}.png," for i in (6, 7)]
        rows += [f"{category},test,anomaly,{category}/scratch/{i:02d}.png," for i in range(4)]
    text = "\ufeff" + "\n".join(rows)  # a BOM, LF line ends, no line end after the last row
    split_file_path(tree).write_text(text, encoding="utf-8")
    _images(tree, "a", "scratch", 4, 1)
    _ok(_split(tree, "--append"))
    after = split_file_path(tree).read_bytes()
    assert after == (text + "\na,test,anomaly,a/scratch/04.png,\n").encode()


def test_the_output_guard_still_applies(tree: Path, tmp_path: Path) -> None:
    _ok(_split(tree))
    inside = tree / "other.csv"
    inside.write_bytes(split_file_path(tree).read_bytes())
    assert "dataset" in _refused(_split(tree, "--append", "--output", str(inside)))
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_bytes(split_file_path(tree).read_bytes())
    _images(tree, "a", "scratch", 4, 1)
    _ok(_split(tree, "--append", "--output", str(elsewhere), "--prune"))
    assert b"a/scratch/04.png" in elsewhere.read_bytes()
    assert b"a/scratch/04.png" not in split_file_path(tree).read_bytes()


def test_only_the_categories_that_got_new_images_change_their_fingerprint(tree: Path) -> None:
    _ok(_split(tree))

    def by_category(subset: str) -> dict[str, str]:
        samples = FolderDataset(tree, name="parts").samples(subset)  # type: ignore[arg-type]
        return {
            c: fingerprint_samples([s for s in samples if s.category == c]).digest
            for c in ("a", "b")
        }

    before = {subset: by_category(subset) for subset in ("train", "test")}
    _images(tree, "b", "good", 8, 4)
    _images(tree, "b", "scratch", 9, 1)
    _ok(_split(tree, "--append"))
    after = {subset: by_category(subset) for subset in ("train", "test")}
    for subset in ("train", "test"):
        assert after[subset]["a"] == before[subset]["a"]
        assert after[subset]["b"] != before[subset]["b"]


def _run(tmp_path: Path, tree: Path, name: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["run", "--test", "parts", "--data", f"parts={tree}", "--out", str(tmp_path / name),
              "--cache-dir", str(tmp_path / "cache"), *args],
    )  # fmt: skip


@pytest.mark.slow
def test_a_run_whose_images_did_not_change_is_reused_and_one_whose_did_is_stale(
    tree: Path, tmp_path: Path
) -> None:
    _ok(_split(tree))
    zero_shot = ("--method", "always-defect")  # reads the Test subset only
    trained = ("--method", "pixel-stats", "--train", "parts")  # reads Train normals too
    _ok(_run(tmp_path, tree, "zero", *zero_shot))
    _ok(_run(tmp_path, tree, "trained", *trained))
    # 8 normals of b, 6 training; one more makes 9, round(7.2) = 7 train: the new one trains.
    _images(tree, "b", "good", 8, 1)
    _ok(_split(tree, "--append"))
    assert "nothing recomputed" in _ok(_run(tmp_path, tree, "zero", *zero_shot))
    # pixel-stats reads its reference normals from Train: references_fingerprint changed.
    message = _refused(_run(tmp_path, tree, "trained", *trained))
    assert "fingerprint (images replaced, added, removed or relabelled)" in message
    # A new defect tests (defect ratio 0): now the Test subset changed too.
    _images(tree, "a", "scratch", 4, 1)
    _ok(_split(tree, "--append"))
    assert "test.fingerprint" in _refused(_run(tmp_path, tree, "zero", *zero_shot))


def test_the_readers_refusal_names_append_and_its_command_repairs_the_file(tree: Path) -> None:
    from iadbench.data.split_file import SplitFileError

    _ok(_split(tree))
    (tree / "a" / "good" / "00.png").unlink()
    _images(tree, "b", "scratch", 4, 2)
    with pytest.raises(SplitFileError) as info:
        FolderDataset(tree, name="parts").samples("all")
    assert f"data split parts --data parts={tree.resolve()} --append" in str(info.value)
    _ok(_split(tree, "--append", "--prune"))
    assert len(FolderDataset(tree, name="parts").samples("all")) == 25


@pytest.mark.skipif(sys.platform != "linux", reason="byte file names need a POSIX filesystem")
def test_quoted_and_undecodable_names_survive_an_append_with_a_prune(tree: Path) -> None:
    good = tree / "a" / "good"
    Image.new("RGB", (8, 8)).save(good / "line\nbreak, comma.png")  # a quoted two-line record
    _ok(_split(tree))
    before = split_file_path(tree).read_bytes()
    assert b'"a/good/line\nbreak, comma.png"' in before
    (good / "05.png").unlink()
    with open(os.fsencode(good) + b"/caf\xe9.png", "wb") as handle:  # Latin-1, not UTF-8
        Image.new("RGB", (8, 8)).save(handle, format="PNG")
    _ok(_split(tree, "--append", "--prune"))
    after = split_file_path(tree).read_bytes()
    kept = b"".join(line for line in before.splitlines(True) if b"a/good/05.png" not in line)
    assert after.startswith(kept) and after[len(kept) :].endswith(b"/caf\xe9.png,\r\n")
    ids = {s.id for s in FolderDataset(tree, name="parts").samples("all")}
    assert "a/good/line\nbreak, comma.png" in ids and "a/good/caf\\xe9.png" in ids

"""KolektorSDD2 (issue 22, items 1, 2, 6): labels from mask pixels, train defects, CLI run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.contract.categories import natural_name
from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import DEFECT, NORMAL
from iadbench.data import open_dataset, reader_class
from iadbench.data.base import RootDepthError
from iadbench.data.check import check_dataset
from iadbench.data.ksdd2 import KSDD2_CATEGORY, KolektorSDD2
from iadbench.data.synth import planned_counts, synthesize
from iadbench.views.leaderboard.rows import official_counts

SCALE = 0.03


@pytest.fixture(scope="module")
def ksdd2_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ksdd2") / "KolektorSDD2"
    synthesize("ksdd2", root, scale=SCALE, seed=0, image_size=32)
    return root


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_official_counts_hold_train_defects() -> None:
    assert reader_class("ksdd2") is KolektorSDD2
    counts = planned_counts("ksdd2", scale=1.0)[KSDD2_CATEGORY]
    assert counts == KolektorSDD2.official_counts[KSDD2_CATEGORY]
    assert (counts.train_normal, counts.train_defect) == (2085, 246)
    assert counts.train_defect + counts.test_defect == 356
    assert counts.train_normal + counts.test_normal == 2979
    # All = both splits: the leaderboard's n column counts the train defects too.
    assert official_counts("ksdd2") == {KSDD2_CATEGORY: (356, 2979)}


def test_labels_come_from_the_masks_pixels(ksdd2_root: Path) -> None:
    reader = open_dataset("ksdd2", ksdd2_root)
    want = planned_counts("ksdd2", scale=SCALE)[KSDD2_CATEGORY]
    samples = reader.samples("all")
    assert reader.categories() == [KSDD2_CATEGORY]
    got = {(s.subset, s.label): 0 for s in samples}
    for s in samples:
        got[(s.subset, s.label)] += 1
    assert got == {
        ("train", NORMAL): want.train_normal,
        ("train", DEFECT): want.train_defect,
        ("test", NORMAL): want.test_normal,
        ("test", DEFECT): want.test_defect,
    }
    for s in samples:
        mask = Path(ksdd2_root, s.subset, Path(s.image_path).stem + "_GT.png")
        assert mask.is_file()  # every image has one, normal or not
        assert np.asarray(Image.open(mask)).any() == (s.label == DEFECT)
        assert s.mask_path == (str(mask) if s.label == DEFECT else None)


def test_an_all_black_mask_makes_an_image_normal(ksdd2_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "k"
    shutil.copytree(ksdd2_root, copy)
    defect = next(s for s in open_dataset("ksdd2", copy).samples("test") if s.label == DEFECT)
    assert defect.mask_path is not None
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(defect.mask_path)
    relabelled = {s.id: s for s in open_dataset("ksdd2", copy).samples()}[defect.id]
    assert relabelled.label == NORMAL and relabelled.mask_path is None


def test_a_missing_or_unreadable_mask_is_refused(ksdd2_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "k"
    shutil.copytree(ksdd2_root, copy)
    first = sorted((copy / "test").glob("*_GT.png"))[0]
    first.unlink()
    with pytest.raises(DatasetNotFoundError, match=r"has no mask .*_GT\.png beside it"):
        open_dataset("ksdd2", copy).samples()
    first.write_bytes(b"not a png")
    with pytest.raises(DatasetNotFoundError, match="cannot be read"):
        open_dataset("ksdd2", copy).samples()


def test_data_check_compares_train_defects_and_prints_the_licence(
    ksdd2_root: Path, tmp_path: Path
) -> None:
    report = check_dataset("ksdd2", ksdd2_root, scale=SCALE, decode=False)
    assert report.ok, report.problems  # train defects are the release's, not stray ones
    assert "unconfirmed" in report.licence and "CC BY-NC-SA 4.0" in report.licence
    copy = tmp_path / "k"
    shutil.copytree(ksdd2_root, copy)
    train_defect = next(
        s for s in open_dataset("ksdd2", copy).samples("train") if s.label == DEFECT
    )
    Path(train_defect.image_path).unlink()
    Path(str(train_defect.mask_path)).unlink()
    report = check_dataset("ksdd2", copy, scale=SCALE, decode=False)
    want = planned_counts("ksdd2", scale=SCALE)[KSDD2_CATEGORY].train_defect
    assert f"category ksdd2: {want - 1} train defect images, expected {want}" in report.problems, (
        report.problems
    )


def test_depth_hints_name_the_root(ksdd2_root: Path) -> None:
    with pytest.raises(RootDepthError, match="as the release's train/ and test/ do: pass the "):
        open_dataset("ksdd2", ksdd2_root / "train").samples()
    with pytest.raises(RootDepthError, match="its subfolder KolektorSDD2/ does"):
        open_dataset("ksdd2", ksdd2_root.parent).samples()


def test_natural_name() -> None:
    assert natural_name(KSDD2_CATEGORY) == "product surface"


def test_cli_synth_check_and_run(tmp_path: Path) -> None:
    root = tmp_path / "ksdd2"
    code, output = cli("data", "synth", "ksdd2", str(root), "--scale", "0.02", "--image-size", "32")
    assert code == 0, output
    code, output = cli("data", "check", "ksdd2", "--data", f"ksdd2={root}", "--scale", "0.02")
    assert code == 0 and "train defect" in output and "Licence:" in output, output
    code, output = cli("run", "--method", "always-normal", "--train", "ksdd2", "--test", "ksdd2",
                       "--data", f"ksdd2={root}", "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "run" / "summary.json").is_file()


def test_a_mask_without_its_image_is_named_by_data_check(ksdd2_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "k"
    shutil.copytree(ksdd2_root, copy)
    shutil.copy(next((copy / "test").glob("*_GT.png")), copy / "test" / "99999_GT.png")
    report = check_dataset("ksdd2", copy, scale=SCALE, decode=False)
    assert report.ignored == {KSDD2_CATEGORY: ["test/99999_GT.png"]}
    assert any("test/99999_GT.png" in p for p in report.problems)


def test_a_second_synth_replaces_train_and_test_but_refuses_foreign_entries(
    tmp_path: Path,
) -> None:
    from iadbench.contract.errors import IADBenchError
    from iadbench.data.synth import read_synthetic_marker

    root = tmp_path / "k"
    synthesize("ksdd2", root, scale=0.01, image_size=16)
    marker = read_synthetic_marker(root)
    assert marker is not None and marker["written"] == ["test", "train"]
    assert marker["counts"][KSDD2_CATEGORY]["train_defect"] == 3
    synthesize("ksdd2", root, scale=0.01, image_size=16, seed=1)  # the earlier tree is replaced
    (root / "notes.txt").write_text("mine")
    with pytest.raises(IADBenchError, match="notes.txt"):
        synthesize("ksdd2", root, scale=0.01, image_size=16)

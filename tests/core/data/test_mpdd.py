"""MPDD (issue 22, items 1, 2, 6): reader, synthetic tree, counts, masks, depth hints, CLI run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.contract.categories import natural_name
from iadbench.contract.records import DEFECT, NORMAL
from iadbench.data import open_dataset, reader_class
from iadbench.data.base import RootDepthError
from iadbench.data.check import check_dataset
from iadbench.data.mpdd import MPDD, MPDD_DEFECT_TYPES
from iadbench.data.synth import planned_counts, synthesize

SCALE = 0.05


@pytest.fixture(scope="module")
def mpdd_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mpdd") / "MPDD"
    synthesize("mpdd", root, scale=SCALE, seed=0, image_size=32)
    return root


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_official_counts_at_scale_one_are_the_cited_ones() -> None:
    assert reader_class("mpdd") is MPDD
    counts = planned_counts("mpdd", scale=1.0)
    assert counts == MPDD.official_counts
    assert sorted(counts) == sorted(MPDD_DEFECT_TYPES)
    assert sum(c.total for c in counts.values()) == 1346  # the total the paper is cited for
    assert all(c.train_defect == 0 for c in counts.values())


def test_reader_reads_the_synthetic_tree_as_planned(mpdd_root: Path) -> None:
    reader = open_dataset("mpdd", mpdd_root)
    planned = planned_counts("mpdd", scale=SCALE)
    assert reader.categories() == sorted(planned)
    for category, want in planned.items():
        samples = [s for s in reader.samples("all") if s.category == category]
        train = [s for s in samples if s.subset == "train"]
        test = [s for s in samples if s.subset == "test"]
        assert len(train) == want.train_normal and all(s.label == NORMAL for s in train)
        assert sum(s.label == NORMAL for s in test) == want.test_normal
        assert sum(s.label == DEFECT for s in test) == want.test_defect
    assert {s.dataset for s in reader.samples()} == {"mpdd"}


def test_masks_follow_the_mask_suffix_and_normals_have_none(mpdd_root: Path) -> None:
    samples = open_dataset("mpdd", mpdd_root).samples("test")
    defects = [s for s in samples if s.label == DEFECT]
    assert defects and all(s.mask_path and s.mask_path.endswith("_mask.png") for s in defects)
    assert all(s.mask_path is None for s in samples if s.label == NORMAL)
    types = {s.defect_type for s in defects if s.category == "metal_plate"}
    assert types <= set(MPDD_DEFECT_TYPES["metal_plate"]) and types


def test_data_check_is_clean_and_names_a_missing_image(mpdd_root: Path, tmp_path: Path) -> None:
    assert check_dataset("mpdd", mpdd_root, scale=SCALE, decode=False).ok
    copy = tmp_path / "MPDD"
    shutil.copytree(mpdd_root, copy)
    (copy / "tubes" / "train" / "good" / "000.png").unlink()
    report = check_dataset("mpdd", copy, scale=SCALE, decode=False)
    assert not report.ok
    assert any(p.startswith("category tubes: 5 train normal images, expected 6") for p in
               report.problems), report.problems  # fmt: skip
    assert "CC BY-NC-SA 4.0" in report.licence and "stepanje/MPDD" in report.licence


def test_depth_hints_name_the_root(mpdd_root: Path) -> None:
    with pytest.raises(RootDepthError, match="pass the folder above it"):
        open_dataset("mpdd", mpdd_root / "tubes").samples()
    with pytest.raises(RootDepthError, match="its subfolder MPDD/ does"):
        open_dataset("mpdd", mpdd_root.parent).samples()


def test_natural_names_read_as_words() -> None:
    assert natural_name("bracket_black") == "black metal bracket"
    assert natural_name("metal_plate") == "metal plate"
    assert natural_name("tubes") == "metal tube"


def test_cli_synth_check_and_run(tmp_path: Path) -> None:
    root = tmp_path / "mpdd"
    code, output = cli("data", "synth", "mpdd", str(root), "--scale", "0.02", "--image-size", "32")
    assert code == 0, output
    code, output = cli("data", "check", "mpdd", "--data", f"mpdd={root}", "--scale", "0.02")
    assert code == 0 and "Licence:" in output, output
    code, output = cli("run", "--method", "always-normal", "--train", "mpdd", "--test", "mpdd",
                       "--data", f"mpdd={root}", "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "run" / "summary.json").is_file()

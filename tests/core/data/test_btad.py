"""BTAD (issue 22, items 1, 2, 6): ok/ko folders, .bmp and .png files, counts, depth, CLI run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.contract.categories import natural_name
from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import DEFECT, NORMAL
from iadbench.data import open_dataset, reader_class
from iadbench.data.base import RootDepthError
from iadbench.data.btad import BTAD
from iadbench.data.check import check_dataset
from iadbench.data.synth import planned_counts, synthesize

SCALE = 0.03


@pytest.fixture(scope="module")
def btad_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The archive unpacks as BTech_Dataset_transformed/ (anomalib 2.7's btech.py).
    root = tmp_path_factory.mktemp("btad") / "BTech_Dataset_transformed"
    synthesize("btad", root, scale=SCALE, seed=0, image_size=32)
    return root


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    return result.exit_code, result.output


def test_official_counts_match_the_cited_totals() -> None:
    assert reader_class("btad") is BTAD
    counts = planned_counts("btad", scale=1.0)
    assert counts == BTAD.official_counts and sorted(counts) == ["01", "02", "03"]
    # dataset-ninja's SUMMARY.md: 1,799 train and 741 test images, 290 ko, 2,250 ok.
    assert sum(c.train_normal for c in counts.values()) == 1799
    assert sum(c.test_normal + c.test_defect for c in counts.values()) == 741
    assert sum(c.test_defect for c in counts.values()) == 290
    assert sum(c.total for c in counts.values()) == 2540


def test_reader_reads_ok_as_normal_and_ko_as_defect(btad_root: Path) -> None:
    reader = open_dataset("btad", btad_root)
    planned = planned_counts("btad", scale=SCALE)
    for product, want in planned.items():
        samples = [s for s in reader.samples("all") if s.category == product]
        train = [s for s in samples if s.subset == "train"]
        test = [s for s in samples if s.subset == "test"]
        assert len(train) == want.train_normal and {s.label for s in train} == {NORMAL}
        assert sum(s.label == NORMAL for s in test) == want.test_normal
        assert sum(s.label == DEFECT for s in test) == want.test_defect
    assert {s.defect_type for s in reader.samples() if s.label == DEFECT} == {"ko"}
    assert {s.defect_type for s in reader.samples() if s.label == NORMAL} == {"ok"}


def test_bmp_and_png_files_and_stem_named_masks(btad_root: Path) -> None:
    samples = open_dataset("btad", btad_root).samples("test")
    by_product = {p: [s for s in samples if s.category == p] for p in ("01", "02", "03")}
    assert all(s.image_path.endswith(".bmp") for s in by_product["01"])
    assert all(s.image_path.endswith(".png") for s in by_product["02"])
    masks = {p: {Path(s.mask_path).suffix for s in v if s.mask_path} for p, v in by_product.items()}
    assert masks == {"01": {".png"}, "02": {".png"}, "03": {".bmp"}}
    for s in samples:
        if s.label == DEFECT:
            assert s.mask_path is not None
            assert Path(s.mask_path).stem == Path(s.image_path).stem  # no _mask suffix
            assert Path(s.mask_path).parent.name == "ko"
        else:
            assert s.mask_path is None


def test_a_good_folder_is_refused_not_read_as_defects(btad_root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "btad"
    shutil.copytree(btad_root, copy)
    (copy / "02" / "test" / "ok").rename(copy / "02" / "test" / "good")
    with pytest.raises(DatasetNotFoundError, match=r"holds 02/test/good/, but .* only ok/ and ko/"):
        open_dataset("btad", copy).samples()
    code, output = cli("data", "check", "btad", "--data", f"btad={copy}", "--no-decode")
    assert code == 2 and "02/test/good/" in output, output


def test_data_check_names_a_missing_defect_and_the_licence(btad_root: Path, tmp_path: Path) -> None:
    assert check_dataset("btad", btad_root, scale=SCALE, decode=False).ok
    copy = tmp_path / "btad"
    shutil.copytree(btad_root, copy)
    (copy / "03" / "test" / "ko" / "000.bmp").unlink()
    report = check_dataset("btad", copy, scale=SCALE, decode=False)
    assert "category 03: 2 test defect images, expected 3" in report.problems
    assert report.licence.startswith("CC BY-SA 4.0") and "VT-ADL" in report.licence


def test_depth_hints_name_the_root(btad_root: Path) -> None:
    with pytest.raises(RootDepthError, match="pass the folder above it"):
        open_dataset("btad", btad_root / "01").samples()
    with pytest.raises(RootDepthError, match="its subfolder BTech_Dataset_transformed/ does"):
        open_dataset("btad", btad_root.parent).samples()


def test_natural_names_do_not_invent_products() -> None:
    assert {natural_name(p) for p in ("01", "02", "03")} == {"industrial product"}


def test_cli_synth_check_and_run(tmp_path: Path) -> None:
    root = tmp_path / "btad"
    code, output = cli("data", "synth", "btad", str(root), "--scale", "0.02", "--image-size", "32")
    assert code == 0, output
    code, output = cli("data", "check", "btad", "--data", f"btad={root}", "--scale", "0.02")
    assert code == 0 and "Licence: CC BY-SA 4.0" in output, output
    code, output = cli("run", "--method", "always-normal", "--train", "btad", "--test", "btad",
                       "--data", f"btad={root}", "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 0, output
    assert (tmp_path / "run" / "summary.json").is_file()

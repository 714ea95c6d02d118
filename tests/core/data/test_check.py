from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from iadbench.cli import app
from iadbench.data.check import MAX_LISTED, check_dataset
from iadbench.data.folder import NORMAL_FOLDER_NAMES

SCALE = 0.02


@pytest.fixture()
def mvtec_copy(synth_mvtec: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synth_mvtec, tmp_path / "mvtec"))


@pytest.fixture()
def visa_copy(synth_visa: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synth_visa, tmp_path / "visa"))


def make_tree(root: Path, *rels: str) -> Path:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(root / rel)
    return root


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize("fixture", ["synth_mvtec", "synth_visa"])
def test_synthetic_tree_checks_clean_at_its_scale(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    root = request.getfixturevalue(fixture)
    report = check_dataset(fixture.removeprefix("synth_"), root, scale=SCALE)
    assert report.ok, report.problems
    assert {row.status for row in report.rows} == {"ok"}
    assert report.synthetic_marker is not None and report.synthetic_marker["scale"] == SCALE
    assert report.n_decoded > 0


def test_missing_category_is_reported(mvtec_copy: Path) -> None:
    shutil.rmtree(mvtec_copy / "zipper")
    report = check_dataset("mvtec", mvtec_copy, scale=SCALE)
    assert not report.ok
    assert any("zipper is missing" in p for p in report.problems)
    assert next(r for r in report.rows if r.category == "zipper").status == "missing"


def test_extra_category_is_reported(mvtec_copy: Path) -> None:
    shutil.copytree(mvtec_copy / "bottle", mvtec_copy / "jar")
    report = check_dataset("mvtec", mvtec_copy, scale=SCALE)
    assert any("jar is not an official" in p for p in report.problems)
    assert report.rows[-1].category == "jar" and report.rows[-1].status == "extra"


def test_count_difference_is_reported_per_group(mvtec_copy: Path) -> None:
    (mvtec_copy / "bottle" / "train" / "good" / "000.png").unlink()
    report = check_dataset("mvtec", mvtec_copy, scale=SCALE)
    assert report.problems == ["category bottle: 3 train normal images, expected 4"]
    assert next(r for r in report.rows if r.category == "bottle").status == "counts differ"


def test_full_scale_check_of_a_small_tree_reports_differences(synth_mvtec: Path) -> None:
    report = check_dataset("mvtec", synth_mvtec, decode=False)
    assert "category bottle: 4 train normal images, expected 209" in report.problems
    assert report.notes and "scale 0.02" in report.notes[0]


def test_file_listed_in_split_csv_but_absent_is_reported(visa_copy: Path) -> None:
    with open(visa_copy / "split_csv" / "1cls.csv", newline="") as handle:
        listed = [row["image"] for row in csv.DictReader(handle)]
    (visa_copy / listed[0]).unlink()
    report = check_dataset("visa", visa_copy, scale=SCALE)
    assert report.problems == [f"listed but absent on disk: {visa_copy.resolve() / listed[0]}"]
    row = next(r for r in report.rows if r.category == listed[0].split("/")[0])
    assert (row.status, row.missing_files) == ("files missing", 1)


def test_truncated_image_is_reported(mvtec_copy: Path) -> None:
    path = mvtec_copy / "carpet" / "test" / "good" / "001.png"
    truncate(path)
    report = check_dataset("mvtec", mvtec_copy, scale=SCALE)
    assert list(report.unreadable) == [str(path.resolve())]
    assert len(report.problems) == 1 and report.problems[0].startswith(f"cannot decode {path}")
    assert next(r for r in report.rows if r.category == "carpet").status == "unreadable files"


def test_corrupt_mask_is_reported(visa_copy: Path) -> None:
    mask = next((visa_copy / "fryum" / "Data" / "Masks" / "Anomaly").iterdir())
    mask.write_bytes(b"\x89PNG broken")
    report = check_dataset("visa", visa_copy, scale=SCALE)
    assert list(report.unreadable) == [str(mask.resolve())]


def test_decode_false_skips_decoding(mvtec_copy: Path) -> None:
    truncate(mvtec_copy / "carpet" / "test" / "good" / "001.png")
    report = check_dataset("mvtec", mvtec_copy, scale=SCALE, decode=False)
    assert report.ok and report.n_decoded == 0


def test_progress_counts_decoded_files(synth_mvtec: Path) -> None:
    seen: list[int] = []
    report = check_dataset("mvtec", synth_mvtec, scale=SCALE, progress=seen.append)
    assert sum(seen) == report.n_decoded


def test_folder_dataset_gets_decode_checks_only(tmp_path: Path) -> None:
    for rel in ("bracket/good/001.png", "bracket/dent/001.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / rel)
    (tmp_path / "bracket" / "dent" / "002.png").write_bytes(b"junk")
    report = check_dataset("parts", tmp_path)
    assert [
        (r.category, r.expected, r.found.test_normal, r.found.test_defect) for r in report.rows
    ] == [("bracket", None, 1, 2)]
    assert len(report.problems) == 1 and "002.png" in report.problems[0]


def test_long_problem_lists_are_summarised(mvtec_copy: Path) -> None:
    for path in mvtec_copy.glob("*/train/good/*.png"):
        path.write_bytes(b"junk")
    report = check_dataset("mvtec", mvtec_copy, scale=SCALE)
    assert len(report.unreadable) > MAX_LISTED
    assert len(report.problems) == MAX_LISTED + 1
    assert (
        report.problems[-1]
        == f"... and {len(report.unreadable) - MAX_LISTED} more unreadable files"
    )


def test_folder_dataset_with_nominal_folders_checks_clean(tmp_path: Path) -> None:
    make_tree(tmp_path, "bracket/nominal/001.png", "bracket/dent/001.png", "hinge/OK/1.png",
              "hinge/bent/1.png")  # fmt: skip
    report = check_dataset("parts", tmp_path)
    assert report.ok, report.problems
    assert [(r.category, r.found.test_normal, r.status) for r in report.rows] == [
        ("bracket", 1, "ok"),
        ("hinge", 1, "ok"),
    ]


def test_folder_dataset_without_normal_images_is_a_problem(tmp_path: Path) -> None:
    make_tree(tmp_path, "bracket/passed/001.png", "bracket/dent/001.png")
    report = check_dataset("parts", tmp_path)
    assert not report.ok
    assert "no normal image at all" in report.problems[0]
    category = report.problems[1]
    assert category.startswith("category bracket has no normal image")
    assert "dent (1 image)" in category and "passed (1 image)" in category
    assert ", ".join(NORMAL_FOLDER_NAMES) in category
    assert [(r.category, r.status) for r in report.rows] == [("bracket", "no normal images")]


def test_each_one_sided_category_of_a_folder_dataset_is_named(tmp_path: Path) -> None:
    make_tree(tmp_path, "bracket/good/001.png", "bracket/dent/001.png", "hinge/bent/001.png",
              "latch/good/001.png")  # fmt: skip
    (tmp_path / "spring").mkdir()
    report = check_dataset("parts", tmp_path, decode=False)
    assert [p.split(" has ")[0] for p in report.problems] == [
        "category hinge",
        "category latch",
        "category spring",
    ]
    assert "no image (no folder in it)" in report.problems[2]
    assert {r.category: r.status for r in report.rows} == {
        "bracket": "ok",
        "hinge": "no normal images",
        "latch": "no defect images",
        "spring": "no normal images",
    }


def test_check_passes_normal_folders_to_the_folder_reader(tmp_path: Path) -> None:
    make_tree(tmp_path, "bracket/passed/001.png", "bracket/dent/001.png")
    assert check_dataset("parts", tmp_path, normal_folders=("passed",)).ok
    with pytest.raises(ValueError, match="folder datasets only"):
        check_dataset("mvtec", tmp_path, normal_folders=("passed",))


def test_data_check_exits_non_zero_naming_a_category_without_normal_images(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path, "bracket/nominal/001.png", "bracket/dent/001.png",
              "hinge/passed/001.png", "hinge/bent/001.png")  # fmt: skip
    result = CliRunner().invoke(
        app, ["data", "check", "parts", "--data", f"parts={tmp_path}"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 1, result.output
    assert "category hinge has no normal image" in result.output
    assert "bracket" not in result.output.split("✗", 1)[1]

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image

from iadbench.datasets.check import MAX_LISTED, check_dataset

SCALE = 0.02


@pytest.fixture()
def mvtec_copy(synth_mvtec: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synth_mvtec, tmp_path / "mvtec"))


@pytest.fixture()
def visa_copy(synth_visa: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(synth_visa, tmp_path / "visa"))


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

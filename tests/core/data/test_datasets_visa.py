from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.data import VisA, open_dataset

SCALE = 0.02
HEADER = "object,split,label,image,mask\n"


def scaled(n: int) -> int:
    return max(3, round(n * SCALE))


def write_image(path: Path, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (8, 8)).save(path)


def write_split_csv(root: Path, rows: list[str]) -> None:
    (root / "split_csv").mkdir(parents=True, exist_ok=True)
    (root / "split_csv" / "1cls.csv").write_text(HEADER + "".join(r + "\n" for r in rows))


def test_subset_counts_match_scaled_official_counts(synth_visa: Path) -> None:
    reader = VisA(synth_visa)
    assert reader.layout == "split_csv"
    for category, official in VisA.official_counts.items():
        train = [s for s in reader.samples("train") if s.category == category]
        test = [s for s in reader.samples("test") if s.category == category]
        assert len(train) == scaled(official.train_normal)
        assert {s.label for s in train} == {"normal"}
        assert sum(s.label == "normal" for s in test) == scaled(official.test_normal)
        assert sum(s.label == "defect" for s in test) == scaled(official.test_defect)
    assert len(reader.samples("all")) == len(reader.samples("train")) + len(reader.samples("test"))


def test_ids_are_the_csv_image_paths(synth_visa: Path) -> None:
    with open(synth_visa / "split_csv" / "1cls.csv", newline="") as handle:
        listed = sorted(row["image"] for row in csv.DictReader(handle))
    samples = VisA(synth_visa).samples("all")
    assert [s.id for s in samples] == listed
    assert all(Path(s.image_path) == synth_visa.resolve() / s.id for s in samples)


def test_normal_and_anomaly_basename_collision_gives_two_samples(synth_visa: Path) -> None:
    by_id = {s.id: s for s in VisA(synth_visa).samples("all")}
    normal = by_id["candle/Data/Images/Normal/0000.JPG"]
    anomaly = by_id["candle/Data/Images/Anomaly/0000.JPG"]
    assert (normal.label, anomaly.label) == ("normal", "defect")
    assert normal.image_path != anomaly.image_path


def test_mask_paths_come_from_csv_and_defect_types_from_image_anno(synth_visa: Path) -> None:
    for s in VisA(synth_visa).samples("all"):
        if s.label == "defect":
            assert s.defect_type in {"spot", "scratch", "scratch,spot"}
            assert s.mask_path is not None and Path(s.mask_path).is_file()
        else:
            assert (s.defect_type, s.mask_path) == ("good", None)


def _anomaly_tree(root: Path, anno: str | None) -> Path:
    rows = []
    for i in range(3):
        rows.append(f"candle,test,anomaly,candle/Data/Images/Anomaly/{i:03d}.JPG,")
        write_image(root / f"candle/Data/Images/Anomaly/{i:03d}.JPG")
    write_image(root / "candle/Data/Images/Normal/000.JPG")
    rows.append("candle,test,normal,candle/Data/Images/Normal/000.JPG,")
    write_split_csv(root, rows)
    if anno is not None:
        (root / "candle" / "image_anno.csv").write_text(anno)
    return root


def test_image_anno_labels_name_the_defect_type_and_several_types_are_sorted(
    tmp_path: Path,
) -> None:
    anno = (
        "image,label,mask\n"
        'candle/Data/Images/Anomaly/000.JPG,"wax melded out of the candle, chunk of wax missing",\n'
        "Data/Images/Anomaly/001.JPG,weird candle wick,\n"  # relative to the category folder
        "candle/Data/Images/Normal/000.JPG,normal,\n"
    )
    types = {s.id: s.defect_type for s in VisA(_anomaly_tree(tmp_path, anno)).samples("all")}
    assert types == {
        "candle/Data/Images/Anomaly/000.JPG": "chunk of wax missing,wax melded out of the candle",
        "candle/Data/Images/Anomaly/001.JPG": "weird candle wick",
        "candle/Data/Images/Anomaly/002.JPG": "anomaly",  # not in image_anno.csv
        "candle/Data/Images/Normal/000.JPG": "good",
    }


def test_without_image_anno_every_anomaly_is_of_type_anomaly(tmp_path: Path) -> None:
    samples = VisA(_anomaly_tree(tmp_path, None)).samples("test")
    assert {s.defect_type for s in samples if s.label == "defect"} == {"anomaly"}


def test_image_anno_without_a_label_column_names_the_file(tmp_path: Path) -> None:
    _anomaly_tree(tmp_path, "image,type\ncandle/Data/Images/Anomaly/000.JPG,x\n")
    with pytest.raises(DatasetNotFoundError, match=r"image_anno\.csv lacks the column\(s\) label"):
        VisA(tmp_path).samples("all")


def test_row_for_absent_file_still_yields_a_sample(tmp_path: Path) -> None:
    write_image(tmp_path / "candle/Data/Images/Normal/0000.JPG")
    write_split_csv(
        tmp_path,
        [
            "candle,train,normal,candle/Data/Images/Normal/0000.JPG,",
            "candle,test,anomaly,candle/Data/Images/Anomaly/0000.JPG,candle/Data/Masks/Anomaly/0000.png",
        ],
    )
    samples = VisA(tmp_path).samples("all")
    assert [s.id for s in samples] == [
        "candle/Data/Images/Anomaly/0000.JPG",
        "candle/Data/Images/Normal/0000.JPG",
    ]
    assert not Path(samples[0].image_path).exists()


def test_bad_label_error_names_the_csv_line(tmp_path: Path) -> None:
    write_split_csv(tmp_path, ["candle,test,broken,candle/a.JPG,"])
    with pytest.raises(DatasetNotFoundError, match="line 2"):
        VisA(tmp_path).samples("all")


def test_duplicate_csv_row_is_rejected(tmp_path: Path) -> None:
    write_split_csv(tmp_path, ["candle,test,normal,candle/a.JPG,"] * 2)
    with pytest.raises(DatasetNotFoundError, match="again"):
        VisA(tmp_path).samples("all")


def test_converted_mvtec_style_tree_is_read(tmp_path: Path) -> None:
    write_image(tmp_path / "candle/train/good/0000.JPG")
    write_image(tmp_path / "candle/test/good/0001.JPG")
    write_image(tmp_path / "candle/test/bad/0000.JPG")
    write_image(tmp_path / "candle/ground_truth/bad/0000.png", "L")
    reader = VisA(tmp_path)
    assert reader.layout == "mvtec_style"
    by_id = {s.id: s for s in reader.samples("all")}
    assert by_id["candle/train/good/0000.JPG"].subset == "train"
    bad = by_id["candle/test/bad/0000.JPG"]
    assert (bad.label, bad.defect_type, bad.dataset) == ("defect", "bad", "visa")
    assert bad.mask_path == str(tmp_path.resolve() / "candle/ground_truth/bad/0000.png")


def test_root_without_either_layout_error_names_path_and_both_layouts(tmp_path: Path) -> None:
    (tmp_path / "candle").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        VisA(tmp_path)
    message = str(info.value)
    assert str(tmp_path.resolve()) in message
    assert "split_csv/1cls.csv" in message and "test/bad" in message


def test_missing_root_error_names_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="nowhere"):
        open_dataset("visa", tmp_path / "nowhere")


@pytest.mark.parametrize(
    "row",
    [
        "candle,test,normal,../outside.JPG,",
        "candle,test,normal,candle/../../outside.JPG,",
        "candle,test,normal,/etc/passwd,",
        "candle,test,anomaly,candle/a.JPG,../../masks/a.png",
    ],
)
def test_split_file_paths_may_not_leave_the_root(tmp_path: Path, row: str) -> None:
    write_split_csv(tmp_path, [row])
    with pytest.raises(DatasetNotFoundError, match="outside the dataset root"):
        VisA(tmp_path).samples("all")


def test_summary_reports_recall_per_visa_anomaly_type(tmp_path: Path, synth_visa: Path) -> None:
    from iadbench.execution.planning import RunRequest, plan_run
    from iadbench.execution.runner import execute_run

    request = RunRequest(
        method="always-defect", train="visa", test="visa", test_split="test",
        data_roots={"visa": str(synth_visa)}, out=tmp_path / "run", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    per_type = execute_run(plan_run(request)).summary["per_defect_type"]["candle"]
    kinds = set(per_type) - {"good"}
    assert kinds and kinds <= {"spot", "scratch", "scratch,spot"}  # never the bare "anomaly"
    assert all(entry["rate"] == 1.0 for entry in per_type.values())  # always-defect

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.data import (
    MVTecAD,
    open_dataset,
    resolve_root,
    root_env_var,
)
from iadbench.data.mvtec import MVTEC_DEFECT_TYPES

SCALE = 0.02


def scaled(n: int) -> int:
    return max(3, round(n * SCALE))


def write_png(path: Path, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (8, 8)).save(path, "PNG")


def test_subset_counts_match_scaled_official_counts(synth_mvtec: Path) -> None:
    reader = MVTecAD(synth_mvtec)
    for category, official in MVTecAD.official_counts.items():
        train = [s for s in reader.samples("train") if s.category == category]
        test = [s for s in reader.samples("test") if s.category == category]
        assert len(train) == scaled(official.train_normal)
        assert sum(s.label == "normal" for s in test) == scaled(official.test_normal)
        assert sum(s.label == "defect" for s in test) == scaled(official.test_defect)
    assert len(reader.samples("all")) == len(reader.samples("train")) + len(reader.samples("test"))


def test_train_subset_holds_only_normal_images(synth_mvtec: Path) -> None:
    assert {s.label for s in MVTecAD(synth_mvtec).samples("train")} == {"normal"}


def test_ids_are_unique_relative_paths_with_forward_slashes(synth_mvtec: Path) -> None:
    samples = MVTecAD(synth_mvtec).samples("all")
    ids = [s.id for s in samples]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for s in samples:
        assert "\\" not in s.id and not s.id.startswith("/")
        assert Path(s.image_path) == synth_mvtec.resolve() / s.id


def test_labels_and_defect_types_follow_folders(synth_mvtec: Path) -> None:
    for s in MVTecAD(synth_mvtec).samples("test"):
        folder = s.id.split("/")[2]
        assert s.defect_type == folder
        assert s.label == ("normal" if folder == "good" else "defect")
        assert folder == "good" or folder in MVTEC_DEFECT_TYPES[s.category]


def test_defect_samples_have_existing_masks_and_normal_samples_none(synth_mvtec: Path) -> None:
    for s in MVTecAD(synth_mvtec).samples("all"):
        if s.label == "defect":
            assert s.mask_path is not None and Path(s.mask_path).is_file()
            assert s.mask_path.endswith(Path(s.image_path).stem + "_mask.png")
        else:
            assert s.mask_path is None


def test_image_suffixes_are_accepted_case_insensitively(tmp_path: Path) -> None:
    write_png(tmp_path / "part" / "test" / "good" / "000.PNG")
    write_png(tmp_path / "part" / "test" / "dent" / "000.Png")
    (tmp_path / "part" / "test" / "good" / "notes.txt").write_text("not an image")
    ids = [s.id for s in MVTecAD(tmp_path).samples("all")]
    assert ids == ["part/test/dent/000.Png", "part/test/good/000.PNG"]


def test_hidden_files_are_ignored(tmp_path: Path) -> None:
    write_png(tmp_path / "part" / "test" / "good" / "000.png")
    write_png(tmp_path / "part" / "test" / "good" / "._000.png")
    assert [s.id for s in MVTecAD(tmp_path).samples("all")] == ["part/test/good/000.png"]


def test_extra_categories_are_discovered(synth_mvtec: Path, tmp_path: Path) -> None:
    write_png(tmp_path / "my_part" / "train" / "good" / "000.png")
    write_png(tmp_path / "my_part" / "test" / "crack" / "000.png")
    write_png(tmp_path / "my_part" / "ground_truth" / "crack" / "000_mask.png", "L")
    write_png(tmp_path / "not_a_category" / "000.png")
    reader = MVTecAD(tmp_path)
    assert reader.categories() == ["my_part"]
    (defect,) = [s for s in reader.samples("all") if s.label == "defect"]
    assert defect.mask_path == str(tmp_path.resolve() / "my_part/ground_truth/crack/000_mask.png")


def test_corrupt_image_is_indexed_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "part" / "test" / "good" / "000.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a png")
    assert [s.id for s in MVTecAD(tmp_path).samples("test")] == ["part/test/good/000.png"]


def test_missing_root_error_names_path_and_layout(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as info:
        MVTecAD(missing)
    assert str(missing) in str(info.value)
    assert "train/good" in str(info.value) and "ground_truth" in str(info.value)


def test_root_without_images_error_names_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="test/<defect>"):
        MVTecAD(tmp_path).samples("all")


def test_unknown_subset_is_rejected(synth_mvtec: Path) -> None:
    with pytest.raises(ValueError, match="subset"):
        MVTecAD(synth_mvtec).samples("val")  # type: ignore[arg-type]


def test_open_dataset_picks_the_mvtec_reader(synth_mvtec: Path) -> None:
    assert isinstance(open_dataset("mvtec", synth_mvtec), MVTecAD)


def test_root_env_var_is_upper_case_with_underscores() -> None:
    assert root_env_var("mvtec") == "IADBENCH_MVTEC_ROOT"
    assert root_env_var("my-parts.v2") == "IADBENCH_MY_PARTS_V2_ROOT"


def test_resolve_root_prefers_data_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IADBENCH_MVTEC_ROOT", "/from/env")
    assert resolve_root("mvtec", {"mvtec": "/from/flag"}) == Path("/from/flag")


def test_resolve_root_falls_back_to_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IADBENCH_MVTEC_ROOT", "/from/env")
    assert resolve_root("mvtec", {"visa": "/elsewhere"}) == Path("/from/env")


def test_resolve_root_error_names_flag_env_var_and_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IADBENCH_MVTEC_ROOT", raising=False)
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_root("mvtec", {})
    message = str(info.value)
    assert "MVTec-AD" in message
    assert "--data mvtec=PATH" in message
    assert "IADBENCH_MVTEC_ROOT" in message
    assert "train/good" in message
    assert "\n" not in message

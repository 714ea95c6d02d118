from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from iadbench.datasets import FolderDataset, open_dataset, resolve_root
from iadbench.errors import DatasetNotFoundError


@pytest.fixture()
def parts(tmp_path: Path) -> Path:
    for rel in ("bracket/good/001.png", "bracket/good/002.jpg", "bracket/scratch/007.PNG",
                "hinge/good/001.png", "hinge/bent/001.png"):  # fmt: skip
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(path, "PNG")
    (tmp_path / "bracket" / "good" / "readme.txt").write_text("not an image")
    return tmp_path


def test_good_is_normal_and_other_folders_are_defects(parts: Path) -> None:
    labels = {s.id: (s.label, s.defect_type) for s in FolderDataset(parts).samples("all")}
    assert labels == {
        "bracket/good/001.png": ("normal", "good"),
        "bracket/good/002.jpg": ("normal", "good"),
        "bracket/scratch/007.PNG": ("defect", "scratch"),
        "hinge/bent/001.png": ("defect", "bent"),
        "hinge/good/001.png": ("normal", "good"),
    }


def test_every_sample_is_in_test_so_train_is_empty_and_all_equals_test(parts: Path) -> None:
    reader = FolderDataset(parts)
    assert reader.samples("train") == []
    assert reader.samples("all") == reader.samples("test")
    assert len(reader.samples("test")) == 5


def test_name_is_per_instance(parts: Path) -> None:
    reader = FolderDataset(parts, name="parts")
    assert reader.name == "parts"
    assert {s.dataset for s in reader.samples("all")} == {"parts"}
    assert FolderDataset.name == "folder"


def test_open_dataset_with_another_name_gives_folder_dataset(parts: Path) -> None:
    reader = open_dataset("my-parts", parts)
    assert isinstance(reader, FolderDataset)
    assert reader.name == "my-parts"
    assert reader.categories() == ["bracket", "hinge"]


def test_missing_root_error_names_dataset_and_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        open_dataset("parts", tmp_path / "nowhere")
    assert "'parts'" in str(info.value) and "<category>/good" in str(info.value)


def test_resolve_root_for_folder_dataset_uses_its_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IADBENCH_MY_PARTS_ROOT", str(tmp_path))
    assert resolve_root("my-parts", {}) == tmp_path


def test_resolve_root_error_for_folder_dataset_names_its_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IADBENCH_PARTS_ROOT", raising=False)
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_root("parts", {})
    message = str(info.value)
    assert "--data parts=PATH" in message and "IADBENCH_PARTS_ROOT" in message
    assert "<category>/good" in message

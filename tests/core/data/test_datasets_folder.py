from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.data import FolderDataset, open_dataset, resolve_root
from iadbench.data.folder import FOLDER_LAYOUT_HELP, NORMAL_FOLDER_NAMES, LabelBalance


def make_tree(root: Path, *rels: str) -> Path:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(path, "PNG")
    return root


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


def test_recognised_normal_folder_names_are_documented_in_one_constant() -> None:
    assert NORMAL_FOLDER_NAMES == ("good", "normal", "nominal", "ok")
    assert all(name in FOLDER_LAYOUT_HELP for name in NORMAL_FOLDER_NAMES)


@pytest.mark.parametrize("folder", ["nominal", "normal", "ok", "OK", "Nominal", "GOOD", "Good"])
def test_common_normal_folder_names_are_read_as_normal_in_any_case(
    tmp_path: Path, folder: str
) -> None:
    make_tree(tmp_path, f"bracket/{folder}/001.png", "bracket/scratch/001.png")
    labels = {s.id: (s.label, s.defect_type) for s in FolderDataset(tmp_path).samples("all")}
    assert labels == {
        f"bracket/{folder}/001.png": ("normal", folder),
        "bracket/scratch/001.png": ("defect", "scratch"),
    }


def test_explicit_normal_folders_replace_the_recognised_names(tmp_path: Path) -> None:
    make_tree(tmp_path, "can/Pass/001.png", "can/good/001.png", "can/dent/001.png")
    reader = FolderDataset(tmp_path, name="cans", normal_folders=("pass",))
    labels = {s.id: s.label for s in reader.samples("all")}
    assert labels == {
        "can/Pass/001.png": "normal",
        "can/good/001.png": "defect",
        "can/dent/001.png": "defect",
    }
    assert reader.normal_folders == ("pass",)
    assert FolderDataset(tmp_path, normal_folders="pass").normal_folders == ("pass",)


@pytest.mark.parametrize("bad", [(), [""], "  "])
def test_normal_folders_naming_no_folder_is_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="normal_folders"):
        FolderDataset(tmp_path, normal_folders=bad)  # type: ignore[arg-type]


def test_label_balance_counts_normal_and_defect_images_per_category(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        "bracket/nominal/001.png",
        "bracket/nominal/002.png",
        "bracket/scratch/001.png",
        "hinge/bent/001.png",
        "hinge/bent/002.png",
    )
    (tmp_path / "hinge" / "crack").mkdir()
    (tmp_path / "empty").mkdir()
    assert FolderDataset(tmp_path).label_balance() == {
        "bracket": LabelBalance(2, 1, ("nominal",), ("scratch",)),
        "empty": LabelBalance(0, 0, (), ()),
        "hinge": LabelBalance(0, 2, (), ("bent", "crack")),
    }


def test_balance_problems_name_category_folders_and_accepted_names(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        "bracket/good/001.png",
        "bracket/scratch/001.png",
        "hinge/passed/001.png",
        "hinge/bent/001.png",
        "latch/ok/001.png",
    )
    problems = FolderDataset(tmp_path, name="parts").balance_problems()
    assert len(problems) == 2
    hinge, latch = problems
    assert hinge.startswith("category hinge has no normal image, only 2 defect images")
    assert "bent (1 image)" in hinge and "passed (1 image)" in hinge
    assert "good, normal, nominal, ok" in hinge
    assert latch.startswith("category latch has no defect image, only 1 normal image")


def test_balance_problems_warn_for_the_whole_dataset_without_normal_images(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path, "bracket/passed/001.png", "hinge/passed/001.png")
    problems = FolderDataset(tmp_path, name="parts").balance_problems()
    assert "'parts'" in problems[0] and "no normal image at all" in problems[0]
    assert [p.split(" has")[0] for p in problems[1:]] == ["category bracket", "category hinge"]
    explicit = FolderDataset(tmp_path, name="parts", normal_folders=("passed",))
    assert "no defect image at all" in explicit.balance_problems()[0]


def test_balanced_tree_has_no_balance_problems(parts: Path) -> None:
    assert FolderDataset(parts).balance_problems() == []

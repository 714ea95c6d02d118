"""Real-IAD: the reader of the JSON splits, its variants, views grouped per part, hostile rows."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from iadbench.contract.categories import natural_name
from iadbench.contract.errors import ArgumentError
from iadbench.contract.records import Sample
from iadbench.data import open_dataset
from iadbench.data.base import RootDepthError
from iadbench.data.check import check_dataset
from iadbench.data.fingerprint import fingerprint_samples
from iadbench.data.real_iad import SPLIT_ENV_VAR, RealIAD, RealIADError, sample_key
from iadbench.data.synth import MARKER_NAME, check_synth_arguments, planned_counts, synthesize

CATEGORIES = ("audiojack", "pcb")
SCALE = 0.01


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real_iad") / "Real-IAD"
    synthesize("real-iad", root, scale=SCALE, image_size=16, categories=CATEGORIES)
    return root


@pytest.fixture
def copy(tree: Path, tmp_path: Path) -> Path:
    """A copy of the tree that a test may damage."""
    target = tmp_path / "Real-IAD"
    shutil.copytree(tree, target)
    return target


def test_reads_the_synthetic_release_with_its_counts(tree: Path) -> None:
    reader = open_dataset("real-iad", tree)
    assert isinstance(reader, RealIAD) and reader.split == "realiad_jsons"
    samples = reader.samples("all")
    found = Counter((s.category, s.subset, s.label) for s in samples)
    for category, want in planned_counts("real-iad", scale=SCALE, categories=CATEGORIES).items():
        assert found[(category, "train", "normal")] == want.train_normal
        assert found[(category, "test", "normal")] == want.test_normal
        assert found[(category, "test", "defect")] == want.test_defect
    defect = next(s for s in samples if s.label == "defect")
    assert defect.id.startswith("realiad_1024/") and defect.mask_path is not None
    assert defect.defect_type != "good" and Path(defect.mask_path).is_file()
    assert all(s.mask_path is None and s.defect_type == "good" for s in samples
               if s.label == "normal")  # fmt: skip
    assert reader.ignored_images() == {}


def test_views_of_one_part_share_a_group_and_a_part_is_defective_when_any_view_is(
    tree: Path,
) -> None:
    samples = open_dataset("real-iad", tree).samples("test")
    views: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        assert s.group is not None
        views[s.group].append(s)
    assert max(len(v) for v in views.values()) == 5
    # The release labels views one by one: a defective part has a view where nothing shows.
    mixed = [v for v in views.values() if {s.label for s in v} == {"defect", "normal"}]
    assert mixed, "a defective part keeps a normal view"
    for members in views.values():
        assert len({s.subset for s in members}) == 1 and len({s.category for s in members}) == 1


def test_sample_key_is_the_authors_pattern() -> None:
    assert sample_key("pcb_0012_OK_C5_20230101.jpg") == "pcb_0012_OK"
    assert sample_key("sim_card_set_0001_NG_QS_C2_1.jpg") == "sim_card_set_0001_NG_QS"
    assert sample_key("pcb_0012.jpg") is None


def test_a_split_variant_is_chosen_by_argument_or_environment(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = RealIAD(tree).samples("all")
    single = RealIAD(tree, split="realiad_jsons_sv").samples("all")
    assert {s.id.split("_C")[-1][0] for s in single} == {"1"} and len(single) < len(default)
    monkeypatch.setenv(SPLIT_ENV_VAR, "realiad_jsons_fuiad_0.4")
    fuiad = open_dataset("real-iad", tree)
    assert isinstance(fuiad, RealIAD) and fuiad.split == "realiad_jsons_fuiad_0.4"
    assert any(s.subset == "train" and s.label == "defect" for s in fuiad.samples("all"))
    monkeypatch.setenv(SPLIT_ENV_VAR, "../elsewhere")
    with pytest.raises(RealIADError, match="not a split variant"):
        open_dataset("real-iad", tree)


def test_variants_one_level_down_as_the_archive_extracts(copy: Path) -> None:
    # <root>/realiad_jsons/realiad_jsons_sv/... (anomalib 2.7's and other readers' layout)
    shutil.move(copy / "realiad_jsons_sv", copy / "realiad_jsons" / "realiad_jsons_sv")
    assert len(RealIAD(copy, split="realiad_jsons_sv").samples("all")) > 0


def _rewrite(root: Path, edit: str) -> Path:
    path = root / "realiad_jsons" / "pcb.json"
    content = json.loads(path.read_text())
    row = content["test"][3]
    if edit == "climb":
        row["image_path"] = "../../../../outside.jpg"
    elif edit == "absolute":
        row["image_path"] = "/etc/passwd"
    elif edit == "missing":
        row["image_path"] = row["image_path"].replace(".jpg", "_gone.jpg")
    elif edit == "keys":
        del row["mask_path"]
    elif edit == "no_view":
        target = path.parent.parent / "realiad_1024" / "pcb" / "odd.jpg"
        target.write_bytes(b"")
        row["image_path"] = "odd.jpg"
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("climb", "leads outside"),
        ("absolute", "leads outside"),
        ("missing", "is not on disk"),
        ("keys", "a row needs the keys"),
        ("no_view", "cannot be grouped"),
    ],
)
def test_a_hostile_row_is_refused_naming_file_and_row(copy: Path, edit: str, said: str) -> None:
    path = _rewrite(copy, edit)
    with pytest.raises(RealIADError) as info:
        RealIAD(copy).samples("all")
    message = str(info.value)
    assert str(path) in message and "row test[3]" in message and said in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def test_a_root_one_level_off_names_the_release_folder(tree: Path) -> None:
    with pytest.raises(RootDepthError, match="instead") as too_deep:
        RealIAD(tree / "realiad_1024")
    assert f"{tree}, instead" in str(too_deep.value)
    with pytest.raises(RootDepthError) as category:
        RealIAD(tree / "realiad_1024" / "pcb")
    assert f"two levels up, {tree}, instead" in str(category.value)
    with pytest.raises(RootDepthError) as too_high:
        RealIAD(tree.parent)
    assert f"subfolder {tree.name}/ does: pass {tree} instead" in str(too_high.value)


def test_check_passes_the_synthetic_tree_and_prints_the_licence(tree: Path) -> None:
    report = check_dataset("real-iad", tree, scale=SCALE, decode=False)
    # Only two categories were written: the other 28 are missing, nothing else is off.
    assert {r.status for r in report.rows if r.category in CATEGORIES} == {"ok"}
    assert report.licence is not None and "CC BY-NC-SA 4.0" in report.licence


def test_unconfirmed_counts_are_notes_on_a_real_copy(copy: Path) -> None:
    (copy / MARKER_NAME).unlink()  # no longer a synthetic tree: a user's copy
    # At scale 1 every group differs from the (unconfirmed) per-category counts.
    report = check_dataset("real-iad", copy, scale=1, decode=False)
    assert not any("audiojack:" in p for p in report.problems)
    assert any("audiojack:" in n for n in report.notes)
    assert any("not the authors'" in n for n in report.notes)


def test_synth_writes_the_release_at_full_count_beyond_the_general_limit() -> None:
    assert check_synth_arguments("real-iad", scale=1) == 151_050
    with pytest.raises(ArgumentError, match="use --scale 1 or less"):
        check_synth_arguments("real-iad", scale=1.01, option_names=True)


def test_the_group_enters_the_fingerprint_only_where_there_is_one(tree: Path) -> None:
    sample = open_dataset("real-iad", tree).samples("all")[0]
    plain = Sample(sample.id, "real-iad", sample.category, sample.subset, sample.label,
                   sample.image_path, sample.mask_path, sample.defect_type)  # fmt: skip
    # Without a group the line is the one every earlier dataset had (their hashes stay).
    stat = Path(plain.image_path).stat()
    mask = Path(plain.mask_path).stat() if plain.mask_path else None
    line = "\t".join([plain.id, plain.subset, plain.label, plain.category,
                      plain.defect_type or "", f"{stat.st_size}:{stat.st_mtime_ns}",
                      f"{mask.st_size}:{mask.st_mtime_ns}" if mask else ""]) + "\n"  # fmt: skip
    assert fingerprint_samples([plain]).digest == hashlib.sha256(line.encode()).hexdigest()
    assert fingerprint_samples([sample]).digest != fingerprint_samples([plain]).digest


def test_natural_names_of_real_iad_categories() -> None:
    assert natural_name("audiojack") == "audio jack"
    assert natural_name("pcb") == "printed circuit board"
    assert natural_name("terminalblock") == "terminal block"
    assert natural_name("bottle_cap") == "bottle cap"

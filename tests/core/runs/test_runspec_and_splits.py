import pytest

from iadbench.contract.records import Sample
from iadbench.data.splits import SplitError, check_no_overlap, load_split_table
from iadbench.runs.runspec import DatasetRef, RunSpec


def _spec(**changes):
    base = dict(
        method="m",
        method_version="1",
        options={"lr": 0.1},
        tiny=True,
        train=DatasetRef("visa", "all", "/v"),
        test=DatasetRef("mvtec", "all", "/m"),
        threshold=None,
        seed=0,
    )
    return RunSpec(**{**base, **changes})


def test_hash_is_stable_for_equal_configurations():
    assert _spec().config_hash() == _spec().config_hash()
    assert len(_spec().config_hash()) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"options": {"lr": 0.2}},
        {"method_version": "2"},
        {"tiny": False},
        {"seed": 1},
        {"threshold": "fixed:0.4"},
        {"test": DatasetRef("mvtec", "test", "/m")},
        {"test": DatasetRef("mvtec", "all", "/m", fingerprint="edited")},
        {"train": DatasetRef("visa", "train", "/v")},
        {"train": DatasetRef("visa", "all", "/v", fingerprint="edited")},
        {"calibration_fingerprint": "calibrated-on"},
    ],
)
def test_any_change_of_configuration_changes_the_hash(change):
    assert _spec(**change).config_hash() != _spec().config_hash()


def test_the_same_data_under_another_root_keeps_the_hash_and_is_recorded():
    moved = _spec(test=DatasetRef("mvtec", "all", "/elsewhere"))
    assert moved.config_hash() == _spec().config_hash()
    assert moved.config()["test"]["root"] == "/elsewhere"


def test_train_hash_follows_the_training_data_fingerprint_only():
    edited = _spec(train=DatasetRef("visa", "all", "/v", fingerprint="edited"))
    assert edited.train_hash() != _spec().train_hash()
    assert _spec(calibration_fingerprint="x").train_hash() == _spec().train_hash()


def test_train_hash_ignores_test_data_and_threshold():
    other = _spec(test=DatasetRef("visa2", "test", "/x"), threshold="fixed:0.3")
    assert other.train_hash() == _spec().train_hash()
    assert _spec(options={"lr": 0.2}).train_hash() != _spec().train_hash()


def test_table_two_training_subsets_are_read_from_data():
    table = load_split_table()
    assert table.train_split("aprilgan") == "test"
    assert table.train_split("anomalygpt") == "train"
    assert table.train_split("lr-iad") == "all"
    assert table.train_split("some-plugin") == "train"
    assert table.inference_default == "all"


def _sample(i, subset):
    return Sample(f"c/{i}.png", "mvtec", "c", subset, "normal", f"/r/c/{i}.png")


def test_overlapping_train_and_test_are_refused_with_the_reason():
    train = [_sample(i, "train") for i in range(3)]
    with pytest.raises(SplitError, match="2 of 2 test images.*memorisation"):
        check_no_overlap(train, train[:2])


def test_overlap_can_be_forced_and_disjoint_subsets_pass():
    train = [_sample(i, "train") for i in range(3)]
    assert check_no_overlap(train, train[:2], force=True) == 2
    assert check_no_overlap(train, [_sample(9, "test")]) == 0


def test_train_hash_leaves_out_inference_only_options():
    scored = _spec(options={"lr": 0.1, "score": "map-max"})
    texted = _spec(options={"lr": 0.1, "score": "text"})
    assert scored.train_hash(["score"]) == texted.train_hash(["score"])
    assert scored.train_hash() != texted.train_hash()

"""``iadbench.train`` and ``iadbench.load_samples``: what methods and notebooks use of the core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import iadbench
from iadbench.execution.registry import METHODS
from iadbench.execution.training_stage import TRAINED_MARKER

_PLUGIN = """
import iadbench

@iadbench.register_method("api-counting")
class Counting(iadbench.MethodAdapter):
    capabilities = iadbench.Capabilities(needs_pixels=False, trains=True)

    def fit(self, samples):
        with open(self.context.workdir / "calls.log", "a") as log:
            log.write(f"fit {len(samples)}\\n")

    def load(self):
        with open(self.context.workdir / "calls.log", "a") as log:
            log.write("load\\n")

    def predict(self, batch):
        return [iadbench.Prediction("normal") for _ in batch]
"""


def test_train_stores_one_training_that_evaluate_then_loads(tmp_path, synth_mvtec, synth_visa):
    plugin = tmp_path / "api_counting.py"
    plugin.write_text(_PLUGIN)
    METHODS.load_plugin_file(plugin)
    data = {"mvtec": synth_mvtec, "visa": synth_visa}
    kwargs = dict(data=data, train_split="train", cache_dir=tmp_path / "cache")
    workdir = iadbench.train("api-counting", "visa", **kwargs)
    assert (workdir / TRAINED_MARKER).is_file()
    assert workdir.parent == tmp_path / "cache" / "trained" / "api-counting"
    assert iadbench.train("api-counting", "visa", **kwargs) == workdir  # reused
    summary = iadbench.evaluate("api-counting", "mvtec", train="visa", out=tmp_path / "r", **kwargs)
    assert summary["method"] == "api-counting"
    calls = (workdir / "calls.log").read_text().split("\n")
    n_train = len(iadbench.load_samples("visa", synth_visa, "train"))
    assert calls[:3] == [f"fit {n_train}", "load", "load"]
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["trained_artifacts"] == str(workdir)


def test_train_refuses_a_method_without_a_training_stage(tmp_path, synth_visa):
    with pytest.raises(iadbench.IADBenchError, match="no training stage"):
        iadbench.train("always-normal", "visa", data={"visa": synth_visa}, cache_dir=tmp_path)


def test_load_samples_reads_a_subset_as_a_run_does(synth_mvtec: Path):
    everything = iadbench.load_samples("mvtec", synth_mvtec)
    test = iadbench.load_samples("mvtec", synth_mvtec, "test")
    assert 0 < len(test) < len(everything) and {s.dataset for s in test} == {"mvtec"}
    with pytest.raises(iadbench.IADBenchError, match="subset"):
        iadbench.load_samples("mvtec", synth_mvtec, "validation")


# Every argument of evaluate() and train(), each given a wrong type or value: one clear
# IADBenchError naming the argument, nothing recorded (issue 18 item 8). Before, limit=2.5 and
# seed="x" were recorded as given and method=None, data=[...] raised raw TypeErrors.
_BAD_EVALUATE = [
    ("method", None), ("method", 3), ("test", None), ("test", ""), ("train", 5),
    ("data", ["mvtec"]), ("data", {"mvtec": None}), ("options", ["x=1"]), ("options", {1: 2}),
    ("tiny", "yes"), ("threshold", 0.5), ("train_split", 1), ("test_split", ["test"]),
    ("limit", 2.5), ("limit", True), ("limit", "3"), ("limit", 0), ("categories", "bottle"),
    ("categories", []), ("categories", [""]), ("categories", [3]), ("seed", "x"),
    ("seed", 1.5), ("seed", -1), ("device", "tpu"), ("device", "cuda:x"), ("device", None),
    ("out", 3), ("cache_dir", ["c"]), ("overwrite", 1), ("far_targets", "0.01"),
    ("far_targets", [1.5]), ("far_targets", []), ("recall_targets", 0.9),
    ("recall_targets", [float("nan")]),
    ("calibration_ratio", "0.2"), ("calibration_ratio", -0.1), ("calibration_ratio", 0.95),
]  # fmt: skip
_BAD_TRAIN = [
    ("method", None), ("train", None), ("data", ["visa"]), ("options", ["x=1"]),
    ("tiny", None), ("train_split", 2), ("seed", "x"), ("seed", True), ("device", "tpu"),
    ("cache_dir", 7),
]  # fmt: skip


@pytest.mark.parametrize(("argument", "value"), _BAD_EVALUATE)
def test_evaluate_refuses_a_bad_argument_naming_it(tmp_path, synth_mvtec, argument, value):
    kwargs = dict(method="always-defect", test="mvtec", data={"mvtec": synth_mvtec},
                  out=tmp_path / "r", cache_dir=tmp_path / "c")  # fmt: skip
    kwargs[argument] = value
    with pytest.raises(iadbench.IADBenchError, match=rf"^{argument}\b") as refused:
        iadbench.evaluate(**kwargs)
    assert type(refused.value).__name__ == "ArgumentError"
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("argument", "value"), _BAD_TRAIN)
def test_train_refuses_a_bad_argument_naming_it(tmp_path, synth_visa, argument, value):
    kwargs = dict(method="always-normal", train="visa", data={"visa": synth_visa},
                  cache_dir=tmp_path / "c")  # fmt: skip
    kwargs[argument] = value
    with pytest.raises(iadbench.IADBenchError, match=rf"^{argument}\b"):
        iadbench.train(**kwargs)
    assert not (tmp_path / "c").exists()


def test_every_argument_of_evaluate_and_train_is_covered():
    import inspect

    assert {a for a, _ in _BAD_EVALUATE} == set(inspect.signature(iadbench.evaluate).parameters)
    assert {a for a, _ in _BAD_TRAIN} == set(inspect.signature(iadbench.train).parameters)


@pytest.mark.parametrize(
    ("adapter", "samples", "message"),
    [
        (None, [], "adapter must be a method adapter instance"),
        ("class", [], "adapter must be a method adapter instance"),
        ("instance", None, "samples must be a list of iadbench.Sample"),
        ("instance", "abc", "samples must be a list of iadbench.Sample"),
        ("instance", ["a.png"], "samples must be iadbench.Sample records"),
    ],
)
def test_predict_samples_refuses_what_is_not_an_adapter_or_samples(adapter, samples, message):
    # The attack re-run: None / a class raised AttributeError; "abc" gave 3 predictions.
    import iadbench
    from iadbench_methods.baselines import AlwaysDefect

    given = {"class": AlwaysDefect, "instance": AlwaysDefect()}.get(adapter, adapter)
    with pytest.raises(iadbench.IADBenchError, match=message):
        iadbench.predict_samples(given, samples)


def test_load_samples_refuses_a_root_that_is_not_a_path():
    import iadbench

    with pytest.raises(iadbench.IADBenchError, match="root must be a folder path"):
        iadbench.load_samples("mvtec", 5)  # type: ignore[arg-type]


def test_a_listed_file_that_is_not_on_disk_is_that_images_error_even_for_a_baseline(tmp_path):
    # The attack re-run: a 1cls.csv row naming 0000.jpg (the file is 0000.JPG) was scored as a
    # correct defect by always-defect, which never opens images: 246 predictions for 245 images.
    import iadbench
    from iadbench_methods.baselines import AlwaysDefect

    present = tmp_path / "0000.JPG"
    present.write_bytes(b"jpg")
    samples = [
        iadbench.Sample(f"c/{name}", "visa", "c", "test", "defect", str(tmp_path / name))
        for name in ("0000.JPG", "0000.jpg")
    ]
    kept, absent = iadbench.predict_samples(AlwaysDefect(), samples)
    assert kept.label == "defect" and kept.error is None
    assert absent.error is not None and "not found" in absent.error

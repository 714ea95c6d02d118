"""The protocols planning runs a one-class method under (issue 21, item 3).

A one-class method (``Capabilities.one_class``: anomalib's PatchCore, PaDiM, ...) learns what
normal looks like, one model per category. Planning trains it on the dataset it tests (Train
normals of the tested categories only, tested on Test), runs its few-shot form on K Train
normals that are never test images, and refuses a cross-dataset training with one sentence
naming both protocols. A small per-category mean-colour model stands in for anomalib here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import iadbench
from iadbench.cli.app import app
from iadbench.contract.errors import IADBenchError
from iadbench.contract.images import load_rgb
from iadbench.contract.options import option
from iadbench.data.splits import DEFAULT_TABLE, load_split_table
from iadbench.execution.matrix import MatrixRequest, plan_matrix
from iadbench.execution.planned_data import stored_references
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.execution.training_stage import TRAINING_DATA_FILE
from iadbench.runs.layout import MANIFEST, PREDICTIONS

METHOD = "mean-colour"


class Colour:
    """Picklable preprocessor: an image's mean RGB colour in [0, 1]."""

    def __call__(self, sample: iadbench.Sample) -> np.ndarray:
        image = np.asarray(load_rgb(sample.image_path).resize((16, 16)), dtype=np.float32)
        return image.reshape(-1, 3).mean(axis=0) / 255


@dataclass(frozen=True)
class MeanColourOptions:
    """Options: ``shots`` > 0 is the few-shot form (no training), as the zoo's bridge has it."""

    shots: int = option(0, replaces_training=True, help="Few-shot: K normal references.")


class MeanColour(iadbench.MethodAdapter[MeanColourOptions]):
    """One-class: per category, the distance of an image's mean colour to its normals' mean."""

    capabilities = iadbench.Capabilities(
        needs_pixels=True, trains=True, gives_scores=True, builds_models=False, one_class=True
    )
    Options = MeanColourOptions
    default_batch_size = 16
    fitted: ClassVar[list[list[tuple[str, str, str]]]] = []  # spy: (id, category, label) per fit

    @classmethod
    def reference_shots(cls, options: Any) -> int:
        return int(options.shots)

    def preprocessor(self) -> Colour:
        return Colour()

    def fit(self, samples: Any) -> None:
        MeanColour.fitted.append([(s.id, s.category, s.label) for s in samples])
        means = self._means(samples)
        (self.context.training_dir() / "means.json").write_text(json.dumps(means))
        self.means = means

    def load(self) -> None:
        self.means = json.loads((self.context.training_dir() / "means.json").read_text())

    def _means(self, samples: Any) -> dict[str, list[float]]:
        by_category: dict[str, list[np.ndarray]] = {}
        for sample in samples:
            by_category.setdefault(sample.category, []).append(Colour()(sample))
        return {c: np.mean(v, axis=0).tolist() for c, v in by_category.items()}

    def predict(self, batch: Any, inputs: Any = None) -> list[iadbench.Prediction]:
        if not hasattr(self, "means"):  # few-shot: the references are the normals
            refs = {c: s[: self.options.shots] for c, s in self.context.references.items()}
            self.means = self._means([s for group in refs.values() for s in group])
        found = []
        for sample, colour in zip(batch, inputs, strict=True):
            distance = float(np.abs(np.asarray(self.means[sample.category]) - colour).sum())
            found.append(iadbench.Prediction(score=1 - float(np.exp(-5 * distance))))
        return found


@pytest.fixture(autouse=True)
def _registered() -> None:
    if METHOD not in METHODS.names():
        METHODS.add(METHOD, MeanColour, __file__)
    MeanColour.fitted.clear()


def _request(tmp_path: Path, roots: dict[str, Path], **changes: Any) -> RunRequest:
    base: dict[str, Any] = dict(
        method=METHOD, train="mvtec", test="mvtec",
        data_roots={name: str(root) for name, root in roots.items()}, out=tmp_path / "run",
        cache_dir=tmp_path / "cache", workers=0,
    )  # fmt: skip
    return RunRequest(**{**base, **changes})


# -- same dataset: Train normals of the tested categories, tested on Test ----------------------


def test_same_dataset_defaults_are_train_then_test(tmp_path: Path, synth_mvtec: Path) -> None:
    plan = plan_run(_request(tmp_path, {"mvtec": synth_mvtec}))
    assert plan.spec.train is not None and plan.spec.test is not None
    # Test, never All: All holds the Train normals the model is fitted on.
    assert (plan.spec.train.split, plan.spec.test.split) == ("train", "test")
    assert plan.data.train and {s.subset for s in plan.data.train} == {"train"}
    assert {s.subset for s in plan.data.test} == {"test"}
    assert not {s.id for s in plan.data.train} & {s.id for s in plan.data.test}


def test_the_paper_methods_keep_table_two(tmp_path: Path, synth_mvtec: Path) -> None:
    """Table II stays the default of every method that is not one-class (aprilgan trains on Test,
    zero-shot runs test on All)."""
    table = load_split_table(DEFAULT_TABLE)
    assert (table.inference_default, table.train_split("aprilgan")) == ("all", "test")
    assert (table.train_split("lr-iad"), table.train_split("anomalygpt")) == ("all", "train")
    zero_shot = plan_run(_request(tmp_path, {"mvtec": synth_mvtec}, method="always-normal"))
    assert zero_shot.spec.test is not None and zero_shot.spec.test.split == "all"


def test_fit_gets_the_normals_of_the_tested_categories_only(
    tmp_path: Path, synth_mvtec: Path
) -> None:
    request = _request(tmp_path, {"mvtec": synth_mvtec}, categories=("bottle", "cable"))
    outcome = execute_run(plan_run(request))
    assert outcome.summary["overall"]["n"] > 0
    (fitted,) = MeanColour.fitted
    assert {category for _, category, _ in fitted} == {"bottle", "cable"}
    assert {label for _, _, label in fitted} == {"normal"}
    every = plan_run(_request(tmp_path, {"mvtec": synth_mvtec}, out=tmp_path / "x"))
    assert every.data.train is not None
    wanted = {s.id for s in every.data.train if s.category in ("bottle", "cable")}
    assert {sample_id for sample_id, _, _ in fitted} == wanted
    # The training record names what fit learned from: categories × label.
    records = list((tmp_path / "cache" / "trained" / METHOD).glob(f"*/{TRAINING_DATA_FILE}"))
    (record,) = [json.loads(path.read_text()) for path in records]
    assert set(record["trained"]["categories"]) == {"bottle/normal", "cable/normal"}
    assert record["trained"]["labels"] == {"normal": len(wanted)}
    # The tested categories are the same two, and recorded in the configuration.
    assert {s["category"] for s in _predictions(outcome.out)} == {"bottle", "cable"}
    manifest = json.loads((outcome.out / MANIFEST).read_text())
    assert manifest["config"]["categories"] == ["bottle", "cable"]


def test_a_threshold_chosen_on_training_data_sees_the_tested_categories_only(
    tmp_path: Path, synth_mvtec: Path
) -> None:
    """The other categories' images were never trained on ("unused"), and no model knows them."""
    request = _request(tmp_path, {"mvtec": synth_mvtec}, categories=("bottle",),
                       threshold="normal-quantile:0.9")  # fmt: skip
    plan = plan_run(request)
    assert plan.data.calibration and {s.category for s in plan.data.calibration} == {"bottle"}
    assert not {s.id for s in plan.data.calibration} & {s.id for s in plan.data.test}
    outcome = execute_run(plan)
    assert outcome.summary["overall"]["n"] == len(plan.data.test)


def test_a_category_the_test_dataset_lacks_is_refused_by_name(
    tmp_path: Path, synth_mvtec: Path
) -> None:
    with pytest.raises(IADBenchError, match=r"--categories names 'bottel'.*bottle"):
        plan_run(_request(tmp_path, {"mvtec": synth_mvtec}, categories=("bottel",)))


def _parts(tmp_path: Path) -> Path:
    """Own parts: two categories, normals and two defect types, split with defects in Train."""
    root = tmp_path / "parts"
    for folder, n in {"pin/good": 6, "pin/bent": 4, "cap/good": 6, "cap/torn": 4}.items():
        (root / folder).mkdir(parents=True)
        for i in range(n):
            shade = 40 * i if folder.endswith("good") else 255 - 10 * i
            Image.new("RGB", (16, 16), (shade, 80, 80)).save(root / folder / f"{i:03d}.png")
    split = ["data", "split", "parts", "--data", f"parts={root}", "--train-defect-ratio", "0.5"]
    assert CliRunner().invoke(app, split).exit_code == 0
    return root


def test_own_parts_after_data_split_train_on_their_train_normals(tmp_path: Path) -> None:
    root = _parts(tmp_path)
    plan = plan_run(_request(tmp_path, {"parts": root}, train="parts", test="parts"))
    assert plan.spec.train is not None and plan.spec.test is not None
    assert (plan.spec.train.split, plan.spec.test.split) == ("train", "test")
    every_train = plan_run(
        _request(tmp_path, {"parts": root}, method="nearest-any", train="parts", test="parts")
    ).data.train
    assert every_train is not None and {s.label for s in every_train} == {"normal", "defect"}
    assert plan.data.train == [s for s in every_train if s.label == "normal"]
    execute_run(plan)
    (fitted,) = MeanColour.fitted
    assert {label for _, _, label in fitted} == {"normal"}


class NearestAny(MeanColour):
    """Not one-class: trains on the whole training subset (the comparison above)."""

    capabilities = iadbench.Capabilities(needs_pixels=True, trains=True, gives_scores=True)


@pytest.fixture(autouse=True)
def _registered_any() -> None:
    if "nearest-any" not in METHODS.names():
        METHODS.add("nearest-any", NearestAny, __file__)


def test_a_tested_category_without_training_normals_is_refused(tmp_path: Path) -> None:
    root = _parts(tmp_path)
    split_csv = root / "split.csv"  # every normal of pin moved to Test: none left to learn from
    lines = split_csv.read_text().splitlines()
    moved = [line.replace(",train,normal,", ",test,normal,") if line.startswith("pin,") else line
             for line in lines]  # fmt: skip
    assert moved != lines
    split_csv.write_text("\n".join(moved) + "\n")
    with pytest.raises(IADBenchError, match=r"holds none for 'pin'.*--categories"):
        plan_run(_request(tmp_path, {"parts": root}, train="parts", test="parts"))
    plan = plan_run(_request(tmp_path, {"parts": root}, train="parts", test="parts",
                             categories=("cap",)))  # fmt: skip
    assert plan.data.train and {s.category for s in plan.data.train} == {"cap"}


# -- cross-dataset: refused, naming the two protocols -----------------------------------------


def test_cross_dataset_training_is_refused_naming_both_protocols(
    tmp_path: Path, synth_mvtec: Path, synth_visa: Path
) -> None:
    out = tmp_path / "run"
    args = ["run", "--method", METHOD, "--train", "visa", "--test", "mvtec", "--data",
            f"mvtec={synth_mvtec}", "--data", f"visa={synth_visa}", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "so it is not trained on 'visa' to test 'mvtec'" in text
    assert "--train mvtec" in text and "--set shots=K" in text
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_no_training_dataset_is_refused_the_same_way(tmp_path: Path, synth_mvtec: Path) -> None:
    with pytest.raises(IADBenchError, match=r"it tests: use `--train mvtec`"):
        plan_run(_request(tmp_path, {"mvtec": synth_mvtec}, train=None))


def test_the_refusal_comes_before_any_dataset_is_opened(tmp_path: Path) -> None:
    """The protocol is the problem, not a missing root: its sentence, whatever the roots."""
    request = _request(tmp_path, {"mvtec": tmp_path / "none"}, train="visa")
    with pytest.raises(IADBenchError, match=r"one model per category"):
        plan_run(request)


def test_a_matrix_runs_one_class_methods_on_their_own_datasets(
    tmp_path: Path, synth_mvtec: Path, synth_visa: Path, caplog: pytest.LogCaptureFixture
) -> None:
    request = MatrixRequest(
        methods=[METHOD, "always-normal"], datasets=["mvtec", "visa"], out=tmp_path / "m",
        data_roots={"mvtec": str(synth_mvtec), "visa": str(synth_visa)},
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        plans = plan_matrix(request)
    cells = sorted(
        (p.spec.method, p.spec.train.name if p.spec.train else None, p.spec.test.name)
        for p in plans
        if p.spec.test is not None
    )
    assert cells == [
        ("always-normal", None, "mvtec"), ("always-normal", None, "visa"),
        (METHOD, "mvtec", "mvtec"), (METHOD, "visa", "visa"),
    ]  # fmt: skip
    assert [p.out.name for p in plans if p.spec.method == METHOD] == [
        "mvtec_to_mvtec",
        "visa_to_visa",
    ]
    (warning,) = [r.getMessage() for r in caplog.records if METHOD in r.getMessage()]
    assert "mvtec→mvtec, visa→visa" in warning and f"--set {METHOD}:shots=K" in warning


# -- few-shot: K Train normals per category, never test images -------------------------------


def test_few_shot_does_not_train_and_its_references_are_never_tested(
    tmp_path: Path, synth_mvtec: Path
) -> None:
    request = _request(tmp_path, {"mvtec": synth_mvtec}, train=None, options={"shots": "2"},
                       categories=("bottle", "wood"))  # fmt: skip
    plan = plan_run(request)
    assert plan.spec.train is None and plan.data.train is None
    assert plan.spec.test is not None and plan.spec.test.split == "test"
    assert plan.spec.references_fingerprint is not None
    references = plan.data.references or []
    assert {s.category for s in references} == {"bottle", "wood"}
    assert {s.label for s in references} == {"normal"} and {s.subset for s in references} == {
        "train"
    }
    assert not {s.id for s in references} & {s.id for s in plan.data.test}
    outcome = execute_run(plan)
    assert MeanColour.fitted == [] and outcome.summary["overall"]["n"] == len(plan.data.test)
    # `predict --from-run` finds the same references again (the run's categories applied).
    config = json.loads((outcome.out / MANIFEST).read_text())["config"]
    assert stored_references(config) == references


@pytest.mark.parametrize("method", [METHOD, "pixel-stats"])
def test_references_leave_out_the_test_images_whatever_the_test_subset(
    tmp_path: Path, synth_mvtec: Path, method: str
) -> None:
    """All holds every Train normal: a reference is never one of the tested ones.

    Whole, All tests every Train normal, so none is left to compare with (refused); with
    ``--limit`` (3 defects and 5 normals of bottle's 3 + 4 tested) the untested ones compare.
    """
    request = _request(tmp_path, {"mvtec": synth_mvtec}, method=method, train=None,
                       options={"shots": "2"}, test_split="all",
                       categories=("bottle", "carpet"))  # fmt: skip
    with pytest.raises(IADBenchError, match=r"outside the test images; bottle has 0"):
        plan_run(request)
    request.limit = 8
    plan = plan_run(request)
    tested = {s.id for s in plan.data.test}
    assert any(s.subset == "train" and s.label == "normal" for s in plan.data.test)
    references = plan.data.references or []
    assert {s.category for s in references} == {"bottle", "carpet"}
    assert not {s.id for s in references} & tested


def _predictions(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / PREDICTIONS
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- --categories on the command line and in the Python API ------------------------------------


def test_categories_from_the_command_line_and_the_api(tmp_path: Path, synth_mvtec: Path) -> None:
    args = ["run", "--method", "always-normal", "--test", "mvtec", "--data", f"mvtec={synth_mvtec}",
            "--categories", "cable, bottle", "--out", str(tmp_path / "cli")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {row["category"] for row in _predictions(tmp_path / "cli")} == {"bottle", "cable"}
    manifest = json.loads((tmp_path / "cli" / MANIFEST).read_text())
    assert manifest["config"]["categories"] == ["cable", "bottle"]
    empty = CliRunner().invoke(app, [*args[:-4], "--categories", " , ", "--out", str(tmp_path)])
    assert empty.exit_code == 2 and "--categories ' , ' names no category" in empty.output
    summary = iadbench.evaluate("always-normal", "mvtec", data={"mvtec": synth_mvtec},
                                categories=["wood"], out=tmp_path / "api")  # fmt: skip
    assert set(summary["per_class"]) == {"wood"}

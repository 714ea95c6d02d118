"""The bridge: any anomalib image model as an iadbench method, one model per category.

``classes.zoo_adapter`` turns a catalogue entry (:mod:`.catalogue`) into a method class whose
options are the model's constructor arguments plus the bridge's own. ``fit`` groups the (normal)
training images by category and trains one anomalib model per category through anomalib's
``Engine.fit`` (:mod:`.training`, fed by :mod:`.datamodule`; no image copied), holding out a
seeded share of the normals to calibrate the scores (:mod:`.scoring`). Per category it stores,
under the training dir, ``<category dir>/weights.pt`` (the model's state dict) and
``calibration.json``; ``zoo.json`` indexes them with the model class, its constructor arguments,
the input side and anomalib's version. ``predict`` routes each image to its category's model
(loaded on first use, the two most recent kept in memory) and returns the calibrated score and
the raw anomaly map at :meth:`AnomalibModel.map_shape`.

Few-shot (``--set shots=K``): the run does not train; the model of a category is fit on its K
references (``context.references``, the test dataset's Train normals) the first time one of its
images is predicted, by the same Engine path and the same calibration, and kept in memory.

Importing this module imports neither torch nor anomalib (``iadbench list --details`` does).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import Capabilities, MethodAdapter, require_inputs
from iadbench.contract.numbers import real_number, whole_number
from iadbench.contract.records import Prediction, Sample

from .catalogue import SEQUENCE_TYPES, ZooEntry, ZooOption, offline_problem, parse_option
from .scoring import MIN_HELD_OUT, MIN_TRAINED, Calibration, fit_calibration, split_held_out

#: Bump when the bridge's predictions change (the content hash also holds anomalib's version).
BRIDGE_VERSION = "1"
#: Trained category models kept in memory at once (a real PatchCore is ~0.3 GB with its backbone).
KEEP_LOADED = 2
INDEX_FILE = "zoo.json"
WEIGHTS_FILE = "weights.pt"
CALIBRATION_FILE = "calibration.json"


def anomalib_version() -> str:
    """Anomalib's installed version from its metadata (no import), or ``"missing"``."""
    try:
        return version("anomalib")
    except PackageNotFoundError:
        return "missing"


@dataclass
class _CategoryModel:
    """A trained anomalib model of one category and its score calibration."""

    model: Any
    calibration: Calibration


class AnomalibModel(MethodAdapter[Any]):
    """Base of the zoo's methods: one anomalib model per category (``classes.zoo_adapter``)."""

    capabilities = Capabilities(
        trains=True, one_class=True, gives_scores=True, gives_maps=True, needs_pixels=True
    )
    zoo: ClassVar[ZooEntry]
    default_batch_size = 16

    def setup(self) -> None:
        """Check the options (named as ``--set`` spells them) and refuse a model needing assets.

        Raises:
            IADBenchError: The catalogue says the model needs an asset that is not there offline
                (under ``--tiny`` or ``HF_HUB_OFFLINE=1``): its one sentence.
        """
        name = self.zoo.method
        options = self.options
        shots = whole_number(options.shots, name=f"{name} option shots", minimum=0)
        if 0 < shots < MIN_HELD_OUT + MIN_TRAINED:
            raise IADBenchError(
                f"{name}: --set shots={shots} is too few; few-shot needs "
                f"{MIN_HELD_OUT + MIN_TRAINED} or more ({MIN_TRAINED} to fit, {MIN_HELD_OUT} "
                "held out to calibrate the scores)"
            )
        real_number(
            options.calibration_share, name=f"{name} option calibration_share",
            minimum=0.0, maximum=0.9,
        )  # fmt: skip
        whole_number(options.image_side, name=f"{name} option image_side", minimum=32, maximum=2048)
        whole_number(options.train_batch_size, name=f"{name} option train_batch_size", minimum=1)
        if hasattr(options, "max_epochs"):
            whole_number(options.max_epochs, name=f"{name} option max_epochs", minimum=1)
        if problem := offline_problem(self.zoo):
            raise IADBenchError(problem)
        if self.zoo.needs is not None and self.context.tiny:
            raise IADBenchError(f"{name} has no offline --tiny build: {self.zoo.needs}")
        self._loaded: OrderedDict[str, _CategoryModel] = OrderedDict()
        self._few_shot: dict[str, _CategoryModel] = {}
        self._dirs: dict[str, str] = {}
        self._calibrations: dict[str, Calibration] = {}

    @classmethod
    def reference_shots(cls, options: Any) -> int:
        """``shots``: K normal references per category replace the training (few-shot)."""
        return int(options.shots)

    @classmethod
    def training_subset(cls, samples: Sequence[Sample], options: Any, seed: int) -> list[Sample]:
        """The normal images: a one-class model learns (and calibrates) on nothing else."""
        return [s for s in samples if s.label == "normal"]

    def map_shape(self) -> tuple[int, int]:
        """``(image_side, image_side)``: the model's raw anomaly map at its input side.

        Values: the model's own raw units (PatchCore: nearest-neighbour feature distance,
        PaDiM: Mahalanobis distance; higher = more anomalous), not calibrated.
        """
        side = int(self.options.image_side)
        return (side, side)

    def preprocessor(self) -> Any:
        """Picklable: image → float tensor ``(3, side, side)`` (:class:`.datamodule.Decode`)."""
        from .datamodule import Decode

        return Decode(int(self.options.image_side))

    # -- training ---------------------------------------------------------------------------

    def constructor_arguments(self) -> dict[str, Any]:
        """The anomalib constructor's arguments: the options, plus ``--tiny``'s other overrides."""
        names = {o.name for o in self.zoo.options}
        arguments = {
            o.name: _constructor_value(o, getattr(self.options, o.name))
            for o in sorted(self.zoo.options, key=lambda o: o.name)
        }
        if self.context.tiny:  # overrides that are no option (e.g. ``layers``)
            arguments.update({k: v for k, v in self.zoo.tiny.items() if k not in names})
        return arguments

    def _device(self) -> str:
        device = self.context.device
        if device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return device

    def _train(self, category: str, normals: Sequence[Sample], root: Path) -> _CategoryModel:
        """One category's model through the Engine, and its calibration on held-out normals."""
        from . import training

        ordered = sorted(normals, key=lambda s: s.id)
        try:
            fitted, held = split_held_out(
                ordered, self.options.calibration_share, self.context.seed, category
            )
        except ValueError:
            raise IADBenchError(
                f"{self.zoo.method}: category {category!r} has {len(ordered)} normal training "
                f"image(s); {MIN_HELD_OUT + MIN_TRAINED} or more are needed "
                f"({MIN_HELD_OUT} are held out to calibrate the scores)"
            ) from None
        arguments = self.constructor_arguments()
        components = arguments.get("n_pca_components")
        if isinstance(components, int) and len(fitted) <= components:
            # DFKDE's Gaussian KDE takes the covariance of the fitted images' PCA features:
            # N points span at most N - 1 dimensions, so N <= n_pca_components leaves it
            # singular and its Cholesky factorisation fails (anomalib stats/kde.py, fit).
            raise IADBenchError(
                f"{self.zoo.method}: category {category!r} has {len(fitted)} image(s) to fit "
                f"after {len(held)} held out, not more than n_pca_components={components}; give "
                f"it more normal images or --set n_pca_components={max(1, len(fitted) - 1)}"
            )
        device, side = self._device(), int(self.options.image_side)
        model = self._build(arguments, device)
        epochs = getattr(self.options, "max_epochs", None)
        training.engine_fit(
            model, fitted, side=side, batch_size=int(self.options.train_batch_size),
            seed=self.context.seed, device=device, root=root,
            max_epochs=None if epochs is None else int(epochs),
        )  # fmt: skip
        raws, _ = self._raw(model, [self.preprocessor()(s) for s in held])
        return _CategoryModel(model, fit_calibration(raws.tolist()))

    def _build(self, arguments: dict[str, Any], device: str) -> Any:
        """The untrained model; under ``--tiny`` with the catalogue's small pre-processor."""
        from . import training

        tiny = dict(self.zoo.tiny_pre_processor) if self.context.tiny else None
        return training.build_model(
            self.zoo.model_class, arguments, int(self.options.image_side),
            self.context.seed, device, tiny,
        )  # fmt: skip

    def fit(self, samples: Sequence[Sample]) -> None:
        """Train one model per category on its normal images; store weights and calibration."""
        from . import training

        root = self.context.training_dir()
        by_category: dict[str, list[Sample]] = {}
        for sample in self.training_subset(samples, self.options, self.context.seed):
            by_category.setdefault(sample.category, []).append(sample)
        for category in sorted(by_category):
            trained = self._train(category, by_category[category], root / "engine")
            folder = root / _category_dir(category)
            folder.mkdir(parents=True, exist_ok=True)
            training.save_weights(trained.model, folder / WEIGHTS_FILE)
            (folder / CALIBRATION_FILE).write_text(json.dumps(trained.calibration.to_json()))
            self._dirs[category] = folder.name
            self._calibrations[category] = trained.calibration
            self._keep(category, trained)
        index = {
            "model_class": self.zoo.model_class,
            "anomalib": anomalib_version(),
            "bridge": BRIDGE_VERSION,
            "image_side": int(self.options.image_side),
            "constructor": {k: _json_ready(v) for k, v in self.constructor_arguments().items()},
            "categories": self._dirs,
        }
        (root / INDEX_FILE).write_text(json.dumps(index, indent=2, sort_keys=True))

    def load(self) -> None:
        """Read the index of a finished training; category models load on first use."""
        root = self.context.training_dir()
        index = json.loads((root / INDEX_FILE).read_text())
        self._dirs = dict(index["categories"])
        for category, folder in self._dirs.items():
            data = json.loads((root / folder / CALIBRATION_FILE).read_text())
            self._calibrations[category] = Calibration.from_json(data)

    def _keep(self, category: str, trained: _CategoryModel) -> None:
        self._loaded[category] = trained
        self._loaded.move_to_end(category)
        while len(self._loaded) > KEEP_LOADED:
            self._loaded.popitem(last=False)

    # -- prediction -------------------------------------------------------------------------

    def category_model(self, category: str) -> _CategoryModel:
        """The category's trained (or, few-shot, reference-fitted) model and calibration."""
        if self.zoo.learning_type == "zero_shot":
            return self._zero_shot()
        if self.options.shots:
            if category not in self._few_shot:
                self._few_shot[category] = self._fit_references(category)
            return self._few_shot[category]
        if category in self._loaded:
            self._loaded.move_to_end(category)
            return self._loaded[category]
        if category not in self._dirs:
            known = ", ".join(sorted(self._dirs)) or "none"
            raise IADBenchError(
                f"{self.zoo.method} has no model for category {category!r} (trained: {known}); "
                "a one-class model tests the categories it was trained on"
            )
        from . import training

        root = self.context.training_dir()
        model = self._build(self._load_arguments(), self._device())
        model = training.load_weights(
            model, root / self._dirs[category] / WEIGHTS_FILE, self._device()
        )
        trained = _CategoryModel(model, self._calibrations[category])
        self._keep(category, trained)
        return trained

    def _zero_shot(self) -> _CategoryModel:
        """A zero-shot model: built once, never fit, the same for every category.

        No normal image exists to calibrate on, so its raw score is clipped into [0, 1]
        (anomalib's zero-shot models give a probability-like score: unconfirmed for every one).
        """
        if "" not in self._loaded:
            model = self._build(self.constructor_arguments(), self._device())
            model = model.to(self._device()).eval()
            self._loaded[""] = _CategoryModel(model, Calibration(0.0, 1.0, 0, clip=True))
        return self._loaded[""]

    def _load_arguments(self) -> dict[str, Any]:
        # The stored state holds every weight: no pretrained download on load.
        arguments = self.constructor_arguments()
        if "pre_trained" in arguments:
            arguments["pre_trained"] = False
        return arguments

    def _fit_references(self, category: str) -> _CategoryModel:
        references = self.context.references.get(category, ())
        if len(references) < self.options.shots:
            raise IADBenchError(
                f"{self.zoo.method}: {len(references)} normal reference image(s) for "
                f"{category!r}, {self.options.shots} needed (--set shots=N with N at most "
                f"{len(references)})"
            )
        # The Engine's root only receives empty version folders; nothing outlives the fit.
        with tempfile.TemporaryDirectory(prefix="iadbench-anomalib-") as scratch:
            return self._train(category, references[: self.options.shots], Path(scratch))

    def _raw(self, model: Any, inputs: Sequence[Any]) -> tuple[Any, Any]:
        import torch

        from . import training

        return training.raw_outputs(model, torch.stack(list(inputs)))

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        """Per image: the calibrated score (0.5 = the most unusual held-out normal), raw map."""
        import numpy as np

        from . import training

        arrays = require_inputs(self, inputs)
        predictions: list[Prediction | None] = [None] * len(batch)
        by_category: dict[str, list[int]] = {}
        for i, sample in enumerate(batch):
            by_category.setdefault(sample.category, []).append(i)
        side = int(self.options.image_side)
        for category, indices in by_category.items():
            trained = self.category_model(category)
            raws, maps = self._raw(trained.model, [arrays[i] for i in indices])
            if maps is None or not self.capabilities.gives_maps:
                maps = [None] * len(indices)
            elif maps.shape[-2:] != (side, side):  # a model whose map is not at its input side
                maps = training.resized(maps, side)
            for i, raw, anomaly_map in zip(indices, raws, maps, strict=True):
                predictions[i] = Prediction(
                    score=trained.calibration.score(float(raw)),
                    anomaly_map=(
                        None
                        if anomaly_map is None
                        else np.ascontiguousarray(anomaly_map, dtype=np.float32)
                    ),
                )
        return [p for p in predictions if p is not None]

    def describe(self) -> dict[str, Any]:
        """Anomalib's version, the model class and, per category, the calibration."""
        calibrations = {**self._calibrations}
        calibrations.update({c: m.calibration for c, m in self._few_shot.items()})
        return {
            "anomalib": anomalib_version(),
            "model_class": self.zoo.model_class,
            "calibration": {
                category: {
                    "raw_at_0.5": round(cal.centre, 6),
                    "unit": round(cal.unit, 6),
                    "held_out": cal.held_out,
                }
                for category, cal in sorted(calibrations.items())
            },
        }


def _category_dir(category: str) -> str:
    """A folder name for ``category``: its safe characters and a digest (never two the same)."""
    digest = hashlib.sha256(category.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', category)[:40]}-{digest}"


def _json_ready(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _constructor_value(zoo_option: ZooOption, value: Any) -> Any:
    """The constructor's value of an option: a sequence's --set text parsed, else as it is."""
    if zoo_option.type.removesuffix("|None") in SEQUENCE_TYPES and isinstance(value, str):
        return parse_option(zoo_option, value)
    return value

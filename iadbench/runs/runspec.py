"""What defines a run, and its content hash.

Everything that can change a prediction is in :class:`RunSpec`, so any change of options, data,
split, threshold or seed gives a new hash: cached predictions and trained artefacts are never
reused across configurations. The data enters by its fingerprint (:mod:`iadbench.data.fingerprint`):
an image replaced, added or relabelled gives a new hash, the same files under another root do
not. Where the files are (dataset roots, ``--out``, cache dir) and the device are recorded but
not hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# How a run without training data (``RunSpec.train is None``) names its source in run dir
# names, matrix cells and tables.
ZERO_SHOT = "zero-shot"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset, the subset used, the resolved root it was read from and its fingerprint.

    Attributes:
        name: Dataset name (``mvtec``, ``visa`` or a folder dataset's name).
        split: Subset read: ``train``, ``test`` or ``all``.
        root: Absolute root folder; recorded, not hashed.
        fingerprint: Stat fingerprint digest of the subset's samples, or None when the run does
            not read them (the training dataset of a method that does not train).
    """

    name: str
    split: str
    root: str
    fingerprint: str | None = None


@dataclass(frozen=True)
class RunSpec:
    """The configuration of one run (one cell of a cross-dataset matrix).

    Attributes:
        method: Registered method name.
        method_version: The adapter's ``version``; bumped when its outputs change.
        options: The method's resolved options (defaults plus ``--set`` overrides).
        tiny: Built with tiny random-weight models (``--tiny``).
        train: Training dataset; also the dataset a ``calibrated`` threshold is chosen on. None
            for a zero-shot run (no training stage, no threshold chosen on training data): such
            a run is keyed by its test set alone, whatever ``--train`` was given.
        test: Test dataset.
        threshold: Threshold policy for score methods (``fixed:0.5``...), None otherwise.
        seed: Random seed.
        calibration_fingerprint: Stat fingerprint of the images a ``calibrated`` or
            ``normal-quantile`` threshold is chosen on (held out of training where possible:
            :mod:`iadbench.execution.calibration_data`), None under other policies.
        limit: ``--limit N``: only the first N test images of every category (a partial run);
            None for the whole test set.
        references_fingerprint: Stat fingerprint of a few-shot method's reference images (the
            test dataset's Train normals outside the test set), None without references.
        calibration_ratio: The share of the training images held out to choose a
            ``calibrated`` / ``normal-quantile`` threshold on (``--calibration-ratio``), for a
            method that trains under such a policy; None otherwise.
        categories: ``--categories``: the test dataset's categories the run tests (and a
            one-class method trains on), in the order given; None for every category.

    ``limit``, ``references_fingerprint``, ``calibration_ratio`` and ``categories`` are left out
    of the configuration when None, so the hashes of runs without them stay what they were
    before the fields existed.
    """

    method: str
    method_version: str
    options: dict[str, Any] = field(default_factory=dict)
    tiny: bool = False
    train: DatasetRef | None = None
    test: DatasetRef | None = None
    threshold: str | None = None
    seed: int = 0
    calibration_fingerprint: str | None = None
    limit: int | None = None
    references_fingerprint: str | None = None
    calibration_ratio: float | None = None
    categories: tuple[str, ...] | None = None

    def config(self) -> dict[str, Any]:
        """The configuration as plain JSON data (recorded in the manifest)."""
        config = asdict(self)
        for key in _ADDED_LATER:
            if config[key] is None:
                del config[key]
        return config

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`config`, dataset roots left out."""
        return _hash(_without_roots(self.config()))

    def train_hash(self, inference_only: Iterable[str] = ()) -> str:
        """Hash of what a training stage depends on (not the test data or threshold).

        Trained artefacts are stored under this key, so one trained model serves every test set.

        Args:
            inference_only: Option names that do not affect training (the adapter's
                ``option(..., inference_only=True)``); they are left out.
        """
        config = _without_roots(self.config())
        skip = set(inference_only)
        config["options"] = {k: v for k, v in config["options"].items() if k not in skip}
        keys = ("method", "method_version", "options", "tiny", "train", "seed")
        return _hash({k: config[k] for k in keys})


# Fields added after runs were published: absent when None, so older hashes still match.
_ADDED_LATER = ("limit", "references_fingerprint", "calibration_ratio", "categories")


def config_digest(config: dict[str, Any]) -> str:
    """The content hash of a recorded configuration (a manifest's ``config``).

    Computed as :meth:`RunSpec.config_hash` does, so a hand-edited configuration no longer matches.
    """
    return _hash(_without_roots(config))


def _without_roots(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration minus where the data lives: its fingerprint says what it is."""
    return {
        key: {k: v for k, v in value.items() if k != "root"}
        if key in ("train", "test") and isinstance(value, dict)
        else value
        for key, value in config.items()
    }


def _hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

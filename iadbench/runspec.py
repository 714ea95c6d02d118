"""What defines a run, and its content hash.

Everything that can change a prediction is in :class:`RunSpec`, so any change of options, data,
split, threshold or seed gives a new hash: cached predictions and trained artefacts are never
reused across configurations. Where the files go (``--out``, cache dir) and the device are not
part of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetRef:
    """A dataset, the subset used, and the resolved root it was read from."""

    name: str
    split: str
    root: str


@dataclass(frozen=True)
class RunSpec:
    """The configuration of one run (one cell of a cross-dataset matrix).

    Attributes:
        method: Registered method name.
        method_version: The adapter's ``version``; bumped when its outputs change.
        options: The method's resolved options (defaults plus ``--set`` overrides).
        tiny: Built with tiny random-weight models (``--tiny``).
        train: Training dataset; also the dataset a ``calibrated`` threshold is chosen on.
        test: Test dataset.
        threshold: Threshold policy for score methods (``fixed:0.5``...), None otherwise.
        seed: Random seed.
    """

    method: str
    method_version: str
    options: dict[str, Any] = field(default_factory=dict)
    tiny: bool = False
    train: DatasetRef | None = None
    test: DatasetRef | None = None
    threshold: str | None = None
    seed: int = 0

    def config(self) -> dict[str, Any]:
        """The configuration as plain JSON data (recorded in the manifest)."""
        return asdict(self)

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`config`."""
        return _hash(self.config())

    def train_hash(self, inference_only: Iterable[str] = ()) -> str:
        """Hash of what a training stage depends on (not the test data or threshold).

        Trained artefacts are stored under this key, so one trained model serves every test set.

        Args:
            inference_only: Option names that do not affect training (the adapter's
                ``inference_only_options``); they are left out.
        """
        config = self.config()
        skip = set(inference_only)
        config["options"] = {k: v for k, v in config["options"].items() if k not in skip}
        keys = ("method", "method_version", "options", "tiny", "train", "seed")
        return _hash({k: config[k] for k in keys})


def _hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

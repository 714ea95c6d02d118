"""What a user asked for: one :class:`RunRequest` for ``run``, ``train``, ``matrix``, ``predict``.

Kept apart from :mod:`iadbench.execution.planning` so that the pieces of planning (the data a run
reads, :mod:`iadbench.execution.planned_data`) can take the request without importing the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iadbench.contract.devices import check_device
from iadbench.contract.errors import IADBenchError
from iadbench.contract.numbers import (
    MAX_SEED,
    fraction_targets,
    optional_whole_number,
    real_number,
    whole_number,
)
from iadbench.contract.settings import default_workers


@dataclass
class RunRequest:
    """What a user asked for (CLI flags), before resolution.

    ``predict --method`` fills the method's fields and ``test`` with the dataset name its images
    are presented under; the images themselves are arguments of
    :func:`iadbench.execution.predict.predict_images`.
    """

    method: str
    train: str | None  # None: a zero-shot run (no training stage, no training-data threshold)
    test: str
    train_split: str | None = None
    test_split: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    tiny: bool = False
    seed: int = 0
    threshold: str | None = None
    data_roots: dict[str, str] = field(default_factory=dict)
    out: Path | None = None
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None  # DataLoader workers for adapters with a preprocessor
    force_overlap: bool = False
    overwrite: bool = False
    cache_dir: Path | None = None
    command: list[str] = field(default_factory=list)
    verify_content: bool = False  # also fingerprint file contents (reads every byte)
    limit: int | None = None  # only the first N test images per category (a partial run)
    # --categories: only these categories of the test dataset are tested (and, for a one-class
    # method, trained); None: every category.
    categories: tuple[str, ...] | None = None
    # The operating points' targets (None: the defaults). Not part of the configuration hash:
    # they change the summary only, which a finished run recomputes from its predictions.
    far_targets: tuple[float, ...] | None = None
    recall_targets: tuple[float, ...] | None = None
    # Share of the training images held out to choose a calibrated / normal-quantile threshold
    # on, when no unused training image serves (None: the default, 0: in-sample, loudly).
    calibration_ratio: float | None = None


def check_numbers(request: RunRequest) -> None:
    """Refuse numbers and devices that would give a wrong result or a traceback, up front.

    Every number goes through :mod:`iadbench.contract.numbers`, named as the command line spells
    it (the Python API checks its own arguments first, under their Python names). A negative
    batch size skipped and duplicated images with exit 0; negative workers and an ``--out`` that
    is a file crashed later; ``--device tpu`` was recorded for a baseline.

    Raises:
        ArgumentError: A number out of range or of the wrong type, or an unknown device.
        IADBenchError: ``--out`` is a file.
    """
    optional_whole_number(request.batch_size, name="--batch-size", minimum=1)
    optional_whole_number(request.limit, name="--limit", minimum=1)
    optional_whole_number(request.workers, name="--workers", minimum=0)
    if request.workers is None:
        default_workers()  # a malformed $IADBENCH_WORKERS: refused now, not after a training
    whole_number(request.seed, name="--seed", minimum=0, maximum=MAX_SEED)
    if request.calibration_ratio is not None:
        real_number(request.calibration_ratio, name="--calibration-ratio", minimum=0, maximum=0.9)
    check_device(request.device, name="--device")
    if request.far_targets is not None:
        request.far_targets = fraction_targets(request.far_targets, name="--far-targets")
    if request.recall_targets is not None:
        request.recall_targets = fraction_targets(request.recall_targets, name="--recall-targets")
    if request.out is not None and Path(request.out).exists() and not Path(request.out).is_dir():
        raise IADBenchError(f"--out {request.out} is a file; a run needs a directory there")

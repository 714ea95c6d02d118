"""What a user asked for: one :class:`RunRequest` for ``run``, ``train``, ``matrix``, ``predict``.

Kept apart from :mod:`iadbench.execution.planning` so that the pieces of planning (the data a run
reads, :mod:`iadbench.execution.planned_data`) can take the request without importing the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iadbench.contract.errors import IADBenchError


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


def check_numbers(request: RunRequest) -> None:
    """Refuse numbers that would give a wrong result or a traceback, before anything is read.

    A negative batch size skipped and duplicated images with exit 0; negative workers and an
    ``--out`` that is a file crashed later.
    """
    if request.batch_size is not None and request.batch_size < 1:
        raise IADBenchError(f"--batch-size must be at least 1, got {request.batch_size}")
    if request.limit is not None and request.limit < 1:
        raise IADBenchError(f"--limit must be at least 1, got {request.limit}")
    if request.workers is not None and request.workers < 0:
        raise IADBenchError(f"--workers must be 0 or more, got {request.workers}")
    if request.out is not None and Path(request.out).exists() and not Path(request.out).is_dir():
        raise IADBenchError(f"--out {request.out} is a file; a run needs a directory there")

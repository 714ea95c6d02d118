"""A method's training stage: run it, or reuse what the same training configuration stored.

Trained artefacts live in :func:`~iadbench.execution.planning.trained_dir`, keyed by everything
training
depends on; the training data's fingerprints are recorded there (``training-data.json``).

Reuse and locking belong here, not to adapters: an adapter that implements
:meth:`~iadbench.contract.method.MethodAdapter.load` only trains in ``fit``. Under a lock on the
training
dir, a dir holding the :data:`TRAINED_MARKER` (written last, atomically, after ``fit`` returned)
is loaded, anything else is trained (a method may resume its own checkpoints there, as LR-IAD
does); two runs of one training configuration at once train once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from filelock import FileLock

from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.contract.method import MethodAdapter, trains
from iadbench.contract.records import Sample
from iadbench.execution.adapter_setup import build_adapter, setup_of
from iadbench.execution.crash import method_stage
from iadbench.execution.distributed import is_main_process
from iadbench.execution.planning import PlannedRun, trained_dir
from iadbench.execution.training_record import trained_block
from iadbench.runs.schema import now
from iadbench.runs.writer import write_json_atomic

logger = logging.getLogger(__name__)


def train_only(plan: PlannedRun) -> Path:
    """Run a method's training stage alone and return where its artefacts are stored.

    Raises:
        IADBenchError: The method has no training stage.
    """
    spec = plan.spec
    if not trains(plan.adapter_cls, plan.options):
        raise IADBenchError(
            f"method {spec.method!r} has no training stage (or its options name trained "
            "weights); `iadbench run` evaluates it directly"
        )
    # Built as `run` builds it for its training stage, so both train the same artefacts.
    adapter = build_adapter(setup_of(plan), plan.request.device)
    return fit_stage(plan, adapter)


TRAINING_DATA_FILE = "training-data.json"
TRAINED_MARKER = "TRAINED"


def _fit_or_load(adapter: MethodAdapter[Any], samples: Sequence[Sample], workdir: Path) -> None:
    """Load a finished training from ``workdir``, or train and mark it finished."""
    with _training_lock(workdir):
        marker = workdir / TRAINED_MARKER
        if marker.is_file():
            logger.info("reusing the training stored in %s", workdir)
            adapter.load()
            return
        adapter.fit(samples)
        if is_main_process():
            write_json_atomic(marker, {"finished": now()})


def _training_lock(workdir: Path) -> AbstractContextManager[object]:
    """A file lock on the training dir: a second run of one configuration waits, then loads.

    Not under torchrun: the processes of one launch are one training and must all enter ``fit``
    together (they synchronise inside it); a lock would let one in and hang the others. They all
    see the same marker, since none of them writes it before ``fit`` returns everywhere.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return nullcontext()
    return FileLock(str(workdir / ".train.lock"))


def fit_stage(plan: PlannedRun, adapter: MethodAdapter[Any]) -> Path:
    """Train, or load what the same training configuration stored; returns the training dir.

    The adapter's ``context.workdir`` is that dir
    (:func:`~iadbench.execution.planning.trained_dir`).

    The training data's fingerprints are recorded in the dir; with ``--verify-content`` a content
    digest that differs from the recorded one refuses the stored artefacts.

    Raises:
        RunConflictError: The artefacts were trained on files whose contents changed since.
        MethodCrash: The method's ``fit`` or ``load`` raised.
    """
    spec = plan.spec
    samples = plan.data.train
    assert samples is not None and spec.train is not None
    workdir = trained_dir(plan)
    record_path = workdir / TRAINING_DATA_FILE
    content = plan.data.content.get("train")
    recorded = _read_json_or_none(record_path) or {}
    if content and recorded.get("content") not in (None, content):
        raise RunConflictError(
            f"the trained artefacts in {workdir} were made from training images whose contents "
            "have changed since, though their sizes and modification times have not "
            "(--verify-content). Delete that folder to train again."
        )
    trained_on = plan.data.trained if plan.data.trained is not None else samples
    trained = trained_block(trained_on, capped=plan.data.capped)
    _check_same_subsample(workdir, recorded, trained, capped=plan.data.capped)
    if adapter.context.workdir != workdir:
        raise IADBenchError(f"the adapter's context.workdir is not this training's dir {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
    with method_stage(spec.method, "training"):  # its crash: one line naming it (crash.py)
        _fit_or_load(adapter, samples, workdir)
    record = {
        "dataset": spec.train.name,
        "split": spec.train.split,
        "root": spec.train.root,
        "n_samples": len(samples),
        "fingerprint": spec.train.fingerprint,
        "content": content or recorded.get("content"),
        "trained": trained,
    }
    if record != recorded and is_main_process():  # never joins a group: training may have left it
        write_json_atomic(record_path, record)
    return workdir


def _check_same_subsample(
    workdir: Path, recorded: dict[str, Any], trained: dict[str, Any], *, capped: bool
) -> None:
    """Refuse stored artefacts trained on another subsample than this configuration's.

    The subsample is not in the training hash (only the options and the whole subset are); a
    capped training's dir carries the rule's tag (``-stratified``,
    :func:`~iadbench.execution.planning.trained_dir`), and this check catches what the tag
    cannot: a record that names other images, or none.

    Raises:
        RunConflictError: The recorded subsample differs, or a capped training was stored
            before the subsample was recorded.
    """
    if not (workdir / TRAINED_MARKER).is_file():
        return
    before = recorded.get("trained")
    if before is None and not capped:
        return  # an uncapped training learns from every image: nothing to compare
    if isinstance(before, dict) and before.get("fingerprint") == trained["fingerprint"]:
        return
    raise RunConflictError(
        f"the trained artefacts in {workdir} were made from another subsample of the training "
        f"images than this configuration's ({trained['images']} images, "
        f"{trained['rule'] or 'every image'}): the sampling rule changed since, or the record. "
        "Delete that folder to train again."
    )


def _read_json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

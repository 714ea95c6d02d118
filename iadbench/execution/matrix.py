"""Cross-dataset matrices: every method on every ordered pair of datasets it supports.

The cells are the ordered pairs *A→B* of different datasets (``--datasets``), or exactly the
pairs ``--directions`` names. The diagonal *A→A* (trained and tested on one dataset) is a cell
only where it is asked for (``--diagonal``, or ``A:A`` in ``--directions``) or where it is the
method's own protocol: a one-class configuration that reads training data (it learns each
category's normal images) gets its diagonal by default. A diagonal cell follows every rule of any
cell: the subsets come from planning (Table II by subset name, a split file's Train / Test, the
one-class protocol), and a cell whose test images are training images is refused by the overlap
guard — in planning here, not hours into the matrix.

A cell planning refuses (a protocol a method does not support, training data it cannot learn
from, the overlap guard) is skipped with planning's sentence as its reason
(:class:`SkippedCell`); the other cells run. A missing root, an unknown name or a bad number
still stops the whole matrix before anything runs.

A zero-shot method (no training stage, no threshold chosen on training data) runs once per test
dataset: its result does not depend on the training dataset of the cell.

A one-class method that trains (``Capabilities.one_class``: PatchCore, PaDiM, ...) is never
trained on one dataset to test another (planning refuses it,
:func:`~iadbench.execution.planned_data.protocol_refusal`). Rather than stop a matrix that mixes
it with the paper's methods, its cross-dataset cells become its same-dataset cells
(``<d>_to_<d>``, once per dataset: the protocol it is evaluated under), and a warning says so.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from iadbench.contract.errors import (
    ArgumentError,
    DatasetNotFoundError,
    EnvironmentFailure,
    IADBenchError,
    RunConflictError,
    UnknownNameError,
)
from iadbench.contract.options import parse_assignments
from iadbench.contract.progress import ProgressHook
from iadbench.execution.planned_data import protocol_refusal, uses_training_data
from iadbench.execution.planning import PlannedRun, RunRequest, plan_run, resolve_method
from iadbench.execution.registry import METHODS
from iadbench.execution.request import check_numbers
from iadbench.execution.runner import RunOutcome, execute_run
from iadbench.runs.runspec import ZERO_SHOT

logger = logging.getLogger(__name__)


@dataclass
class MatrixRequest:
    """A matrix as asked for on the command line."""

    methods: list[str]
    datasets: list[str]
    out: Path
    train_split: str | None = None
    test_split: str | None = None
    tiny: bool = False
    overrides: list[str] = field(default_factory=list)
    data_roots: dict[str, str] = field(default_factory=dict)
    threshold: str | None = None
    seed: int = 0
    device: str = "auto"
    workers: int | None = None
    overwrite: bool = False
    cache_dir: Path | None = None
    command: list[str] = field(default_factory=list)
    verify_content: bool = False
    limit: int | None = None
    far_targets: tuple[float, ...] | None = None  # operating points (None: the defaults)
    recall_targets: tuple[float, ...] | None = None
    calibration_ratio: float | None = None  # --calibration-ratio (None: the default)
    directions: list[tuple[str, str]] | None = None  # --directions: exactly these pairs
    diagonal: bool = False  # --diagonal: every A→A too


@dataclass(frozen=True)
class SkippedCell:
    """A cell planning refused; the matrix goes on without it.

    Attributes:
        method: The method.
        train: The training dataset of the cell.
        test: The test dataset of the cell.
        reason: Planning's sentence (what is wrong and what to do instead).
    """

    method: str
    train: str
    test: str
    reason: str


@dataclass
class MatrixPlan:
    """The cells of a matrix: those that run, and those planning refused (with why)."""

    plans: list[PlannedRun] = field(default_factory=list)
    skipped: list[SkippedCell] = field(default_factory=list)


#: Errors that concern the whole matrix, not one cell: they stop it before anything runs.
_WHOLE_MATRIX = (ArgumentError, DatasetNotFoundError, EnvironmentFailure, RunConflictError,
                 UnknownNameError)  # fmt: skip


def parse_directions(text: str, datasets: list[str]) -> list[tuple[str, str]]:
    """``--directions mvtec:visa,visa:visa`` → ``[("mvtec", "visa"), ("visa", "visa")]``.

    Raises:
        ArgumentError: An item is not ``TRAIN:TEST``, or names a dataset not in ``--datasets``.
    """
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        train, sep, test = (side.strip() for side in item.partition(":"))
        if not (sep and train and test) or ":" in test:
            raise ArgumentError(
                f"--directions item {item!r} is not TRAIN:TEST (e.g. --directions "
                "mvtec:visa,visa:mvtec)"
            )
        unknown = [name for name in (train, test) if name not in datasets]
        if unknown:
            raise ArgumentError(
                f"--directions item {item!r} names {' and '.join(map(repr, unknown))}, not in "
                f"--datasets ({', '.join(datasets)}): add it to --datasets or drop the item"
            )
        if (train, test) not in pairs:
            pairs.append((train, test))
    if not pairs:
        raise ArgumentError("--directions names no direction; give TRAIN:TEST items")
    return pairs


def cell_dir(out: Path, method: str, train: str | None, test: str) -> Path:
    """Run dir of one cell: ``<out>/<method>/<train>_to_<test>``.

    A zero-shot cell (``train`` None) is ``<out>/<method>/zero-shot_to_<test>``: one run per
    test set, whatever the training dataset of the cell.
    """
    return out / method / f"{ZERO_SHOT if train is None else train}_to_{test}"


def split_overrides(items: list[str], methods: list[str]) -> dict[str, dict[str, str]]:
    """``[METHOD:]KEY=VALUE`` items → per-method option dicts.

    An unprefixed key goes to every method whose options have it.

    Raises:
        IADBenchError: A prefix names a method not in the matrix, or a key fits no method.
    """
    per_method: dict[str, dict[str, str]] = {m: {} for m in methods}
    for item in items:
        target, sep, assignment = item.partition(":")
        if sep and "=" not in target:
            if target not in per_method:
                raise IADBenchError(
                    f"--set {item!r} names method {target!r}, which is not in --methods"
                )
            per_method[target].update(parse_assignments([assignment]))
            continue
        ((key, value),) = parse_assignments([item]).items()
        takers = [m for m in methods if key in _option_names(m)]
        if not takers:
            raise IADBenchError(f"--set {item!r}: no method in the matrix has an option {key!r}")
        for method in takers:
            per_method[method][key] = value
    return per_method


def _option_names(method: str) -> set[str]:
    import dataclasses

    return {f.name for f in dataclasses.fields(METHODS.get(method).Options)}


def plan_matrix(request: MatrixRequest) -> list[PlannedRun]:
    """The cells that run (see :func:`plan_cells`, which also says which were refused)."""
    return plan_cells(request).plans


def plan_cells(request: MatrixRequest) -> MatrixPlan:
    """Resolve every cell before any runs, so a bad name or root fails in seconds, not hours.

    Raises:
        IADBenchError: A problem of the whole matrix (fewer than two datasets, an unknown name,
            a missing root, a bad number), or every cell refused.
    """
    # The numbers and device every cell shares, checked before any method or dataset is read.
    check_numbers(RunRequest(method="", train=None, test="", seed=request.seed,
                             device=request.device, workers=request.workers,
                             limit=request.limit, far_targets=request.far_targets,
                             recall_targets=request.recall_targets,
                             calibration_ratio=request.calibration_ratio))  # fmt: skip
    datasets = list(dict.fromkeys(request.datasets))
    if request.directions is None and len(datasets) < 2 and not request.diagonal:
        raise IADBenchError(
            "--datasets needs at least two different datasets for a cross-dataset matrix"
        )
    methods = METHODS.expand(request.methods)
    overrides = split_overrides(request.overrides, methods)
    matrix = MatrixPlan()
    seen: set[Path] = set()
    one_class: list[str] = []  # methods whose cross-dataset cells give way to the diagonal
    for method, (train, test) in itertools.product(methods, itertools.product(datasets, repeat=2)):
        # A threshold policy concerns score methods only; the others keep none.
        scores = METHODS.get(method).capabilities.gives_scores
        threshold = request.threshold if scores else None
        # Resolved as plan_run resolves it (the policy's default), to know what the cell reads.
        cell = RunRequest(method=method, train=train, test=test, options=overrides[method],
                          tiny=request.tiny, threshold=threshold)  # fmt: skip
        chosen = resolve_method(cell)
        refused = train != test and protocol_refusal(cell, chosen.adapter_cls, chosen.options)
        if refused and request.directions is None:
            # One-class: its diagonal cells (its own protocol, below) stand for these; named
            # in --directions, the cell is planned and skipped with planning's sentence instead.
            one_class += [] if method in one_class else [method]
            continue
        reads_train = uses_training_data(chosen.adapter_cls, chosen.options, chosen.threshold)
        if not _is_cell(
            request, train, test, reads_train and chosen.adapter_cls.capabilities.one_class
        ):
            continue
        cell_train = train if reads_train else None
        out = cell_dir(request.out, method, cell_train, test)
        if out in seen:
            continue  # a zero-shot method runs once per test set
        seen.add(out)
        try:
            planned = plan_run(
                RunRequest(
                    method=method, train=cell_train, test=test, train_split=request.train_split,
                    test_split=request.test_split, options=overrides[method], tiny=request.tiny,
                    seed=request.seed, data_roots=request.data_roots, workers=request.workers,
                    threshold=threshold,
                    out=out, device=request.device,
                    overwrite=request.overwrite, cache_dir=request.cache_dir,
                    command=request.command, verify_content=request.verify_content,
                    limit=request.limit, far_targets=request.far_targets,
                    recall_targets=request.recall_targets,
                    calibration_ratio=request.calibration_ratio,
                )
            )  # fmt: skip
            if planned.data.train is not None:  # the runner's guard, met here in seconds
                planned.data.check_no_overlap(force=False, fix=_overlap_fix(request, planned))
        except _WHOLE_MATRIX:
            raise
        except IADBenchError as refused:  # this cell only: planning says why
            matrix.skipped.append(SkippedCell(method, train, test, str(refused)))
            continue
        matrix.plans.append(planned)
    for method in one_class:
        cells = ", ".join(f"{d}→{d}" for d in datasets)
        few_shot = f"; few-shot: --set {method}:shots=K" if "shots" in _option_names(method) else ""
        logger.warning(
            "WARNING: %s learns one model per category from that category's normal images, so "
            "the matrix does not train it on one dataset to test another; it runs %s instead "
            "(same-dataset%s)",
            method, cells, few_shot,
        )  # fmt: skip
    if not matrix.plans and matrix.skipped:
        reasons = "; ".join(f"{s.method} {s.train}→{s.test}: {s.reason}" for s in matrix.skipped)
        raise IADBenchError(f"every cell of the matrix was refused, nothing ran: {reasons}")
    return matrix


def _overlap_fix(request: MatrixRequest, planned: PlannedRun) -> str:
    """What a matrix user can do about a cell the overlap guard refuses (a diagonal cell).

    ``run``'s advice names ``--force-overlap``, which ``matrix`` does not have: this names the
    cell's subsets, the split flags (they change every cell) and how to leave the cell out.
    """
    spec = planned.spec
    assert spec.train is not None and spec.test is not None
    train, test = spec.train.name, spec.test.name
    flags = (
        "--test-split test"
        if spec.train.split == "train"
        else "--train-split train --test-split test"
    )
    if request.directions is not None:
        leave = f"drop {train}:{test} from --directions"
    elif request.diagonal:
        leave = "drop --diagonal, or name the cells to run with --directions"
    else:  # a one-class configuration's own diagonal
        leave = f"name the cells to run with --directions, without {train}:{test}"
    return (
        f"The matrix has no --force-overlap: train and test on disjoint subsets ({train}→{test} "
        f"trains on {spec.train.split!r} and tests on {spec.test.split!r}; {flags} changes every "
        f"cell) or leave the cell out ({leave})."
    )


def _is_cell(request: MatrixRequest, train: str, test: str, own_protocol: bool) -> bool:
    """Whether ``train → test`` is a cell for a configuration.

    ``--directions`` names the cells exactly; otherwise every pair of different datasets, and
    the diagonal with ``--diagonal`` or where it is the configuration's own protocol
    (``own_protocol``: a one-class configuration that reads training data).
    """
    if request.directions is not None:
        return (train, test) in request.directions
    return train != test or request.diagonal or own_protocol


def run_matrix(
    request: MatrixRequest,
    progress: ProgressHook | None = None,
    on_cell: Callable[[RunOutcome], None] | None = None,
    on_skipped: Callable[[SkippedCell], None] | None = None,
) -> list[RunOutcome]:
    """Plan, then execute every cell in order; finished cells are reused, unfinished resumed.

    Every cell is planned again just before it runs: a matrix can take hours, and a cell must be
    fingerprinted from the files it reads, not from what they were when the matrix started.
    Cells planning refused are handed to ``on_skipped`` (before any cell runs), never run.
    """
    matrix = plan_cells(request)
    for skipped in matrix.skipped:
        if on_skipped is not None:
            on_skipped(skipped)
    outcomes = []
    # Only the requests are kept: the plans' sample indexes would stay in memory for every cell.
    for cell in [planned.request for planned in matrix.plans]:
        outcome = execute_run(plan_run(cell), progress)
        outcomes.append(outcome)
        if on_cell is not None:
            on_cell(outcome)
    return outcomes

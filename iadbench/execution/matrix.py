"""Cross-dataset matrices: every method on every ordered pair of different datasets.

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

from iadbench.contract.errors import IADBenchError
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
    """Resolve every cell before any runs, so a bad name or root fails in seconds, not hours."""
    # The numbers and device every cell shares, checked before any method or dataset is read.
    check_numbers(RunRequest(method="", train=None, test="", seed=request.seed,
                             device=request.device, workers=request.workers,
                             limit=request.limit, far_targets=request.far_targets,
                             recall_targets=request.recall_targets,
                             calibration_ratio=request.calibration_ratio))  # fmt: skip
    if len(set(request.datasets)) < 2:
        raise IADBenchError(
            "--datasets needs at least two different datasets for a cross-dataset matrix"
        )
    methods = METHODS.expand(request.methods)
    overrides = split_overrides(request.overrides, methods)
    plans = []
    seen: set[Path] = set()
    one_class: dict[str, list[str]] = {}  # method → its same-dataset cells (the warning)
    for method, (train, test) in itertools.product(
        methods, itertools.permutations(dict.fromkeys(request.datasets), 2)
    ):
        # A threshold policy concerns score methods only; the others keep none.
        scores = METHODS.get(method).capabilities.gives_scores
        threshold = request.threshold if scores else None
        # Resolved as plan_run resolves it (the policy's default), to know what the cell reads.
        cell = RunRequest(method=method, train=train, test=test, options=overrides[method],
                          tiny=request.tiny, threshold=threshold)  # fmt: skip
        chosen = resolve_method(cell)
        if protocol_refusal(cell, chosen.adapter_cls, chosen.options) is not None:
            train = test  # one-class: its same-dataset cell, once per test dataset
            cells = one_class.setdefault(method, [])
            cells += [] if f"{test}→{test}" in cells else [f"{test}→{test}"]
        reads_train = uses_training_data(chosen.adapter_cls, chosen.options, chosen.threshold)
        cell_train = train if reads_train else None
        out = cell_dir(request.out, method, cell_train, test)
        if out in seen:
            continue  # a zero-shot method runs once per test set
        seen.add(out)
        plans.append(
            plan_run(
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
            )
        )  # fmt: skip
    for method, cells in one_class.items():
        few_shot = f"; few-shot: --set {method}:shots=K" if "shots" in _option_names(method) else ""
        logger.warning(
            "WARNING: %s learns one model per category from that category's normal images, so "
            "the matrix does not train it on one dataset to test another; it runs %s instead "
            "(same-dataset%s)",
            method, ", ".join(cells), few_shot,
        )  # fmt: skip
    return plans


def run_matrix(
    request: MatrixRequest,
    progress: ProgressHook | None = None,
    on_cell: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Plan, then execute every cell in order; finished cells are reused, unfinished resumed.

    Every cell is planned again just before it runs: a matrix can take hours, and a cell must be
    fingerprinted from the files it reads, not from what they were when the matrix started.
    """
    outcomes = []
    # Only the requests are kept: the plans' sample indexes would stay in memory for every cell.
    for cell in [planned.request for planned in plan_matrix(request)]:
        outcome = execute_run(plan_run(cell), progress)
        outcomes.append(outcome)
        if on_cell is not None:
            on_cell(outcome)
    return outcomes

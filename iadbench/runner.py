"""Plan and execute one run: dataset root → samples → adapter → predictions.jsonl → summary.json.

:func:`plan_run` resolves everything that can be wrong in the arguments (method, options, roots,
splits, output dir) before any work starts, so a matrix fails fast; :func:`execute_run` does the
work, resuming whatever an earlier attempt left.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from iadbench.calibration import apply_oracle, calibrate
from iadbench.datasets import FolderDataset, open_dataset, resolve_root
from iadbench.datasets.base import SUBSET_NAMES
from iadbench.distributed import process_group
from iadbench.errors import IADBenchError, RunConflictError
from iadbench.method import FitContext, MethodAdapter
from iadbench.metrics import ScoredRecord, summarize
from iadbench.options import build_options
from iadbench.predict_loop import predict_batches
from iadbench.provenance import git_revision, package_versions
from iadbench.records import Sample
from iadbench.registry import METHODS
from iadbench.runspec import DatasetRef, RunSpec
from iadbench.splits import check_no_overlap, load_split_table
from iadbench.store import PredictionLog, RunStore, prediction_record
from iadbench.thresholds import DEFAULT_POLICY, parse_policy

MANIFEST_SCHEMA = 1
logger = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Where trained artefacts and demo data live: ``$IADBENCH_CACHE_DIR`` or the XDG cache."""
    if env := os.environ.get("IADBENCH_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "iadbench"


class ProgressHook(Protocol):
    """Receives progress of long work (the CLI draws rich progress bars)."""

    def start(self, description: str, total: int) -> None: ...  # noqa: D102
    def advance(self, count: int) -> None: ...  # noqa: D102
    def finish(self) -> None: ...  # noqa: D102


class SilentProgress:
    """A progress hook that shows nothing."""

    def start(self, description: str, total: int) -> None:  # noqa: D102
        pass

    def advance(self, count: int) -> None:  # noqa: D102
        pass

    def finish(self) -> None:  # noqa: D102
        pass


@dataclass
class RunRequest:
    """What a user asked for (CLI flags), before resolution."""

    method: str
    train: str
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


@dataclass
class PlannedRun:
    """A fully resolved run, ready to execute."""

    request: RunRequest
    spec: RunSpec
    adapter_cls: type[MethodAdapter]
    options: Any
    out: Path
    cache_dir: Path

    @property
    def config_hash(self) -> str:
        """Content hash of the run's configuration."""
        return self.spec.config_hash()


@dataclass
class RunOutcome:
    """What :func:`execute_run` did."""

    summary: dict[str, Any]
    out: Path
    reused: bool  # the run was already complete: nothing was computed
    computed: int  # predictions computed in this call
    resumed: int  # predictions found from an earlier attempt
    seconds: float


def _split(value: str | None, default: str, flag: str) -> str:
    split = value or default
    if split not in SUBSET_NAMES:
        raise IADBenchError(f"{flag} must be one of {', '.join(SUBSET_NAMES)}, got {split!r}")
    return split


def plan_run(request: RunRequest) -> PlannedRun:
    """Resolve method, options, dataset roots, splits, threshold and output dir.

    Raises:
        UnknownNameError: Unknown method or option.
        DatasetNotFoundError: A dataset root is not given or does not exist.
        IADBenchError: Any other invalid argument.
    """
    _check_numbers(request)
    adapter_cls = METHODS.get(request.method)
    tiny = request.tiny and adapter_cls.capabilities.builds_models
    overrides = {**(adapter_cls.tiny_options if tiny else {}), **request.options}
    options = build_options(adapter_cls.Options, overrides)
    table = load_split_table()
    caps = adapter_cls.capabilities
    threshold = request.threshold or (DEFAULT_POLICY if caps.gives_scores else None)
    if threshold is not None:
        if not caps.gives_scores:
            raise IADBenchError(
                f"method {request.method!r} gives no scores; --threshold does not apply"
            )
        threshold = str(parse_policy(threshold))
    train_split = _split(request.train_split, table.train_split(request.method), "--train-split")
    test_split = _split(request.test_split, table.inference_default, "--test-split")
    train_root = resolve_root(request.train, request.data_roots)
    test_root = resolve_root(request.test, request.data_roots)
    spec = RunSpec(
        method=request.method,
        method_version=adapter_cls.version,
        options=adapter_cls.options_dict(options),
        tiny=tiny,  # --tiny cannot change a model-free method
        train=DatasetRef(request.train, train_split, str(train_root)),
        test=DatasetRef(request.test, test_split, str(test_root)),
        threshold=threshold,
        seed=request.seed,
    )
    out = request.out or Path("runs") / request.method / (
        f"{request.train}-{train_split}_to_{request.test}-{test_split}_{spec.config_hash()[:8]}"
    )
    cache_dir = request.cache_dir or default_cache_dir()
    return PlannedRun(request, spec, adapter_cls, options, Path(out), cache_dir)


def _check_numbers(request: RunRequest) -> None:
    """Refuse numbers that would give a wrong result or a traceback, before anything is read.

    A negative batch size skipped and duplicated images with exit 0; negative workers and an
    ``--out`` that is a file crashed later.
    """
    if request.batch_size is not None and request.batch_size < 1:
        raise IADBenchError(f"--batch-size must be at least 1, got {request.batch_size}")
    if request.workers is not None and request.workers < 0:
        raise IADBenchError(f"--workers must be 0 or more, got {request.workers}")
    if request.out is not None and Path(request.out).exists() and not Path(request.out).is_dir():
        raise IADBenchError(f"--out {request.out} is a file; a run needs a directory there")


def execute_run(plan: PlannedRun, progress: ProgressHook | None = None) -> RunOutcome:
    """Run (or resume, or reuse) a planned run and return its summary.

    Raises:
        RunConflictError: The output dir is locked or holds another configuration.
        DatasetNotFoundError: A dataset root holds no images in the expected layout.
        SplitError: A training method would be tested on its own training images.
    """
    group = process_group()
    # One bar per run: the other processes of a sharded run work silently.
    progress = (progress if group.is_main else None) or SilentProgress()
    started = time.perf_counter()
    store = RunStore(plan.out)
    # The first process holds the lock for all of them (they are one run).
    with store.locked() if group.is_main else nullcontext(store):
        manifest = _readable_manifest(store, plan)
        if manifest is not None and manifest.get("config_hash") != plan.config_hash:
            if not plan.request.overwrite:
                raise RunConflictError(
                    f"{plan.out} holds a run of another configuration (hash "
                    f"{str(manifest.get('config_hash'))[:12]}, this one {plan.config_hash[:12]}); "
                    "its predictions cannot be reused. Choose another --out, or pass --overwrite "
                    "to replace it."
                )
            group.barrier()  # every process has read the old manifest before it goes
            if group.is_main:
                store.clear()
            manifest = None
        if manifest and manifest.get("status") == "complete" and (summary := store.read_summary()):
            return RunOutcome(summary, plan.out, True, 0, 0, time.perf_counter() - started)
        return _compute(plan, store, progress, started, previous=manifest)


_UNREADABLE = {"config_hash": None, "status": "unreadable"}


def _readable_manifest(store: RunStore, plan: PlannedRun) -> dict[str, Any] | None:
    """The run dir's manifest; an unreadable one, or predictions without one, are refused.

    Predictions that no manifest vouches for cannot be attributed to a configuration: resuming
    from them would file another method's answers under this one. With ``--overwrite`` both
    cases count as "another configuration" and the dir is cleared.

    Raises:
        RunConflictError: Without ``--overwrite``.
    """
    try:
        manifest = store.read_manifest()
        if manifest is not None and manifest.get("status") == "complete":
            store.read_summary()  # a corrupt summary must not be served as the result
    except IADBenchError as exc:
        if plan.request.overwrite:
            return _UNREADABLE
        raise RunConflictError(str(exc)) from None
    if manifest is None and store.holds_predictions():
        if plan.request.overwrite:
            return _UNREADABLE
        raise RunConflictError(
            f"{plan.out} holds predictions but no manifest.json, so nothing says which "
            "configuration made them and they cannot be resumed. Choose another --out, or pass "
            "--overwrite to discard them."
        )
    return manifest


def _compute(
    plan: PlannedRun,
    store: RunStore,
    progress: ProgressHook,
    started: float,
    previous: dict[str, Any] | None,
) -> RunOutcome:
    spec, caps = plan.spec, plan.adapter_cls.capabilities
    assert spec.train is not None and spec.test is not None
    group = process_group()
    test_reader = open_dataset(spec.test.name, spec.test.root)
    test_samples = test_reader.samples(spec.test.split)
    if group.is_main and isinstance(test_reader, FolderDataset):
        # A normal folder under an unexpected name reads as 100 % defects: say so loudly.
        for problem in test_reader.balance_problems():
            logger.warning("WARNING: %s", problem)
    device = group.device_for(plan.request.device)
    adapter = plan.adapter_cls(plan.options, tiny=spec.tiny, device=device)
    adapter.artifacts_dir = plan.out / "artifacts"
    manifest = _manifest(plan, adapter, status="running", n_test=len(test_samples))
    manifest["processes"] = group.world_size
    if previous is not None:  # resuming: keep the history of attempts
        manifest["created"] = previous.get("created", manifest["created"])
        manifest["attempts"] = int(previous.get("attempts", 1)) + 1
    if group.is_main:
        store.write_manifest(manifest)
    policy = parse_policy(spec.threshold) if spec.threshold else None
    calibration: dict[str, Any] | None = None
    try:
        if caps.trains:
            train_samples = open_dataset(spec.train.name, spec.train.root).samples(spec.train.split)
            check_no_overlap(train_samples, test_samples, force=plan.request.force_overlap)
            workdir = plan.cache_dir / "trained" / spec.method / _train_hash(plan)
            adapter.fit(train_samples, FitContext(workdir, spec.seed, device))
            manifest["trained_artifacts"] = str(workdir)
        if policy is not None and policy.kind == "calibrated":
            assert spec.train is not None
            calibration = calibrate(
                open_dataset(spec.train.name, spec.train.root).samples("all"),
                test_samples,
                store.calibration,
                lambda todo: _predict_into(
                    plan, adapter, todo, store.calibration, None, progress, "calibration"
                ),
            )
        threshold = policy.value if policy and policy.kind == "fixed" else None
        if calibration is not None:
            threshold = calibration["threshold"]
        computed, resumed = _predict_into(
            plan, adapter, test_samples, store.predictions, threshold, progress, "test"
        )
    except KeyboardInterrupt:
        if group.is_main:
            store.write_manifest({**manifest, "status": "interrupted", "updated": _now()})
        raise
    if group.is_main:
        threshold_value = threshold
        if policy is not None and policy.kind == "oracle":
            threshold_value = apply_oracle(store.predictions, {s.id for s in test_samples})
        store.write_summary(_summary(plan, store, test_samples, threshold_value, calibration))
        # describe() again: what the adapter resolved while working (device, dtype, training).
        manifest["method"]["resolved"] = adapter.describe()
        store.write_manifest({**manifest, "status": "complete", "updated": _now()})
    group.barrier()
    summary = store.read_summary()
    assert summary is not None
    elapsed = time.perf_counter() - started
    return RunOutcome(summary, plan.out, False, computed, resumed, elapsed)


def _predict_into(
    plan: PlannedRun,
    adapter: MethodAdapter,
    samples: list[Sample],
    log: PredictionLog,
    threshold: float | None,
    progress: ProgressHook,
    phase: str,
) -> tuple[int, int]:
    """Predict the samples of ``samples`` that ``log`` lacks; returns (computed, resumed).

    Alone, records are appended to ``log`` batch by batch. In a multi-process run each process
    takes every N-th pending sample into its own shard, and the first process merges the shards
    in ``samples`` order, giving the file a single process would have written.
    """
    spec, group = plan.spec, process_group()
    assert spec.train is not None and spec.test is not None
    if group.is_main:
        log.merge_shards()  # left by an interrupted multi-process attempt: finished work
        log.repair_tail()
    group.barrier()
    done = {record["id"] for record in log.iter_records()}
    pending = [s for s in samples if s.id not in done]
    mine, target = pending, log
    if group.distributed:
        mine, target = pending[group.rank :: group.world_size], log.shard(group.rank)
    workers = plan.request.workers
    if workers is None:
        workers = default_workers(adapter.device)
    progress.start(f"{spec.method} {spec.train.name}→{spec.test.name} {phase}", len(mine))
    for batch, predictions in predict_batches(
        adapter,
        mine,
        batch_size=plan.request.batch_size or plan.adapter_cls.default_batch_size,
        workers=workers,
        pin_memory=adapter.device.startswith("cuda"),
    ):
        target.append(
            [prediction_record(s, p, threshold) for s, p in zip(batch, predictions, strict=True)]
        )
        progress.advance(len(batch))
    progress.finish()
    if group.distributed:
        group.barrier()
        if group.is_main:
            log.merge_shards(order=[s.id for s in samples])
        group.barrier()
    return len(pending), len(done & {s.id for s in samples})


def default_workers(device: str = "cpu") -> int:
    """DataLoader workers when not given: decoding overlaps the model, leaving it a core.

    A GPU outruns decoding, so it gets more workers than the CPU (where they share the cores
    with the model).
    """
    return max(0, min(12 if device.startswith("cuda") else 4, (os.cpu_count() or 1) - 1))


def _train_hash(plan: PlannedRun) -> str:
    return plan.spec.train_hash(plan.adapter_cls.inference_only_options)


def _summary(
    plan: PlannedRun,
    store: RunStore,
    test_samples: list[Sample],
    threshold_value: float | None,
    calibration: dict[str, Any] | None,
) -> dict[str, Any]:
    spec = plan.spec
    wanted = {s.id for s in test_samples}
    records = (
        ScoredRecord(
            r["category"], r["label"], r["pred"], r.get("score"), r.get("error"), r.get("text")
        )
        for r in store.iter_predictions()
        if r["id"] in wanted
    )
    # Text methods also get their lenient rule's figures and the 3-class F1 (see metrics).
    rules = plan.adapter_cls.answer_rules
    assert spec.train is not None and spec.test is not None
    return {
        "method": spec.method,
        "train": {"dataset": spec.train.name, "split": spec.train.split},
        "test": {"dataset": spec.test.name, "split": spec.test.split},
        "threshold": spec.threshold,
        "threshold_value": threshold_value,
        "calibration": calibration,
        "config_hash": plan.config_hash,
        "tiny": spec.tiny,
        "capabilities": vars(plan.adapter_cls.capabilities),
        **summarize(records, rules),
    }


def _manifest(
    plan: PlannedRun, adapter: MethodAdapter, *, status: str, n_test: int
) -> dict[str, Any]:
    return {
        "schema": MANIFEST_SCHEMA,
        "status": status,
        "command": plan.request.command,
        "config_hash": plan.config_hash,
        "config": plan.spec.config(),
        "threshold": plan.spec.threshold,
        "seed": plan.spec.seed,
        "n_test": n_test,
        "method": {
            "name": plan.spec.method,
            "class": f"{plan.adapter_cls.__module__}.{plan.adapter_cls.__qualname__}",
            "capabilities": vars(plan.adapter_cls.capabilities),
            "resolved": adapter.describe(),
        },
        "device": plan.request.device,
        "versions": package_versions(),
        "git": git_revision(),
        "attempts": 1,
        "created": _now(),
        "updated": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def train_only(plan: PlannedRun) -> Path:
    """Run a method's training stage alone and return where its artefacts are stored.

    Raises:
        IADBenchError: The method has no training stage.
    """
    spec = plan.spec
    if not plan.adapter_cls.capabilities.trains:
        raise IADBenchError(
            f"method {spec.method!r} has no training stage; `iadbench run` evaluates it directly"
        )
    assert spec.train is not None
    samples = open_dataset(spec.train.name, spec.train.root).samples(spec.train.split)
    workdir = plan.cache_dir / "trained" / spec.method / _train_hash(plan)
    adapter = plan.adapter_cls(plan.options, tiny=spec.tiny, device=plan.request.device)
    adapter.fit(samples, FitContext(workdir, spec.seed, plan.request.device))
    return workdir

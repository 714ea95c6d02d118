"""Plan and execute one run: dataset root → samples → adapter → predictions.jsonl → summary.json.

:func:`plan_run` resolves everything that can be wrong in the arguments (method, options, roots,
splits, output dir) before any work starts, so a matrix fails fast; :func:`execute_run` does the
work, resuming whatever an earlier attempt left.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from iadbench.calibration import calibrate, oracle_threshold
from iadbench.datasets import FolderDataset, open_dataset, resolve_root
from iadbench.datasets.base import SUBSET_NAMES, DatasetReader
from iadbench.distributed import is_main_process, process_group
from iadbench.errors import (
    IADBenchError,
    RunConflictError,
    environment_cause,
    environment_failure,
)
from iadbench.fingerprint import fingerprint_samples
from iadbench.method import FitContext, MethodAdapter
from iadbench.options import build_options
from iadbench.predict_loop import predict_batches
from iadbench.provenance import git_revision, package_versions
from iadbench.records import Sample
from iadbench.registry import METHODS
from iadbench.run_records import (
    MANIFEST_SCHEMA,
    attempt_entry,
    now,
    previous_attempts,
    provenance,
    seal_problem,
    seal_summary,
)
from iadbench.runspec import DatasetRef, RunSpec
from iadbench.splits import check_no_overlap, load_split_table
from iadbench.store import PredictionLog, RunStore, prediction_record
from iadbench.thresholds import DEFAULT_POLICY, final_label, parse_policy

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
    verify_content: bool = False  # also fingerprint file contents (reads every byte)


@dataclass
class PlannedData:
    """The samples a run reads, indexed once at planning, and their fingerprints.

    Attributes:
        test_reader: Reader of the test dataset (its folder-balance warnings are shown on run).
        test: Test samples, in test order.
        train: Training samples when the method trains, else None.
        calibration: The training dataset's All subset under ``calibrated``, else None.
        content: ``--verify-content`` digests by role (test, train, calibration); empty without.
    """

    test_reader: DatasetReader
    test: list[Sample]
    train: list[Sample] | None = None
    calibration: list[Sample] | None = None
    content: dict[str, str] = field(default_factory=dict)

    def roles(self) -> dict[str, list[Sample]]:
        """The sample lists the run reads, by role (test, train, calibration)."""
        found = {"test": self.test, "train": self.train, "calibration": self.calibration}
        return {role: samples for role, samples in found.items() if samples is not None}


@dataclass
class PlannedRun:
    """A fully resolved run, ready to execute."""

    request: RunRequest
    spec: RunSpec
    adapter_cls: type[MethodAdapter]
    options: Any
    out: Path
    cache_dir: Path
    data: PlannedData

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
    train_reader = open_dataset(request.train, _absolute(request.train, request.data_roots))
    test_reader = open_dataset(request.test, _absolute(request.test, request.data_roots))
    data = PlannedData(test_reader, test_reader.samples(test_split))
    if caps.trains:
        data.train = train_reader.samples(train_split)
    if threshold is not None and parse_policy(threshold).kind == "calibrated":
        data.calibration = train_reader.samples("all")
    if request.verify_content:
        data.content = {
            role: fingerprint_samples(samples, "content").digest
            for role, samples in data.roles().items()
        }
    spec = RunSpec(
        method=request.method,
        method_version=adapter_cls.version,
        options=adapter_cls.options_dict(options),
        tiny=tiny,  # --tiny cannot change a model-free method
        train=DatasetRef(request.train, train_split, str(train_reader.root), _stat(data.train)),
        test=DatasetRef(request.test, test_split, str(test_reader.root), _stat(data.test)),
        threshold=threshold,
        seed=request.seed,
        calibration_fingerprint=_stat(data.calibration),
    )
    out = request.out or Path("runs") / request.method / (
        f"{request.train}-{train_split}_to_{request.test}-{test_split}_{spec.config_hash()[:8]}"
    )
    cache_dir = request.cache_dir or default_cache_dir()
    return PlannedRun(request, spec, adapter_cls, options, Path(out), cache_dir, data)


def _absolute(name: str, data_roots: dict[str, str]) -> Path:
    """A dataset's root as an absolute path (two relative ``--data visa=visa`` are two places)."""
    return resolve_root(name, data_roots).resolve()


def _stat(samples: list[Sample] | None) -> str | None:
    return None if samples is None else fingerprint_samples(samples).digest


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
        conflict = None
        if manifest is not None and manifest.get("config_hash") != plan.config_hash:
            conflict = (
                f"{plan.out} holds a run of another configuration (hash "
                f"{str(manifest.get('config_hash'))[:12]}, this one {plan.config_hash[:12]}"
                f"{_config_difference(manifest.get('config'), plan.spec.config())}); "
                "its predictions cannot be reused."
            )
        elif manifest is not None and (changed := _content_changes(manifest, plan)):
            conflict = (
                f"{plan.out} was made from {' and '.join(changed)} images whose contents have "
                "changed since, though their sizes and modification times have not "
                "(--verify-content); its predictions cannot be reused."
            )
        if conflict is not None:
            if not plan.request.overwrite:
                raise RunConflictError(
                    f"{conflict} Choose another --out, or pass --overwrite to replace it."
                )
            group.barrier()  # every process has read the old manifest before it goes
            if group.is_main:
                store.clear()
            manifest = None
        if manifest and manifest.get("status") == "complete" and (summary := store.read_summary()):
            problem = seal_problem(summary, store.predictions_path)
            if problem is None:
                if plan.data.content and not manifest.get("content_fingerprints") and group.is_main:
                    store.write_manifest({**manifest, "content_fingerprints": plan.data.content})
                return RunOutcome(summary, plan.out, True, 0, 0, time.perf_counter() - started)
            if not problem.unsealed and not plan.request.overwrite:
                raise RunConflictError(
                    f"{plan.out}: {problem}. A result that does not match its evidence is not "
                    "served; restore the file, or pass --overwrite to compute the run again."
                )
            if not problem.unsealed:  # --overwrite: the evidence itself is in doubt
                group.barrier()
                if group.is_main:
                    store.clear()
                manifest = None
            # An unsealed (older) summary is recomputed from its predictions.
        return _compute(plan, store, progress, started, previous=manifest)


_UNREADABLE = {"config_hash": None, "status": "unreadable"}

# What a changed fingerprint means, for the message that refuses a run dir.
_FINGERPRINT_MEANING = "images replaced, added, removed or relabelled"


def _config_difference(stored: object, current: dict[str, Any]) -> str:
    """``": differs in test.fingerprint (...)"`` naming what changed, or ``""`` if unknown."""
    if not isinstance(stored, dict):
        return ""
    differences = []
    for key in sorted(set(stored) | set(current)):
        old, new = stored.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict) and key in ("train", "test"):
            differences += [
                f"{key}.{sub}" for sub in sorted(set(old) | set(new))
                if sub != "root" and old.get(sub) != new.get(sub)
            ]  # fmt: skip
        elif old != new:
            differences.append(key)
    if not differences:
        return ""
    fingerprints = [d for d in differences if "fingerprint" in d]
    meaning = f" ({_FINGERPRINT_MEANING})" if fingerprints else ""
    return f": differs in {', '.join(differences)}{meaning}"


def _content_changes(manifest: dict[str, Any], plan: PlannedRun) -> list[str]:
    """Roles whose ``--verify-content`` digest differs from the one the run dir recorded."""
    recorded = manifest.get("content_fingerprints") or {}
    return [
        role
        for role, digest in plan.data.content.items()
        if isinstance(recorded, dict) and role in recorded and recorded[role] != digest
    ]


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
    test_reader, test_samples = plan.data.test_reader, plan.data.test
    if group.is_main and isinstance(test_reader, FolderDataset):
        # A normal folder under an unexpected name reads as 100 % defects: say so loudly.
        for problem in test_reader.balance_problems():
            logger.warning("WARNING: %s", problem)
    device = group.device_for(plan.request.device)
    adapter = plan.adapter_cls(plan.options, tiny=spec.tiny, device=device)
    adapter.artifacts_dir = plan.out / "artifacts"
    manifest = _manifest(plan, adapter, n_test=len(test_samples))
    manifest["processes"] = group.world_size
    manifest["content_fingerprints"] = plan.data.content or (previous or {}).get(
        "content_fingerprints"
    )
    if previous is not None:  # resuming
        manifest["created"] = previous.get("created", manifest["created"])
    attempts = previous_attempts(previous)
    attempts.append(
        attempt_entry(
            len(attempts) + 1,
            versions=manifest["versions"],
            git=manifest["git"],
            device=adapter.device,
            processes=group.world_size,
            batch_size=_batch_size(plan),
            predictions_at_start=len(store.finished_ids()) if group.is_main else -1,
        )
    )
    manifest["attempts"] = attempts
    if group.is_main:
        store.write_manifest(manifest)
        store.hold_space_reserve()
    policy = parse_policy(spec.threshold) if spec.threshold else None
    calibration: dict[str, Any] | None = None
    try:
        if caps.trains:
            train_samples = plan.data.train
            assert train_samples is not None
            check_no_overlap(train_samples, test_samples, force=plan.request.force_overlap)
            manifest["trained_artifacts"] = str(_fit(plan, adapter, device))
        if policy is not None and policy.kind == "calibrated":
            assert plan.data.calibration is not None
            calibration = calibrate(
                plan.data.calibration,
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
            plan,
            adapter,
            test_samples,
            store.predictions,
            threshold,
            progress,
            "test",
            undecided=policy is not None and policy.kind == "oracle",
        )
        if group.is_main:
            threshold_value = threshold
            if policy is not None and policy.kind == "oracle":
                threshold_value = oracle_threshold(store.predictions, {s.id for s in test_samples})
            summary = _summary(plan, store, test_samples, threshold_value, calibration)
            summary["provenance"] = provenance(attempts, len(store.finished_ids()))
            store.write_summary(seal_summary(summary, store.predictions_path))
            # describe() again: what the adapter resolved while working (device, dtype, training).
            manifest["method"]["resolved"] = adapter.describe()
            store.write_manifest({**manifest, "status": "complete", "updated": now()})
            store.release_space_reserve()
    except KeyboardInterrupt:
        if group.is_main:
            _record_stop(store, manifest, "interrupted", None)
        raise
    except Exception as exc:
        if environment_cause(exc) is None:
            if group.is_main:
                _record_stop(store, manifest, "failed", f"{type(exc).__name__}: {exc}")
            raise
        failure = environment_failure(exc, "writing or predicting")
        if group.is_main:
            _record_stop(store, manifest, "failed", str(failure))
        raise failure from exc
    group.barrier()
    summary = store.read_summary()
    assert summary is not None
    elapsed = time.perf_counter() - started
    return RunOutcome(summary, plan.out, False, computed, resumed, elapsed)


def _record_stop(store: RunStore, manifest: dict[str, Any], status: str, error: str | None) -> None:
    """Mark the manifest ``interrupted`` or ``failed`` (and why), so it never stays ``running``.

    Best effort: on a full disk even this small write can fail, and that must not replace the
    message the user needs. A ``running`` manifest that no process holds is resumed like any other.
    """
    record = {**manifest, "status": status, "updated": now()}
    if error is not None:
        record["error"] = error
    try:
        store.write_manifest(record)
    except OSError:  # the disk is full: the reserve written at the start makes room
        store.release_space_reserve()
        try:
            store.write_manifest(record)
        except OSError:
            logger.debug("could not record status %r in the manifest", status, exc_info=True)
    store.release_space_reserve()


def _predict_into(
    plan: PlannedRun,
    adapter: MethodAdapter,
    samples: list[Sample],
    log: PredictionLog,
    threshold: float | None,
    progress: ProgressHook,
    phase: str,
    *,
    undecided: bool = False,
) -> tuple[int, int]:
    """Predict the samples of ``samples`` that ``log`` lacks; returns (computed, resumed).

    Alone, records are appended to ``log`` batch by batch. In a multi-process run each process
    takes every N-th pending sample into its own shard, and the first process merges the shards
    in ``samples`` order, giving the file a single process would have written.
    """
    spec, group = plan.spec, process_group()
    assert spec.train is not None and spec.test is not None
    order = [s.id for s in samples]
    if group.is_main:
        log.merge_shards(order=order)  # left by an interrupted multi-process attempt
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
        batch_size=_batch_size(plan),
        workers=workers,
        pin_memory=adapter.device.startswith("cuda"),
    ):
        target.append(
            [
                prediction_record(s, p, threshold, undecided=undecided)
                for s, p in zip(batch, predictions, strict=True)
            ]
        )
        progress.advance(len(batch))
    progress.finish()
    if group.distributed:
        group.barrier()
        if group.is_main:
            log.merge_shards(order=order)
        group.barrier()
    if group.is_main and done:  # resumed: finished records may not be a prefix of the order
        log.put_in_order(order)
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
    # Imported here: scikit-learn takes seconds to import, and a finished run needs none of it.
    from iadbench.metrics import ScoredRecord, summarize

    spec = plan.spec
    wanted = {s.id for s in test_samples}
    records = (
        ScoredRecord(
            r["category"],
            r["label"],
            final_label(r["pred"], r.get("score"), r.get("error"), threshold_value)
            if r["pred"] is None  # oracle: decided now, with the threshold chosen on all scores
            else r["pred"],
            r.get("score"),
            r.get("error"),
            r.get("text"),
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


def _batch_size(plan: PlannedRun) -> int:
    return plan.request.batch_size or plan.adapter_cls.default_batch_size


def _manifest(plan: PlannedRun, adapter: MethodAdapter, *, n_test: int) -> dict[str, Any]:
    """The manifest of a starting attempt (``running``); attempts are added by the caller.

    ``versions`` and ``git`` are this attempt's; every attempt's are kept in ``attempts``.
    """
    return {
        "schema": MANIFEST_SCHEMA,
        "status": "running",
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
        "created": now(),
        "updated": now(),
    }


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
    adapter = plan.adapter_cls(plan.options, tiny=spec.tiny, device=plan.request.device)
    return _fit(plan, adapter, plan.request.device)


TRAINING_DATA_FILE = "training-data.json"


def _fit(plan: PlannedRun, adapter: MethodAdapter, device: str) -> Path:
    """Train (or let the adapter reuse what it trained) under the training hash; returns the dir.

    The training data's fingerprints are recorded in the dir; with ``--verify-content`` a content
    digest that differs from the recorded one refuses the stored artefacts.

    Raises:
        RunConflictError: The artefacts were trained on files whose contents changed since.
    """
    spec = plan.spec
    samples = plan.data.train
    assert samples is not None and spec.train is not None
    workdir = plan.cache_dir / "trained" / spec.method / _train_hash(plan)
    record_path = workdir / TRAINING_DATA_FILE
    content = plan.data.content.get("train")
    recorded = _read_json_or_none(record_path) or {}
    if content and recorded.get("content") not in (None, content):
        raise RunConflictError(
            f"the trained artefacts in {workdir} were made from training images whose contents "
            "have changed since, though their sizes and modification times have not "
            "(--verify-content). Delete that folder to train again."
        )
    adapter.fit(samples, FitContext(workdir, spec.seed, device))
    record = {
        "dataset": spec.train.name,
        "split": spec.train.split,
        "root": spec.train.root,
        "n_samples": len(samples),
        "fingerprint": spec.train.fingerprint,
        "content": content or recorded.get("content"),
    }
    if record != recorded and is_main_process():  # never joins a group: training may have left it
        workdir.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return workdir


def _read_json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

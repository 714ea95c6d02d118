"""Execute a planned run: samples → adapter → predictions.jsonl → sealed summary.json.

:func:`execute_run` runs, resumes or reuses a :class:`~iadbench.execution.planning.PlannedRun`: it
takes the
run dir's lock, asks :mod:`iadbench.execution.reuse` what the dir holds, runs the training stage
(:mod:`iadbench.execution.training_stage`), predicts what is missing
(:mod:`iadbench.execution.predict_loop`), and
writes the records through :mod:`iadbench.runs.run_records`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.errors import environment_cause, environment_failure
from iadbench.contract.method import RunContext, trains
from iadbench.contract.progress import ProgressHook, SilentProgress
from iadbench.data import FolderDataset
from iadbench.data.splits import check_no_overlap
from iadbench.execution.calibration import calibrate, oracle_threshold
from iadbench.execution.distributed import process_group
from iadbench.execution.planning import PlannedRun, batch_size, references_by_category, trained_dir
from iadbench.execution.reuse import inspect_run_dir
from iadbench.execution.sharding import predict_missing
from iadbench.execution.training_stage import fit_stage
from iadbench.runs.run_records import (
    attempt_entry,
    build_manifest,
    build_summary,
    now,
    previous_attempts,
    provenance,
    seal_summary,
)
from iadbench.runs.store import RunStore
from iadbench.runs.thresholds import TRAINING_DATA_POLICIES, parse_policy

logger = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What :func:`execute_run` did."""

    summary: dict[str, Any]
    out: Path
    reused: bool  # the run was already complete: nothing was computed
    computed: int  # predictions computed in this call
    resumed: int  # predictions found from an earlier attempt
    seconds: float


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
        state = inspect_run_dir(store, plan)
        if state.discard:
            group.barrier()  # every process has read the old manifest before it goes
            if group.is_main:
                store.clear()
        manifest = state.manifest
        if state.summary is not None and manifest is not None:
            if plan.data.content and not manifest.get("content_fingerprints") and group.is_main:
                store.write_manifest({**manifest, "content_fingerprints": plan.data.content})
            return RunOutcome(state.summary, plan.out, True, 0, 0, time.perf_counter() - started)
        return _compute(plan, store, progress, started, previous=manifest)


def _compute(
    plan: PlannedRun,
    store: RunStore,
    progress: ProgressHook,
    started: float,
    previous: dict[str, Any] | None,
) -> RunOutcome:
    spec, caps = plan.spec, plan.adapter_cls.capabilities
    assert spec.test is not None
    group = process_group()
    test_reader, test_samples = plan.data.test_reader, plan.data.test
    if group.is_main and isinstance(test_reader, FolderDataset):
        # A normal folder under an unexpected name reads as 100 % defects: say so loudly.
        for problem in test_reader.balance_problems():
            logger.warning("WARNING: %s", problem)
    device = group.device_for(plan.request.device)
    if caps.builds_models:  # resolved here, once: adapters get "cpu" / "cuda[:n]", never "auto"
        from iadbench.contract.devices import resolve_device

        device = resolve_device(device)
    context = RunContext(
        tiny=spec.tiny,
        device=device,
        seed=spec.seed,
        artifacts_dir=plan.out / "artifacts",
        workdir=trained_dir(plan) if trains(plan.adapter_cls, plan.options) else None,
        references=references_by_category(plan.data.references or []),
    )
    adapter = plan.adapter_cls(plan.options, context=context)
    if group.is_main and caps.prefers_gpu and not spec.tiny and device == "cpu":
        logger.warning(
            "WARNING: %s is practical only on a GPU at real size; on the CPU expect hours "
            "(--device cuda on a GPU machine, or --tiny for a quick check).",
            spec.method,
        )
    manifest = build_manifest(plan, adapter, n_test=len(test_samples))
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
            device=adapter.context.device,
            processes=group.world_size,
            batch_size=batch_size(plan),
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
        if context.workdir is not None:  # the configuration trains
            train_samples = plan.data.train
            assert train_samples is not None
            check_no_overlap(train_samples, test_samples, force=plan.request.force_overlap)
            manifest["trained_artifacts"] = str(fit_stage(plan, adapter))
        if policy is not None and policy.kind in TRAINING_DATA_POLICIES:
            assert plan.data.calibration is not None
            calibration = calibrate(
                plan.data.calibration,
                test_samples,
                store.calibration,
                lambda todo: predict_missing(
                    plan, adapter, todo, store.calibration, None, progress, "calibration"
                ),
                policy,
            )
        threshold = policy.value if policy and policy.kind == "fixed" else None
        if calibration is not None:
            threshold = calibration["threshold"]
        computed, resumed = predict_missing(
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
            summary = build_summary(plan, store, test_samples, threshold_value, calibration)
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
    stored = store.read_summary()  # every process returns what the first one wrote
    assert stored is not None
    elapsed = time.perf_counter() - started
    return RunOutcome(stored, plan.out, False, computed, resumed, elapsed)


def _record_stop(
    store: RunStore, manifest: Mapping[str, Any], status: str, error: str | None
) -> None:
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

"""One attempt at a run: build the adapter, train, choose the threshold, predict, seal.

:func:`compute_run` does the work :func:`iadbench.execution.runner.execute_run` decided is
needed (the run dir is locked, and holds nothing or an unfinished attempt to resume). The attempt
is recorded in the manifest before anything is computed, and a stopped one is marked
``interrupted`` or ``failed`` with its reason, so a manifest never stays ``running``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from iadbench.contract.errors import environment_cause, environment_failure
from iadbench.contract.progress import ProgressHook
from iadbench.execution.adapter_setup import build_adapter, setup_of
from iadbench.execution.calibration import calibrate, oracle_threshold
from iadbench.execution.distributed import process_group
from iadbench.execution.planning import PlannedRun, batch_size
from iadbench.execution.sharding import predict_missing
from iadbench.execution.summaries import build_manifest, build_summary, with_status
from iadbench.execution.training_stage import fit_stage
from iadbench.runs.writer import RunStore

logger = logging.getLogger(__name__)


def compute_run(
    plan: PlannedRun,
    store: RunStore,
    progress: ProgressHook,
    previous: dict[str, Any] | None,
) -> tuple[dict[str, Any], int, int]:
    """Compute what the run dir lacks and seal the summary.

    Args:
        plan: The run.
        store: Its run dir, locked by the first process.
        progress: Progress display (silent on the other processes).
        previous: The manifest of the unfinished attempt being resumed, else None.

    Returns:
        The summary (as the first process wrote it), predictions computed now, and predictions
        found from an earlier attempt.

    Raises:
        EnvironmentFailure: The machine failed (disk, memory, GPU) while writing or predicting.
    """
    spec, caps = plan.spec, plan.adapter_cls.capabilities
    assert spec.test is not None
    group = process_group()
    test_samples = plan.data.test
    if group.is_main:
        for problem in plan.data.balance_problems():
            logger.warning("WARNING: %s", problem)
    adapter = build_adapter(setup_of(plan), plan.request.device, store.layout.artifacts)
    device = adapter.context.device
    if group.is_main and caps.prefers_gpu and not spec.tiny and device == "cpu":
        logger.warning(
            "WARNING: %s is practical only on a GPU at real size; on the CPU expect hours "
            "(--device cuda on a GPU machine, or --tiny for a quick check).",
            spec.method,
        )
    manifest = build_manifest(
        plan,
        adapter,
        n_test=len(test_samples),
        previous=previous,
        processes=group.world_size,
        batch_size=batch_size(plan),
        predictions_at_start=len(store.finished_ids()) if group.is_main else -1,
    )
    if group.is_main:
        store.write_manifest(manifest)
        store.hold_space_reserve()
    policy = plan.policy
    calibration: dict[str, Any] | None = None
    try:
        if adapter.context.workdir is not None:  # the configuration trains
            # (execute_run's overlap guard refused it before the run dir existed)
            manifest["trained_artifacts"] = str(fit_stage(plan, adapter))
        if (choice := plan.data.calibration_choice) is not None:  # a training-data policy
            if group.is_main and (warning := choice.warning()) is not None:
                logger.warning("WARNING: %s", warning)  # in-sample: said loudly (issue 20)
            calibration = calibrate(
                choice,
                plan.spec.train.name if plan.spec.train is not None else None,
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
            maps=store.layout.anomaly_maps if caps.gives_maps else None,
        )
        if group.is_main:
            threshold_value = threshold
            if policy is not None and policy.kind == "oracle":
                threshold_value = oracle_threshold(store.predictions, {s.id for s in test_samples})
            store.write_summary(
                build_summary(plan, store, test_samples, threshold_value, calibration,
                              manifest.get("attempts", []))
            )  # fmt: skip
            # describe() again: what the adapter resolved while working (device, dtype, training).
            manifest["method"]["resolved"] = adapter.describe()
            store.write_manifest(with_status(manifest, "complete"))
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
    return stored, computed, resumed


def _record_stop(
    store: RunStore, manifest: Mapping[str, Any], status: str, error: str | None
) -> None:
    """Mark the manifest ``interrupted`` or ``failed`` (and why), so it never stays ``running``.

    Best effort: on a full disk even this small write can fail, and that must not replace the
    message the user needs. A ``running`` manifest that no process holds is resumed like any other.
    """
    record = with_status(manifest, status, error)
    try:
        store.write_manifest(record)
    except OSError:  # the disk is full: the reserve written at the start makes room
        store.release_space_reserve()
        try:
            store.write_manifest(record)
        except OSError:
            logger.debug("could not record status %r in the manifest", status, exc_info=True)
    store.release_space_reserve()

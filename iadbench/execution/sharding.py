"""Predict what a prediction log lacks: alone, or as one of the N processes of a sharded run.

Alone, records are appended batch by batch. Under ``torchrun`` each process takes every N-th
pending sample into its own shard file and the first process merges the shards in test order,
so the finished file is the one a single uninterrupted process writes, however many processes
an interrupted attempt had and however many resume it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.contract.method import MethodAdapter
from iadbench.contract.progress import ProgressHook
from iadbench.contract.records import Sample
from iadbench.contract.settings import default_workers
from iadbench.execution.crash import method_stage
from iadbench.execution.distributed import process_group
from iadbench.execution.planning import PlannedRun, batch_size
from iadbench.execution.predict_loop import predict_batches
from iadbench.runs.runspec import ZERO_SHOT
from iadbench.runs.writer import PredictionLog, prediction_lines


def predict_missing(
    plan: PlannedRun,
    adapter: MethodAdapter[Any],
    samples: list[Sample],
    log: PredictionLog,
    threshold: float | None,
    progress: ProgressHook,
    phase: str,
    *,
    undecided: bool = False,
    maps: Path | None = None,
) -> tuple[int, int]:
    """Predict the samples of ``samples`` that ``log`` lacks; returns (computed, resumed).

    Alone, records are appended to ``log`` batch by batch. In a multi-process run each process
    takes every N-th pending sample into its own shard, and the first process merges the shards
    in ``samples`` order, giving the file a single process would have written.

    With ``maps`` (the run's ``anomaly_maps/``), the anomaly map of each prediction is stored
    there before its line is appended (:func:`~iadbench.runs.writer.prediction_lines`).
    """
    spec, group = plan.spec, process_group()
    assert spec.test is not None
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
        workers = default_workers(adapter.context.device)
    # A few-shot method (pixel-stats, AnomalyGPT's references) learned nothing on a training
    # dataset but did see the test dataset's Train normals: "zero-shot" would misname it.
    few_shot = spec.references_fingerprint is not None
    source = ("few-shot" if few_shot else ZERO_SHOT) if spec.train is None else spec.train.name
    shape = adapter.map_shape() if maps is not None else None
    progress.start(f"{spec.method} {source}→{spec.test.name} {phase}", len(mine))
    with method_stage(spec.method, "predicting"):  # its crash: one line naming it (crash.py)
        for batch, predictions in predict_batches(
            adapter,
            mine,
            batch_size=batch_size(plan),
            workers=workers,
            pin_memory=adapter.context.device.startswith("cuda"),
        ):
            lines = prediction_lines(
                batch, predictions, threshold, undecided=undecided, maps=maps, map_shape=shape
            )
            target.append(lines)
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

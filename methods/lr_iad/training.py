"""LR-IAD's training stage: trl ``GRPOTrainer`` + peft LoRA on Qwen2-VL, resumable, stored once.

What a training run leaves in its content-hashed workdir (``context.workdir``):

- ``checkpoints/checkpoint-N/``: trl / transformers checkpoints every ``save_steps`` steps
  (adapter, optimiser, scheduler, RNG, ``trainer_state.json``); an interrupted run resumes from
  the newest complete one (``trainer_state.json`` is written last);
- ``tensorboard/``: the TensorBoard event files (rewards, KL, loss, accuracy...);
- ``adapter/``: the final LoRA adapter (``adapter_config.json`` + ``adapter_model.safetensors``),
  saved into a staging directory and renamed into place;
- ``training_summary.json``: what was trained on, steps, time, the log history;
- ``DONE``: written last and atomically. Only a workdir with ``DONE`` counts as trained, so a
  half-written adapter is never reused.

Multi-process (``torchrun`` / ``accelerate launch``): every process runs this function; trl
shares the work, the first process writes the files, barriers order the end. The process group
is left as it was found: when this function's trl setup created it (``iadbench train`` under
torchrun), it is destroyed at the end.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    :mod:`iadbench_methods.lr_iad.config` (every setting), :mod:`iadbench_methods.lr_iad.rewards`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iadbench.contract.devices import torch_dtype
from iadbench.contract.records import Sample

from ..qwen2vl.loading import set_pixel_budget
from .answer_letter import ProbabilitySpace
from .config import LRIADOptions, grpo_config, lora_config
from .data import build_training_data
from .rewards import FocalReward, Gather, accuracy_reward, format_reward

ADAPTER_DIR = "adapter"
BEST_ADAPTER_DIR = "best_adapter"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
SUMMARY_NAME = "training_summary.json"
DONE_NAME = "DONE"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltTrainer:
    """A ready trainer and what came with it.

    Attributes:
        trainer: The :class:`~iadbench_methods.lr_iad.trainer.LRIADGRPOTrainer`.
        data: Facts of the training data (:meth:`TrainingData.describe`).
        monitor: The held-out monitor callback, or None (``monitor_samples=0``).
    """

    trainer: Any
    data: dict[str, Any]
    monitor: Any = None


@dataclass(frozen=True)
class TrainingResult:
    """What a training run did (also stored in ``training_summary.json``).

    Attributes:
        adapter_dir: The stored LoRA adapter.
        global_step: Optimiser steps of the finished training (resumed steps included).
        resumed_from: The checkpoint this run resumed from, or None.
        seconds: Wall time of this call's ``train()``.
        processes: Processes that trained.
        data: Images used, label counts, class weights, unreadable images.
        monitor: The held-out evaluations (``HeldOutScores`` as dicts), oldest first.
        best_step: The step whose adapter was stored under ``keep_best``, else None.
    """

    adapter_dir: Path
    global_step: int
    resumed_from: str | None
    seconds: float
    processes: int
    data: dict[str, Any]
    monitor: list[dict[str, Any]] = field(default_factory=list)
    best_step: int | None = None


def finished_adapter(workdir: Path) -> Path | None:
    """The stored adapter when the workdir holds a finished training (``DONE``), else None."""
    adapter = workdir / ADAPTER_DIR
    if (workdir / DONE_NAME).is_file() and (adapter / "adapter_config.json").is_file():
        return adapter
    return None


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint (it holds ``trainer_state.json``), or None.

    A process killed while saving leaves a checkpoint without ``trainer_state.json`` (written
    last); it is skipped rather than resumed from.
    """
    complete = [
        path
        for path in checkpoints.glob("checkpoint-*")
        if path.name.split("-")[-1].isdigit() and (path / "trainer_state.json").is_file()
    ]
    return max(complete, key=lambda p: int(p.name.split("-")[-1]), default=None)


def build_trainer(
    samples: Sequence[Sample],
    options: LRIADOptions,
    *,
    model_source: str,
    workdir: Path,
    seed: int,
    device: str,
    precision: str,
    attention: str,
    extra_rewards: Sequence[Callable[..., list[float]]] = (),
    callbacks: Sequence[Any] = (),
    gather: Gather | None = None,
    verbose: bool = False,
) -> BuiltTrainer:
    """A ready trainer (trl's ``GRPOTrainer`` + LR-IAD's additions), monitor and console lines.

    Args:
        samples: The training subset.
        options: The resolved options.
        model_source: Base checkpoint (hub id or directory; the tiny one under ``--tiny``).
        workdir: The content-hashed training directory.
        seed: The run's seed.
        device: A resolved device (``cpu``, ``cuda``, ``cuda:N``).
        precision: A resolved precision (``fp32``, ``bf16``, ``fp16``).
        attention: A resolved attention implementation.
        extra_rewards: More trl reward functions, summed with the format and focal rewards
            (tests use one with variance: a random model scores 0 on both).
        callbacks: transformers ``TrainerCallback`` objects to add.
        gather: Cross-process gather of the focal reward (default: torch.distributed).
        verbose: Print trl's full log dicts beside the compact step lines.
    """
    from .monitor import HeldOutMonitor
    from .progress import quiet_trainer_console
    from .trainer import LRIADGRPOTrainer

    # Before the model: it joins the process group and, under ZeRO-3, makes loading partition.
    args = grpo_config(
        options, output_dir=workdir / CHECKPOINTS_DIR, seed=seed, device=device, precision=precision
    )
    data = build_training_data(
        samples,
        max_samples=options.max_train_samples,
        seed=seed,
        class_weighting=options.class_weighting,
        heldout=options.monitor_samples,
        flip_labels=options.flip_training_labels,
        prompt=options.prompt,
    )
    model, processor = load_for_training(
        model_source, options, device=str(args.device), precision=precision, attention=attention,
        deepspeed=args.deepspeed is not None,
    )  # fmt: skip
    trainer = LRIADGRPOTrainer(
        model=model,
        reward_funcs=[*rewards_of(options, gather), *extra_rewards],
        probability_space=probability_space_of(options),
        loss_span=options.loss_span,
        args=args,
        train_dataset=data.dataset,
        processing_class=processor,
        peft_config=lora_config(options),
        callbacks=list(callbacks) or None,
    )
    _point_tensorboard_at(trainer, workdir / TENSORBOARD_DIR)
    monitor = None
    if options.monitor_samples and data.heldout:
        # Every process evaluates (under ZeRO-3 each must join generate); the first reports.
        monitor = HeldOutMonitor(
            data.heldout, processor, every=options.monitor_every,
            warn_after=options.monitor_warn_after,
            max_new_tokens=options.max_completion_length,  # as long as a rollout may be
            tensorboard_dir=workdir / TENSORBOARD_DIR if options.report_to != "none" else None,
            best_dir=workdir / BEST_ADAPTER_DIR if options.keep_best else None,
            is_main=trainer.is_world_process_zero(), synced_gpus=args.deepspeed is not None,
            prompt=options.prompt,
        )  # fmt: skip
        trainer.add_callback(monitor)
    quiet_trainer_console(trainer, verbose=verbose)
    return BuiltTrainer(trainer, data.describe(), monitor)


def rewards_of(options: LRIADOptions, gather: Gather | None = None) -> list[Callable[..., Any]]:
    """The reward functions of ``options``: format + focal (the paper) or format + accuracy."""
    if options.reward == "accuracy":
        return [format_reward, accuracy_reward]
    focal = FocalReward(
        options.focal_alpha, options.focal_gamma, p_source=options.focal_p,
        wrong=options.focal_wrong, gather=gather,
    )  # fmt: skip
    return [format_reward, focal]


def probability_space_of(options: LRIADOptions) -> ProbabilitySpace | None:
    """Where the trainer computes ``answer_probability`` (None: no reward reads it, no forward)."""
    if options.reward == "focal" and options.focal_p == "answer":
        return options.focal_p_space
    return None


def load_for_training(
    model_source: str,
    options: LRIADOptions,
    *,
    device: str,
    precision: str,
    attention: str,
    deepspeed: bool,
) -> tuple[Any, Any]:
    """The base model (train mode) and processor, with the same pixel budget as evaluation.

    Under DeepSpeed the model is loaded without a device map (ZeRO-3 partitions it while it
    loads); otherwise straight onto this process's device.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_source)
    set_pixel_budget(processor, max_pixels=options.max_pixels, min_pixels=options.min_pixels)
    processor.tokenizer.padding_side = "left"  # trl generates batches, prompts end together
    on_gpu = device.startswith("cuda")
    model = AutoModelForImageTextToText.from_pretrained(
        model_source,
        dtype=torch_dtype(precision),
        attn_implementation=attention,
        device_map=device if on_gpu and not deepspeed else None,
    )
    return model, processor


def train_lr_iad(
    samples: Sequence[Sample],
    options: LRIADOptions,
    *,
    model_source: str,
    workdir: Path,
    seed: int,
    device: str,
    precision: str,
    attention: str,
    extra_rewards: Sequence[Callable[..., list[float]]] = (),
    callbacks: Sequence[Any] = (),
    gather: Gather | None = None,
    verbose: bool = False,
) -> TrainingResult:
    """Train (or resume training) and store the adapter; see the module docstring for files.

    Arguments as :func:`build_trainer`. Raises whatever trl raises; an interrupted call leaves
    its checkpoints, and the next call with the same workdir resumes from the newest.

    Example:
        >>> result = train_lr_iad(samples, LRIADOptions(), model_source="Qwen/Qwen2-VL-7B-Instruct",
        ...                       workdir=Path("w"), seed=0, device="cuda", precision="bf16",
        ...                       attention="flash_attention_2")  # doctest: +SKIP
        >>> (result.adapter_dir / "adapter_config.json").is_file()  # doctest: +SKIP
        True
    """
    import torch.distributed as dist

    owns_group = not (dist.is_available() and dist.is_initialized())
    built = build_trainer(
        samples, options, model_source=model_source, workdir=workdir, seed=seed, device=device,
        precision=precision, attention=attention, extra_rewards=extra_rewards,
        callbacks=callbacks, gather=gather, verbose=verbose,
    )  # fmt: skip
    trainer, data, monitor = built.trainer, built.data, built.monitor
    resume = last_checkpoint(workdir / CHECKPOINTS_DIR)
    if trainer.is_world_process_zero():
        counts = ", ".join(f"{n} {label}" for label, n in sorted(data["counts"].items()))
        logger.info(
            "LR-IAD: GRPO on %d images (%s), %s",
            sum(data["counts"].values()), counts or "none",
            f"resuming from {resume.name}" if resume else "from the start",
        )  # fmt: skip
        if options.report_to == "tensorboard":
            logger.info("LR-IAD: TensorBoard logs in %s", workdir / TENSORBOARD_DIR)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - started
    result = TrainingResult(
        adapter_dir=workdir / ADAPTER_DIR,
        global_step=trainer.state.global_step,
        resumed_from=resume.name if resume else None,
        seconds=seconds,
        processes=trainer.accelerator.num_processes,
        data=data,
        monitor=[asdict(scores) for scores in monitor.history] if monitor else [],
        best_step=monitor.best.step if options.keep_best and monitor and monitor.best else None,
    )
    _store_adapter(trainer, workdir, result, options)
    if owns_group and dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return result


def _store_adapter(
    trainer: Any,
    workdir: Path,
    result: TrainingResult,
    options: LRIADOptions,
) -> None:
    """Save the adapter to a staging dir, rename it into place, write ``DONE`` last."""
    staging = workdir / f"{ADAPTER_DIR}.partial"
    if trainer.is_world_process_zero() and staging.exists():
        shutil.rmtree(staging)  # left by a process killed while saving
    trainer.accelerator.wait_for_everyone()
    best = workdir / BEST_ADAPTER_DIR
    if result.best_step is not None and best.is_dir():
        if trainer.is_world_process_zero():  # keep_best: the monitor saved it, complete
            shutil.copytree(best, staging)
    else:
        # Every process calls it: under ZeRO-3 the weights are gathered collectively.
        trainer.save_model(str(staging))
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        target = workdir / ADAPTER_DIR
        if target.exists():  # an adapter without DONE: unfinished, replace it
            shutil.rmtree(target)
        os.replace(staging, target)
        summary = {
            **asdict(result),
            "adapter_dir": str(result.adapter_dir),
            "options": asdict(options),
            "log_history": trainer.state.log_history,
        }
        _write_atomic(workdir / SUMMARY_NAME, json.dumps(summary, indent=2, default=str))
        _write_atomic(workdir / DONE_NAME, json.dumps({"global_step": result.global_step}))
    trainer.accelerator.wait_for_everyone()


def _write_atomic(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text + "\n", encoding="utf-8")
    os.replace(staging, path)


def _point_tensorboard_at(trainer: Any, directory: Path) -> None:
    """Write TensorBoard events to ``directory`` instead of transformers' dated default."""
    from transformers.integrations import TensorBoardCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(directory)

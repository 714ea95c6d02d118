"""Training AprilGAN's linear maps on images with defect masks, and storing / reusing them.

The CLIP model stays frozen; only the per-block linear maps learn, with focal + dice loss per
layer against the binarised mask (normal images: an empty mask) and Adam. What is written to the
run's content-hashed workdir:

- ``linear_maps.pt``: the maps' state dict with the layer set-up and the training stats; written
  last and atomically, so its presence means a finished training;
- ``training_stats.json``: the same stats, for people;
- ``training_log.jsonl``: one line per epoch (mean loss, steps, images, seconds).

See Also:
    :class:`iadbench_methods.aprilgan.AprilGAN` (``fit`` decides between training and reuse).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import DEFECT, Sample

from .data import TrainingImages, collate_training
from .losses import segmentation_loss
from .model import AprilGANModel
from .options import AprilGANOptions, resolve_aug_rate, resolve_epochs

CHECKPOINT_NAME = "linear_maps.pt"
STATS_NAME = "training_stats.json"
LOG_NAME = "training_log.jsonl"
CHECKPOINT_FORMAT = 1

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingStats:
    """What a training stage did; recorded in the checkpoint and in the run's manifest.

    Attributes:
        epochs: Epochs run.
        steps: Optimiser steps taken.
        images_used: Training images that entered the loss (per epoch).
        skipped_no_mask: Defect images left out because they have no mask.
        unreadable: Images or masks that could not be decoded (left out).
        first_epoch_loss: Mean loss of the first epoch.
        final_loss: Mean loss of the last epoch.
        seconds: Wall time of the training.
        aug_rate: The mosaic rate used (``aug_rate=auto`` resolved); 0 in checkpoints written
            before the mosaic existed.
    """

    epochs: int
    steps: int
    images_used: int
    skipped_no_mask: int
    unreadable: int
    first_epoch_loss: float
    final_loss: float
    seconds: float
    aug_rate: float = 0.0


def trainable_samples(samples: Sequence[Sample]) -> tuple[list[Sample], int]:
    """Normal samples and defect samples with a mask; second value: defects left out (no mask)."""
    kept = [s for s in samples if s.label != DEFECT or s.mask_path is not None]
    return kept, len(samples) - len(kept)


def train_linear_maps(
    model: AprilGANModel,
    samples: Sequence[Sample],
    options: AprilGANOptions,
    *,
    seed: int,
    workdir: Path,
    show_progress: bool = True,
) -> TrainingStats:
    """Train ``model.maps`` in place and return the stats (nothing is saved here).

    Args:
        model: The model whose linear maps train; its CLIP stays frozen.
        samples: The training subset (Table II: the other dataset's Test subset).
        options: Epochs (``auto``: by the samples' dataset), learning rate, betas, batch size,
            workers, image size.
        seed: Seeds the order of the batches (the maps' initial weights are seeded by the caller).
        workdir: Where ``training_log.jsonl`` is written.
        show_progress: Draw a rich progress bar with the running loss.

    Raises:
        IADBenchError: No usable training image.
    """
    usable, skipped = trainable_samples(samples)
    if skipped:
        logger.warning("AprilGAN: %d defect images without a mask left out of training", skipped)
    if not usable:
        raise IADBenchError(
            f"AprilGAN needs training images with defect masks (or normal images); none of the "
            f"{len(samples)} training samples qualifies"
        )
    # epochs=auto: the official train.sh value of the training dataset (MVTec AD 3, VisA 15).
    epochs = resolve_epochs(options.epochs, {s.dataset for s in usable})
    categories = sorted({s.category for s in usable})
    # aug_rate=auto: the official mosaic rate of the training dataset (MVTec AD 0.2, VisA none).
    aug_rate = resolve_aug_rate(options.aug_rate, {s.dataset for s in usable})
    dataset = TrainingImages(usable, options.image_size, categories, aug_rate, seed)
    # TrainingImages is a map-style dataset by protocol (__len__, __getitem__), not a subclass.
    loader: Any = torch.utils.data.DataLoader(
        cast(Any, dataset),
        batch_size=options.batch_size,
        shuffle=True,
        num_workers=options.num_workers,
        collate_fn=collate_training,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=model.device.startswith("cuda"),
    )
    text = model.text_embeddings(categories)
    optimizer = torch.optim.Adam(
        model.maps.parameters(), lr=options.lr, betas=(options.beta1, options.beta2)
    )
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    epoch_losses: list[float] = []
    steps = unreadable = 0
    model.maps.train()
    with (
        _TrainingProgress(epochs * len(loader), show_progress) as progress,
        (workdir / LOG_NAME).open("w", encoding="utf-8") as log,
    ):
        for epoch in range(1, epochs + 1):
            dataset.epoch = epoch  # the mosaic draws (workers get a fresh copy every epoch)
            batch_losses: list[float] = []
            for images, masks, category_ids, dropped in loader:
                unreadable += dropped if epoch == 1 else 0
                if images is not None:
                    _, tokens = model.encode(images)
                    logits = model.layer_logits(tokens, text[category_ids.to(text.device)])
                    loss = segmentation_loss(logits, masks.to(model.device, non_blocking=True))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    steps += 1
                    batch_losses.append(float(loss.detach()))
                progress.advance(epoch, _mean(batch_losses))
            epoch_losses.append(_mean(batch_losses))
            line = {
                "epoch": epoch,
                "loss": epoch_losses[-1],
                "steps": steps,
                "images": len(usable) - unreadable,
                "seconds": round(time.perf_counter() - started, 3),
            }
            log.write(json.dumps(line) + "\n")
            log.flush()
            logger.info("AprilGAN epoch %d/%d: loss %.4f", epoch, epochs, line["loss"])
    model.maps.eval()
    if steps == 0:
        raise IADBenchError(f"AprilGAN could not read any of its {len(usable)} training images")
    return TrainingStats(
        epochs=epochs,
        steps=steps,
        images_used=len(usable) - unreadable,
        skipped_no_mask=skipped,
        unreadable=unreadable,
        first_epoch_loss=epoch_losses[0],
        final_loss=epoch_losses[-1],
        seconds=round(time.perf_counter() - started, 3),
        aug_rate=aug_rate,
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


class _TrainingProgress:
    """A rich bar on a terminal's stderr; none when disabled, redirected or under a live display."""

    def __init__(self, total: int, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]AprilGAN training[/] epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            # Redirected, a bar is noise; the "AprilGAN epoch k/K: loss" log line says the same.
            disable=not (enabled and console.is_terminal),
        )
        self._task = self._progress.add_task("train", total=total, epoch=1, loss=float("nan"))

    def __enter__(self) -> _TrainingProgress:
        from rich.errors import LiveError

        try:
            self._progress.start()
        except LiveError:  # the caller already shows a live display: train without a bar
            self._progress.disable = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, epoch: int, running_loss: float) -> None:
        self._progress.update(self._task, advance=1, epoch=epoch, loss=running_loss)


def save_checkpoint(model: AprilGANModel, stats: TrainingStats, workdir: Path) -> Path:
    """Write the trained maps (and the stats) atomically; returns the checkpoint path."""
    workdir.mkdir(parents=True, exist_ok=True)
    _atomic_write(workdir / STATS_NAME, lambda p: p.write_text(json.dumps(asdict(stats), indent=2)))
    payload = {
        "format": CHECKPOINT_FORMAT,
        "layer_indices": list(model.layer_indices),
        "width": model.width,
        "embed_dim": model.embed_dim,
        "stats": asdict(stats),
        "state_dict": {k: v.detach().cpu() for k, v in model.maps.state_dict().items()},
    }
    path = workdir / CHECKPOINT_NAME
    _atomic_write(path, lambda p: torch.save(payload, p))
    return path


def load_checkpoint(model: AprilGANModel, path: Path) -> TrainingStats:
    """Load trained maps into ``model`` and return the stats stored with them.

    Raises:
        IADBenchError: The file is not a checkpoint of this model's set-up.
    """
    try:
        payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        expected = (list(model.layer_indices), model.width, model.embed_dim)
        found = (payload["layer_indices"], payload["width"], payload["embed_dim"])
        if payload.get("format") != CHECKPOINT_FORMAT or found != expected:
            raise ValueError(f"it holds layers/width/embed_dim {found}, the model needs {expected}")
        model.maps.load_state_dict(payload["state_dict"])
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise IADBenchError(
            f"cannot use the AprilGAN checkpoint {path}: {exc}. Delete it to retrain."
        ) from exc
    model.maps.eval()
    return TrainingStats(**payload["stats"])


def _atomic_write(path: Path, write: Any) -> None:
    # A killed process leaves at most a stray temporary file, never a half-written checkpoint.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)

"""AnomalyGPT's training stage: normal images and their NSA twins, decoder + prompt learner only.

As the official training (``code/datasets/{mvtec,visa}.py`` ``__getitem__`` and ``collate``,
``code/model/agent.py``, ``code/dsconfig/openllama_peft_stage_1.json``): every training image is
resized to 224 × 224 (bicubic) and gives two examples — itself with "No, there is no anomaly in
the image." and an NSA synthetic anomaly with its position answer and mask; the loss is the LM
loss on the answers plus focal + dice on the anomaly maps; Adam; only ``image_decoder`` and
``prompt_learner`` are updated. The patch source is another training image (the official code
takes the previous one the loader drew, of any category).

Few-shot maps in training (``code/model/openllama.py`` f21c51b, ``forward``, lines 471-500): for
a batch whose coin says so (``random.randint(0, 1) == 0``, one flip per batch), the map fed to
the prompt learner is the few-shot map (``1 − sim``) of each image against its category's FIRST
normal training image (``find_first_file_in_directory``, lines 141-152 and 473-481) in four
quarter-turns (``encode_image_for_one_shot_with_aug``, lines 313-337, and ``rot90_img``, lines
219-224); the pixel loss stays on the text maps. Here the coin is seeded per (seed, epoch) on its
own stream (the NSA draws are those of a training without it) and "first" is the first id.

Resumable at epoch boundaries: the data order, the NSA draws and torch's RNG (dropout) are seeded
from (seed, epoch), and ``checkpoint.pt`` (weights, optimiser, epoch) is written after every
epoch, so an interrupted training resumed from it ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from iadbench.contract.images import load_rgb
from iadbench.contract.progress import duration
from iadbench.contract.records import Sample

from ..clip_common import CLIP_MEAN, CLIP_STD
from .model import AnomalyGPTModel
from .nsa import (
    VISA_OPTIONS,
    NSAOptions,
    SyntheticAnomaly,
    mvtec_options,
    synthesize_anomaly,
)
from .questions import question

NORMAL_ANSWER = "No, there is no anomaly in the image."
SYNTHETIC = "synthetic"
CHECKPOINT = "checkpoint.pt"
HEADS = "pytorch_model.pt"  # the official name: image_decoder.* and prompt_learner.* weights
COIN_STREAM = 1  # the few-shot coin's seed stream, apart from the (seed, epoch) NSA stream
ROTATIONS = 4  # encode_image_for_one_shot_with_aug: 0, 90, 180 and 270 degrees

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSettings:
    """The schedule, as read in the official configuration.

    ``code/config/openllama_peft.yaml``: 50 epochs. ``code/dsconfig/openllama_peft_stage_1.json``:
    global batch 16 (1 per GPU × 8 accumulation × 2 GPUs in ``scripts/train_*.sh``), DeepSpeed
    "Adam" lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 1e-3, gradient clipping 1.0,
    ``WarmupDecayLR`` (warm-up 10 steps to 1e-3, decay to 0 at step 10,000), fp16. Here: torch
    ``AdamW`` with those values and a linear warm-up then linear decay. Not verified offline:
    whether DeepSpeed's "Adam" with weight decay decouples it (AdamW) and the shape of its
    warm-up (DeepSpeed offers log and linear).
    """

    epochs: int = 50
    batch_size: int = 16
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 1e-3
    grad_clip: float = 1.0
    warmup_steps: int = 10
    total_steps: int = 10_000
    seed: int = 0
    image_size: int = 224  # the tower's input side (224 for ImageBind-Huge)
    save_synthetic: int = 0  # write the first N NSA examples to <workdir>/synthetic/ (viewable)

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at optimiser step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return max(0.0, (self.total_steps - step) / max(1, self.total_steps - self.warmup_steps))


def nsa_options(sample: Sample) -> NSAOptions:
    """The official NSA parameters for a sample: MVTec AD's per category, VisA's for the rest.

    (``code/datasets/mvtec.py`` sets them per category; ``visa.py`` uses one set, which iadbench
    also applies to a user's own parts.)
    """
    if sample.dataset == "mvtec":
        try:
            return mvtec_options(sample.category)
        except KeyError:
            return VISA_OPTIONS
    return VISA_OPTIONS


def image_array(sample: Sample, size: int = 224) -> np.ndarray:
    """The image as (size, size, 3) uint8, bicubic, as the official datasets resize it."""
    from PIL import Image

    return np.asarray(load_rgb(sample.image_path).resize((size, size), Image.Resampling.BICUBIC))


def to_tensor(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """uint8 images → normalised (B, 3, size, size) floats for the tower."""
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    if batch.shape[-1] != size:
        batch = torch.nn.functional.interpolate(
            batch, size=(size, size), mode="bicubic", align_corners=False
        ).clamp(0, 1)
    # ImageBind's vision transform (code/model/ImageBind/data.py) normalises with CLIP's values.
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (batch - mean) / std


def first_normals(samples: Sequence[Sample]) -> dict[tuple[str, str], Sample]:
    """Each (dataset, category)'s first normal image in id order: its few-shot reference.

    The official ``find_first_file_in_directory`` returns the first file ``os.listdir`` lists in
    the category's normal folder, an order the file system decides; the first id (file name
    order for MVTec AD) is iadbench's reproducible reading of "first".
    """
    first: dict[tuple[str, str], Sample] = {}
    for sample in sorted((s for s in samples if s.label == "normal"), key=lambda s: s.id):
        first.setdefault((sample.dataset, sample.category), sample)
    return first


@torch.no_grad()
def rotated_reference_tokens(
    model: AnomalyGPTModel, reference: Sample, image_size: int
) -> list[torch.Tensor]:
    """The reference's patch tokens in four quarter-turns: per block ``(4, patches, width)``.

    ``rot90_img`` turns the normalised 224 × 224 tensor with kornia's ``rotate`` (reflection
    padding); for a square image a multiple of 90° moves whole pixels, which ``torch.rot90`` does
    exactly. The direction does not matter: the four turns form the same set either way.
    """
    parameter = next(model.parameters())
    image = to_tensor([image_array(reference, 224)], image_size)
    turned = torch.cat([torch.rot90(image, k, dims=(-2, -1)) for k in range(ROTATIONS)])
    return model.patch_tokens(turned.to(parameter.device, parameter.dtype))


def train_anomalygpt(
    model: AnomalyGPTModel,
    samples: Sequence[Sample],
    settings: TrainingSettings,
    workdir: Path,
    nsa: NSAOptions | None = None,
    stop_after_epoch: int | None = None,
    references: Mapping[tuple[str, str], Sample] | None = None,
) -> list[float]:
    """Train (or resume) in ``workdir``; returns the mean loss of each epoch run in this call.

    Args:
        model: The assembled model (its heads are trained in place).
        samples: Normal training images (the Train subset, Table II).
        settings: Schedule and seed.
        workdir: The training dir: ``checkpoint.pt`` after every epoch, ``pytorch_model.pt``
            (the trained heads, official key names) at the end.
        nsa: NSA parameters for every image; None: per image, as the official datasets do
            (:func:`nsa_options`).
        stop_after_epoch: Stop once this epoch is done (tests interrupt a training with it).
        references: Per (dataset, category), the normal image the few-shot batches compare
            with; a category not given takes :func:`first_normals` of ``samples``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    optimizer = torch.optim.AdamW(
        model.trainable_parameters(), lr=settings.lr, betas=settings.betas, eps=settings.eps,
        weight_decay=settings.weight_decay,
    )  # fmt: skip
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, settings.lr_factor)
    start = 0
    if (workdir / CHECKPOINT).is_file():
        state = torch.load(workdir / CHECKPOINT, weights_only=True)
        model.heads.load_state_dict(state["heads"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start = int(state["epoch"])
        logger.info("AnomalyGPT: resuming training after epoch %d/%d", start, settings.epochs)
    arrays = [image_array(s, 224) for s in samples]
    few_shot = _FewShotReferences(model, {**first_normals(samples), **(references or {})}, settings)
    losses = []
    model.train()
    for epoch in range(start, settings.epochs):
        rng = np.random.default_rng([settings.seed, epoch])
        torch.manual_seed(settings.seed * 100_003 + epoch)
        order = rng.permutation(len(samples))
        coin = np.random.default_rng([settings.seed, epoch, COIN_STREAM])
        total, steps, started = 0.0, 0, time.perf_counter()
        keep = (
            _SyntheticWriter(workdir / SYNTHETIC, settings.save_synthetic) if epoch == 0 else None
        )
        for first in range(0, len(order), settings.batch_size):
            indices = order[first : first + settings.batch_size]
            # One flip per batch, as random.randint(0, 1) == 0 in the official forward.
            shots = few_shot if int(coin.integers(0, 2)) == 0 else None
            loss = _step(
                model, optimizer, samples, arrays, indices, rng, nsa, settings, keep, shots
            )
            schedule.step()
            total, steps = total + loss, steps + 1
        losses.append(total / max(1, steps))
        # One line per epoch (50 by default): a training otherwise runs silent for hours.
        logger.info(
            "AnomalyGPT epoch %d/%d: loss %.4f (%d steps, %s)", epoch + 1, settings.epochs,
            losses[-1], steps, duration(time.perf_counter() - started),
        )  # fmt: skip
        _save(workdir / CHECKPOINT, model, optimizer, schedule, epoch + 1)
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
            break
    model.eval()
    if not stop_after_epoch or stop_after_epoch >= settings.epochs:
        torch.save(_heads_state(model), workdir / HEADS)
    return losses


def _step(
    model: AnomalyGPTModel,
    optimizer: torch.optim.Optimizer,
    samples: Sequence[Sample],
    arrays: Sequence[np.ndarray],
    indices: np.ndarray,
    rng: np.random.Generator,
    nsa: NSAOptions | None,
    settings: TrainingSettings,
    keep: _SyntheticWriter | None = None,
    few_shot: _FewShotReferences | None = None,
) -> float:
    images, masks, names, questions, answers = [], [], [], [], []
    batch: list[Sample] = []  # per example (an image and its NSA twin share their sample)
    for index in indices:
        source = arrays[(int(index) - 1) % len(arrays)]  # another training image
        sample = samples[index]
        synthetic = synthesize_anomaly(arrays[index], source, rng, nsa or nsa_options(sample))
        if keep is not None:
            keep(sample, synthetic)
        for image, mask, answer in (
            (arrays[index], np.zeros((224, 224), np.float32), NORMAL_ANSWER),
            (
                synthetic.image,
                synthetic.label,
                synthetic.answer if synthetic.boxes else NORMAL_ANSWER,
            ),
        ):
            images.append(image)
            masks.append(torch.from_numpy(np.asarray(mask, dtype=np.float32)))
            names.append(sample.category)
            questions.append(question(sample.dataset, sample.category, "train"))
            answers.append(answer)
            batch.append(sample)
    optimizer.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    loss, _ = model.loss(
        to_tensor(images, settings.image_size).to(device), names, questions, answers,
        torch.stack(masks).to(device),
        references=None if few_shot is None else [few_shot(s) for s in batch],
    )  # fmt: skip
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), settings.grad_clip)
    optimizer.step()
    return float(loss.detach())


class _FewShotReferences:
    """A sample's category reference tokens (four turns), computed once per category.

    The tower is frozen and has no dropout, so the tokens a training step would compute are the
    cached ones; a resumed training recomputes the same.
    """

    def __init__(
        self,
        model: AnomalyGPTModel,
        references: Mapping[tuple[str, str], Sample],
        settings: TrainingSettings,
    ) -> None:
        self.model, self.references, self.settings = model, references, settings
        self.tokens: dict[tuple[str, str], list[torch.Tensor]] = {}

    def __call__(self, sample: Sample) -> list[torch.Tensor]:
        key = (sample.dataset, sample.category)
        if key not in self.tokens:
            self.tokens[key] = rotated_reference_tokens(
                self.model, self.references[key], self.settings.image_size
            )
        return self.tokens[key]


class _SyntheticWriter:
    """Writes the first ``limit`` NSA examples: image and mask PNGs plus ``index.jsonl``."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit, self.count = folder, limit, 0

    def __call__(self, sample: Sample, synthetic: SyntheticAnomaly) -> None:
        if self.count >= self.limit:
            return
        import json

        from PIL import Image

        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self.count:04d}"
        Image.fromarray(synthetic.image).save(self.folder / f"{stem}.png")
        Image.fromarray((synthetic.mask * 255).astype(np.uint8)).save(
            self.folder / f"{stem}_mask.png"
        )
        answer = synthetic.answer if synthetic.boxes else NORMAL_ANSWER
        record = {"file": f"{stem}.png", "from": sample.id, "answer": answer,
                  "positions": list(synthetic.positions)}  # fmt: skip
        with (self.folder / "index.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self.count += 1


def _heads_state(model: AnomalyGPTModel) -> dict[str, torch.Tensor]:
    """``image_decoder.*`` and ``prompt_learner.*``: what the official ``save_model`` keeps."""
    return {
        key: value.detach().clone()
        for key, value in model.heads.state_dict().items()
        if key.startswith(("image_decoder.", "prompt_learner."))
    }


def _save(
    path: Path,
    model: AnomalyGPTModel,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
) -> None:
    tmp = path.with_suffix(".tmp")
    state = {
        "heads": model.heads.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "epoch": epoch,
    }
    torch.save(state, tmp)
    os.replace(tmp, path)

"""Building, training and running one anomalib model (heavy module: import lazily).

Training goes through anomalib's own ``Engine.fit`` (anomalib/engine/engine.py) on a DataLoader
of iadbench's samples (:mod:`.datamodule`). The model is built with its default pre-processor
at the bridge's input side and without the components that need what a one-class run does not
have or write outside the training dir: no post-processor (its normalisation is learnt from a
labelled validation set; :mod:`.scoring` says what replaces it), no evaluator (metrics are
iadbench's), no visualiser (it writes images on every predicted batch). The Engine runs
``barebones`` (Lightning's mode without checkpointing, logging or progress bars) with its root
dir inside the training dir, and the whole construction and fit run under a seeded, forked RNG.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import logging
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iadbench.contract.records import Sample

from .datamodule import sample_loader


@contextlib.contextmanager
def seeded(seed: int, device: str) -> Iterator[None]:
    """Torch's RNGs seeded inside, restored after (the caller's process state is untouched)."""
    cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Lightning's and anomalib's info lines and warnings silenced inside (restored after).

    A barebones ``Trainer`` announces itself, its hardware and tips on every ``fit``/``predict``
    (15 lines per category); the run's own progress lines say what happens.
    """
    # lightning_fabric and pytorch_lightning: the standalone packages anomalib also imports.
    names = ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric",
             "pytorch_lightning", "anomalib")  # fmt: skip
    loggers = [logging.getLogger(name) for name in names]
    levels = [log.level for log in loggers]
    # The coreset's tqdm bar (PatchCore's "Selecting Coreset Indices.", a module-level name in
    # anomalib/models/components/sampling/k_center_greedy.py) writes to stderr on every fit;
    # TQDM_DISABLE would not help (tqdm reads it when it is imported). Swapped for a disabled
    # bar inside, put back after.
    sampler = sys.modules.get("anomalib.models.components.sampling.k_center_greedy")
    bar = getattr(sampler, "tqdm", None)
    try:
        for log in loggers:
            log.setLevel(logging.ERROR)
        if sampler is not None and bar is not None:
            sampler.tqdm = functools.partial(bar, disable=True)  # type: ignore[attr-defined]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
        if sampler is not None and bar is not None:
            sampler.tqdm = bar  # type: ignore[attr-defined]


def build_model(
    model_class: str,
    arguments: Mapping[str, Any],
    side: int,
    seed: int,
    device: str,
    pre_processor_arguments: Mapping[str, Any] | None = None,
) -> Any:
    """Anomalib's ``model_class`` with ``arguments``, its default pre-processor at ``side``.

    ``pre_processor_arguments`` (the catalogue's ``tiny_pre_processor`` under ``--tiny``, sizes
    as tuples) replace the ``image_size`` the pre-processor gets: RAD also needs its centre-crop
    size, MH-PatchCore keeps its own 224.

    Returns:
        The ``AnomalibModule`` (on the CPU; :func:`engine_fit` and :func:`move` place it).
    """
    key = json.dumps(
        [model_class, dict(arguments), side, seed, device, dict(pre_processor_arguments or {})],
        sort_keys=True, default=repr,
    )  # fmt: skip
    if _PRISTINE.get("key") != key:
        _PRISTINE.clear()
        _PRISTINE.update(key=key, model=_construct(
            model_class, arguments, side, seed, device, pre_processor_arguments
        ))  # fmt: skip
    return copy.deepcopy(_PRISTINE["model"])


#: The last model :func:`build_model` constructed, untouched, and the key of its inputs. A run
#: builds the same seeded model once per category to fit, again to load each category's
#: weights and, few-shot, once per category's references; constructing one initialises its
#: backbone at random (timm's ResNet init: 0.1-0.2 s of CPU for a ResNet-18, most of a tiny
#: run), a copy costs a memory copy. The same key gives the same weights (seeded), so the
#: copy equals a fresh construction (test_zoo's reload test compares predictions).
_PRISTINE: dict[str, Any] = {}


def _construct(
    model_class: str,
    arguments: Mapping[str, Any],
    side: int,
    seed: int,
    device: str,
    pre_processor_arguments: Mapping[str, Any] | None,
) -> Any:
    with quiet():  # importing anomalib.models imports every model, some on deprecated paths
        import anomalib.models

    cls = getattr(anomalib.models, model_class)
    configure = cls.configure_pre_processor
    if pre_processor_arguments:
        pre_processor = configure(**{k: _tuple(v) for k, v in pre_processor_arguments.items()})
    elif "image_size" in inspect.signature(configure).parameters:
        pre_processor = configure(image_size=(side, side))
    else:  # a model whose pre-processor has a fixed size of its own
        pre_processor = configure()
    with seeded(seed, device):
        return cls(
            **arguments,
            pre_processor=pre_processor,
            post_processor=False,
            evaluator=False,
            visualizer=False,
        )


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def engine_arguments(device: str, root: Path, max_epochs: int | None = None) -> dict[str, Any]:
    """The ``Engine``'s trainer arguments: one device, barebones, rooted at ``root``.

    ``max_epochs``: the epoch count of an optimiser model (None: memory-bank models, whose
    ``trainer_arguments`` fix their own, which the Engine applies over ours).
    """
    epochs = {} if max_epochs is None else {"max_epochs": max_epochs}
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        hardware: dict[str, Any] = {"accelerator": "gpu", "devices": [index]}
    else:
        hardware = {"accelerator": "cpu", "devices": 1}
    return {**hardware, **epochs, "default_root_dir": root, "logger": False, "barebones": True}


def engine_fit(
    model: Any,
    samples: Sequence[Sample],
    *,
    side: int,
    batch_size: int,
    seed: int,
    device: str,
    root: Path,
    max_epochs: int | None = None,
) -> None:
    """Train ``model`` on ``samples`` through anomalib's ``Engine.fit``, then eval mode."""
    from anomalib.engine import Engine

    engine = Engine(**engine_arguments(device, root, max_epochs))
    with seeded(seed, device), quiet():
        engine.fit(model=model, train_dataloaders=sample_loader(samples, side, batch_size))
    model.to(device).eval()


def raw_outputs(model: Any, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw image scores ``(B,)`` and anomaly maps ``(B, H, W)`` of a batch of decoded images.

    The maps are None for a model that gives none (DFKDE, GANomaly: catalogue ``gives_maps``).

    What ``Engine.predict`` computes for the same batch: the pre-processor's transform
    (anomalib's ``PreProcessor.on_predict_batch_start``), then the torch model
    (``AnomalibModule.predict_step``), in inference mode.
    """
    with torch.inference_mode():
        device = next(model.parameters()).device
        batch = images.to(device)
        pre = model.pre_processor
        if pre is not None and pre.transform is not None:
            batch = pre.transform(batch)
        output = model.model(batch)
        size = len(images)
        scores = output.pred_score.reshape(size, -1)[:, 0].float().cpu().numpy()
        if output.anomaly_map is None:
            return scores, None
        maps = output.anomaly_map.reshape(size, *output.anomaly_map.shape[-2:])
        return scores, maps.float().cpu().numpy()


def save_weights(model: Any, path: Path) -> None:
    """The model's whole state (weights, memory bank, statistics, ``_is_fitted``)."""
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save(state, path)


def load_weights(model: Any, path: Path, device: str) -> Any:
    """``model`` with the state :func:`save_weights` wrote, on ``device``, in eval mode.

    anomalib's memory-bank and Gaussian buffers start empty and take the stored shapes on load
    (``DynamicBufferMixin``, anomalib/models/components/base/dynamic_buffer.py).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()


def resized(maps: np.ndarray, side: int) -> np.ndarray:
    """Maps ``(B, h, w)`` resized bilinearly to ``side × side``."""
    from torch.nn import functional

    tensor = torch.from_numpy(maps).unsqueeze(1)
    out = functional.interpolate(tensor, size=(side, side), mode="bilinear", align_corners=False)
    result: np.ndarray = out.squeeze(1).numpy()
    return result

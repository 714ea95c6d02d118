"""The ``lr-iad`` method adapter: GRPO-trained LoRA on Qwen2-VL, evaluated as Qwen2-VL + adapter.

Importing this module is cheap (``iadbench list`` does it): trl, peft and torch are imported
when training starts or the model is first needed.

See Also:
    ``methods/lr_iad/README.md`` for the defaults, multi-GPU training, DeepSpeed and resuming.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from iadbench.contract import console_logging
from iadbench.contract.demos import DemoSetup
from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import Capabilities
from iadbench.contract.records import Sample

from ..qwen2vl.adapter import WARM_START_TOKENS, Qwen2VL
from .config import LRIADOptions
from .rewards import Gather

logger = logging.getLogger(__name__)


class LRIAD(Qwen2VL):
    r"""LR-IAD: Qwen2-VL + LoRA trained with GRPO (format + focal rewards), answering A/B.

    Training (``fit``): trl's ``GRPOTrainer`` samples ``num_generations`` answers per training
    image to the paper's prompt and rewards each with a format reward (1 for exactly
    ``<think>…</think> <answer>…</answer>``) plus a focal reward ``c·α·(1−p)^γ·f(y)`` (``c``: the
    strictly parsed answer is right; ``p``: the share of right answers in the image's group,
    gathered across processes; ``f``: inverse class frequency); LoRA r 4 / alpha 16 / dropout 0.1
    on q_proj and v_proj, KL-regularised (β 0.04). Defaults live in ``grpo_defaults.toml``. The
    adapter is stored under the run's training hash and reused; an interrupted training resumes
    from its last checkpoint. ``--set adapter=PATH`` evaluates a given adapter without training.

    Evaluation: the base model with the adapter merged, through the ``qwen2-vl`` path (same
    prompt, greedy decoding, same strict parser, full texts stored).

    Paper: "LR-IAD: Mask-Free Industrial Anomaly Detection with Logical Reasoning", arXiv
    2504.19524, https://arxiv.org/abs/2504.19524

    Example:
        >>> from iadbench import RunContext
        >>> context = RunContext(tiny=True, device="cpu")
        >>> adapter = LRIAD(LRIADOptions(max_steps=2, num_generations=2), context=context)
        >>> adapter.capabilities.trains, adapter.options.lora_r
        (True, 4)

        From the command line::

            iadbench train --method lr-iad --train visa
            iadbench run --method lr-iad --train visa --test mvtec
            torchrun --nproc_per_node 4 -m iadbench train --method lr-iad --train visa \
                --set deepspeed=zero3

    See Also:
        - :func:`iadbench_methods.lr_iad.training.train_lr_iad`: the training stage.
        - :mod:`iadbench_methods.lr_iad.rewards`: the rewards.
        - :class:`iadbench_methods.qwen2vl.Qwen2VL`: the inference path reused.
    """

    capabilities = Capabilities(
        needs_pixels=True,
        trains=True,
        needs_both_labels=True,
        gives_text=True,
        prefers_gpu=True,
        builds_models=True,
    )
    Options: ClassVar[type] = LRIADOptions
    # Field metadata of LRIADOptions (iadbench.contract.options.option): only the answer length,
    # where
    # logs go and when the monitor warns are inference-only (everything else keys the stored
    # adapter); --tiny sets a two-step GRPO schedule on four images (two more held out for the
    # monitor, checked at every step), so demos and tests train in seconds.
    # 2: predictions carry P(defect) at the answer letter (the qwen2-vl path's version 2). The
    # version keys the stored adapter too, so adapters trained under version 1 train again.
    version: ClassVar[str] = "2"

    @classmethod
    def demo_setup(cls, cache_dir: Path) -> DemoSetup:
        """Qwen2-VL's demo setup (the format-only warm start); GRPO samples whole answers."""
        setup = super().demo_setup(cache_dir)
        options = {**setup.options, "max_completion_length": str(WARM_START_TOKENS)}
        return replace(setup, options=options)

    def setup(self) -> None:
        """The Qwen2-VL setup, plus what training records and the test hooks."""
        super().setup()
        self.options: LRIADOptions
        self.training: dict[str, Any] | None = None
        # Test hooks (never options: they do not enter the hash): more rewards, callbacks,
        # the focal reward's cross-process gather.
        self.extra_rewards: Sequence[Callable[..., list[float]]] = ()
        self.callbacks: Sequence[Any] = ()
        self.gather: Gather | None = None

    @classmethod
    def training_subset(cls, samples: Sequence[Sample], options: Any, seed: int) -> list[Sample]:
        """What GRPO trains on: the subset less the monitor's slice, capped (stratified)."""
        from .data import trained_subset

        return trained_subset(
            samples, max_samples=options.max_train_samples, heldout=options.monitor_samples,
            seed=seed,
        )[0]  # fmt: skip

    def fit(self, samples: Sequence[Sample]) -> None:
        """Train a LoRA adapter on ``samples`` and store it in ``context.workdir``.

        The runner calls this once per training configuration (content-hashed: options,
        training data, seed) and :meth:`load` every later time; an interrupted training resumes
        from its last checkpoint in the workdir. Not called when ``--set adapter=PATH`` names an
        adapter (``replaces_training``): it is evaluated as given.
        """
        from . import training

        result = training.train_lr_iad(
            samples, self.options, model_source=self.model_source,
            workdir=self.context.training_dir(), seed=self.context.seed,
            device=self.context.device, precision=self.precision, attention=self.attention,
            extra_rewards=self.extra_rewards, callbacks=self.callbacks,
            gather=self.gather, verbose=console_logging.verbose(),
        )  # fmt: skip
        self.training = {
            "trained": True,
            "global_step": result.global_step,
            "resumed_from": result.resumed_from,
            "seconds": round(result.seconds, 3),
            "processes": result.processes,
            "data": result.data,
            "monitor": result.monitor[-1] if result.monitor else None,
            "best_step": result.best_step,
        }
        self.adapter_dir = str(result.adapter_dir)
        self._loaded = None  # a model loaded before fit would lack the adapter

    def load(self) -> None:
        """Use the adapter a finished :meth:`fit` stored in ``context.workdir``.

        Raises:
            IADBenchError: The workdir holds no finished adapter (``DONE`` missing).
        """
        from . import training

        workdir = self.context.training_dir()
        stored = training.finished_adapter(workdir)
        if stored is None:
            raise IADBenchError(
                f"{workdir} is marked trained but holds no finished LR-IAD adapter (no DONE); "
                "delete that folder to train again"
            )
        self.training = {"trained": False, "reused": str(stored)}
        self.adapter_dir = str(stored)
        self._loaded = None

    def describe(self) -> dict[str, Any]:
        """The Qwen2-VL facts plus the training configuration and what fit did."""
        opts = self.options
        return {
            **super().describe(),
            "training": self.training,
            "grpo": {
                "num_generations": opts.num_generations,
                "per_device_train_batch_size": opts.per_device_train_batch_size,
                "gradient_accumulation_steps": opts.gradient_accumulation_steps,
                "beta": opts.beta,
                "loss_type": opts.loss_type,
                "scale_rewards": opts.scale_rewards,
                "learning_rate": opts.learning_rate,
                "max_completion_length": opts.max_completion_length,
                "focal": {
                    "alpha": opts.focal_alpha,
                    "gamma": opts.focal_gamma,
                    "class_weighting": opts.class_weighting,
                },
                "lora": {
                    "r": opts.lora_r,
                    "alpha": opts.lora_alpha,
                    "dropout": opts.lora_dropout,
                    "targets": opts.target_modules(),
                },
                "deepspeed": opts.deepspeed,
            },
        }

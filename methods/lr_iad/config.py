"""LR-IAD's options: the defaults file, the options dataclass, the trl and peft configurations.

``grpo_defaults.toml`` (beside this module) is the one documented file of training defaults;
its keys become fields of :class:`LRIADOptions` with the file's values as defaults, so
``iadbench list lr-iad --options`` shows them, ``--set KEY=VALUE`` overrides them, and every
resolved value enters the run's content hash (the adapter is stored under it). The evaluation
options (``model``, ``adapter``, ``max_pixels``, ``precision``...) are inherited from the
``qwen2-vl`` method, whose inference path LR-IAD reuses; ``max_pixels``, ``precision`` and
``attn_implementation`` apply to training too.

Importing this module reads the TOML file only (no torch): planning a run stays cheap.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524

See Also:
    ``methods/lr_iad/README.md``: every default and why; :mod:`iadbench_methods.lr_iad.training`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from iadbench.contract.options import OptionError, option

from ..qwen2vl.adapter import Qwen2VLOptions

if TYPE_CHECKING:
    from peft import LoraConfig
    from trl import GRPOConfig

DEFAULTS_FILE = Path(__file__).with_name("grpo_defaults.toml")
ZERO3_FILE = Path(__file__).with_name("deepspeed_zero3.json")


def load_defaults(path: Path = DEFAULTS_FILE) -> dict[str, Any]:
    """The defaults file as one flat ``{key: value}`` dict (sections are for reading only).

    Raises:
        ValueError: A key appears in two sections.

    Example:
        >>> load_defaults()["lora_r"], load_defaults()["num_generations"]
        (4, 4)
    """
    flat: dict[str, Any] = {}
    for section, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
        for key, value in table.items() if isinstance(table, dict) else [(section, table)]:
            if key in flat:
                raise ValueError(f"{path.name}: key {key!r} appears twice")
            flat[key] = value
    return flat


_D = load_defaults()
_AT_LEAST_ONE = (
    "lora_r", "per_device_train_batch_size", "gradient_accumulation_steps", "save_steps",
    "logging_steps", "num_iterations", "max_completion_length", "monitor_every",
)  # fmt: skip
# Choice options: name → accepted values (checked while planning, named in the message).
_CHOICES: dict[str, tuple[str, ...]] = {
    "scale_rewards": ("group", "batch", "none"),
    "class_weighting": ("inverse-frequency", "none"),
    "loss_span": ("completion", "answer"),
    "reward": ("focal", "accuracy"),
    "focal_p": ("answer", "group"),
    "focal_p_space": ("pair", "vocabulary"),
    "focal_wrong": ("zero", "penalty"),
}


@dataclass(frozen=True)
class LRIADOptions(Qwen2VLOptions):
    """Options of ``lr-iad`` (``--set KEY=VALUE``); defaults from ``grpo_defaults.toml``.

    Inherits the inference options of ``qwen2-vl`` (``model`` is also the base model trained,
    ``adapter`` = a trained LoRA adapter to evaluate without training). The training options keep
    trl's / peft's names; ``grpo_defaults.toml`` says for each whether the paper states it.

    Attributes:
        lora_r: LoRA rank. lora_alpha: LoRA alpha. lora_dropout: LoRA dropout.
        lora_target_modules: Comma-separated module names LoRA wraps.
        per_device_train_batch_size: COMPLETIONS per device and micro-step (trl 1.16 counts
            completions): 4 = one image × ``num_generations`` 4.
        gradient_accumulation_steps: Micro-steps per optimiser step.
        num_generations: Completions per image (the GRPO group size).
        num_train_epochs: Epochs. max_steps: Step cap (-1: none).
        learning_rate: AdamW learning rate. lr_scheduler_type: Schedule name.
        warmup_steps: Warm-up (< 1: share of the steps). weight_decay, max_grad_norm: AdamW.
        save_steps: Checkpoint interval. save_total_limit: Checkpoints kept (0: all).
        logging_steps: Logging interval (TensorBoard and console).
        beta: KL weight. loss_type: trl loss aggregation. scale_rewards: group, batch or none.
        num_iterations, epsilon: Policy updates per generation batch, PPO clip.
        max_completion_length: Token cap of a sampled completion.
        temperature, top_p, top_k, repetition_penalty: Sampling of the rollouts.
        mask_truncated_completions, disable_dropout, gradient_checkpointing: trl switches.
        loss_span: ``completion`` (trl's policy loss) or ``answer`` (non-paper: the loss only on
            the ``<answer>…</answer>`` tokens).
        reward: ``focal`` (format + focal, the paper) or ``accuracy`` (format + 0/1 accuracy).
        focal_p: ``answer`` (the policy's probability of the correct letter, per completion) or
            ``group`` (the group's hit rate; cancels under group scaling).
        focal_p_space: ``pair`` (renormalised over the A/B tokens) or ``vocabulary``.
        focal_wrong: ``zero`` or ``penalty`` (a wrong answer earns ``−α(1−p)^γ f``).
        focal_alpha, focal_gamma: α and γ of the focal reward.
        class_weighting: ``inverse-frequency`` (f(y) = N/(2·N_y)) or ``none`` (f = 1).
        max_train_samples: 0 = all training images, N = a seeded subset of N, stratified by
            label and category (both labels when N ≥ 2).
        flip_training_labels: Negative control: train on swapped labels.
        monitor_samples: Training images held out for the monitor (0: no monitor).
        monitor_every: Steps between monitor evaluations.
        monitor_warn_after: Step from which the monitor warns about chance-level accuracy or
            falling format validity.
        keep_best: Store the adapter with the best held-out balanced accuracy, not the last.
        report_to: Logger trl reports to (``tensorboard``, ``none``, ``wandb``...).
        deepspeed: None, ``zero3`` (the shipped ZeRO-3 config) or a DeepSpeed JSON path; GPU
            only, under ``torchrun`` / ``accelerate launch``.
    """

    lora_r: int = _D["lora_r"]
    lora_alpha: int = _D["lora_alpha"]
    lora_dropout: float = _D["lora_dropout"]
    lora_target_modules: str = _D["lora_target_modules"]
    per_device_train_batch_size: int = option(_D["per_device_train_batch_size"], tiny="2")
    gradient_accumulation_steps: int = _D["gradient_accumulation_steps"]
    num_generations: int = option(_D["num_generations"], tiny="2")
    num_train_epochs: float = _D["num_train_epochs"]
    max_steps: int = option(_D["max_steps"], tiny="2")
    learning_rate: float = _D["learning_rate"]
    lr_scheduler_type: str = _D["lr_scheduler_type"]
    warmup_steps: float = _D["warmup_steps"]
    weight_decay: float = _D["weight_decay"]
    max_grad_norm: float = _D["max_grad_norm"]
    save_steps: int = _D["save_steps"]
    save_total_limit: int = _D["save_total_limit"]
    logging_steps: int = _D["logging_steps"]
    beta: float = _D["beta"]
    loss_type: str = _D["loss_type"]
    scale_rewards: Literal["group", "batch", "none"] = _D["scale_rewards"]
    num_iterations: int = _D["num_iterations"]
    epsilon: float = _D["epsilon"]
    max_completion_length: int = option(_D["max_completion_length"], tiny="8")
    temperature: float = _D["temperature"]
    top_p: float = _D["top_p"]
    top_k: int = _D["top_k"]
    repetition_penalty: float = _D["repetition_penalty"]
    mask_truncated_completions: bool = _D["mask_truncated_completions"]
    disable_dropout: bool = _D["disable_dropout"]
    gradient_checkpointing: bool = _D["gradient_checkpointing"]
    loss_span: Literal["completion", "answer"] = _D["loss_span"]
    reward: Literal["focal", "accuracy"] = _D["reward"]
    focal_p: Literal["answer", "group"] = _D["focal_p"]
    focal_p_space: Literal["pair", "vocabulary"] = _D["focal_p_space"]
    focal_wrong: Literal["zero", "penalty"] = _D["focal_wrong"]
    focal_alpha: float = _D["focal_alpha"]
    focal_gamma: float = _D["focal_gamma"]
    class_weighting: Literal["inverse-frequency", "none"] = _D["class_weighting"]
    max_train_samples: int = option(_D["max_train_samples"], tiny="4")
    flip_training_labels: bool = _D["flip_training_labels"]
    monitor_samples: int = option(_D["monitor_samples"], tiny="2")
    monitor_every: int = option(_D["monitor_every"], tiny="1")
    monitor_warn_after: int = option(_D["monitor_warn_after"], inference_only=True)
    keep_best: bool = _D["keep_best"]
    report_to: str = option("tensorboard", inference_only=True)
    deepspeed: str | None = None

    def __post_init__(self) -> None:
        # A float given as an int (TOML ``1``, ``--set x=1`` gives 1.0) must hash alike.
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, spec.name, float(value))
        # Fail while the run is planned, not after a 7B model has been loaded.
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise OptionError(f"option {name} must be at least 1, got {getattr(self, name)}")
        if self.num_generations < 2:
            raise OptionError("option num_generations must be at least 2 (GRPO compares a group)")
        if self.max_steps == 0 or self.max_steps < -1:
            raise OptionError(f"option max_steps must be -1 or positive, got {self.max_steps}")
        if self.temperature <= 0 or self.num_train_epochs <= 0:
            raise OptionError("options temperature, num_train_epochs must be > 0")
        if self.learning_rate < 0:  # 0 = frozen adapter, the negative control
            raise OptionError(f"option learning_rate must be ≥ 0, got {self.learning_rate}")
        if self.monitor_samples < 0 or self.monitor_warn_after < 0:
            raise OptionError("options monitor_samples, monitor_warn_after must be ≥ 0")
        if min(self.beta, self.focal_alpha, self.focal_gamma, self.lora_dropout) < 0:
            raise OptionError("options beta, focal_alpha, focal_gamma, lora_dropout must be ≥ 0")
        if not self.target_modules():
            raise OptionError("option lora_target_modules names no module")
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise OptionError(
                    f"option {name} must be one of {', '.join(choices)}, got {value!r}"
                )
        if self.keep_best and not self.monitor_samples:
            raise OptionError("option keep_best needs the monitor (monitor_samples > 0)")
        if self.deepspeed is not None:
            deepspeed_config(self.deepspeed)

    def target_modules(self) -> list[str]:
        """``lora_target_modules`` as a list.

        Example:
            >>> LRIADOptions().target_modules()
            ['q_proj', 'v_proj']
        """
        return [m.strip() for m in self.lora_target_modules.split(",") if m.strip()]


def _checkpointing(config_cls: type, enabled: bool) -> dict[str, Any]:
    """Gradient checkpointing under the name this transformers knows.

    transformers 5.2x renamed it ``activation_checkpointing``; the old name still works there but
    warns, and older versions know only the old one.
    """
    if "activation_checkpointing" in {f.name for f in fields(config_cls)}:
        return {"activation_checkpointing": enabled, "gradient_checkpointing": None}
    return {"gradient_checkpointing": enabled}


def deepspeed_config(value: str | None) -> str | None:
    """The DeepSpeed JSON file of the ``deepspeed`` option: ``zero3`` = the shipped one.

    Raises:
        OptionError: A path that is not an existing file.

    Example:
        >>> Path(deepspeed_config("zero3")).name
        'deepspeed_zero3.json'
    """
    if value in (None, "", "none"):
        return None
    if value == "zero3":
        return str(ZERO3_FILE)
    path = Path(value).expanduser()
    if not path.is_file():
        raise OptionError(f"option deepspeed must be zero3 or a DeepSpeed JSON file, got {value!r}")
    return str(path.resolve())


def lora_config(options: LRIADOptions) -> LoraConfig:
    """The peft LoRA configuration (paper: r 4, alpha 16, dropout 0.1, q_proj + v_proj)."""
    from peft import LoraConfig

    return LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=options.target_modules(),
        bias="none",
        task_type="CAUSAL_LM",
    )


def grpo_config(
    options: LRIADOptions, *, output_dir: Path, seed: int, device: str, precision: str
) -> GRPOConfig:
    """The trl ``GRPOConfig``, with every default that drifted between trl versions set explicitly.

    Creating it sets up accelerate's process state (joining the process group under torchrun),
    so it comes before the model is loaded; with DeepSpeed ZeRO-3 this also makes the loading
    partition the weights.

    Args:
        options: The resolved options.
        output_dir: Where checkpoints go (``<workdir>/checkpoints``).
        seed: The run's seed (sampling, LoRA initialisation, data order).
        device: A resolved device: ``cpu`` sets ``use_cpu``.
        precision: A resolved precision: ``bf16`` / ``fp16`` switch mixed precision on.

    Raises:
        OptionError: DeepSpeed asked for on the CPU.
    """
    from trl import GRPOConfig

    on_cpu = device == "cpu"
    deepspeed = deepspeed_config(options.deepspeed)
    if deepspeed is not None and on_cpu:
        raise OptionError("option deepspeed needs CUDA GPUs; leave it unset on the CPU")
    return GRPOConfig(
        output_dir=str(output_dir),
        use_cpu=on_cpu,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        seed=seed,
        data_seed=seed,
        per_device_train_batch_size=options.per_device_train_batch_size,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        num_generations=options.num_generations,
        num_train_epochs=options.num_train_epochs,
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        lr_scheduler_type=options.lr_scheduler_type,
        warmup_steps=options.warmup_steps,
        weight_decay=options.weight_decay,
        max_grad_norm=options.max_grad_norm,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=options.save_total_limit or None,
        logging_strategy="steps",
        logging_steps=options.logging_steps,
        logging_first_step=True,
        report_to=[] if options.report_to == "none" else [options.report_to],
        disable_tqdm=False,
        beta=options.beta,
        loss_type=options.loss_type,
        scale_rewards=options.scale_rewards,
        multi_objective_aggregation="sum_then_normalize",
        reward_weights=None,
        num_iterations=options.num_iterations,
        epsilon=options.epsilon,
        max_completion_length=options.max_completion_length,
        temperature=options.temperature,
        top_p=options.top_p,
        top_k=options.top_k,
        min_p=None,
        repetition_penalty=options.repetition_penalty,
        mask_truncated_completions=options.mask_truncated_completions,
        disable_dropout=options.disable_dropout,
        **_checkpointing(GRPOConfig, options.gradient_checkpointing),
        remove_unused_columns=False,  # the rewards read label, sample_id, class_weight
        shuffle_dataset=True,
        dataloader_num_workers=0,
        log_completions=False,
        use_vllm=False,
        deepspeed=deepspeed,
        push_to_hub=False,
    )

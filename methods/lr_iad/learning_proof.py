"""The learning proof: LR-IAD's real training path learns a task on 2 CPU cores, and only then.

Three trainings of the same warm start (:func:`~iadbench_methods.lr_iad.learning_task.
warm_start_dir`, which answers in format at chance) on the same toy task
(:func:`~iadbench_methods.lr_iad.learning_task.write_task_dataset`: a dark square or not),
through exactly what ``iadbench train --method lr-iad`` runs (runner, adapter, trl, rewards,
held-out monitor), differing in one setting each:

- ``true``: the rewards as shipped: held-out balanced accuracy must rise well above 0.5 and the
  answer-letter gap (mean ``log p(A) − log p(B)`` on defect minus normal images) must grow;
- ``inverted`` (``flip_training_labels=true``): rewards for the wrong letter: accuracy must fall
  below 0.5 and the gap turn negative;
- ``frozen`` (``learning_rate=0``): every step runs, nothing may move: accuracy and gap stay.

"Before" and "after" are the monitor's first and last evaluations of its held-out slice (images
of the task left out of training, true labels, greedy, strict parser). The settings
(:data:`PROOF_OPTIONS`) are tiny-scale values, not the paper's 7B defaults; each is documented
in ``methods/lr_iad/README.md`` with the figures it was chosen on.

Run it: ``iadbench demo --learn`` (prints the before/after table: :func:`demo`, declared in the
``iadbench.demos`` entry-point group), or :func:`run_learning_proof` from Python;
``tests/methods/lr_iad/test_lr_iad_learning_proof.py`` holds it to thresholds.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.contract.demos import DemoTable

from .learning_task import warm_start_dir, write_task_dataset

DATASET_NAME = "learn"
TASK_SEED = 1
TASK_PER_CLASS = 160  # 320 images: 64 held out for the monitor, 256 trained on
# Tiny-scale training settings (README: "The learning proof" says why each).
PROOF_OPTIONS: dict[str, str] = {
    "max_steps": "100",
    "per_device_train_batch_size": "32",  # completions: 8 images × 4 per optimiser step
    "gradient_accumulation_steps": "1",
    "num_generations": "4",
    "learning_rate": "5e-3",
    "lr_scheduler_type": "constant",
    "max_grad_norm": "1e-3",
    "top_p": "0.9",
    "disable_dropout": "true",
    "max_completion_length": "32",  # the warm start writes 19 tokens
    "gradient_checkpointing": "false",
    "save_steps": "1000",  # no checkpoint: nothing to resume in 100 fast steps
    "monitor_samples": "64",
    "monitor_every": "25",
    "max_pixels": str(112 * 112),  # the task's images: 16 visual tokens
}
VARIANTS: dict[str, dict[str, str]] = {
    "true": {},
    "inverted": {"flip_training_labels": "true"},
    "frozen": {"learning_rate": "0"},
}


@dataclass(frozen=True)
class ProofRow:
    """One training of the proof.

    Attributes:
        variant: ``true``, ``inverted`` or ``frozen``.
        seed: The run's seed (LoRA init, sampling, data order, held-out slice).
        before: The monitor's first evaluation (``HeldOutScores`` as a dict).
        after: Its last evaluation.
        steps: Optimiser steps trained.
        seconds: Training wall time (of the stored training, when it was reused).
        workdir: Where the training lives.
    """

    variant: str
    seed: int
    before: dict[str, Any]
    after: dict[str, Any]
    steps: int
    seconds: float
    workdir: Path

    @property
    def gain(self) -> float:
        """Held-out balanced accuracy after minus before."""
        return float(self.after["balanced_accuracy"] - self.before["balanced_accuracy"])

    @property
    def gap_change(self) -> float | None:
        """Answer-letter gap after minus before (None when either is unknown)."""
        a, b = self.after["letter_gap"], self.before["letter_gap"]
        return None if a is None or b is None else a - b


def run_learning_proof(
    workdir: Path,
    *,
    seeds: Sequence[int] = (0,),
    variants: Sequence[str] = tuple(VARIANTS),
    warm_variant: str = "blind",
    overrides: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[ProofRow]:
    """Train every variant for every seed on the toy task; return the before/after rows.

    Args:
        workdir: Where the task dataset is written.
        seeds: Run seeds.
        variants: Names from :data:`VARIANTS`.
        warm_variant: The warm start's think text: ``blind`` (default) or ``sighted``.
        overrides: Options replacing :data:`PROOF_OPTIONS` values (studies).
        cache_dir: iadbench cache (warm start, trained adapters); default the user's.
        log: Where progress lines go.

    Returns:
        One :class:`ProofRow` per seed and variant, in that order.

    Raises:
        ValueError: An unknown variant.
    """
    import iadbench

    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {sorted(VARIANTS)}")
    root = write_task_dataset(Path(workdir) / "task", per_class=TASK_PER_CLASS, seed=TASK_SEED)
    warm = warm_start_dir(cache_dir, variant=warm_variant)
    rows: list[ProofRow] = []
    for seed in seeds:
        for variant in variants:
            log(f"learning proof: {variant} rewards, seed {seed}")
            options = {**PROOF_OPTIONS, **(overrides or {}), **VARIANTS[variant]}
            trained = iadbench.train(
                "lr-iad", DATASET_NAME, train_split="all", options={**options, "model": str(warm)},
                seed=seed, device="cpu", data={DATASET_NAME: root}, cache_dir=cache_dir,
            )  # fmt: skip
            summary = json.loads((trained / "training_summary.json").read_text(encoding="utf-8"))
            history = summary["monitor"]
            rows.append(
                ProofRow(
                    variant=variant,
                    seed=seed,
                    before=history[0],
                    after=history[-1],
                    steps=summary["global_step"],
                    seconds=summary["seconds"],
                    workdir=trained,
                )  # fmt: skip
            )
    return rows


def render_table(rows: Sequence[ProofRow]) -> str:
    """The before/after table as GitHub markdown (tabulate).

    Example:
        >>> render_table([]).splitlines()[1]
        '|---|---|---|---|---|---|---|---|---|---|'
    """
    from tabulate import tabulate

    headers = [
        "rewards", "seed", "steps", "bal. acc. before", "after", "change", "gap before",
        "after", "invalid after", "seconds",
    ]  # fmt: skip
    if not rows:
        return "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)

    def gap(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.2f}"

    body = [
        [
            row.variant,
            row.seed,
            row.steps,
            f"{row.before['balanced_accuracy']:.3f}",
            f"{row.after['balanced_accuracy']:.3f}",
            f"{row.gain:+.3f}",
            gap(row.before["letter_gap"]),
            gap(row.after["letter_gap"]),
            f"{row.after['invalid_rate']:.3f}",
            f"{row.seconds:.0f}",
        ]  # fmt: skip
        for row in rows
    ]
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


def demo(
    workdir: Path,
    *,
    seeds: Sequence[int] = (0,),
    cache_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> DemoTable:
    """``iadbench demo --learn``: every variant per seed; writes ``TABLE.md`` in ``workdir``.

    Returns:
        The short before/after table the command prints (the markdown file has every column).
    """
    rows = run_learning_proof(workdir, seeds=seeds, cache_dir=cache_dir, log=log)
    written = Path(workdir) / "TABLE.md"
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(render_table(rows) + "\n", encoding="utf-8")

    def gap(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.2f}"

    return DemoTable(
        title="LR-IAD learning proof: held-out balanced accuracy and letter gap",
        headers=("rewards", "seed", "bal-acc before", "after", "gap before", "after", "s"),
        rows=[
            (
                row.variant,
                str(row.seed),
                f"{row.before['balanced_accuracy']:.3f}",
                f"{row.after['balanced_accuracy']:.3f}",
                gap(row.before["letter_gap"]),
                gap(row.after["letter_gap"]),
                f"{row.seconds:.0f}",
            )
            for row in rows
        ],
        written=written,
    )

"""Held-out monitor of LR-IAD's GRPO training: does the policy learn to tell defects apart?

Training rewards come from sampled completions of the very images trained on, so they also rise
when the policy only learns the format. :class:`HeldOutMonitor` answers a fixed slice of images
left out of training as evaluation does (same prompt, greedy, strict parser) at the start, every
``every`` steps and at the end: balanced accuracy (an invalid answer counts as wrong) with a 95 %
interval, per-class accuracy, invalid rate, and the letter gap (mean ``log p(A) − log p(B)`` at
the answer letter over defect images minus over normal ones: it grows when the letter starts to
depend on the image, usually before greedy answers flip). One console line, TensorBoard scalars,
warnings, optionally the adapter with the best balanced accuracy.

**Interval**: the Wilson score interval of the balanced accuracy at its effective sample size
``n_eff = k² / Σ_c 1/n_c`` (k classes present; ``2·n_c`` for two classes of ``n_c`` images):
the variance of a mean of k proportions that all equal the balanced accuracy. As ``p(1 − p)`` is
concave it is never narrower than the delta-method variance for balanced classes, and unlike a
Wald interval it stays sensible at 0 and 1.

``HeldOutMonitor`` subclasses transformers' ``TrainerCallback``, whose import pulls in torch and
peft (seconds): it is built on first access (PEP 562), so the pure parts import light.

Paper: LR-IAD, arXiv 2504.19524, https://arxiv.org/abs/2504.19524 (the monitor is not in it).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iadbench.contract.images import load_rgb
from iadbench.contract.records import DEFECT, INVALID, LABELS, NORMAL, Sample

from ..qwen2vl.answers import parse_answer
from ..qwen2vl.chat import category_chat_text, encode_chat, greedy_generate
from ..qwen2vl.prompt import DEFAULT_PROMPT
from .progress import console_line

Z95 = 1.959963984540054
FORMAT_DROP = 0.05  # rise of the invalid rate over the first evaluation's that warns
SCORES_NAME = "heldout_scores.json"  # beside the best adapter: the scores it was kept for
HINT = (
    "check learning_rate, max_grad_norm, beta, num_generations and whether rewards vary "
    "(frac_reward_zero_std); see methods/lr_iad/README.md"
)


@dataclass(frozen=True)
class HeldOutScores:
    """One held-out evaluation (JSON-ready with ``dataclasses.asdict``).

    Attributes:
        step: Global step evaluated at. n: Images evaluated.
        accuracy: Share strictly correct per class present (``defect``, ``normal``).
        balanced_accuracy: Mean of ``accuracy``'s values.
        interval: 95 % Wilson interval of ``balanced_accuracy`` (module docstring).
        invalid_rate: Share of answers the strict parser rejects.
        letter_gap: Defect minus normal mean of ``log p(A) − log p(B)`` at the answer letter
            (images with a parsed answer only); None when a class has none.
        seconds: Wall time of the evaluation.

    Example:
        >>> s = scores_from(["defect", "normal"], ["defect", "invalid"], [1.0, None], step=5)
        >>> s.balanced_accuracy, s.invalid_rate, s.letter_gap
        (0.5, 0.5, None)
    """

    step: int
    n: int
    accuracy: dict[str, float]
    balanced_accuracy: float
    interval: tuple[float, float]
    invalid_rate: float
    letter_gap: float | None
    seconds: float

    def line(self) -> str:
        """One console line, ≤ 100 characters up to step 9999 and 999 s (``n`` is not in it).

        Example:
            >>> scores_from(["defect"], ["defect"], [1.5], step=50, seconds=3.14).line()
            'monitor 50 | bal-acc 1.00 [0.21,1.00] | defect 1.00 | invalid 0.00 | gap n/a | 3.1s'
        """
        classes = " ".join(f"{label} {value:.2f}" for label, value in self.accuracy.items())
        gap = "n/a" if self.letter_gap is None else f"{self.letter_gap:+.2f}"
        low, high = self.interval
        seconds = f"{self.seconds:.1f}s" if self.seconds < 100 else f"{self.seconds:.0f}s"
        return (
            f"monitor {self.step} | bal-acc {self.balanced_accuracy:.2f} [{low:.2f},{high:.2f}] | "
            f"{classes} | invalid {self.invalid_rate:.2f} | gap {gap} | {seconds}"
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> HeldOutScores:
        """The scores of ``dataclasses.asdict`` output read back from JSON (a list interval)."""
        return cls(**{**values, "interval": tuple(values["interval"])})

    def scalars(self) -> dict[str, float]:
        """TensorBoard scalars by tag (``monitor/letter_gap`` only when known)."""
        values = {"monitor/balanced_accuracy": self.balanced_accuracy}
        values |= {f"monitor/accuracy_{label}": v for label, v in self.accuracy.items()}
        values["monitor/invalid_rate"] = self.invalid_rate
        if self.letter_gap is not None:
            values["monitor/letter_gap"] = self.letter_gap
        return values


def wilson_interval(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` over ``n`` (possibly fractional) trials.

    Example:
        >>> [round(x, 3) for x in wilson_interval(0.5, 20)]
        [0.299, 0.701]
    """
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def scores_from(
    labels: Sequence[str],
    predictions: Sequence[str],
    log_odds: Sequence[float | None],
    *,
    step: int,
    seconds: float = 0.0,
) -> HeldOutScores:
    """The scores of parsed answers (``defect``/``normal``/``invalid``) against ``labels``.

    ``log_odds`` holds ``log p(A) − log p(B)`` at each image's answer letter (None: unknown).

    Raises:
        ValueError: No image, or lists of different lengths.

    Example:
        >>> s = scores_from(["defect", "defect", "normal"], ["defect", "normal", "normal"],
        ...                 [2.0, -1.0, -1.5], step=0)
        >>> s.accuracy, s.balanced_accuracy, s.letter_gap
        ({'defect': 0.5, 'normal': 1.0}, 0.75, 2.0)
    """
    if not labels or not len(labels) == len(predictions) == len(log_odds):
        raise ValueError("need one prediction and one log-odds value per label, at least one")
    accuracy: dict[str, float] = {}
    means: dict[str, float] = {}
    inverse_sizes = 0.0
    for label in LABELS:
        rows = [i for i, y in enumerate(labels) if y == label]
        if rows:
            accuracy[label] = sum(predictions[i] == label for i in rows) / len(rows)
            inverse_sizes += 1 / len(rows)
            known = [value for i in rows if (value := log_odds[i]) is not None]
            if known:
                means[label] = sum(known) / len(known)
    balanced = sum(accuracy.values()) / len(accuracy)
    return HeldOutScores(
        step=step,
        n=len(labels),
        accuracy=accuracy,
        balanced_accuracy=balanced,
        interval=wilson_interval(balanced, len(accuracy) ** 2 / inverse_sizes),
        invalid_rate=sum(p == INVALID for p in predictions) / len(predictions),
        letter_gap=means[DEFECT] - means[NORMAL] if len(means) == 2 else None,
        seconds=seconds,
    )


def due_warnings(
    history: Sequence[HeldOutScores], *, warn_after: int, issued: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """The ``(kind, message)`` warnings the latest evaluation calls for, kinds not yet issued.

    From step ``warn_after`` on: ``chance`` when the 95 % interval's lower end is ≤ 0.5 (the
    interval holds 0.5, or lies below it: all invalid, collapsed, inverted), not at step 0;
    ``format`` when the invalid rate is ≥ :data:`FORMAT_DROP` above the first evaluation's.

    Example:
        >>> base = scores_from(["defect", "normal"] * 5, ["invalid"] * 10, [None] * 10, step=0)
        >>> due_warnings([base], warn_after=0)
        []
    """
    if not history or history[-1].step < warn_after:
        return []
    latest, baseline = history[-1], history[0]
    (low, high), found = latest.interval, []
    if latest.step > 0 and low <= 0.5:
        where = "has not left" if high >= 0.5 else "is below"
        relation = "contains" if high >= 0.5 else "lies below"
        found.append((
            "chance",
            f"held-out balanced accuracy {latest.balanced_accuracy:.2f} {where} chance (95 % "
            f"interval [{low:.2f}, {high:.2f}] {relation} 0.5) after {latest.step} steps — {HINT}",
        ))  # fmt: skip
    if latest.invalid_rate >= baseline.invalid_rate + FORMAT_DROP - 1e-9:
        found.append((
            "format",
            f"format validity falling: held-out invalid rate {latest.invalid_rate:.2f} at step "
            f"{latest.step} vs {baseline.invalid_rate:.2f} at step {baseline.step} — the policy "
            "drifts from <think>…</think> <answer>…</answer>; lower learning_rate or raise beta",
        ))  # fmt: skip
    return [(kind, message) for kind, message in found if kind not in issued]


def evaluate_heldout(
    model: Any,
    processor: Any,
    samples: Sequence[Sample],
    *,
    step: int,
    max_new_tokens: int,
    batch_size: int = 8,
    synced_gpus: bool = False,
    gradient_checkpointing_kwargs: Mapping[str, Any] | None = None,
    generation_kwargs: Mapping[str, Any] | None = None,
    prompt: str = DEFAULT_PROMPT,
) -> HeldOutScores:
    """Answer ``samples`` greedily as ``Qwen2VL.generate`` does (no grad, eval mode) and score.

    Train/eval mode, gradient checkpointing (off while generating) and the tokenizer's padding
    side are restored afterwards.

    Args:
        model: The policy (peft-wrapped in training) or a plain loaded model.
        processor: Its processor.
        samples: The held-out images, with their true labels.
        step: Global step to record.
        max_new_tokens: Generation cap.
        batch_size: Images per ``generate`` call.
        synced_gpus: True under DeepSpeed ZeRO-3 (every rank joins every generation step).
        gradient_checkpointing_kwargs: The trainer's, to re-enable checkpointing as it was.
        generation_kwargs: More ``generate`` arguments (tests force answers with them).
        prompt: The prompt variant the policy is trained with (:mod:`..qwen2vl.prompt`).

    Example:
        >>> evaluate_heldout(model, processor, heldout, step=0, max_new_tokens=256).line()
        ... # doctest: +SKIP
    """
    import torch
    from trl.models.utils import disable_gradient_checkpointing

    from .answer_letter import find_letter_spots, letter_log_odds

    started, tokenizer = time.perf_counter(), processor.tokenizer
    chat = {
        category: category_chat_text(processor, category, prompt)
        for category in {s.category for s in samples}
    }
    device = next(model.parameters()).device
    predictions: list[str] = []
    log_odds: list[float | None] = []
    was_training, padding_side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"  # batched generation: every prompt ends at the same column
    try:
        checkpointing = dict(gradient_checkpointing_kwargs or {})
        with torch.no_grad(), disable_gradient_checkpointing(model, checkpointing):
            for start in range(0, len(samples), batch_size):
                batch = samples[start : start + batch_size]
                texts = [chat[s.category] for s in batch]
                images = [load_rgb(s.image_path) for s in batch]
                encoded = encode_chat(processor, texts, images).to(device)
                new_ids, output = greedy_generate(
                    model, encoded, max_new_tokens=max_new_tokens,
                    use_cache=True,  # training may have switched the config's cache off
                    output_logits=True, synced_gpus=synced_gpus, **(generation_kwargs or {}),
                )  # fmt: skip
                new = new_ids.tolist()
                predictions += map(
                    parse_answer, tokenizer.batch_decode(new, skip_special_tokens=True)
                )
                # Raw (unprocessed) logits per step: the letter token came from logits[index].
                for row, spot in enumerate(find_letter_spots(tokenizer, new)):
                    if spot is None or spot.index >= len(output.logits):
                        log_odds.append(None)
                    else:
                        log_odds.append(letter_log_odds(output.logits[spot.index][row], spot))
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    labels = [s.label for s in samples]
    return scores_from(
        labels, predictions, log_odds, step=step, seconds=time.perf_counter() - started
    )


def legend(samples: Sequence[Sample]) -> str:
    """The line that explains the monitor's lines once, before the first of them.

    Example:
        >>> legend([])[:40]
        'monitor: greedy answers on 0 held-out im'
    """
    datasets = ", ".join(sorted({s.dataset for s in samples}))
    where = f" of {datasets}" if datasets else ""
    return (
        f"monitor: greedy answers on {len(samples)} held-out images{where} (left out of "
        "training), parsed as evaluation parses them: bal-acc = balanced accuracy [95% "
        "interval], per-class accuracy, invalid = unparseable share; gap = mean log p(A) − "
        "log p(B) at the answer letter, defect minus normal images (it grows once the answer "
        "depends on the image)."
    )


def _print_warning(message: str) -> None:
    print(f"WARNING (LR-IAD monitor): {message}", file=sys.stderr, flush=True)


class _MonitorEvents:
    """What ``HeldOutMonitor`` does (see :func:`__getattr__`); mixed into ``TrainerCallback``."""

    def __init__(
        self,
        samples: Sequence[Sample],
        processor: Any,
        *,
        every: int,
        warn_after: int,
        max_new_tokens: int,
        tensorboard_dir: Path | None,
        best_dir: Path | None,
        is_main: bool = True,
        synced_gpus: bool = False,
        batch_size: int = 8,
        prompt: str = DEFAULT_PROMPT,
        log: Callable[[str], None] = console_line,
        warn: Callable[[str], None] = _print_warning,
    ) -> None:
        if not samples or every < 1:
            raise ValueError(f"need held-out images and every ≥ 1, got {len(samples)}, {every}")
        self.samples, self.processor = list(samples), processor
        self.every, self.warn_after, self.max_new_tokens = every, warn_after, max_new_tokens
        self.tensorboard_dir = Path(tensorboard_dir) if tensorboard_dir else None
        self.best_dir = Path(best_dir) if best_dir else None
        self.is_main, self.synced_gpus, self.batch_size = is_main, synced_gpus, batch_size
        self.prompt = prompt
        self.log, self.warn = log, warn
        self.history: list[HeldOutScores] = []
        # A resumed training keeps the best it had saved before the interruption.
        saved = self.best_dir / SCORES_NAME if self.best_dir else None
        self.best: HeldOutScores | None = (
            HeldOutScores.from_dict(json.loads(saved.read_text(encoding="utf-8")))
            if saved is not None and saved.is_file()
            else None
        )
        self.issued: set[str] = set()
        self._writer: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Baseline at the current step (a resumed run's resume step)."""
        self._evaluate(args, state.global_step, kwargs["model"])

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Evaluate every ``every`` steps."""
        if state.global_step % self.every == 0 and not self._done(state.global_step):
            self._evaluate(args, state.global_step, kwargs["model"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Evaluate the last step unless done; close TensorBoard."""
        if not self._done(state.global_step):
            self._evaluate(args, state.global_step, kwargs["model"])
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _done(self, step: int) -> bool:
        return bool(self.history) and self.history[-1].step == step

    def _evaluate(self, args: Any, step: int, model: Any) -> None:
        # Every process generates (ZeRO-3 needs all ranks in each step); only the main one talks.
        scores = evaluate_heldout(
            model, self.processor, self.samples, step=step, max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size, synced_gpus=self.synced_gpus, prompt=self.prompt,
            gradient_checkpointing_kwargs=getattr(args, "gradient_checkpointing_kwargs", None),
        )  # fmt: skip
        self.history.append(scores)
        if self.is_main:
            if not self.history[:-1]:  # the first line: say once what its figures are
                self.log(legend(self.samples))
            self.log(scores.line())
            self._write_scalars(scores)
            issued = frozenset(self.issued)
            for kind, message in due_warnings(
                self.history, warn_after=self.warn_after, issued=issued
            ):
                self.issued.add(kind)
                self.warn(message)
        improved = self.best is None or scores.balanced_accuracy > self.best.balanced_accuracy
        if self.best_dir is not None:
            # Ranks' answers agree up to numerics; rank 0 decides, so no rank saves alone.
            improved = _agreed(improved)
        if improved:
            self.best = scores
            if self.best_dir is not None:
                _save_adapter(model, self.best_dir, scores, is_main=self.is_main)

    def _write_scalars(self, scores: HeldOutScores) -> None:
        if self.tensorboard_dir is None:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.tensorboard_dir))
        for tag, value in scores.scalars().items():
            self._writer.add_scalar(tag, value, global_step=scores.step)
        self._writer.flush()  # a live TensorBoard (or a crash) sees every evaluation


def _agreed(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (``flag`` itself outside a multi-process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    box = [flag]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])


def _save_adapter(model: Any, target: Path, scores: HeldOutScores, *, is_main: bool) -> None:
    """``save_pretrained`` into a staging directory renamed to ``target``, by the main process.

    Under ZeRO-3 (parameters carry ``ds_id``) every rank first gathers the trainable parameters
    (collective). Not exercised by the CPU tests.
    """
    partitioned = [p for p in model.parameters() if p.requires_grad and hasattr(p, "ds_id")]
    if partitioned:
        import deepspeed

        with deepspeed.zero.GatheredParameters(partitioned, modifier_rank=None):
            if is_main:
                _write_adapter(model, target, scores)
    elif is_main:
        _write_adapter(model, target, scores)


def _write_adapter(model: Any, target: Path, scores: HeldOutScores) -> None:
    staging = target.with_name(f".{target.name}.staging")
    old = target.with_name(f".{target.name}.old")
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)  # from a process killed while saving
    model.save_pretrained(str(staging))
    (staging / SCORES_NAME).write_text(json.dumps(asdict(scores), indent=2), encoding="utf-8")
    if target.exists():
        os.replace(target, old)  # a directory cannot replace a non-empty one: move it aside
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


if TYPE_CHECKING:
    from transformers import TrainerCallback

    class HeldOutMonitor(_MonitorEvents, TrainerCallback):
        """See :func:`__getattr__`."""


def __getattr__(name: str) -> Any:
    """Build ``HeldOutMonitor`` on first access (PEP 562): transformers is imported only then.

    ``HeldOutMonitor(samples, processor, *, every, warn_after, max_new_tokens, tensorboard_dir,
    best_dir, is_main=True, synced_gpus=False, batch_size=8, log=console_line, warn=…)`` is a
    ``TrainerCallback`` evaluating at train begin (the baseline, at the current global step),
    every ``every`` steps and at train end into ``history``; on the main process it logs
    :meth:`HeldOutScores.line`, writes TensorBoard scalars and warns once per kind
    (:func:`due_warnings`); with ``best_dir`` it saves the adapter whenever balanced accuracy
    strictly improves (``best``). Every process must run it (generation is collective under
    ZeRO-3); the model comes from the callback's ``model`` argument.

    Example:
        >>> from iadbench_methods.lr_iad.monitor import HeldOutMonitor  # doctest: +SKIP
        >>> trainer.add_callback(HeldOutMonitor(heldout, processor, every=50, warn_after=200,
        ...     max_new_tokens=256, tensorboard_dir=Path("tb"), best_dir=None))  # doctest: +SKIP
    """
    if name != "HeldOutMonitor":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from transformers import TrainerCallback

    doc = {"__module__": __name__, "__doc__": __getattr__.__doc__}
    globals()[name] = type(name, (_MonitorEvents, TrainerCallback), doc)  # pickle finds it here
    return globals()[name]

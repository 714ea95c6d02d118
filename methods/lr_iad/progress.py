"""One compact console line per logged GRPO step, instead of transformers' raw dicts.

transformers prints every log event as a Python dict of ~35 keys (``PrinterCallback``, or
``ProgressCallback`` above its tqdm bar). :class:`StepLines` prints what tells whether training
works, from the keys trl 1.16 and LR-IAD's rewards log::

    step 12/100 | reward 1.38 | acc 0.62 (defect 0.70 normal 0.55) | invalid 0.03 | KL 0.0012
    | loss 0.004 | grad 0.31 | 3.2 s/step | eta 4m42s        (one line; wrapped here)

Keys read (each skipped when absent, None or not a finite number): ``reward`` (trl: mean total
reward), ``accuracy``, ``accuracy/defect``, ``accuracy/normal``, ``invalid_rate`` (the rewards'
``log_metric``), ``kl`` (trl, only when ``beta`` > 0), ``loss``, ``grad_norm``. Seconds per step
are wall time between two log events divided by the steps between them (generation, the
optimiser and the held-out monitor included), so the ETA is honest. The final event
(``train_runtime`` …) gets one summary line.

:func:`quiet_trainer_console` removes transformers' printing callbacks, the tqdm bar included:
lines printed while a bar is drawn land on the bar's line (tqdm redraws it with carriage
returns, ``print`` does not know), and in a log file (nohup, SLURM) the bar is a stream of
carriage-return updates. The step lines carry the step count, speed and ETA the bar showed.

Where the lines go (:func:`console_line`): stderr, prefixed ``LR-IAD``, the stream of iadbench's
logs and of the ``LR-IAD: GRPO on N images`` heading, so ``iadbench demo > log`` keeps them
together (a ``print`` put them in stdout, apart from the heading that says what they are about).

``StepLines`` is built on first access (PEP 562): transformers' ``TrainerCallback`` import pulls
in torch and peft, so importing this module for :func:`step_line` stays light.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from iadbench.contract.progress import duration

#: What every training console line starts with: the method it is about.
HEADING = "LR-IAD"


def console_line(line: str) -> None:
    """Print one training line (steps, monitor) where the training heading and warnings go.

    Example:
        >>> console_line("step 1/2 | reward 0.50")  # doctest: +SKIP
        LR-IAD step 1/2 | reward 0.50
    """
    print(f"{HEADING} {line}", file=sys.stderr, flush=True)


def _number(logs: Mapping[str, Any], key: str) -> float | None:
    """``logs[key]`` as a finite float, or None (absent, None, NaN, not a number)."""
    value = logs.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:  # a 0-d tensor or numpy scalar
            value = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    value = float(value)
    return value if math.isfinite(value) else None


def step_line(
    logs: Mapping[str, Any],
    *,
    step: int,
    max_steps: int,
    seconds_per_step: float | None = None,
) -> str:
    """The compact line of one trl log event (keys that are missing or not numbers skipped).

    Example:
        >>> step_line({"reward": 1.375, "accuracy": 0.62, "accuracy/defect": 0.7,
        ...            "kl": 0.00123, "loss": 0.0041}, step=12, max_steps=100)
        'step 12/100 | reward 1.38 | acc 0.62 (defect 0.70) | KL 0.0012 | loss 0.0041'
    """
    parts = [f"step {step}/{max_steps}" if max_steps > 0 else f"step {step}"]
    if (reward := _number(logs, "reward")) is not None:
        parts.append(f"reward {reward:.2f}")
    per_class = [
        f"{label} {value:.2f}"
        for label in ("defect", "normal")
        if (value := _number(logs, f"accuracy/{label}")) is not None
    ]
    accuracy = _number(logs, "accuracy")
    acc = ["acc"] + ([f"{accuracy:.2f}"] if accuracy is not None else [])
    acc += [f"({' '.join(per_class)})"] if per_class else []
    if len(acc) > 1:
        parts.append(" ".join(acc))
    for key, name, spec in (
        ("invalid_rate", "invalid", ".2f"),
        ("kl", "KL", ".2g"),
        ("loss", "loss", ".2g"),
        ("grad_norm", "grad", ".2g"),
    ):
        if (value := _number(logs, key)) is not None:
            parts.append(f"{name} {value:{spec}}")
    if seconds_per_step is not None and math.isfinite(seconds_per_step):
        parts.append(f"{seconds_per_step:.3g} s/step")
        if 0 < step < max_steps:
            parts.append(f"eta {duration((max_steps - step) * seconds_per_step)}")
    return " | ".join(parts)


def summary_line(logs: Mapping[str, Any], *, step: int) -> str:
    """The line of the final event (``train_runtime``, ``train_loss`` …).

    Example:
        >>> summary_line({"train_runtime": 282.0, "train_loss": 0.0123}, step=100)
        'training done | step 100 | 4m42s | mean loss 0.012'
    """
    parts = ["training done", f"step {step}"]
    if (runtime := _number(logs, "train_runtime")) is not None:
        parts.append(duration(runtime))
    if (loss := _number(logs, "train_loss")) is not None:
        parts.append(f"mean loss {loss:.2g}")
    return " | ".join(parts)


def _full(logs: Mapping[str, Any]) -> str:
    """Every key, floats to 4 significant digits (as transformers prints them)."""
    return str({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in logs.items()})


class _StepLinesEvents:
    """What :class:`StepLines` does; mixed into transformers' ``TrainerCallback``."""

    def __init__(self, *, verbose: bool = False, log: Callable[[str], None] = console_line) -> None:
        self.verbose = verbose
        self.log = log
        self._last: tuple[int, float] | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the clock at the (possibly resumed) first step."""
        self._last = (state.global_step, time.perf_counter())

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Print the event's line (and with ``verbose`` the whole dict), world process 0 only."""
        if not state.is_world_process_zero:
            return
        logs = logs or {}
        step, now = state.global_step, time.perf_counter()
        if "train_runtime" in logs:
            self.log(summary_line(logs, step=step))
        else:
            rate = None
            if self._last is not None and step > self._last[0]:
                rate = (now - self._last[1]) / (step - self._last[0])
            self.log(step_line(logs, step=step, max_steps=state.max_steps, seconds_per_step=rate))
            self._last = (step, now)
        if self.verbose:
            self.log(_full(logs))


def quiet_trainer_console(
    trainer: Any,
    *,
    verbose: bool,
    log: Callable[[str], None] = console_line,
) -> StepLines:
    """Replace the trainer's printing callbacks (dicts, tqdm bar) by one :class:`StepLines`.

    Args:
        trainer: A transformers ``Trainer`` (trl's ``GRPOTrainer`` included).
        verbose: Also print every event's full dict.
        log: Where lines go (default: :func:`console_line`, stderr).

    Returns:
        The added ``StepLines``.

    Example:
        >>> lines = quiet_trainer_console(trainer, verbose=False)  # doctest: +SKIP
        >>> trainer.train()  # doctest: +SKIP
        step 1/2 | reward 0.00 | acc 0.00 (normal 0.00) | invalid 1.00 | loss 0 | grad 0 | ...
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    printing = (PrinterCallback, ProgressCallback)
    for callback in list(trainer.callback_handler.callbacks):
        # NotebookProgressCallback (Jupyter) prints a table of the same dicts.
        if isinstance(callback, printing) or type(callback).__name__ == "NotebookProgressCallback":
            trainer.remove_callback(callback)
    lines = _step_lines_class()(verbose=verbose, log=log)
    trainer.add_callback(lines)
    return lines


if TYPE_CHECKING:
    from transformers import TrainerCallback

    class StepLines(_StepLinesEvents, TrainerCallback):
        """See :func:`__getattr__`."""


def _step_lines_class() -> type[StepLines]:
    """``StepLines``, built once (a module's own functions do not see ``__getattr__``)."""
    if "StepLines" not in globals():
        from transformers import TrainerCallback

        globals()["StepLines"] = type(
            "StepLines",
            (_StepLinesEvents, TrainerCallback),
            {"__module__": __name__, "__doc__": __getattr__.__doc__},
        )  # later lookups (and pickle) find this same class
    step_lines: type[StepLines] = globals()["StepLines"]
    return step_lines


def __getattr__(name: str) -> Any:
    """Build ``StepLines`` on first access (PEP 562): transformers is imported only then.

    ``StepLines(*, verbose=False, log=console_line)`` is a ``TrainerCallback`` whose ``on_log``
    prints :func:`step_line` (or :func:`summary_line` for the final event) on world process 0.

    Example:
        >>> from iadbench_methods.lr_iad.progress import StepLines  # doctest: +SKIP
        >>> trainer.add_callback(StepLines(verbose=True))  # doctest: +SKIP
    """
    if name == "StepLines":
        return _step_lines_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""What reaches the terminal: iadbench's own lines, and how loud the libraries underneath may be.

A training run pulls in transformers, trl, peft, datasets and huggingface_hub, each with its own
progress bars ("Loading weights", "Writing model shards"), INFO logs and FutureWarnings. In a
terminal or a redirected log they bury the lines that say whether a run works (LR-IAD's step
and monitor lines). :func:`configure` decides once per process, from the CLI's ``--verbose``:

- quiet (default): iadbench's loggers print INFO and above to stderr as plain lines; the
  libraries' progress bars are off (Hugging Face's always; any other tqdm bar when stderr is
  not a terminal, where it is a stream of carriage-return redraws), their loggers show errors
  only, and their ``FutureWarning``, ``DeprecationWarning`` and ``UserWarning`` are hidden:
  they address the library's callers (our adapters), not the user, who cannot act on them.
  Warnings iadbench raises itself (e.g. the LR-IAD monitor's) are unaffected.
- verbose: iadbench logs DEBUG, libraries keep their own defaults, and LR-IAD also prints trl's
  full per-step log dicts (:func:`verbose` is what it reads).

Nothing here runs on import; library code (``import iadbench`` in a notebook) is left alone
unless :func:`configure` is called.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

from iadbench.contract.text import terminal_text

_OWN_LOGGERS = ("iadbench", "iadbench_methods")
_LIBRARIES = ("transformers", "trl", "peft", "accelerate", "datasets", "huggingface_hub", "torch")
# Libraries whose warnings are hidden too (no logger to quiet): the vision stacks under the
# CLIP-based methods, DeepSpeed, TensorBoard's writer.
_WARNING_ONLY = ("torchvision", "open_clip", "timm", "anomalib", "lightning", "deepspeed",
                 "tensorboard", "safetensors")  # fmt: skip
_HIDDEN_WARNINGS = (FutureWarning, DeprecationWarning, UserWarning)
_state = {"verbose": False}


class _InertFormatter(logging.Formatter):
    r"""Log lines name folders and files: control codes and bidi controls never reach the terminal.

    A category folder named ``\x1b]0;…\x07`` retitled the terminal through a warning line (the
    issue-18 attack re-run); each line of the message passes through
    :func:`~iadbench.contract.text.terminal_text` (tracebacks keep their line breaks).
    """

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(terminal_text(line) for line in super().format(record).split("\n"))


def verbose() -> bool:
    """Whether the user asked for everything (``iadbench --verbose``)."""
    return _state["verbose"]


def configure(verbose: bool = False) -> None:
    """Set up the terminal for one CLI process (see the module docstring).

    Example:
        >>> configure(verbose=False)  # doctest: +SKIP
    """
    _state["verbose"] = verbose
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_InertFormatter("%(message)s"))
    for name in _OWN_LOGGERS:
        own = logging.getLogger(name)
        own.handlers = [handler]
        own.setLevel(logging.DEBUG if verbose else logging.INFO)
        own.propagate = False
    if verbose:
        return
    for name in _LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    for name in _LIBRARIES + _WARNING_ONLY:
        for category in _HIDDEN_WARNINGS:
            warnings.filterwarnings("ignore", category=category, module=rf"{name}(\.|$)")
    _silence_progress_bars()


def _silence_progress_bars() -> None:
    """Switch off the Hugging Face libraries' tqdm bars.

    The environment switches are read when a library is imported (the CLI imports them inside
    commands, after this runs); a library already imported is switched off directly.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers follows it
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported, as above
    if (datasets := sys.modules.get("datasets")) is not None:  # (untyped: no import for mypy)
        datasets.disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils.tqdm import disable_progress_bars

        disable_progress_bars()

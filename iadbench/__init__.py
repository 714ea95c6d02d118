"""iadbench: a pluggable benchmark harness for industrial anomaly detection.

Data flows one way, through the layers of ``docs/architecture.md``: a dataset root is read into
:class:`~iadbench.contract.records.Sample` records (``iadbench.data``), a method adapter from the
registry (``iadbench.execution.registry``) turns batches of samples into
:class:`~iadbench.contract.records.Prediction` records, the run's writer appends them to
``predictions.jsonl`` (``iadbench.runs.writer``), ``iadbench.analysis.metrics`` summarises them
into a sealed ``summary.json``, and ``iadbench.views`` draws leaderboards and reports from stored
runs (``iadbench.runs.reader``).

The public names below are imported on first use (PEP 562), so that ``import iadbench.cli`` —
every command's start, ``--help`` included — does not pay for the registry's package metadata
and the adapter base class it may never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iadbench.contract.lazy import lazy_exports

if TYPE_CHECKING:  # what the names are, for type checkers and readers
    from iadbench.contract.errors import IADBenchError
    from iadbench.contract.method import Capabilities, MethodAdapter, RunContext
    from iadbench.contract.records import DEFECT, INVALID, NORMAL, AnswerRules, Prediction, Sample
    from iadbench.execution.api import evaluate, load_samples, train
    from iadbench.execution.predict_loop import predict_samples
    from iadbench.execution.registry import register_method

__version__ = "0.1.0"

#: Public name → the module that defines it.
_HOMES: dict[str, str] = {
    "IADBenchError": "iadbench.contract.errors",
    "Capabilities": "iadbench.contract.method",
    "MethodAdapter": "iadbench.contract.method",
    "RunContext": "iadbench.contract.method",
    "DEFECT": "iadbench.contract.records",
    "INVALID": "iadbench.contract.records",
    "NORMAL": "iadbench.contract.records",
    "AnswerRules": "iadbench.contract.records",
    "Prediction": "iadbench.contract.records",
    "Sample": "iadbench.contract.records",
    "evaluate": "iadbench.execution.api",
    "load_samples": "iadbench.execution.api",
    "train": "iadbench.execution.api",
    "predict_samples": "iadbench.execution.predict_loop",
    "register_method": "iadbench.execution.registry",
}

__all__ = [  # a literal list: what type checkers and linters read as the exports
    "DEFECT",
    "INVALID",
    "NORMAL",
    "AnswerRules",
    "Capabilities",
    "IADBenchError",
    "MethodAdapter",
    "Prediction",
    "RunContext",
    "Sample",
    "__version__",
    "evaluate",
    "load_samples",
    "predict_samples",
    "register_method",
    "train",
]


__getattr__ = lazy_exports(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})

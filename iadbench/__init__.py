"""iadbench: a pluggable benchmark harness for industrial anomaly detection.

Data flows one way: a dataset root is read into :class:`~iadbench.contract.records.Sample` records
(``iadbench.data``), a split from ``splits/`` picks the subsets (``iadbench.data.splits``), a method
adapter from the registry (``iadbench.execution.registry``) turns batches of samples into
:class:`~iadbench.contract.records.Prediction` records, the run store appends them to
``predictions.jsonl``
(``iadbench.runs.writer``), ``iadbench.analysis.metrics`` summarises them into ``summary.json`` and
``iadbench.views.leaderboard`` renders stored summaries as markdown.
"""

from __future__ import annotations

from iadbench.contract.errors import IADBenchError
from iadbench.contract.method import Capabilities, MethodAdapter, RunContext
from iadbench.contract.records import DEFECT, INVALID, NORMAL, AnswerRules, Prediction, Sample
from iadbench.execution.api import evaluate, load_samples, train
from iadbench.execution.predict_loop import predict_samples
from iadbench.execution.registry import register_method

__version__ = "0.1.0"

__all__ = [
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

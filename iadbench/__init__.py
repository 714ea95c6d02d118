"""iadbench: a pluggable benchmark harness for industrial anomaly detection.

Data flows one way: a dataset root is read into :class:`~iadbench.records.Sample` records
(``iadbench.datasets``), a split from ``splits/`` picks the subsets (``iadbench.splits``), a method
adapter from the registry (``iadbench.registry``) turns batches of samples into
:class:`~iadbench.records.Prediction` records, the run store appends them to ``predictions.jsonl``
(``iadbench.store``), ``iadbench.metrics`` summarises them into ``summary.json`` and
``iadbench.leaderboard`` renders stored summaries as markdown.
"""

from __future__ import annotations

from iadbench.api import evaluate
from iadbench.errors import IADBenchError
from iadbench.method import Capabilities, FitContext, MethodAdapter, RunContext
from iadbench.predict_loop import predict_samples
from iadbench.records import DEFECT, INVALID, NORMAL, AnswerRules, Prediction, Sample
from iadbench.registry import register_method

__version__ = "0.1.0"

__all__ = [
    "DEFECT",
    "INVALID",
    "NORMAL",
    "AnswerRules",
    "Capabilities",
    "FitContext",
    "IADBenchError",
    "MethodAdapter",
    "Prediction",
    "RunContext",
    "Sample",
    "__version__",
    "evaluate",
    "predict_samples",
    "register_method",
]

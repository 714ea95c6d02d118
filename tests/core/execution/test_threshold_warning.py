"""A score method whose scores never cross the threshold is warned about (issue 19 item 11).

An uncalibrated score judged at the default ``fixed:0.5`` can call every image normal (or every
image a defect) with exit 0: the run then warns once, naming the side, threshold and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from iadbench.contract.method import Capabilities, MethodAdapter, NoOptions
from iadbench.contract.records import Prediction, Sample
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import METHODS
from iadbench.execution.runner import execute_run
from iadbench.execution.summaries import threshold_never_crossed


class _LowScores(MethodAdapter[NoOptions]):
    """Scores every image 0.1 (a raw score the default threshold never reaches)."""

    capabilities = Capabilities(needs_pixels=False, gives_scores=True, builds_models=False)
    score = 0.1

    def predict(
        self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None
    ) -> list[Prediction]:
        return [Prediction(score=self.score)] * len(batch)


def _summary(tp: int, fp: int, tn: int, fn: int, gives_scores: bool = True) -> dict[str, Any]:
    return {
        "method": "m", "threshold": "fixed:0.5", "threshold_value": 0.5,
        "capabilities": {"gives_scores": gives_scores},
        "overall": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }  # fmt: skip


def test_the_warning_names_the_side_the_threshold_and_the_fix():
    below = threshold_never_crossed(_summary(0, 0, 5, 3))
    assert below is not None
    assert "every score of m lies below the threshold 0.5 (fixed:0.5)" in below
    assert "called normal" in below and "--threshold normal-quantile" in below
    above = threshold_never_crossed(_summary(3, 5, 0, 0))
    assert above is not None and "at or above" in above and "called defect" in above


@pytest.mark.parametrize(
    "summary",
    [
        _summary(2, 1, 4, 1),  # both sides
        _summary(0, 0, 5, 0),  # one label in the test set: one answer may be right
        _summary(0, 0, 5, 3, gives_scores=False),  # a label method: no threshold of its own
        {**_summary(0, 0, 5, 3), "threshold_value": None},  # oracle before its value
        {**_summary(0, 0, 5, 3), "tiny": True},  # random-weight models: noise by design
    ],
)
def test_no_warning_when_the_threshold_separates_or_cannot(summary):
    assert threshold_never_crossed(summary) is None


def test_a_run_whose_scores_never_cross_warns(tmp_path, synth_mvtec, caplog):
    METHODS.add("low-scores", _LowScores, "tests (low scores)")
    request = RunRequest(
        method="low-scores", train=None, test="mvtec", data_roots={"mvtec": str(synth_mvtec)},
        out=tmp_path / "run", cache_dir=tmp_path / "cache",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        summary = execute_run(plan_run(request)).summary
    assert summary["overall"]["tp"] + summary["overall"]["fp"] == 0
    warnings = [
        r.getMessage() for r in caplog.records if "every score of low-scores" in r.getMessage()
    ]
    assert len(warnings) == 1 and "lies below the threshold 0.5" in warnings[0]

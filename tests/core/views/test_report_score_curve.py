"""The report's ROC / PR curve ranks unscored images as the summary's AUROC does (issue 20)."""

from __future__ import annotations

import pytest

from iadbench.analysis.metrics import compute_metrics
from iadbench.views.report.charts import score_curve


def test_the_curve_of_a_text_method_is_the_summarys_auroc_and_ap():
    truth = ["defect", "normal", "defect", "normal", "defect", "normal"]
    scores = [0.9, None, 0.4, 0.3, None, 0.2]  # two invalid answers: no score
    preds = ["defect", "invalid", "normal", "normal", "invalid", "normal"]
    metrics = compute_metrics(truth, preds, scores)
    curve = score_curve("qwen2-vl", "#123456", truth, scores)
    assert curve.auroc == pytest.approx(metrics["auroc"])
    assert curve.ap == pytest.approx(metrics["ap"])
    assert "2 unscored ranked wrong" in curve.label
    # Over the scored images alone the curve would be perfect; ranked as wrong it is not.
    assert curve.auroc < 1.0

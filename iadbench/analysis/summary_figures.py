"""Every figure of a run's summary computed from its outcomes, in one call.

The execution layer's summary builder asks this module alone, so that adding a family of figures
(calibration, operating points) adds no import to it: metrics and lenient figures
(:mod:`~iadbench.analysis.metrics`), bootstrap intervals and McNemar's tests
(:mod:`~iadbench.analysis.statistics`), and for score methods the calibration of the scores
(:mod:`~iadbench.analysis.calibration`) and the operating points
(:mod:`~iadbench.analysis.operating_points`); for map methods the pixel metrics of the stored
maps (:func:`pixel_figures`, :mod:`~iadbench.analysis.pixel_block`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iadbench.contract.records import AnswerRules, Sample
from iadbench.runs.reader import Outcome
from iadbench.runs.schema import DEFAULT_FAR_TARGETS, DEFAULT_RECALL_TARGETS


def summary_figures(
    outcomes: Sequence[Outcome],
    rules: AnswerRules | None,
    threshold_value: float | None,
    *,
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
    recall_targets: Sequence[float] = DEFAULT_RECALL_TARGETS,
) -> dict[str, Any]:
    """The figures of ``summary.json``, in the order it holds them.

    Args:
        outcomes: One per test image.
        rules: A text method's answer rules (see :func:`~iadbench.analysis.metrics.summarize`).
        threshold_value: The run's threshold (for F1 at the run's threshold), ``None`` without.
        far_targets: The operating points' false-alarm budgets (fractions).
        recall_targets: The operating points' recall targets (fractions).

    Returns:
        ``overall``, ``class_mean``, ``per_class`` (and ``lenient``, ``per_defect_type`` where
        they apply), ``statistics``, ``per_defect_group`` (MVTec LOCO's logical vs structural
        anomalies: :mod:`~iadbench.analysis.defect_groups`), for score methods
        ``score_calibration`` and ``operating_points``, and where images are grouped into
        samples ``sample_level`` (:mod:`~iadbench.analysis.sample_level`).

    Raises:
        ValueError: ``outcomes`` is empty, or a label is outside the fixed sets.
    """
    # Imported here: scikit-learn takes seconds to import, and a finished run needs none of it.
    from iadbench.analysis.calibration import calibration_summary
    from iadbench.analysis.defect_groups import defect_group_summary
    from iadbench.analysis.metrics import summarize
    from iadbench.analysis.operating_points import operating_points_summary
    from iadbench.analysis.sample_level import sample_level_block
    from iadbench.analysis.statistics import run_statistics

    figures: dict[str, Any] = {
        **summarize(outcomes, rules),
        # Bootstrap intervals (fixed B and seed, recorded) and McNemar vs the trivial baselines.
        "statistics": run_statistics(outcomes),
    }
    # MVTec LOCO: logical vs structural anomalies, each against the normal images.
    if (groups := defect_group_summary(outcomes)) is not None:
        figures["per_defect_group"] = groups
    # Score methods: the scores read as P(defect), and what a line would run at (recall at a
    # false-alarm budget, ...) with bootstrap intervals; absent for methods without scores.
    if (calibrated := calibration_summary(outcomes)) is not None:
        figures["score_calibration"] = calibrated
    points = operating_points_summary(
        outcomes, threshold_value, far_targets=far_targets, recall_targets=recall_targets
    )
    if points is not None:
        figures["operating_points"] = points
    # Datasets whose images are views of one part (Real-IAD): the figures per part as well.
    if (per_sample := sample_level_block(outcomes)) is not None:
        figures["sample_level"] = per_sample
    return figures


def pixel_figures(
    run_dir: Path, outcomes: Sequence[Outcome], samples: Sequence[Sample]
) -> dict[str, Any] | None:
    """A map method's ``pixel_metrics`` block from its stored maps, or None without any.

    See :func:`~iadbench.analysis.pixel_block.pixel_block` (one map in memory at a time).
    """
    # Imported here: numpy and scipy, which a finished run's re-run must not import.
    from iadbench.analysis.pixel_block import pixel_block

    return pixel_block(run_dir, outcomes, samples)

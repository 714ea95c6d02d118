"""Building a run's manifest and summary from its plan, adapter and stored predictions.

The formats are :mod:`iadbench.runs.schema`'s; this module sits in the execution layer because
building needs the plan (:mod:`iadbench.execution.planning`) and the metrics
(:mod:`iadbench.analysis`), which the run-record layer must not import.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from iadbench.contract.method import MethodAdapter
from iadbench.contract.records import Sample
from iadbench.execution.planning import PlannedRun, default_options
from iadbench.runs.provenance import (
    attempt_entry,
    git_revision,
    package_versions,
    previous_attempts,
    provenance,
)
from iadbench.runs.reader import read_outcomes
from iadbench.runs.schema import (
    DEFAULT_FAR_TARGETS,
    DEFAULT_RECALL_TARGETS,
    MANIFEST_SCHEMA,
    Attempt,
    Manifest,
    Summary,
    now,
)
from iadbench.runs.seal import seal_summary
from iadbench.runs.writer import RunStore

logger = logging.getLogger(__name__)


def build_manifest(
    plan: PlannedRun,
    adapter: MethodAdapter[Any],
    *,
    n_test: int,
    previous: Mapping[str, Any] | None,
    processes: int,
    batch_size: int,
    predictions_at_start: int,
) -> Manifest:
    """The manifest of a starting attempt (``running``), this attempt appended to ``attempts``.

    ``versions`` and ``git`` are this attempt's; every attempt's are kept in ``attempts``.

    Args:
        plan: The planned run.
        adapter: The built adapter (what it resolved, its device).
        n_test: Test images.
        previous: The manifest of the attempt being resumed, or None for a fresh run.
        processes: Processes working on the run.
        batch_size: Images per batch.
        predictions_at_start: Predictions already stored (-1 where this process cannot tell).
    """
    manifest: Manifest = {
        "schema": MANIFEST_SCHEMA,
        "status": "running",
        "command": plan.request.command,
        "config_hash": plan.config_hash,
        "config": plan.spec.config(),
        "threshold": plan.spec.threshold,
        "seed": plan.spec.seed,
        "n_test": n_test,
        "method": {
            "name": plan.spec.method,
            "class": f"{plan.adapter_cls.__module__}.{plan.adapter_cls.__qualname__}",
            "capabilities": vars(plan.adapter_cls.capabilities),
            "resolved": adapter.describe(),
            # What the options would be with no --set: the label of a tiny row names the rest.
            "option_defaults": default_options(plan.adapter_cls, plan.spec.tiny),
        },
        "device": plan.request.device,
        "versions": package_versions(),
        "git": git_revision(),
        "created": now(),
        "updated": now(),
    }
    manifest["processes"] = processes
    manifest["content_fingerprints"] = plan.data.content or (previous or {}).get(
        "content_fingerprints"
    )
    if previous is not None:  # resuming
        manifest["created"] = previous.get("created", manifest["created"])
    attempts = previous_attempts(dict(previous) if previous is not None else None)
    attempts.append(
        attempt_entry(
            len(attempts) + 1,
            versions=manifest["versions"],
            git=manifest["git"],
            device=adapter.context.device,
            processes=processes,
            batch_size=batch_size,
            predictions_at_start=predictions_at_start,
        )
    )
    manifest["attempts"] = attempts
    return manifest


def with_status(
    manifest: Mapping[str, Any], status: str, error: str | None = None
) -> dict[str, Any]:
    """``manifest`` marked ``status`` (``complete``, ``interrupted``, ``failed`` and why), now."""
    record = {**manifest, "status": status, "updated": now()}
    if error is not None:
        record["error"] = error
    return record


def build_summary(
    plan: PlannedRun,
    store: RunStore,
    test_samples: list[Sample],
    threshold_value: float | None,
    calibration: dict[str, Any] | None,
    attempts: list[Attempt],
) -> Summary:
    """The sealed summary of a finished run: metrics, statistics, provenance of ``attempts``."""
    # Imported here: scikit-learn takes seconds to import, and a finished run needs none of it.
    from iadbench.analysis.summary_figures import pixel_figures, summary_figures

    spec = plan.spec
    defect_types = {s.id: s.defect_type for s in test_samples}
    outcomes = [  # a list: the metrics and the statistics both read it
        outcome
        for outcome in read_outcomes(store.predictions_path, threshold_value,
                                     defect_types=defect_types)
        if outcome.id in defect_types
    ]  # fmt: skip
    # Text methods also get their lenient rule's figures and the 3-class F1 (see metrics).
    rules = plan.adapter_cls.answer_rules if plan.adapter_cls.capabilities.gives_text else None
    assert spec.test is not None
    train = spec.train
    summary = {
        "method": spec.method,
        "train": None if train is None else {"dataset": train.name, "split": train.split},
        "test": {"dataset": spec.test.name, "split": spec.test.split},
        "threshold": spec.threshold,
        "threshold_value": threshold_value,
        "calibration": calibration,
        "config_hash": plan.config_hash,
        "tiny": spec.tiny,
        # --limit N: a partial run (the first N test images per category); absent when whole.
        **({"limit": spec.limit} if spec.limit is not None else {}),
        "capabilities": vars(plan.adapter_cls.capabilities),
        # Metrics, statistics, and for score methods calibration and operating points.
        **summary_figures(outcomes, rules, threshold_value, **targets(plan)),
    }
    # Map methods: pixel AUROC/AUPRO from the stored maps, one map in memory at a time.
    maps = plan.adapter_cls.capabilities.gives_maps
    if maps and (pixel := pixel_figures(store.directory, outcomes, test_samples)) is not None:
        summary["pixel_metrics"] = pixel
    # The metric groups come from iadbench.analysis.metrics as plain dicts.
    built = cast(Summary, summary)
    built["provenance"] = provenance(attempts, len(store.finished_ids()))
    if warning := threshold_never_crossed(built):
        logger.warning("WARNING: %s", warning)
    return seal_summary(built, store.predictions_path)


def targets(plan: PlannedRun) -> dict[str, tuple[float, ...]]:
    """The operating points' targets the run asks for (the defaults where none are given)."""
    request = plan.request
    return {
        "far_targets": request.far_targets or DEFAULT_FAR_TARGETS,
        "recall_targets": request.recall_targets or DEFAULT_RECALL_TARGETS,
    }


def resummarised(plan: PlannedRun, store: RunStore, summary: Mapping[str, Any]) -> Summary | None:
    """A finished run's summary with operating points at the targets asked for, or None.

    The targets are not part of the configuration hash (they change the summary only, not one
    prediction), so a finished run asked for other targets is not stale: its ``operating_points``
    block is computed again from its sealed predictions, at the threshold value the summary
    records, and the summary sealed again; every other figure stays as it was. Nothing to do
    (None) when the block already holds these targets, and when the summary has none (a method
    without scores, or a run stored before the block existed) unless targets were given
    explicitly (then a score run gets the block; one without scores still gets none).

    Only the decision is made without numpy: a re-run of a finished run imports none of it.
    """
    asked = targets(plan)
    block = summary.get("operating_points")
    if isinstance(block, Mapping):
        stored = {key: tuple(block.get(key) or ()) for key in asked}
        if stored == asked:
            return None
    elif plan.request.far_targets is None and plan.request.recall_targets is None:
        return None
    from iadbench.analysis.operating_points import operating_points_summary

    test_ids = {s.id for s in plan.data.test}
    value = summary.get("threshold_value")
    threshold_value = float(value) if isinstance(value, int | float) else None
    outcomes = [
        outcome
        for outcome in read_outcomes(store.predictions_path, threshold_value)
        if outcome.id in test_ids
    ]
    points = operating_points_summary(
        outcomes,
        threshold_value,
        far_targets=asked["far_targets"],
        recall_targets=asked["recall_targets"],
    )
    if points is None:
        return None
    updated = cast(Summary, {**summary, "operating_points": points})
    return seal_summary(updated, store.predictions_path)


def threshold_never_crossed(summary: Mapping[str, Any]) -> str | None:
    """A warning when a score method's test scores all lie on one side of the run's threshold.

    Then every image gets the same label: accuracy and F1 judge the threshold, not the scores
    (typically an uncalibrated score judged at the default ``fixed:0.5``). Only for test sets
    holding both labels (on one label, one answer for every image may be right) and runs of real
    models (a ``--tiny`` run's random weights are noise whatever the threshold).

    Returns:
        One sentence naming the method, the side, the threshold and the fix; None otherwise.
    """
    capabilities = summary.get("capabilities")
    overall = summary.get("overall")
    value = summary.get("threshold_value")
    if not (isinstance(capabilities, Mapping) and capabilities.get("gives_scores")):
        return None
    if summary.get("tiny"):  # random-weight models: no policy would give their scores meaning
        return None
    if not isinstance(overall, Mapping) or not isinstance(value, int | float):
        return None
    tp, fp, tn, fn = (int(overall.get(key) or 0) for key in ("tp", "fp", "tn", "fn"))
    if tp + fn == 0 or tn + fp == 0:  # one label among the decided images
        return None
    if tp + fp == 0:
        side, label = "below", "normal"
    elif tn + fn == 0:
        side, label = "at or above", "defect"
    else:
        return None
    return (
        f"every score of {summary.get('method')} lies {side} the threshold {value:g} "
        f"({summary.get('threshold')}), so every image is called {label} and accuracy and F1 "
        "judge the threshold, not the scores (AUROC and AP do not depend on it); an "
        "uncalibrated score is judged at fixed:0.5 unless a policy is given: rerun with "
        "--threshold normal-quantile:0.95 or calibrated (chosen on the training data)."
    )

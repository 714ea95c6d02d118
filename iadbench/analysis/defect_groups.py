"""Figures per group of defect types, each group against all the normal images (MVTec LOCO).

MVTec LOCO reports its figures for logical and for structural anomalies apart: each group's
defective test images, scored together with every normal test image of their category (the
shared negatives), give that group's AUROC, accuracy, ... (the LOCO paper's convention; the same
split is what public LOCO evaluators print, e.g. "det. 90.7 (L:95.8 / S:85.5)"). Which defect
types form a group is :data:`~iadbench.data.mvtec_loco.LOCO_DEFECT_GROUPS`; a run whose
outcomes carry none of those types has no such block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from iadbench.analysis.metrics import class_mean, compute_metrics
from iadbench.contract.records import NORMAL
from iadbench.data.mvtec_loco import LOCO_DEFECT_GROUPS
from iadbench.runs.reader import Outcome

#: What the block's figures are, written into it (summary.json says how they were computed).
DEFINITION = (
    "per group of defect types: that group's defective test images with all normal test "
    "images of their categories (MVTec LOCO: logical vs structural anomalies)"
)


def _group_metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    return compute_metrics(
        [o.label for o in outcomes],
        [o.pred for o in outcomes],
        [o.score for o in outcomes],
        sum(o.error is not None for o in outcomes),
    )


def defect_group_summary(
    outcomes: Iterable[Outcome], groups: Mapping[str, str] = LOCO_DEFECT_GROUPS
) -> dict[str, Any] | None:
    """The ``per_defect_group`` block of a summary, or None when no outcome is in a group.

    Args:
        outcomes: One per test image, with their defect types.
        groups: Defect type -> group name.

    Returns:
        ``{"definition", "groups": {group: {"overall", "class_mean", "per_class"}}}``; each
        group's metrics are those of :func:`~iadbench.analysis.metrics.compute_metrics` over the
        group's defects plus the normal images (of the categories that have defects of it).

    Example:
        >>> rows = [
        ...     Outcome("1", "box", "defect", "defect", 0.9, defect_type="logical_anomalies"),
        ...     Outcome("2", "box", "defect", "normal", 0.2, defect_type="structural_anomalies"),
        ...     Outcome("3", "box", "normal", "normal", 0.1, defect_type="good"),
        ...     Outcome("4", "box", "normal", "defect", 0.3, defect_type="good")]
        >>> groups = defect_group_summary(rows)["groups"]
        >>> groups["logical"]["overall"]["auroc"], groups["structural"]["overall"]["auroc"]
        (1.0, 0.5)
    """
    rows = list(outcomes)
    normal: dict[str, list[Outcome]] = {}
    grouped: dict[str, dict[str, list[Outcome]]] = {}
    for outcome in rows:
        if outcome.label == NORMAL:
            normal.setdefault(outcome.category, []).append(outcome)
        elif (group := groups.get(outcome.defect_type or "")) is not None:
            grouped.setdefault(group, {}).setdefault(outcome.category, []).append(outcome)
    if not grouped:
        return None
    block: dict[str, Any] = {}
    for group, by_category in sorted(grouped.items()):
        per_class = {
            category: _group_metrics([*normal.get(category, []), *defects])
            for category, defects in sorted(by_category.items())
        }
        pooled = [o for c, defects in by_category.items() for o in (*normal.get(c, []), *defects)]
        block[group] = {
            "overall": _group_metrics(pooled),
            "class_mean": class_mean(per_class),
            "per_class": per_class,
        }
    return {"definition": DEFINITION, "groups": block}

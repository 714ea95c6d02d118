"""The ``pixel_metrics`` block of a map method's ``summary.json``, from its stored maps.

One pass over the run's stored anomaly maps (:func:`iadbench.runs.maps.pixel_maps`: one map and
one mask in memory at a time, each map checked against its digest and resized to its mask) feeds
:class:`~iadbench.analysis.pixel_metrics.PixelMetricAccumulator` s, one category at a time:

- per category, one accumulator for its normal images and one per defect type (defect images
  whose dataset gives no type go to one untyped accumulator);
- a **category**'s figures merge all of them; a **defect type**'s merge the type's accumulator
  with the category's normal images, so its FPR counts the normal pixels of the normal images
  as the category's does (a type alone would judge false alarms on defect images only);
- **pooled** merges every category, **class mean** is the unweighted mean of the categories
  (:func:`~iadbench.analysis.pixel_metrics.pixel_summary`).

Without a range declared by the method, map values are binned as asinh(value) (strictly
increasing: the figures, which depend only on the order of the scores, are unchanged; see
:data:`ASINH`).

Memory: 1.5 MiB per accumulator, the categories' kept for the pooled figures, the defect types'
only while their category is read; nothing grows with the number of images.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.analysis.pixel_metrics import (
    CONNECTIVITY,
    DEFAULT_BINS,
    DEFAULT_RANGE,
    FPR_LIMIT,
    PixelMetricAccumulator,
    merge_all,
    pixel_summary,
)
from iadbench.contract.records import DEFECT, Sample
from iadbench.runs.maps import MapCoverage, pixel_maps
from iadbench.runs.reader import Outcome

#: How the figures are defined, stored beside them (``docs/metrics.md``, "Pixel metrics").
DEFINITION: dict[str, Any] = {
    "auroc": "ROC area over all pixels of all images, defect-mask pixels positive",
    "aupro": (
        "per-region overlap (8-connected mask components) against the FPR of all normal "
        "pixels, integrated by the trapezoid rule up to fpr_limit and divided by fpr_limit "
        "(MVTec AD, Bergmann et al., IJCV 2021)"
    ),
    "fpr_limit": FPR_LIMIT,
    "normalised": True,
    "connectivity": CONNECTIVITY,
    "bins": DEFAULT_BINS,
    "resize": "each stored map resized bilinearly to its mask's size",
}
#: How the map values are binned when the method declares no range (``definition["scores"]``).
ASINH = (
    "asinh(map value), binned on [0, 1] widened as needed (score_range is on that scale): "
    "strictly increasing, so the figures, which depend only on the order of the scores, are "
    "those of the maps themselves; it keeps a few huge values from coarsening the bins of all"
)
LINEAR = "map values binned on the method's declared range"


def _grouped(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    """Outcomes by category, categories in sorted order (the summary's per-category order)."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.category, []).append(outcome)
    return {name: groups[name] for name in sorted(groups)}


def pixel_block(
    run_dir: Path,
    outcomes: Sequence[Outcome],
    samples: Sequence[Sample],
    *,
    score_range: tuple[float, float] | None = None,
) -> dict[str, Any] | None:
    """Pixel AUROC and AUPRO of a run's stored maps: pooled, class mean, per category and type.

    Args:
        run_dir: The run directory (its ``anomaly_maps/``).
        outcomes: The test images' outcomes (as the summary reads them).
        samples: The test samples (their masks).
        score_range: The range the method declares its map values in; ``None``: the default
            [0, 1] (values outside it widen the bins, see ``pixel_metrics``).

    Returns:
        ``definition``, ``pooled``, ``class_mean``, ``per_category``, ``per_defect_type``
        (category → type → figures, where the data names types) and ``coverage``; ``None`` when
        no image has a stored map with a mask (nothing to measure).

    Raises:
        MapSealError: A stored map is missing or was changed.
        ImageReadError: A mask or image cannot be read.
    """
    # Undeclared scales can be wide (pixel-stats' z-maps reach 1e5 where most pixels are below
    # 10): linear bins stretched to the largest value put nearly every pixel in the first bin
    # (1.4 points of pixel AUROC off on a tiny run). asinh is strictly increasing, so the
    # rank-based figures are unchanged, and it is nearly linear on [0, 1] maps.
    scaled = score_range is None
    grid = DEFAULT_RANGE if score_range is None else score_range
    by_id = {sample.id: sample for sample in samples}
    coverage = MapCoverage()
    categories: dict[str, PixelMetricAccumulator] = {}
    per_type: dict[str, dict[str, Any]] = {}
    for category, members in _grouped(outcomes).items():
        normal = PixelMetricAccumulator(score_range=grid)
        untyped: PixelMetricAccumulator | None = None
        typed: dict[str, PixelMetricAccumulator] = {}
        for outcome, stored, mask in pixel_maps(run_dir, members, by_id, coverage):
            if mask is None:  # a defect image without a mask: counted, left out
                continue
            anomaly_map = np.arcsinh(stored.astype(np.float64)) if scaled else stored
            if outcome.label != DEFECT:
                normal.update(anomaly_map, None)
            elif outcome.defect_type is None:
                untyped = untyped or PixelMetricAccumulator(score_range=grid)
                untyped.update(anomaly_map, mask)
            else:
                kind = outcome.defect_type
                typed.setdefault(kind, PixelMetricAccumulator(score_range=grid))
                typed[kind].update(anomaly_map, mask)
        parts = [normal, *typed.values(), *([untyped] if untyped is not None else [])]
        if not any(part.images for part in parts):
            continue
        categories[category] = merge_all(parts)
        if typed:
            per_type[category] = {
                kind: normal.merge(typed[kind]).result().as_dict() for kind in sorted(typed)
            }
    if not categories:
        return None
    return {
        "definition": {**DEFINITION, "scores": ASINH if scaled else LINEAR},
        **pixel_summary(categories),
        "per_defect_type": per_type,
        "coverage": {
            "images": coverage.given,
            "without_map": coverage.without_map,
            "defect_without_mask": coverage.defect_without_mask,
        },
    }

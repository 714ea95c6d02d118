"""A map method's run gets a ``pixel_metrics`` block computed from its stored maps (issue 20).

A real tiny run of pixel-stats (its z-map localises the synthetic defects) is measured, and every
figure of its block is recomputed directly from the stored maps and masks with an exact
reference (scikit-learn's AUROC; AUPRO from its definition), within the block's own binning
bounds. Twins of pixel-stats whose maps are shifted or replaced by noise score lower; a method
without maps gets no block.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from iadbench.contract.records import Prediction, Sample
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.registry import register_method
from iadbench.execution.runner import execute_run
from iadbench.runs.maps import pixel_maps
from iadbench.runs.reader import open_run
from iadbench_methods.pixel_stats import PixelStats


def _exact_aupro(maps: list[np.ndarray], masks: list[np.ndarray], limit: float = 0.3) -> float:
    """AUPRO from the definition (sorted scores, no bins), as test_pixel_metrics' reference."""
    scores = np.concatenate([m.ravel() for m in maps]).astype(np.float64)
    normal = np.concatenate([~k.ravel() for k in masks])
    weight = np.zeros(scores.size)
    regions, start = 0, 0
    for mask in masks:
        labels, count = ndimage.label(mask, np.ones((3, 3)))
        flat = labels.ravel()
        sizes = np.bincount(flat, minlength=count + 1)
        inside = flat > 0
        weight[start : start + flat.size][inside] = 1.0 / sizes[flat[inside]]
        regions, start = regions + count, start + flat.size
    order = np.argsort(-scores, kind="stable")
    scores, normal, weight = scores[order], normal[order], weight[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # one point per distinct score
    fpr = np.r_[0.0, np.cumsum(normal)[last] / normal.sum()]
    pro = np.r_[0.0, np.cumsum(weight)[last] / regions]
    cut = int(np.searchsorted(fpr, limit, side="right"))
    xs, ys = list(fpr[:cut]), list(pro[:cut])
    if cut < fpr.size:
        xs.append(limit)
        ys.append(np.interp(limit, fpr[cut - 1 : cut + 1], pro[cut - 1 : cut + 1]))
    return float(np.trapezoid(ys, xs) / limit)


def _run(tmp_path: Path, synth_mvtec: Path, method: str) -> tuple[dict[str, Any], list[Any]]:
    request = RunRequest(
        method=method, train=None, test="mvtec", test_split="test",
        data_roots={"mvtec": str(synth_mvtec)}, out=tmp_path / method,
        cache_dir=tmp_path / "cache",
    )  # fmt: skip
    result = execute_run(plan_run(request))
    summary = json.loads((result.out / "summary.json").read_text())
    run = open_run(result.out)
    samples = plan_run(request).data.test
    kinds = {sample.id: sample.defect_type for sample in samples}
    # The stored outcomes name no defect type; the samples do (as the summary reads them).
    given = [
        (dataclasses.replace(outcome, defect_type=kinds[outcome.id]), anomaly_map, mask)
        for outcome, anomaly_map, mask in pixel_maps(run.path, run.outcomes(), samples)
    ]
    return summary, given


def _check(figures: dict[str, Any], given: Sequence[Any]) -> None:
    """``figures`` equal the exact figures of ``given`` within their binning bounds."""
    maps = [m for _, m, _ in given]
    masks = [k for _, _, k in given]
    truth = np.concatenate([k.ravel() for k in masks])
    exact_auroc = roc_auc_score(truth, np.concatenate([m.ravel() for m in maps]))
    assert figures["images"] == len(given)
    assert abs(figures["auroc"] - exact_auroc) <= figures["auroc_error_bound"] + 1e-12
    assert abs(figures["aupro"] - _exact_aupro(maps, masks)) <= figures["aupro_error_bound"] + 1e-9


@pytest.fixture(scope="module")
def stats_run(
    tmp_path_factory: pytest.TempPathFactory, synth_mvtec: Path
) -> tuple[dict[str, Any], list[Any]]:
    return _run(tmp_path_factory.mktemp("pixel"), synth_mvtec, "pixel-stats")


def test_a_pixel_stats_run_holds_pixel_metrics_equal_to_its_stored_maps(
    stats_run: tuple[dict[str, Any], list[Any]],
) -> None:
    summary, given = stats_run
    block = summary["pixel_metrics"]
    assert block["pooled"]["auroc"] > 0.8  # pixel-stats localises the synthetic defects
    assert block["definition"]["fpr_limit"] == 0.3 and block["definition"]["normalised"]
    assert block["coverage"] == {"images": len(given), "without_map": 0, "defect_without_mask": 0}
    _check(block["pooled"], given)
    # Tight, not just within a loose bound: pixel-stats' z-maps reach 1e5, and binned linearly
    # (no asinh) the pooled pixel AUROC was 1.4 points off the exact one.
    truth = np.concatenate([k.ravel() for _, _, k in given])
    exact = roc_auc_score(truth, np.concatenate([m.ravel() for _, m, _ in given]))
    assert abs(block["pooled"]["auroc"] - exact) < 1e-4
    assert block["pooled"]["aupro_error_bound"] < 1e-3
    categories = sorted({o.category for o, _, _ in given})
    assert sorted(block["per_category"]) == categories
    for category in categories:
        mine = [g for g in given if g[0].category == category]
        _check(block["per_category"][category], mine)
        normals = [g for g in mine if g[0].label == "normal"]
        for kind, figures in block["per_defect_type"][category].items():
            _check(figures, normals + [g for g in mine if g[0].defect_type == kind])
    means = [block["per_category"][c]["aupro"] for c in categories]
    assert block["class_mean"]["aupro"] == pytest.approx(float(np.mean(means)))


class _Spoiled(PixelStats):
    """pixel-stats whose maps are spoiled: ``shift`` pixels rolled, or noise (``shift`` 0)."""

    shift = 0

    def predict(self, batch: Sequence[Sample], inputs: Sequence[Any] | None = None) -> list[Any]:
        rng = np.random.default_rng(0)
        out = []
        for prediction in super().predict(batch, inputs):
            z_map = prediction.anomaly_map
            assert z_map is not None
            if self.shift:
                spoiled = np.roll(z_map, (self.shift, self.shift), axis=(0, 1))
            else:
                spoiled = rng.random(z_map.shape)
            out.append(Prediction(score=prediction.score, anomaly_map=spoiled))
        return out


def test_shifted_or_noise_maps_score_lower(
    tmp_path: Path, synth_mvtec: Path, stats_run: tuple[dict[str, Any], list[Any]]
) -> None:
    good = stats_run[0]["pixel_metrics"]["pooled"]

    @register_method("pixel-stats-shifted")
    class Shifted(_Spoiled):
        shift = 20

    @register_method("pixel-stats-noise")
    class Noise(_Spoiled):
        shift = 0

    shifted = _run(tmp_path, synth_mvtec, "pixel-stats-shifted")[0]["pixel_metrics"]["pooled"]
    noise = _run(tmp_path, synth_mvtec, "pixel-stats-noise")[0]["pixel_metrics"]["pooled"]
    assert shifted["aupro"] < good["aupro"] - 0.2 and shifted["auroc"] < good["auroc"] - 0.1
    assert abs(noise["auroc"] - 0.5) < 0.05 and noise["aupro"] < good["aupro"] - 0.2


def test_a_method_without_maps_has_no_pixel_block(tmp_path: Path, synth_mvtec: Path) -> None:
    summary, given = _run(tmp_path, synth_mvtec, "always-normal")
    assert "pixel_metrics" not in summary and given == []

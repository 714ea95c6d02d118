"""Pixel AUROC / AUPRO (iadbench.analysis.pixel_metrics) against an exact reference and anomalib.

The exact reference is written here from the definition (MVTec AD, IJCV 2021): scikit-learn's
``roc_auc_score`` on all pixels; AUPRO from every distinct score as a threshold, 8-connected
regions, trapezoid up to FPR 0.3 with PRO interpolated at 0.3, divided by 0.3.
"""

from __future__ import annotations

import subprocess
import sys
import time
import types
from typing import Any

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from iadbench.analysis.pixel_metrics import (
    PixelMetricAccumulator,
    merge_all,
    pixel_summary,
)
from iadbench.contract.errors import ArgumentError

Maps = list[np.ndarray]
Masks = list[np.ndarray | None]

#: iadbench agrees with anomalib 2.7 to this on the shared fixtures (measured: 1.4e-5 AUPRO,
#: 2.4e-6 AUROC, inside the binning bounds).
ANOMALIB_TOLERANCE = 1e-4


# -- exact reference ---------------------------------------------------------------------------


def _truth(maps: Maps, masks: Masks) -> list[np.ndarray]:
    return [
        np.zeros(m.shape, bool) if k is None else np.asarray(k) != 0
        for m, k in zip(maps, masks, strict=True)
    ]


def exact_auroc(maps: Maps, masks: Masks) -> float:
    scores = np.concatenate([np.asarray(m, np.float64).ravel() for m in maps])
    truth = np.concatenate([k.ravel() for k in _truth(maps, masks)])
    return float(roc_auc_score(truth, scores))


def exact_pro_curve(maps: Maps, masks: Masks) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, PRO) at (0, 0) and at every distinct score, highest first."""
    scores, normal, share = [], [], []
    regions = 0
    for m, k in zip(maps, _truth(maps, masks), strict=True):
        labels, n = ndimage.label(k, structure=np.ones((3, 3)))
        flat = labels.ravel()
        sizes = np.bincount(flat, minlength=n + 1)
        scores.append(np.asarray(m, np.float64).ravel())
        normal.append((flat == 0).astype(np.float64))
        share.append(np.where(flat > 0, 1.0 / sizes[flat], 0.0))
        regions += n
    s, f, p = (np.concatenate(x) for x in (scores, normal, share))
    order = np.argsort(-s, kind="stable")
    s, f, p = s[order], f[order], p[order]
    last_of_score = np.append(s[1:] != s[:-1], True)
    fpr = np.cumsum(f)[last_of_score] / f.sum()
    pro = np.cumsum(p)[last_of_score] / regions
    return np.concatenate(([0.0], fpr)), np.concatenate(([0.0], pro))


def area_to_limit(fpr: np.ndarray, pro: np.ndarray, limit: float = 0.3) -> float:
    """Trapezoid area up to ``limit`` (PRO interpolated there), divided by ``limit``."""
    i = int(np.searchsorted(fpr, limit, side="right")) - 1
    area = float(np.sum((fpr[1 : i + 1] - fpr[:i]) * (pro[1 : i + 1] + pro[:i]) / 2))
    if fpr[i] < limit:
        at = pro[i] + (pro[i + 1] - pro[i]) * (limit - fpr[i]) / (fpr[i + 1] - fpr[i])
        area += (limit - fpr[i]) * (pro[i] + at) / 2
    return area / limit


def exact_aupro(maps: Maps, masks: Masks) -> float:
    return area_to_limit(*exact_pro_curve(maps, masks))


# -- fixtures ----------------------------------------------------------------------------------


def fixture(
    seed: int, n: int = 8, h: int = 40, w: int = 50, signal: float = 0.5
) -> tuple[Maps, Masks]:
    """``n`` images, every other one with 1-3 rectangular defects scored ``signal`` higher."""
    rng = np.random.default_rng(seed)
    maps: Maps = []
    masks: Masks = []
    for i in range(n):
        scores = rng.random((h, w))
        mask = np.zeros((h, w), bool)
        if i % 2:
            for _ in range(int(rng.integers(1, 4))):
                y, x = rng.integers(0, h - 5), rng.integers(0, w - 5)
                mask[y : y + rng.integers(1, 9), x : x + rng.integers(1, 9)] = True
            scores = scores + signal * mask * rng.random()
        maps.append(scores.astype(np.float32))
        masks.append(mask if i % 2 else None)
    return maps, masks


def accumulate(maps: Maps, masks: Masks, **options: Any) -> PixelMetricAccumulator:
    acc = PixelMetricAccumulator(**options)
    for m, k in zip(maps, masks, strict=True):
        acc.update(m, k)
    return acc


# -- binned vs exact -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_default_bins_agree_with_the_exact_reference_within_the_stated_bound(seed: int) -> None:
    maps, masks = fixture(seed)
    result = accumulate(maps, masks).result()
    assert result.auroc is not None and result.aupro is not None
    assert result.auroc_error_bound is not None and result.aupro_error_bound is not None
    assert abs(result.auroc - exact_auroc(maps, masks)) <= result.auroc_error_bound + 1e-12
    assert abs(result.aupro - exact_aupro(maps, masks)) <= result.aupro_error_bound + 1e-12
    # 65,536 bins over [0, 1]: the bounds are small on continuous scores.
    assert result.auroc_error_bound < 1e-4 and result.aupro_error_bound < 1e-4


@pytest.mark.parametrize("bins", [2, 8, 64, 1024])
@pytest.mark.parametrize("seed", range(4))
def test_the_bound_holds_however_coarse_the_bins(bins: int, seed: int) -> None:
    maps, masks = fixture(seed, n=6, h=20, w=24, signal=0.3)
    result = accumulate(maps, masks, bins=bins).result()
    assert result.auroc is not None and result.aupro is not None
    assert result.auroc_error_bound is not None and result.aupro_error_bound is not None
    assert abs(result.auroc - exact_auroc(maps, masks)) <= result.auroc_error_bound + 1e-12
    assert abs(result.aupro - exact_aupro(maps, masks)) <= result.aupro_error_bound + 1e-12


def test_maps_outside_the_declared_range_widen_the_bins_and_stay_within_the_bound() -> None:
    maps, masks = fixture(3)
    wide = [m.astype(np.float64) * 7.0 - 3.0 for m in maps]  # like an unnormalised distance map
    acc = accumulate(wide, masks)
    result = acc.result()
    low, high = acc.score_range
    assert low <= min(float(m.min()) for m in wide) and high > max(float(m.max()) for m in wide)
    assert result.auroc is not None and result.aupro is not None
    assert result.auroc_error_bound is not None and result.aupro_error_bound is not None
    assert abs(result.auroc - exact_auroc(wide, masks)) <= result.auroc_error_bound
    assert abs(result.aupro - exact_aupro(wide, masks)) <= result.aupro_error_bound
    assert result.aupro_error_bound < 1e-3


def test_far_out_maps_widen_many_levels_and_still_merge_within_the_bound() -> None:
    rng = np.random.default_rng(1)
    mask = np.zeros((30, 30), bool)
    mask[3:9, 3:9] = True
    far = rng.random((30, 30)) * 1e6 - 5e5 + 2e5 * mask
    near = rng.random((30, 30)) + 0.3 * mask
    merged = accumulate([near], [mask]).merge(accumulate([far], [mask])).result()
    assert merged.score_range[0] <= far.min() and merged.score_range[1] > far.max()
    assert merged.aupro is not None and merged.aupro_error_bound is not None
    assert abs(merged.aupro - exact_aupro([near, far], [mask, mask])) <= merged.aupro_error_bound
    with pytest.raises(ValueError, match="too large to bin"):
        accumulate([np.array([[1.7e308]])], [None])


def test_a_declared_range_keeps_the_full_resolution() -> None:
    maps, masks = fixture(4)
    wide = [m.astype(np.float64) * 7.0 - 3.0 for m in maps]
    declared = accumulate(wide, masks, score_range=(-3.0, 7.0)).result()
    widened = accumulate(wide, masks).result()
    assert declared.aupro_error_bound is not None and widened.aupro_error_bound is not None
    assert declared.aupro_error_bound < widened.aupro_error_bound


def test_a_max_normalised_map_does_not_widen_the_default_range() -> None:
    acc = PixelMetricAccumulator()
    acc.update(np.array([[0.0, 1.0]]), np.array([[False, True]]))
    assert acc.score_range[0] == 0.0 and 1.0 < acc.score_range[1] < 1.001


# -- merge ------------------------------------------------------------------------------------


def test_merged_categories_equal_one_pass_over_all_images() -> None:
    first, first_masks = fixture(0)
    second, second_masks = fixture(1, signal=0.2)
    merged = merge_all([accumulate(first, first_masks), accumulate(second, second_masks)]).result()
    together = accumulate(first + second, first_masks + second_masks).result()
    assert merged == together


def test_accumulators_on_different_grids_merge_within_the_bound() -> None:
    first, first_masks = fixture(0)
    second, second_masks = fixture(1)
    second = [m * 5.0 + 2.0 for m in second]  # widens only the second accumulator's grid
    one, two = accumulate(first, first_masks), accumulate(second, second_masks)
    merged = one.merge(two).result()
    maps, masks = first + second, first_masks + second_masks
    assert merged.images == 16 and merged.regions == one.regions + two.regions
    assert merged.auroc is not None and merged.auroc_error_bound is not None
    assert merged.aupro is not None and merged.aupro_error_bound is not None
    assert abs(merged.auroc - exact_auroc(maps, masks)) <= merged.auroc_error_bound
    assert abs(merged.aupro - exact_aupro(maps, masks)) <= merged.aupro_error_bound
    assert two.merge(one).result() == merged  # the order does not matter
    assert one.result().images == 8  # neither input changed


def test_pixel_summary_gives_per_category_class_mean_and_pooled() -> None:
    accs = {"a": accumulate(*fixture(0)), "b": accumulate(*fixture(1, signal=0.1))}
    summary = pixel_summary(accs)
    a, b = summary["per_category"]["a"], summary["per_category"]["b"]
    assert summary["class_mean"]["aupro"] == pytest.approx((a["aupro"] + b["aupro"]) / 2)
    maps, masks = fixture(0)
    more_maps, more_masks = fixture(1, signal=0.1)
    pooled_exact = exact_aupro(maps + more_maps, masks + more_masks)
    assert abs(summary["pooled"]["aupro"] - pooled_exact) <= summary["pooled"]["aupro_error_bound"]


def test_accumulators_with_different_bins_refuse_to_merge() -> None:
    with pytest.raises(ValueError, match="same bins"):
        PixelMetricAccumulator(bins=64).merge(PixelMetricAccumulator())


# -- definition details -------------------------------------------------------------------------


def test_regions_are_8_connected_as_in_mvtec_evaluation_code() -> None:
    mask = np.zeros((6, 6), bool)
    mask[1, 1] = mask[2, 2] = True  # touching at a corner only: one region
    mask[4, 4] = True
    acc = PixelMetricAccumulator()
    acc.update(np.zeros((6, 6)), mask)
    assert acc.result().regions == 2


def test_each_region_weighs_the_same_whatever_its_size() -> None:
    # A big region found at FPR 0 and a one-pixel region scored like the normal pixels:
    # PRO(FPR) = 1/2 + FPR/2, so AUPRO = 1/2 + 0.3/4 (a pixel-weighted overlap would give ~0.99).
    scores = np.zeros((20, 20))
    mask = np.zeros((20, 20), bool)
    mask[0:10, 0:10] = True
    mask[15, 15] = True
    scores[0:10, 0:10] = 1.0
    acc = PixelMetricAccumulator()
    acc.update(scores, mask)
    assert acc.result().aupro == pytest.approx(0.5 + 0.3 / 4, abs=1e-6)
    assert exact_aupro([scores], [mask]) == pytest.approx(acc.result().aupro, abs=1e-12)


def test_a_normal_image_may_have_no_mask_or_an_empty_one() -> None:
    maps, masks = fixture(2)
    empty = [np.zeros(m.shape, bool) if k is None else k for m, k in zip(maps, masks, strict=True)]
    assert accumulate(maps, masks).result() == accumulate(maps, empty).result()


def test_figures_are_undefined_without_defects_or_without_normal_pixels() -> None:
    only_normal = PixelMetricAccumulator()
    only_normal.update(np.random.default_rng(0).random((8, 8)))
    result = only_normal.result()
    assert (result.auroc, result.aupro, result.images, result.regions) == (None, None, 1, 0)
    only_defect = PixelMetricAccumulator()
    only_defect.update(np.ones((4, 4)), np.ones((4, 4), bool))
    assert (only_defect.result().auroc, only_defect.result().aupro) == (None, None)


@pytest.mark.parametrize(
    ("scores", "mask", "message"),
    [
        (np.array([[0.1, np.nan]]), None, "NaN or infinite"),
        (np.array([[0.1, np.inf]]), None, "NaN or infinite"),
        (np.zeros((2, 2, 3)), None, "2-D"),
        (np.zeros((4, 4)), np.zeros((2, 2), bool), "resize the map to the mask"),
    ],
)
def test_bad_maps_are_refused(scores: np.ndarray, mask: np.ndarray | None, message: str) -> None:
    acc = PixelMetricAccumulator()
    with pytest.raises(ValueError, match=message):
        acc.update(scores, mask)
    assert acc.images == 0


@pytest.mark.parametrize(
    "options", [{"bins": 3}, {"bins": 0}, {"score_range": (1.0, 1.0)}, {"fpr_limit": 0.0}]
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ArgumentError):
        PixelMetricAccumulator(**options)


# -- the metrics see the maps -------------------------------------------------------------------


def blob_fixture(seed: int, n: int = 12, size: int = 64) -> tuple[Maps, Masks]:
    """Smooth maps that are right: a Gaussian bump on each defect, low noise elsewhere."""
    rng = np.random.default_rng(seed)
    maps: Maps = []
    masks: Masks = []
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        scores = 0.1 * rng.random((size, size))
        mask = None
        if i % 2:
            cy, cx = rng.integers(12, size - 12, 2)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= 36
            scores = scores + np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 40.0)
        maps.append(scores)
        masks.append(mask)
    return maps, masks


def test_shifted_maps_score_lower_aupro_and_auroc() -> None:
    maps, masks = blob_fixture(0)
    right = accumulate(maps, masks).result()
    shifted = accumulate([np.roll(m, (8, 8), axis=(0, 1)) for m in maps], masks).result()
    assert right.aupro is not None and shifted.aupro is not None
    assert right.auroc is not None and shifted.auroc is not None
    assert right.aupro > 0.9 and shifted.aupro < right.aupro - 0.3
    assert shifted.auroc < right.auroc - 0.05


def test_noise_maps_score_auroc_near_one_half() -> None:
    maps, masks = blob_fixture(1)
    rng = np.random.default_rng(7)
    noise = accumulate([rng.random(m.shape) for m in maps], masks).result()
    assert noise.auroc is not None and noise.aupro is not None
    assert abs(noise.auroc - 0.5) < 0.03
    # A random map's PRO follows the FPR: the area up to 0.3 of PRO = FPR, normalised, is 0.15.
    assert abs(noise.aupro - 0.15) < 0.03


def test_an_inverted_map_scores_below_one_half() -> None:
    maps, masks = blob_fixture(2)
    inverted = accumulate([1.0 - m for m in maps], masks).result()
    assert inverted.auroc is not None and inverted.auroc < 0.2


# -- cost and imports -----------------------------------------------------------------------------


def test_a_256_map_accumulates_in_well_under_10_ms() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((256, 256))
    mask = np.zeros((256, 256), bool)
    mask[40:90, 60:120] = True
    mask[200:210, 10:30] = True
    acc = PixelMetricAccumulator()
    acc.update(scores, mask)  # first call imports scipy.ndimage
    times = []
    for _ in range(15):
        start = time.perf_counter()
        acc.update(scores, mask)
        times.append(time.perf_counter() - start)
    # ~3 ms measured; the fastest of 15 calls, since other processes on a shared machine can
    # only add time (medians on the 2-core dev machine ranged from 3 to 16 ms).
    assert min(times) < 0.010


def test_the_module_imports_no_torch_sklearn_or_scipy() -> None:
    code = (
        "import sys, iadbench.analysis.pixel_metrics\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- anomalib 2.7 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anomalib_metrics() -> types.SimpleNamespace:
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("anomalib.metrics")

    def score(maps: Maps, masks: Masks) -> tuple[float, float]:
        truth = np.stack(_truth(maps, masks)).astype(np.int32)
        batch = types.SimpleNamespace(
            anomaly_map=torch.from_numpy(np.stack(maps).astype(np.float32)),
            gt_mask=torch.from_numpy(truth),
        )
        aupro = metrics.AUPRO(fields=["anomaly_map", "gt_mask"])
        auroc = metrics.AUROC(fields=["anomaly_map", "gt_mask"])
        aupro.update(batch)
        auroc.update(batch)
        return float(auroc.compute()), float(aupro.compute())

    return types.SimpleNamespace(score=score)


@pytest.mark.slow
def test_agrees_with_anomalib_on_shared_fixtures(anomalib_metrics: types.SimpleNamespace) -> None:
    worst = 0.0
    for seed in range(6):
        for maps, masks in (fixture(seed), blob_fixture(seed)):
            maps = [m.astype(np.float32) for m in maps]  # anomalib scores float32
            ours = accumulate(maps, masks).result()
            auroc, aupro = anomalib_metrics.score(maps, masks)
            assert ours.auroc is not None and ours.aupro is not None
            worst = max(worst, abs(ours.auroc - auroc), abs(ours.aupro - aupro))
    assert worst <= ANOMALIB_TOLERANCE


def coarse_curve_fixture() -> tuple[Maps, Masks]:
    """Few distinct scores: the PRO curve jumps from FPR 0.1 to 0.6 across the 0.3 limit."""
    scores = np.zeros((10, 10), np.float32)
    mask = np.zeros((10, 10), bool)
    mask[0, 0:4] = True  # 4 region pixels; 96 normal pixels
    scores[0, 0:2] = 0.9  # half the region and ...
    scores[5, 0:9] = 0.9  # ... 9.6 % of the normal pixels at the top score
    scores[0, 2] = 0.5  # one more region pixel, with 48 more normal pixels (FPR 0.6)
    scores[6:10, 0:10] = 0.5
    scores[5, 9] = 0.5
    scores[1, 0:7] = 0.5
    return [scores], [mask]


@pytest.mark.slow
def test_anomalib_27_normalises_by_the_limit_as_the_definition_does(
    anomalib_metrics: types.SimpleNamespace,
) -> None:
    """anomalib <= 2.2 divided by its curve's last FPR instead of the limit (its issues #1651,
    #2442, #3718); 2.3+ interpolates at 0.3 and divides by 0.3. Fails if anomalib goes back."""
    maps, masks = coarse_curve_fixture()
    fpr, pro = exact_pro_curve(maps, masks)
    definition = area_to_limit(fpr, pro)
    below = fpr <= 0.3
    last = fpr[below][-1]
    old_rule = float(np.sum(np.diff(fpr[below]) * (pro[below][1:] + pro[below][:-1]) / 2)) / last
    assert abs(definition - old_rule) > 0.1  # the fixture tells the two rules apart
    _, aupro = anomalib_metrics.score(maps, masks)
    assert aupro == pytest.approx(definition, abs=1e-6)
    ours = accumulate(maps, masks).result()
    assert ours.aupro == pytest.approx(definition, abs=1e-9)  # one score per bin: exact


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:No positive samples:UserWarning")
def test_anomalib_scores_an_undefined_aupro_as_zero(
    anomalib_metrics: types.SimpleNamespace,
) -> None:
    """Normal images only: no region, so no PRO curve; anomalib returns 0.0, iadbench None."""
    maps = [np.random.default_rng(0).random((16, 16)).astype(np.float32)]
    _, aupro = anomalib_metrics.score(maps, [None])
    assert aupro == 0.0
    assert accumulate(maps, [None]).result().aupro is None


@pytest.mark.slow
def test_anomalib_ties_scores_closer_than_float32(anomalib_metrics: types.SimpleNamespace) -> None:
    """Defects 1e-9 above the normal pixels (float64): the definition gives AUROC = AUPRO = 1;
    anomalib casts to float32, ties them all and reports 0.5 / 0.15 with no warning. iadbench's
    bins tie them too, but its error bound says so (0.5 and 0.85)."""
    scores = np.full((10, 10), 0.5)
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    scores[mask] += 1e-9
    assert exact_auroc([scores], [mask]) == 1.0 and exact_aupro([scores], [mask]) == 1.0
    auroc, aupro = anomalib_metrics.score([scores], [mask])
    assert (auroc, aupro) == (pytest.approx(0.5), pytest.approx(0.15))
    ours = accumulate([scores], [mask]).result()
    assert ours.auroc_error_bound == pytest.approx(0.5)
    assert ours.aupro_error_bound is not None and ours.aupro_error_bound >= 0.85 - 1e-9

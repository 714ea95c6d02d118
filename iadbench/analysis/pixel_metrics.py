"""Pixel AUROC and AUPRO, accumulated one anomaly map at a time in memory that does not grow.

Definitions (the MVTec AD ones: Bergmann et al., "The MVTec Anomaly Detection Dataset",
IJCV 129:1038-1059, 2021, as MVTec's evaluation code ``generic_util.trapezoid`` and
``pro_curve_util.compute_pro`` implement them; ``docs/metrics.md`` says which copies were read):

* **Pixel AUROC**: the ROC area of all pixels of all images, a defect-mask pixel being positive.
* **AUPRO**: every connected component of every ground-truth mask is one region, connectivity 8
  (MVTec's code labels with ``scipy.ndimage.label(mask, np.ones((3, 3)))``, not scipy's default
  4-connectivity). At a threshold t, FPR(t) = the share of the normal pixels of *all* images
  (defect images' normal pixels included) scoring >= t, and PRO(t) = the mean over all regions of
  the share of the region's pixels scoring >= t. The curve (0, 0), then one (FPR, PRO) point per
  distinct score from the highest down, is integrated by the trapezoid rule up to FPR = 0.3
  (PRO at 0.3 interpolated linearly between its neighbours) and divided by 0.3.

Streaming. Scores are counted in :data:`DEFAULT_BINS` equal-width bins; three histograms hold
everything (normal pixels, defect pixels, and region overlap: each defect pixel adds
1 / (its region's size)), so memory is fixed whatever the number of images. The bins start on the
method's declared score range (default [0, 1]); a map with values outside it widens the range by
doubling the bin width, merging pairs of bins (exact: the old edges are edges of the new grid),
until it fits — no score is ever clipped, and two accumulators on the same initial grid always
merge exactly (:meth:`PixelMetricAccumulator.merge`).

Binning error, stated and reported. Each bin edge is a threshold, so the binned curves are
exact curves' points joined by straight lines; only what happens inside one bin is lost:

* AUROC: pairs (normal, defect pixel) in the same bin count 1/2 instead of 0, 1/2 or 1, so
  ``|binned - exact| <= sum_k n_k d_k / (2 N D)`` (``auroc_error_bound``).
* AUPRO: between two binned points the exact curve is monotone, so its area lies between the
  lower and the upper rectangle: ``|binned - exact| <= (sum_k dF_k dP_k / 2 + w dP_last) / 0.3``,
  summed over the bins below the limit, w the part of the last bin below 0.3
  (``aupro_error_bound``).

Both bounds are computed from the histograms of the data at hand and are returned with the
figures; with 65,536 bins over [0, 1] they are typically below 1e-4. Scores must be finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from iadbench.contract.errors import ArgumentError
from iadbench.contract.numbers import real_number, whole_number

#: The FPR up to which the PRO curve is integrated (MVTec AD, IJCV 2021).
FPR_LIMIT = 0.3
#: Bins of the score histograms: 3 x 65,536 x 8 bytes = 1.5 MiB per accumulator.
DEFAULT_BINS = 65536
#: The score range the bins start on when the method declares none.
DEFAULT_RANGE = (0.0, 1.0)
#: Connected components of a mask are 8-connected, as in MVTec's evaluation code.
CONNECTIVITY = 8


@dataclass(frozen=True)
class PixelMetrics:
    """Pixel AUROC and AUPRO of a set of images, with their binning-error bounds.

    ``None`` where a figure is undefined: AUROC without normal or without defect pixels, AUPRO
    without normal pixels or without a defect region.
    """

    auroc: float | None
    aupro: float | None
    auroc_error_bound: float | None
    aupro_error_bound: float | None
    images: int
    normal_pixels: int
    defect_pixels: int
    regions: int
    score_range: tuple[float, float]

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (``score_range`` as a list)."""
        values = asdict(self)
        values["score_range"] = list(self.score_range)
        return values


class PixelMetricAccumulator:
    """Pixel AUROC and AUPRO of images added one at a time (:meth:`update`), in fixed memory.

    Args:
        score_range: The range the method's map values are declared to lie in; values outside
            it are accepted and widen the bins (coarser, see the module docstring).
        bins: The number of histogram bins (even, at least 2).
        fpr_limit: The FPR up to which the PRO curve is integrated.
    """

    def __init__(
        self,
        *,
        score_range: tuple[float, float] = DEFAULT_RANGE,
        bins: int = DEFAULT_BINS,
        fpr_limit: float = FPR_LIMIT,
    ) -> None:
        low = real_number(score_range[0], name="score_range")
        high = real_number(score_range[1], name="score_range", minimum=low)
        self.bins = whole_number(bins, name="bins", minimum=2)
        if self.bins % 2:
            raise ArgumentError(f"bins must be even (bins are merged in pairs), got {self.bins}")
        if high <= low:
            raise ArgumentError(f"score_range must have low < high, got {score_range}")
        self.fpr_limit = real_number(fpr_limit, name="fpr_limit", minimum=0.0, maximum=1.0)
        if self.fpr_limit <= 0.0:
            raise ArgumentError("fpr_limit must be greater than 0, got 0.0")
        self._origin = low
        # bins - 1 widths span the declared range, so its upper end (a max-normalised map's
        # 1.0) falls inside the last bin instead of widening the grid.
        self._base_width = (high - low) / (self.bins - 1)
        # The bins now cover lattice cells [offset, offset + bins) of width base_width * 2**level
        # counted from the origin; level and offset only grow/move when a map needs more range.
        self._level = 0
        self._offset = 0
        self._normal = np.zeros(self.bins, dtype=np.int64)
        self._defect = np.zeros(self.bins, dtype=np.int64)
        self._overlap = np.zeros(self.bins, dtype=np.float64)
        self.images = 0
        self.regions = 0

    # -- grid ------------------------------------------------------------------------------

    def _grid(self) -> tuple[float, float, int]:
        """(origin, base width, bins): accumulators merge only when these are equal."""
        return (self._origin, self._base_width, self.bins)

    @property
    def score_range(self) -> tuple[float, float]:
        """The score range the bins cover now (the declared one, or wider)."""
        width = self._base_width * 2.0**self._level
        low = self._origin + self._offset * width
        return (low, low + self.bins * width)

    def _regrid(self, level: int, offset: int) -> None:
        """Move the histograms to the coarser grid (``level``, ``offset``); exact."""
        # numpy's >> by 64 or more is not a floor; cells are far below 2**62, so 63 is enough.
        shift = min(level - self._level, 63)
        cells = (self._offset + np.arange(self.bins, dtype=np.int64)) >> shift
        target = cells - offset
        self._normal = np.bincount(target, weights=self._normal, minlength=self.bins).astype(
            np.int64
        )
        self._defect = np.bincount(target, weights=self._defect, minlength=self.bins).astype(
            np.int64
        )
        self._overlap = np.bincount(target, weights=self._overlap, minlength=self.bins).astype(
            np.float64
        )
        self._level, self._offset = level, offset

    def _cover(self, fine_low: float, fine_high: float, min_level: int = 0) -> None:
        """Widen the grid (never narrow it) until it covers ``[fine_low, fine_high]`` too.

        Coordinates are in base bin widths from the origin; the grid becomes the finest level
        (at least ``min_level``) whose ``bins`` cells hold both the old window and the range.
        """
        for level in range(max(self._level, min_level), self._level + 2200):
            shift = level - self._level
            low = min(math.floor(math.ldexp(fine_low, -level)), self._offset >> shift)
            high = max(
                math.floor(math.ldexp(fine_high, -level)),
                (self._offset + self.bins - 1) >> shift,
            )
            if high - low < self.bins:
                if (level, low) != (self._level, self._offset):
                    self._regrid(level, low)
                return
        raise ValueError("the anomaly map's values are too far from the declared score range")

    def _fine(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Scores in units of the base bin width from the origin (monotone in the score)."""
        with np.errstate(over="ignore"):  # an overflow becomes inf, refused just below
            fine = (values - self._origin) / self._base_width
        if not np.isfinite(fine).all():
            if not np.isfinite(values).all():
                raise ValueError("an anomaly map holds NaN or infinite values")
            raise ValueError("the anomaly map's values are too large to bin")
        return fine

    # -- accumulate ------------------------------------------------------------------------

    def update(self, anomaly_map: npt.ArrayLike, mask: npt.ArrayLike | None = None) -> None:
        """Add one image: its anomaly map and its ground-truth mask (``None``: a normal image).

        Args:
            anomaly_map: (H, W) real scores, higher = more anomalous.
            mask: (H, W) ground truth, nonzero = defect; ``None`` or all zero for a normal image.

        Raises:
            ValueError: a map that is not 2-D or holds NaN/inf, or a mask of another shape.
        """
        scores = np.asarray(anomaly_map, dtype=np.float64)
        if scores.ndim != 2:
            raise ValueError(f"an anomaly map must be 2-D (H, W), got shape {scores.shape}")
        defect = None if mask is None else np.asarray(mask) != 0
        if defect is not None and defect.shape != scores.shape:
            raise ValueError(
                f"the mask's shape {defect.shape} differs from the map's {scores.shape}: "
                "resize the map to the mask first"
            )
        fine = self._fine(scores.ravel())
        if fine.size == 0:
            return
        self._cover(float(fine.min()), float(fine.max()))
        # Cell minus the window's first cell is >= 0 here, so truncation is the floor (and the
        # float subtraction is exact: both are multiples of the float's unit, well below 2**52).
        index = (np.ldexp(fine, -self._level) - self._offset).astype(np.int64)
        np.clip(index, 0, self.bins - 1, out=index)
        self.images += 1
        if defect is None or not defect.any():
            self._normal += np.bincount(index, minlength=self.bins)
            return
        labels, regions = _label_regions(defect)
        flat = labels.ravel()
        inside = flat > 0
        self._normal += np.bincount(index[~inside], minlength=self.bins)
        self._defect += np.bincount(index[inside], minlength=self.bins)
        sizes = np.bincount(flat, minlength=regions + 1).astype(np.float64)
        weights = 1.0 / sizes[flat[inside]]
        self._overlap += np.bincount(index[inside], weights=weights, minlength=self.bins)
        self.regions += regions

    def merge(self, other: PixelMetricAccumulator) -> PixelMetricAccumulator:
        """A new accumulator holding both ``self``'s and ``other``'s images (neither changes).

        Raises:
            ValueError: the two were made with different bins, declared range or FPR limit.
        """
        if self._grid() != other._grid() or self.fpr_limit != other.fpr_limit:
            raise ValueError("pixel accumulators merge only with the same bins, range and limit")
        merged = self.copy()
        # The other's window, as the starts of its first and last cells in base widths.
        merged._cover(
            math.ldexp(float(other._offset), other._level),
            math.ldexp(float(other._offset + other.bins - 1), other._level),
            min_level=other._level,
        )
        theirs = other.copy()
        theirs._regrid(merged._level, merged._offset)
        merged._normal += theirs._normal
        merged._defect += theirs._defect
        merged._overlap += theirs._overlap
        merged.images += other.images
        merged.regions += other.regions
        return merged

    def copy(self) -> PixelMetricAccumulator:
        """An independent copy."""
        twin = PixelMetricAccumulator.__new__(PixelMetricAccumulator)
        twin.__dict__.update(self.__dict__)
        twin._normal = self._normal.copy()
        twin._defect = self._defect.copy()
        twin._overlap = self._overlap.copy()
        return twin

    # -- figures ---------------------------------------------------------------------------

    def result(self) -> PixelMetrics:
        """Pixel AUROC and AUPRO of every image added so far, with their error bounds."""
        normal_total = int(self._normal.sum())
        defect_total = int(self._defect.sum())
        auroc = auroc_bound = aupro = aupro_bound = None
        if normal_total and defect_total:
            auroc, auroc_bound = _binned_auroc(self._normal, self._defect)
        if normal_total and self.regions:
            aupro, aupro_bound = _binned_aupro(
                self._normal, self._overlap, self.regions, self.fpr_limit
            )
        return PixelMetrics(
            auroc=auroc,
            aupro=aupro,
            auroc_error_bound=auroc_bound,
            aupro_error_bound=aupro_bound,
            images=self.images,
            normal_pixels=normal_total,
            defect_pixels=defect_total,
            regions=self.regions,
            score_range=self.score_range,
        )


def _label_regions(defect: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int32], int]:
    """8-connected components of a mask (labels 1..n, 0 = normal) and their number."""
    # scipy is imported here, not at module level: the CLI's start-up must not pay for it.
    from scipy import ndimage  # type: ignore[import-untyped]  # scipy ships no stubs

    labels, regions = ndimage.label(defect, structure=np.ones((3, 3), dtype=int))
    return np.asarray(labels, dtype=np.int32), int(regions)


def _curve(histogram: npt.NDArray[Any], total: float) -> npt.NDArray[np.float64]:
    """(0, then) the share of the total at or above each bin edge, from the highest bin down."""
    shares = np.cumsum(histogram[::-1], dtype=np.float64) / total
    return np.concatenate(([0.0], np.minimum(shares, 1.0)))


def _binned_auroc(
    normal: npt.NDArray[np.int64], defect: npt.NDArray[np.int64]
) -> tuple[float, float]:
    """Trapezoid ROC area of the binned curve, and the bound on its distance to the exact one."""
    n_total, d_total = float(normal.sum()), float(defect.sum())
    fpr, tpr = _curve(normal, n_total), _curve(defect, d_total)
    area = float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2.0))
    bound = float(np.dot(normal.astype(np.float64), defect.astype(np.float64)))
    return area, bound / (2.0 * n_total * d_total)


def _binned_aupro(
    normal: npt.NDArray[np.int64], overlap: npt.NDArray[np.float64], regions: int, limit: float
) -> tuple[float, float]:
    """Normalised PRO area up to ``limit`` of the binned curve, and its error bound."""
    fpr, pro = _curve(normal, float(normal.sum())), _curve(overlap, float(regions))
    d_fpr, d_pro = np.diff(fpr), np.diff(pro)
    # Segments wholly at or below the limit, then the one that crosses it (if any).
    full = int(np.searchsorted(fpr, limit, side="right")) - 1  # fpr[full] <= limit < fpr[full+1]
    area = float(np.sum(d_fpr[:full] * (pro[1 : full + 1] + pro[:full]) / 2.0))
    bound = float(np.sum(d_fpr[:full] * d_pro[:full]) / 2.0)
    if full < len(d_fpr) and fpr[full] < limit:
        part = limit - fpr[full]
        at_limit = pro[full] + d_pro[full] * part / d_fpr[full]
        area += part * (pro[full] + at_limit) / 2.0
        bound += part * float(d_pro[full])
    return float(area / limit), float(bound / limit)


def merge_all(accumulators: Iterable[PixelMetricAccumulator]) -> PixelMetricAccumulator:
    """One accumulator holding the images of all (e.g. the pooled figures of a run).

    Raises:
        ValueError: no accumulator given, or two that cannot merge.
    """
    items = list(accumulators)
    if not items:
        raise ValueError("merge_all needs at least one accumulator")
    merged = items[0].copy()
    for item in items[1:]:
        merged = merged.merge(item)
    return merged


def pixel_summary(per_category: Mapping[str, PixelMetricAccumulator]) -> dict[str, Any]:
    """The pixel block of a run: per category, class mean and pooled, from one pass.

    ``class_mean`` is the unweighted mean of the categories' defined values (``None`` if none);
    ``pooled`` merges every category's accumulator (all images together).
    """
    results = {name: acc.result() for name, acc in per_category.items()}
    mean: dict[str, float | None] = {}
    for key in ("auroc", "aupro"):
        values = [getattr(r, key) for r in results.values() if getattr(r, key) is not None]
        mean[key] = float(np.mean(values)) if values else None
    pooled = merge_all(per_category.values()).result().as_dict() if per_category else None
    return {
        "per_category": {name: r.as_dict() for name, r in results.items()},
        "class_mean": mean,
        "pooled": pooled,
    }

"""NSA synthetic anomalies for AnomalyGPT's training: cut-paste with Poisson blending.

AnomalyGPT pairs every normal training image with a synthetic anomaly made the NSA way (Schlüter
et al., *Natural Synthetic Anomalies for Self-Supervised Anomaly Detection and Localization*,
ECCV 2022): one or two rectangles cut from another normal image, resized, moved, and blended in
with ``cv2.seamlessClone``. The answer it is trained to give names where the anomalies are.

Facts read (not code: the official repository is CC BY-NC-SA) from CASIA-IVA-Lab/AnomalyGPT at
commit f21c51b93de1094440172051e48f114fb630a389:

- ``code/datasets/self_sup_tasks.py`` (``patch_ex``, ``_patch_ex``): the algorithm. A patch's
  half-widths are ``(offset + Gamma(shape, scale)) · side`` clipped to ``width_bounds_pct · side``;
  its source centre is uniform in ``[min half-width, side − min half-width)``; with
  ``skip_background`` the source rectangle must hold more than ``min_object_pct`` object pixels
  (200 tries). The cut is resized by ``clip(N(1, 0.5), *resize_bounds)`` keeping its aspect
  ratio, each side clipped again to the half-width bounds (so a pasted patch is never larger than
  the maximum *half*-width). Its destination centre is uniform with the patch inside the image;
  with ``skip_background`` more than ``min_overlap_pct`` of the source's object pixels must land
  on the destination's object (200 tries). The label region is the patch restricted to source ∪
  destination object; the blending mask adds the pixels that are background in both, with its
  one-pixel border zeroed; fewer than 50 blending pixels or an OpenCV error drop the patch.
  ``NORMAL_CLONE`` at centre ``(right − w // 2, top + h // 2)``. The first patch is always tried,
  each further one on a coin flip. The mask is the pasted regions where the mean absolute RGB
  change exceeds ``tol`` = 1, median-filtered (5 × 5); the soft label (``logistic-intensity``) is
  that mask times ``1 / (1 + exp(−k (d − x0)))``, ``d`` the change median-filtered over a disk
  of radius 5. An object mask is ``|mean RGB − brightness| > threshold``, median-filtered (7 × 7).
- ``code/datasets/mvtec.py`` and ``code/datasets/visa.py``: the parameters (``mvtec_options``,
  ``VISA_OPTIONS``), images resized to 224 × 224 (bicubic) before synthesis, the position words
  and the answer text (``position_word``, ``anomaly_answer``).

Kept as the official code has them, on purpose: the centre behind a position word is that of the
bounding box of *all patches pasted so far*, not of that patch alone; a later patch's label
rectangle overwrites an earlier one where they overlap. The official source image is simply the
previous sample the data loader drew (any category of the mixed training list, the destination
itself only if drawn twice in a row); which image to pass as ``source`` is the caller's choice.
Not carried over: the modes AnomalyGPT does not use (``uniform``, ``swap``, ellipse masks,
CutPaste sizes, grayscale input) and the global ``np.random`` state (a ``Generator`` is passed
instead, so draws follow the same distributions but not the same sequence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]
"""A pasted rectangle as (top, bottom, left, right); bottom and right exclusive."""

MVTEC_TEXTURES = ("carpet", "grid", "leather", "tile", "wood")

# mvtec.py: WIDTH_BOUNDS_PCT (half-width bounds as fractions of (height, width)).
_MVTEC_WIDTH_BOUNDS = {
    "bottle": ((0.03, 0.4), (0.03, 0.4)),
    "cable": ((0.05, 0.4), (0.05, 0.4)),
    "capsule": ((0.03, 0.15), (0.03, 0.4)),
    "hazelnut": ((0.03, 0.35), (0.03, 0.35)),
    "metal_nut": ((0.03, 0.4), (0.03, 0.4)),
    "pill": ((0.03, 0.2), (0.03, 0.4)),
    "screw": ((0.03, 0.12), (0.03, 0.12)),
    "toothbrush": ((0.03, 0.4), (0.03, 0.2)),
    "transistor": ((0.03, 0.4), (0.03, 0.4)),
    "zipper": ((0.03, 0.4), (0.03, 0.2)),
    **dict.fromkeys(MVTEC_TEXTURES, ((0.03, 0.4), (0.03, 0.4))),
}
# mvtec.py: INTENSITY_LOGISTIC_PARAMS, (k, x0).
_MVTEC_LOGISTIC = {
    "bottle": (1 / 12, 24.0),
    "cable": (1 / 12, 24.0),
    "capsule": (1 / 2, 4.0),
    "hazelnut": (1 / 12, 24.0),
    "metal_nut": (1 / 3, 7.0),
    "pill": (1 / 3, 7.0),
    "screw": (1.0, 3.0),
    "toothbrush": (1 / 6, 15.0),
    "transistor": (1 / 6, 15.0),
    "zipper": (1 / 6, 15.0),
    "carpet": (1 / 3, 7.0),
    "grid": (1 / 3, 7.0),
    "leather": (1 / 3, 7.0),
    "tile": (1 / 3, 7.0),
    "wood": (1 / 6, 15.0),
}
# mvtec.py: BACKGROUND, (brightness, threshold); other categories paste anywhere.
_MVTEC_BACKGROUND = {
    **dict.fromkeys(("bottle", "screw", "capsule", "zipper"), (200, 60)),
    **dict.fromkeys(("hazelnut", "pill", "toothbrush", "metal_nut"), (20, 20)),
}


@dataclass(frozen=True)
class NSAOptions:
    """Parameters of one category's synthesis; the defaults are VisA's (``visa.py``).

    Attributes:
        width_bounds_pct: ((min, max) half-height, (min, max) half-width) as image fractions.
        num_patches: patches tried: the first always, each further one on a coin flip.
        gamma_params: (shape, scale, offset) of the half-width distribution.
        resize_bounds: bounds of the resize factor drawn from N(1, 0.5).
        skip_background: (brightness, threshold) pairs defining the background to avoid, or
            None to paste anywhere.
        min_object_pct: object fraction a source rectangle must exceed.
        min_overlap_pct: fraction of the source's object that must land on the destination's.
        intensity_logistic_params: (k, x0) of the soft label's logistic.
        tol: mean absolute RGB change a pixel needs to be labelled.
        mixed_clone: ``cv2.MIXED_CLONE`` instead of ``NORMAL_CLONE`` (AnomalyGPT: normal).
        max_attempts: tries for a source and for a destination before a patch is dropped.
    """

    width_bounds_pct: tuple[tuple[float, float], tuple[float, float]] = ((0.03, 0.4), (0.03, 0.4))
    num_patches: int = 2
    gamma_params: tuple[float, float, float] = (2.0, 0.05, 0.03)
    resize_bounds: tuple[float, float] = (0.5, 2.0)
    skip_background: tuple[tuple[int, int], ...] | None = None
    min_object_pct: float = 0.0
    min_overlap_pct: float = 0.25
    intensity_logistic_params: tuple[float, float] = (1 / 12, 24.0)
    tol: float = 1.0
    mixed_clone: bool = False
    max_attempts: int = 200


VISA_OPTIONS = NSAOptions()
"""VisA's parameters, the same for all 12 categories (``visa.py``)."""


def mvtec_options(category: str) -> NSAOptions:
    """MVTec AD's parameters for one category (``mvtec.py``).

    Args:
        category: MVTec AD folder name, e.g. ``"metal_nut"``.

    Returns:
        The category's options: its half-width bounds and logistic, its background if it has
        one, resize bounds (0.5, 2) for textures and (0.7, 1.3) for objects.

    Raises:
        KeyError: for a name that is not an MVTec AD category.
    """
    background = _MVTEC_BACKGROUND.get(category)
    return NSAOptions(
        width_bounds_pct=_MVTEC_WIDTH_BOUNDS[category],
        resize_bounds=(0.5, 2.0) if category in MVTEC_TEXTURES else (0.7, 1.3),
        skip_background=None if background is None else (background,),
        intensity_logistic_params=_MVTEC_LOGISTIC[category],
    )


@dataclass(frozen=True)
class SyntheticAnomaly:
    """One synthesised training image.

    Attributes:
        image: (H, W, 3) uint8, the input with the patches blended in.
        mask: (H, W) bool, the pixels labelled anomalous.
        label: (H, W) float32 in [0, 1], the soft label AnomalyGPT trains its decoder on.
        boxes: the destination rectangle of each pasted patch (no pixel outside them changes).
            A box may hold no labelled pixel (flat pasted on flat changes nothing); its
            position word is still given, as in the official code.
        centers: (row, column) behind each position word (see the module docstring).
        positions: one position word per pasted patch, e.g. ``"top left"``.
    """

    image: np.ndarray
    mask: np.ndarray
    label: np.ndarray
    boxes: tuple[Box, ...]
    centers: tuple[tuple[float, float], ...]
    positions: tuple[str, ...]

    @property
    def answer(self) -> str:
        """The official target answer for this image."""
        return anomaly_answer(self.positions)


def object_mask(image: np.ndarray, background: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Pixels whose mean RGB is farther than the threshold from every background brightness.

    Args:
        image: (H, W, 3) uint8.
        background: (brightness, threshold) pairs.

    Returns:
        (H, W) uint8 of 0 and 1, median-filtered (7 × 7) against threshold grain.
    """
    import cv2

    brightness = image.mean(axis=-1)
    keep = np.ones(image.shape[:2], dtype=bool)
    for level, threshold in background:
        keep &= np.abs(brightness - level) > threshold
    return np.asarray(cv2.medianBlur(keep.astype(np.uint8), 7))


def synthesize_anomaly(
    image: np.ndarray,
    source: np.ndarray,
    rng: np.random.Generator,
    options: NSAOptions = VISA_OPTIONS,
) -> SyntheticAnomaly:
    """Blend one or more patches of ``source`` into ``image`` (AnomalyGPT's ``patch_ex``).

    Args:
        image: (H, W, 3) uint8 normal image (AnomalyGPT resizes to 224 × 224 first; the 50-pixel
            minimum and the filter sizes are in pixels).
        source: (H, W, 3) uint8 normal image the patches are cut from.
        rng: the only source of randomness: the same seed gives the same result.
        options: the category's parameters (``VISA_OPTIONS``, ``mvtec_options(category)``).

    Returns:
        The synthetic anomaly. When every patch failed (no place found, too small to blend),
        the image comes back unchanged with no boxes; the official code then trains on the
        normal answer for it.

    Raises:
        ValueError: if the images are not equally sized (H, W, 3) uint8 arrays.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if source.shape != image.shape or source.dtype != np.uint8:
        raise ValueError(f"source must match image {image.shape}, got {source.shape}")
    dest_object = src_object = None
    if options.skip_background is not None:
        dest_object = object_mask(image, options.skip_background)
        src_object = object_mask(source, options.skip_background)

    height, width = image.shape[:2]
    result = image.copy()
    region = np.zeros((height, width), dtype=np.uint8)
    boxes: list[Box] = []
    centers: list[tuple[float, float]] = []
    union = [height - 1, 0, width - 1, 0]
    for index in range(options.num_patches):
        if index > 0 and rng.integers(2) == 0:
            continue
        pasted = _paste_one(result, source, dest_object, src_object, rng, options)
        if pasted is None:
            continue
        result, box, patch_mask = pasted
        top, bottom, left, right = box
        region[top:bottom, left:right] = patch_mask  # overwrites earlier patches, as official
        union = [
            min(union[0], top),
            max(union[1], bottom),
            min(union[2], left),
            max(union[3], right),
        ]
        boxes.append(box)
        centers.append(((union[0] + union[1]) / 2, (union[2] + union[3]) / 2))

    mask, label = _labels(image, result, region, options)
    positions = tuple(position_word(center, (height, width)) for center in centers)
    return SyntheticAnomaly(result, mask, label, tuple(boxes), tuple(centers), positions)


def _paste_one(
    dest: np.ndarray,
    source: np.ndarray,
    dest_object: np.ndarray | None,
    src_object: np.ndarray | None,
    rng: np.random.Generator,
    options: NSAOptions,
) -> tuple[np.ndarray, Box, np.ndarray] | None:
    """Cut, resize, place and blend one patch; None when it cannot be placed or blended."""
    import cv2

    height, width = dest.shape[:2]
    (lo_h, hi_h), (lo_w, hi_w) = (
        (round(low * side), round(high * side))
        for (low, high), side in zip(options.width_bounds_pct, (height, width), strict=True)
    )
    shape, scale, offset = options.gamma_params
    half_h = int(np.clip((offset + rng.gamma(shape, scale)) * height, lo_h, hi_h))
    half_w = int(np.clip((offset + rng.gamma(shape, scale)) * width, lo_w, hi_w))
    for _ in range(options.max_attempts):
        row = int(rng.integers(lo_h, height - lo_h))
        col = int(rng.integers(lo_w, width - lo_w))
        top, bottom = max(row - half_h, 0), min(row + half_h, height)
        left, right = max(col - half_w, 0), min(col + half_w, width)
        if src_object is None or src_object[top:bottom, left:right].mean() > options.min_object_pct:
            break
    else:
        return None

    cut = source[top:bottom, left:right]
    cut_h, cut_w = cut.shape[:2]
    factor = float(np.clip(rng.normal(1.0, 0.5), *options.resize_bounds))
    new_h = float(np.clip(factor * cut_h, lo_h, hi_h))
    new_w = int(np.clip(int(new_h / cut_h * cut_w), lo_w, hi_w))
    new_h = int(np.clip(int(new_w / cut_w * cut_h), lo_h, hi_h))  # again, in case of clipping
    patch = cv2.resize(cut, (new_w, new_h))
    patch_mask = np.ones((new_h, new_w), dtype=np.uint8)
    cut_object = None
    if src_object is not None:
        cut_object = cv2.resize(src_object[top:bottom, left:right], (new_w, new_h))

    for _ in range(options.max_attempts):
        row = int(rng.integers(new_h // 2 + 1, height - new_h // 2 - 1))
        col = int(rng.integers(new_w // 2 + 1, width - new_w // 2 - 1))
        top, bottom = row - new_h // 2, row + (new_h + 1) // 2
        left, right = col - new_w // 2, col + (new_w + 1) // 2
        if cut_object is None or dest_object is None:
            break
        cut_area = int(cut_object.sum())
        overlap = int((dest_object[top:bottom, left:right] & cut_object).sum())
        if (
            cut_area / patch_mask.size > options.min_object_pct
            and cut_area > 0
            and overlap / cut_area > options.min_overlap_pct
        ):
            break
    else:
        return None

    blend = patch_mask
    if cut_object is not None and dest_object is not None:
        dest_here = dest_object[top:bottom, left:right]
        patch_mask = patch_mask & (cut_object | dest_here)
        # Background on both sides joins the blend (not the label) to avoid seams.
        blend = patch_mask | ((1 - cut_object) & (1 - dest_here))
    blend = blend * np.uint8(255)
    blend[0], blend[-1], blend[:, 0], blend[:, -1] = 0, 0, 0, 0  # OpenCV artefacts at the edge
    if np.count_nonzero(blend) < 50:  # seamlessClone fails on tiny masks
        return None
    center = (right - (right - left) // 2, top + (bottom - top) // 2)
    flag = cv2.MIXED_CLONE if options.mixed_clone else cv2.NORMAL_CLONE
    try:
        blended = cv2.seamlessClone(patch, dest, blend, center, flag)
    except cv2.error:
        return None
    return np.asarray(blended), (top, bottom, left, right), patch_mask


def _labels(
    before: np.ndarray, after: np.ndarray, region: np.ndarray, options: NSAOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Binary mask and soft (logistic-intensity) label of what changed inside ``region``."""
    import cv2
    from scipy.ndimage import median_filter  # type: ignore[import-untyped]

    change = np.abs(before.astype(np.float64) - after.astype(np.float64)).mean(axis=-1)
    binary = cv2.medianBlur(((region * change) > options.tol).astype(np.uint8), 5)
    radius = 5  # skimage.morphology.disk(5), as in the official median
    ys, xs = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    smoothed = median_filter(binary * change, footprint=ys**2 + xs**2 <= radius**2, mode="nearest")
    k, x0 = options.intensity_logistic_params
    label = binary / (1.0 + np.exp(-k * (smoothed - x0)))
    return binary.astype(bool), label.astype(np.float32)


def position_word(center: tuple[float, float], shape: tuple[int, int]) -> str:
    """Where a (row, column) point lies on a 3 × 3 grid, in the official answer's words.

    Args:
        center: (row, column) in pixels.
        shape: (height, width) of the image.

    Returns:
        One of "top left", "top", "top right", "left", "center", "right", "bottom left",
        "bottom", "bottom right"; a point on a third's line belongs to the upper/left cell.
    """
    row, col = center[0] / shape[0], center[1] / shape[1]
    vertical = "top" if row <= 1 / 3 else "" if row <= 2 / 3 else "bottom"
    horizontal = "left" if col <= 1 / 3 else "" if col <= 2 / 3 else "right"
    return " ".join(word for word in (vertical, horizontal) if word) or "center"


def anomaly_answer(positions: tuple[str, ...] | list[str]) -> str:
    """The official target answer for an image with anomalies at ``positions``.

    Args:
        positions: position words, one per pasted patch (none for a normal image).

    Returns:
        "No, there is no anomaly in the image." for none; "Yes, there is an anomaly in the
        image, at the {p} of the image." for one; for two, "Yes, there are 2 anomalies in the
        image, they are at the {p} and {q} of the image." ("and {q}" left out when q == p).

    Raises:
        ValueError: for more than two positions (the official text is only complete for two).
    """
    if not positions:
        return "No, there is no anomaly in the image."
    if len(positions) == 1:
        return f"Yes, there is an anomaly in the image, at the {positions[0]} of the image."
    if len(positions) > 2:
        raise ValueError(f"the official answer covers at most 2 anomalies, got {len(positions)}")
    first, second = positions
    where = first if second == first else f"{first} and {second}"
    return f"Yes, there are 2 anomalies in the image, they are at the {where} of the image."

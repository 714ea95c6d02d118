"""Thumbnails and anomaly-map overlays for the report, as ``data:`` JPEG URIs.

Images are downscaled with Pillow so the page stays small; an image that cannot be read (moved
dataset, unreadable file, an id that would leave its root) gives None and the page says so.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from iadbench.views.report.predictions import safe_relative

if TYPE_CHECKING:  # numpy is imported where maps are drawn
    import numpy as np

THUMBNAIL_PX = 160
JPEG_QUALITY = 80


def image_path(root: str | None, sample_id: str) -> Path | None:
    """Where a sample's image lies (``root / id``), or None when that cannot be said safely."""
    relative = safe_relative(sample_id)
    if root is None or relative is None:
        return None
    return Path(root) / relative


def _jpeg_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _open_small(path: Path, size: int) -> Image.Image | None:
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEGs decode at a reduced scale
            small = image.convert("RGB")
            small.thumbnail((size, size))
            return small
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def thumbnail(path: Path | None, size: int = THUMBNAIL_PX) -> str | None:
    """A JPEG ``data:`` URI of the image at ``path`` fitted in ``size`` px, or None."""
    if path is None:
        return None
    small = _open_small(path, size)
    return None if small is None else _jpeg_uri(small)


def overlay(
    image: Path | None, anomaly_map: Path, size: int = THUMBNAIL_PX, alpha: float = 0.5
) -> str | None:
    """The image with its anomaly map blended on top (``inferno`` colours), or None.

    The map PNG is read on its absolute 0-255 scale (as AprilGAN writes it), not stretched per
    image: a pale overlay means a low map everywhere. Without a readable image the map alone is
    shown.

    Args:
        image: The test image (None or unreadable: the map alone).
        anomaly_map: Single-channel PNG, 0 = normal, 255 = anomalous.
        size: Longest side of the result in pixels.
        alpha: Weight of the coloured map.
    """
    import numpy as np

    try:
        with Image.open(anomaly_map) as raw:
            grey = raw.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    grey.thumbnail((size, size))
    return _blend(image, np.asarray(grey, dtype=np.float32) / 255.0, size, alpha)


def _blend(image: Path | None, shares: np.ndarray, size: int, alpha: float) -> str:
    """``shares`` (values in [0, 1]) in ``inferno`` colours, blended over the image."""
    import numpy as np
    from matplotlib import colormaps

    colours = colormaps["inferno"](np.clip(shares, 0.0, 1.0))[..., :3]
    heat = Image.fromarray((colours * 255).round().astype(np.uint8), mode="RGB")
    base = _open_small(image, size) if image is not None else None
    if base is None:
        return _jpeg_uri(heat)
    return _jpeg_uri(Image.blend(base, heat.resize(base.size, Image.Resampling.BILINEAR), alpha))


def map_overlay(
    image: Path | None,
    values: np.ndarray,
    scale: tuple[float, float],
    size: int = THUMBNAIL_PX,
    alpha: float = 0.5,
) -> str:
    """The image with a stored anomaly map (its values, any scale) blended on top.

    The map is read on ``scale`` = (value shown darkest, value shown brightest), the same for
    every overlay of a run so that pictures compare, on an asinh scale between them (nearly
    linear for values in [0, 1], logarithmic for large ones); values beyond it saturate. The map is
    resized bilinearly to the image's thumbnail (maps are often smaller than the image).

    Args:
        image: The test image (None or unreadable: the map alone, at its own size).
        values: The (H, W) map as stored.
        scale: ``(low, high)`` of the colour scale.
        size: Longest side of the result in pixels.
        alpha: Weight of the coloured map.
    """
    import numpy as np

    # On an asinh scale: nearly linear on [0, 1] maps, logarithmic on wide ones (z-maps), so
    # neither a [0, 1] map nor a map of a few huge pixels is drawn as one flat colour.
    low, high = np.arcsinh(scale[0]), np.arcsinh(scale[1])
    shares = (np.arcsinh(np.asarray(values, dtype=np.float64)) - low) / max(high - low, 1e-12)
    return _blend(image, shares, size, alpha)

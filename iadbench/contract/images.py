"""Pixel access, on demand: readers only index paths, methods that need pixels call these.

Every function decodes the whole file (``Image.load``) before returning, so a truncated or
corrupt file fails here, with its path in the message, and not later inside a model.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from iadbench.contract.errors import IADBenchError, environment_cause

# What Pillow raises for unreadable input: OSError covers missing files, unidentified formats and
# truncated data; some format plugins raise SyntaxError, ValueError, EOFError or struct.error.
# An OSError of the machine (I/O error, out of descriptors: errors.environment_cause) is re-raised
# as it is, so no adapter that catches ImageReadError records it against the image.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)


class ImageReadError(IADBenchError):
    """An image or mask file is missing, truncated or not an image.

    Attributes:
        path: The file that could not be read.
        reason: What went wrong, in a few words.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot read image {self.path}: {reason}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return str(exc) or type(exc).__name__


def _open_loaded(path: str | Path, mode: str | None = None) -> Image.Image:
    """Open and fully decode one file, converted to ``mode`` when given; the file is closed."""
    try:
        with Image.open(path) as image:
            _bound_size(image, path)
            image.load()
            if mode and image.mode in _WIDE_MODES:
                return _to_8_bit(image, path).convert(mode)
            # convert/copy detach the pixels from the file object that ``with`` closes.
            return image.convert(mode) if mode and image.mode != mode else image.copy()
    except _DECODE_ERRORS as exc:
        if environment_cause(exc) is not None:
            raise  # the machine's failure, not this image's (see _DECODE_ERRORS)
        raise ImageReadError(path, _reason(exc)) from exc


# Largest image decoded at full size: 64 Mpx (8000 × 8000), 32 times an MVTec-AD image and 40
# times VisA's largest. Every method here resizes to at most 518 px, so more pixels only cost
# memory (a 12000 × 12000 PNG took 3 GB). Pillow's own bomb guard refuses > 2 × 89.5 Mpx at open.
MAX_IMAGE_PIXELS = 64_000_000


def _bound_size(image: Image.Image, path: str | Path) -> None:
    """Keep decoding within :data:`MAX_IMAGE_PIXELS`, before any pixel is decoded.

    A larger JPEG is decoded at a reduced scale (``draft``: 1/2, 1/4 or 1/8, done by the decoder
    itself, so memory stays bounded); any other format is refused as this image's error, since
    no decoder-side reduction exists for it.

    Raises:
        ImageReadError: A non-JPEG image above the limit, or a JPEG still above it at 1/8.
    """
    width, height = image.size
    if width * height <= MAX_IMAGE_PIXELS:
        return
    if image.format == "JPEG":
        scale = 2
        while scale < 8 and (width // scale) * (height // scale) > MAX_IMAGE_PIXELS:
            scale *= 2
        image.draft(image.mode, (width // scale, height // scale))
        if image.size[0] * image.size[1] <= MAX_IMAGE_PIXELS:
            return
    raise ImageReadError(
        path,
        f"{width} × {height} pixels is above iadbench's limit of {MAX_IMAGE_PIXELS:,} "
        "(iadbench.contract.images.MAX_IMAGE_PIXELS); downscale it first",
    )


# 16-bit and 32-bit integer and float single-channel images: Pillow's convert("RGB") clips them
# (a 16-bit PNG comes out almost all white, a float TIFF in [0, 1] all black).
_WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I", "F"})


def _to_8_bit(image: Image.Image, path: str | Path) -> Image.Image:
    """A wide single-channel image scaled to 8 bit by its type's range, never clipped silently.

    16-bit integers (and 32-bit ones within 0–65535) are divided by 257; floats within [0, 1]
    are multiplied by 255, floats within [0, 255] kept. Anything else has no meaning iadbench
    can guess, so it is this image's error.

    Raises:
        ImageReadError: Values outside those ranges (negative, NaN, > 65535, float > 255).
    """
    pixels = np.asarray(image, dtype=np.float64)
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0:
        raise ImageReadError(path, f"{image.mode} pixel values from {low} to {high}: not an image")
    if image.mode == "F":
        if high <= 1.0:
            pixels = pixels * 255.0
        elif high > 255.0:
            raise ImageReadError(path, f"float pixel values up to {high}: convert it to 8 bit")
    elif high <= 65535:
        pixels = pixels / 257.0
    else:
        raise ImageReadError(path, f"{image.mode} pixel values up to {high:.0f}: convert to 8 bit")
    return Image.fromarray(np.rint(pixels).astype(np.uint8), mode="L")


def load_rgb(path: str | Path) -> Image.Image:
    """Load an image as 3-channel RGB (MVTec grid, screw and zipper are single-channel on disk).

    Args:
        path: Image file.

    Returns:
        A fully decoded ``PIL.Image.Image`` in mode ``"RGB"``.

    Raises:
        ImageReadError: The file is missing, truncated or not a readable image.
    """
    return _open_loaded(path, "RGB")


#: Suffixes of the files a mask folder holds (as :data:`iadbench.data.traversal.IMAGE_SUFFIXES`:
#: the contract layer cannot import the data layer, so the short list is repeated here).
_MASK_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


def mask_files(path: str | Path) -> list[str]:
    """The files a sample's ``mask_path`` stands for: itself, or the masks in a mask folder.

    MVTec LOCO annotates one image with several masks (``ground_truth/<type>/<image id>/000.png,
    001.png, ...``, one per defect); its reader gives that folder as the ``mask_path``. A
    folder's masks are its visible regular files with an image suffix, sorted by name (hidden
    entries skipped, as :mod:`iadbench.data.traversal` walks folders); a file path is returned
    as it is, whether or not it exists.

    Example:
        >>> mask_files("/data/mvtec/bottle/ground_truth/crack/000_mask.png")
        ['/data/mvtec/bottle/ground_truth/crack/000_mask.png']
    """
    if not os.path.isdir(path):
        return [str(path)]
    with os.scandir(path) as entries:
        return sorted(
            entry.path
            for entry in entries
            if not entry.name.startswith(".")
            and os.path.splitext(entry.name)[1].lower() in _MASK_SUFFIXES
            and entry.is_file()  # follows links; a FIFO named 000.png is no mask
        )


def load_mask(path: str | Path) -> np.ndarray:
    """Load a defect mask as a boolean array, ``True`` where a defect is.

    MVTec masks hold 0/255, VisA masks hold class indices (1, 2, ...), MVTec LOCO masks a grey
    value per defect type: all are binarised with ``!= 0``. Palette images count by palette
    index; colour masks count any non-zero channel (alpha is ignored). A mask folder (MVTec
    LOCO: one file per defect of the image, :func:`mask_files`) gives the union of its masks.

    Args:
        path: Mask file, or a folder of mask files of one image.

    Returns:
        A ``(height, width)`` array of dtype ``bool``.

    Raises:
        ImageReadError: The file is missing, truncated or not a readable image; a mask folder
            holds no mask file, or masks of different sizes.
    """
    files = mask_files(path)
    if not files:
        raise ImageReadError(path, "mask folder holds no mask file")
    union: np.ndarray | None = None
    for file in files:
        mask = _one_mask(file)
        if union is None:
            union = mask
        elif union.shape != mask.shape:
            raise ImageReadError(
                file, f"mask of size {mask.shape} beside masks of size {union.shape} in {path}"
            )
        else:
            union |= mask
    assert union is not None  # files is not empty
    return union


def _one_mask(path: str | Path) -> np.ndarray:
    """One mask file as a boolean array (see :func:`load_mask`)."""
    image = _open_loaded(path)
    if image.mode in ("1", "L", "P", "I", "I;16", "F"):
        pixels = np.asarray(image)
    else:
        pixels = np.asarray(image.convert("RGB")).max(axis=-1)
    mask: np.ndarray = pixels != 0  # numpy types an array comparison as Any
    return mask


def verify_decodable(path: str | Path) -> None:
    """Decode a file completely and discard the pixels; used by ``iadbench data check``.

    Args:
        path: Image or mask file.

    Raises:
        ImageReadError: The file is missing, truncated or not a readable image.
    """
    try:
        with Image.open(path) as image:
            _bound_size(image, path)  # what a run would refuse, data check reports
            image.load()
    except _DECODE_ERRORS as exc:
        if environment_cause(exc) is not None:
            raise  # the machine's failure, not this image's (see _DECODE_ERRORS)
        raise ImageReadError(path, _reason(exc)) from exc

"""MVTec AD 2's private test sets: the anomaly maps in the layout the authors' server takes.

``iadbench predict ROOT/can/test_private ROOT/can/test_private_mixed --from-run RUN --category
can --output can.jsonl --submission DIR`` writes, beside its rows, one map per image::

    DIR/anomaly_images/<category>/test_private/<stem>.tiff          (e.g. 000_regular.tiff)
    DIR/anomaly_images/<category>/test_private_mixed/<stem>.tiff    (e.g. 000_mixed.tiff)

What was checked, in the authors' public code utils (``check_and_prepare_data_for_upload.py``,
``utils.py``, ``mvtec_ad_2_public_offline.py``; docs/datasets/mvtec-ad2.md): that folder layout;
file names ``NNN_regular.tiff`` / ``NNN_mixed.tiff`` from the image's stem; a single-channel
float16 TIFF per image; exactly ``PRIVATE_COUNTS`` files per category and set; and that
``anomaly_images_thresholded/`` (0/255 PNGs) is optional — iadbench has no pixel threshold, so
it is not written and the server's threshold-dependent metrics are not computed. Not checked by
the authors' script, so chosen here: the map is resized (bilinear) to the image's own size, as
the public ground truth is at that size.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from iadbench.contract.errors import IADBenchError
from iadbench.contract.files import write_bytes_atomic
from iadbench.data.mvtec_ad2 import MVTEC_AD2_CATEGORIES, PRIVATE_TESTS

if TYPE_CHECKING:
    import numpy as np

    from iadbench.contract.records import Prediction, Sample

MAPS_FOLDER: Final = "anomaly_images"
#: Largest magnitude float16 holds: a larger score is clipped there (the server reads float16).
FLOAT16_MAX: Final = 65504.0


def float16_tiff(values: np.ndarray) -> bytes:
    """A single-channel, uncompressed, little-endian float16 TIFF of a 2-D array.

    One strip, ``SampleFormat`` 3 (IEEE float), ``BitsPerSample`` 16, written by hand so that
    iadbench needs no TIFF library (Pillow writes no float16 TIFF).
    """
    import numpy as np

    pixels = np.ascontiguousarray(np.clip(values, -FLOAT16_MAX, FLOAT16_MAX), dtype="<f2")
    height, width = pixels.shape
    data = pixels.tobytes()
    short, long_ = 3, 4
    entries = [  # (tag, type, value), sorted by tag as TIFF requires
        (256, long_, width), (257, long_, height), (258, short, 16), (259, short, 1),
        (262, short, 1), (273, long_, 8), (277, short, 1), (278, long_, height),
        (279, long_, len(data)), (284, short, 1), (339, short, 3),
    ]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if kind == short else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    ifd += struct.pack("<I", 0)  # no next IFD
    header = b"II" + struct.pack("<HI", 42, 8 + len(data))
    return header + data + ifd


def submission_path(directory: Path, sample: Sample) -> Path:
    """Where one private image's map goes: ``anomaly_images/<category>/<set>/<stem>.tiff``.

    Raises:
        IADBenchError: The image is not in ``<category>/test_private[_mixed]/`` of MVTec AD 2.
    """
    image = Path(sample.image_path)
    test_set, category = image.parent.name, image.parent.parent.name
    if test_set not in PRIVATE_TESTS or category not in MVTEC_AD2_CATEGORIES:
        raise IADBenchError(
            f"--submission writes MVTec AD 2's private test sets only, and {image} is not in "
            f"<category>/test_private/ or <category>/test_private_mixed/ of one of its "
            f"categories ({', '.join(MVTEC_AD2_CATEGORIES)}): predict those folders, or leave "
            "--submission out"
        )
    return directory / MAPS_FOLDER / category / test_set / f"{image.stem}.tiff"


def check_submission(
    directory: Path,
    samples: Iterable[Sample],
    dataset_roots: Iterable[str | Path],
    *,
    method: str = "",
    gives_maps: bool = True,
) -> dict[str, Path]:
    """Check ``--submission DIR`` before any model is loaded; the map path per sample id.

    DIR may be new, empty, or hold ``anomaly_images/`` alone (an earlier category, or the same
    command resumed); it may not be inside a dataset root or an input folder.

    Args:
        directory: ``--submission DIR``.
        samples: The images predicted.
        dataset_roots: Folders DIR may not be inside (dataset roots, input folders).
        method: The method's name (in the refusal of a method without maps).
        gives_maps: Whether the method gives anomaly maps (``Capabilities.gives_maps``).

    Raises:
        IADBenchError: A method without maps, an image outside the private sets, two images
            with one map path, DIR inside a dataset root, a file, or holding other things.
    """
    if not gives_maps:
        raise IADBenchError(
            f"--submission writes anomaly maps, and method {method!r} gives none: choose a "
            "method that gives maps (iadbench list), or leave --submission out"
        )
    directory = Path(directory).expanduser().resolve()
    for root in dataset_roots:
        resolved = Path(root).expanduser().resolve()
        if directory == resolved or resolved in directory.parents:
            raise IADBenchError(
                f"--submission {directory} is inside the dataset folder {resolved}: choose a "
                "folder outside it (iadbench never writes into a dataset)"
            )
    if directory.exists() and not directory.is_dir():
        raise IADBenchError(f"--submission {directory} is a file: name a folder (new or empty)")
    other = sorted(set(os.listdir(directory)) - {MAPS_FOLDER}) if directory.is_dir() else []
    if other:
        raise IADBenchError(
            f"--submission {directory} holds {', '.join(other[:3])}, which is no part of a "
            f"submission: name a new or empty folder (or one holding {MAPS_FOLDER}/ alone)"
        )
    paths: dict[str, Path] = {}
    seen: dict[Path, str] = {}
    for sample in samples:
        path = submission_path(directory, sample)
        if path in seen:
            raise IADBenchError(
                f"--submission: {sample.image_path} and {seen[path]} would both write {path}; "
                "predict one copy of each private test set"
            )
        seen[path], paths[sample.id] = sample.image_path, path
    return paths


def write_submission_map(path: Path, sample: Sample, prediction: Prediction) -> bool:
    """Write one image's map at its image's size; False when the prediction has no map."""
    if prediction.anomaly_map is None or prediction.error is not None:
        return False
    from PIL import Image

    from iadbench.runs.maps import resized_map

    with Image.open(sample.image_path) as image:  # the header only: the size
        width, height = image.size
    values = resized_map(prediction.anomaly_map, (height, width))
    write_bytes_atomic(path, float16_tiff(values))
    return True

"""Stored anomaly maps: one float16 ``.npy`` per test image, sealed by a digest in its line.

A map method's ``Prediction.anomaly_map`` is written to ``anomaly_maps/<id>.npy``
(:meth:`~iadbench.runs.layout.RunLayout.anomaly_map`) BEFORE the image's prediction line is
appended, and the line's ``map`` key holds the SHA-256 of the file's bytes. So:

- a resumed run never holds a line without its map: an attempt killed between the two leaves a
  map and no line, the image is predicted again and its map replaced (written atomically);
- the line, hence its digest, is covered by the digest chain and by the summary's seal
  (:mod:`iadbench.runs.seal`); a map changed on disk no longer matches its line, and
  :func:`load_map` refuses it, as does :func:`map_seal_problem` for the whole run. Hashing every
  map costs a read of every map, so the leaderboard does not do it; everything that READS a map
  (re-scoring, :func:`pixel_maps`) checks the one it reads.

Size: a 256×256 map is 131,200 bytes (128 bytes of ``.npy`` header, 2 per value); a map whose
values exceed float16's range (±65,504) is stored as float32 instead, never clipped. float16 keeps
about three significant digits: values closer than that become ties (the pixel metrics rank them
together).

:func:`pixel_maps` gives, one test image at a time, what pixel metrics consume: the outcome, the
map resized to its mask's size (bilinear), and the mask.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iadbench.contract.artifacts import MAPS
from iadbench.contract.errors import IADBenchError
from iadbench.contract.files import write_bytes_atomic
from iadbench.contract.records import DEFECT, Prediction, Sample
from iadbench.runs.layout import RunLayout, map_array_path
from iadbench.runs.reader import Outcome, iter_lines
from iadbench.runs.seal import SealProblem

if TYPE_CHECKING:  # numpy is imported where maps are handled: a finished re-run needs none
    import numpy as np

#: Key of a prediction line holding the SHA-256 of the image's stored map (null: no map).
MAP_KEY = "map"
#: Largest magnitude float16 holds; a map beyond it is stored as float32.
FLOAT16_MAX = 65504.0


class MapSealError(IADBenchError):
    """A stored map is missing or no longer matches the digest its prediction line recorded."""


def map_bytes(anomaly_map: np.ndarray) -> bytes:
    """The ``.npy`` bytes a map is stored as: float16, or float32 beyond float16's range."""
    import numpy as np

    fits = float(np.abs(anomaly_map).max(initial=0.0)) <= FLOAT16_MAX
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(anomaly_map, np.float16 if fits else np.float32))
    return buffer.getvalue()


def store_map(path: Path, anomaly_map: np.ndarray) -> str:
    """Write ``anomaly_map`` to ``path`` atomically; returns the SHA-256 of the bytes written."""
    data = map_bytes(anomaly_map)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def store_predicted_map(artifacts_dir: Path, sample_id: str, prediction: Prediction) -> Path | None:
    """``iadbench predict``'s map file: ``<output>-artifacts/maps/<id>.npy``, when there is a map.

    Beside AprilGAN's ``save_maps`` PNG of the same image (``maps/<id stem>.png``, from
    :func:`~iadbench.contract.artifacts.map_path`): the picture and the values in one folder next
    to the output. Written before the image's row, as a run writes its maps.
    """
    if prediction.anomaly_map is None or prediction.error is not None:
        return None
    path = map_array_path(artifacts_dir / MAPS, sample_id)
    store_map(path, prediction.anomaly_map)
    return path


def load_map(path: Path, digest: str) -> np.ndarray:
    """The stored map at ``path`` as float32, after checking it against its line's ``digest``.

    Raises:
        MapSealError: The file is missing or its bytes do not give ``digest``.
    """
    import numpy as np

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MapSealError(
            f"{path} is missing although its prediction line records a map; re-run with "
            "--overwrite to compute the run again"
        ) from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise MapSealError(
            f"{path} was changed after iadbench wrote it (its SHA-256 does not match the one "
            "recorded in its prediction line); re-run with --overwrite to compute it again"
        )
    array: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32)
    return array


def map_digests(layout: RunLayout) -> dict[str, str]:
    """Per test image id with a stored map, the digest its prediction line records."""
    return {
        str(record["id"]): str(record[MAP_KEY])
        for record in iter_lines(layout.predictions)
        if isinstance(record.get(MAP_KEY), str)
    }


def map_seal_problem(layout: RunLayout) -> SealProblem | None:
    """Why the stored maps of a run cannot be trusted (one missing or changed), or None.

    Reads and hashes every map (about 0.13 MB each at 256×256): the full check, for ``report``
    and tests; readers of single maps check each one as :func:`load_map` reads it.
    """
    for sample_id, digest in map_digests(layout).items():
        path = layout.anomaly_map(sample_id)
        if not path.is_file():
            return SealProblem(f"the anomaly map of {sample_id} ({path}) is missing")
        if _file_sha256(path) != digest:
            return SealProblem(
                f"the anomaly map of {sample_id} ({path}) was changed after its prediction line "
                "recorded its digest"
            )
    return None


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class MapCoverage:
    """What :func:`pixel_maps` gave and left out, counted as it goes (pixel metrics report it).

    Attributes:
        given: Images yielded with a mask (a normal image without a mask counts: all-false).
        defect_without_mask: Defect images yielded with mask ``None``: excluded from pixel
            metrics, and to be said so.
        without_map: Test images with no stored map (an image the method could not process).
    """

    given: int = 0
    defect_without_mask: int = 0
    without_map: int = 0


def resized_map(anomaly_map: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``anomaly_map`` resized to ``shape`` (height, width) bilinearly; unchanged when equal.

    Half-pixel centres (``align_corners=False``, as ``cv2.resize`` and PIL), on float32 values
    (PIL's ``F`` mode: no rounding to 8 bits). The reference evaluations compare at one
    resolution too, but pick the other direction: anomalib 2.x resizes the ground-truth mask
    with the image to the model's input size (its ``PreProcessor`` transforms ``gt_mask`` with
    the image), and AprilGAN's ``test.py`` resizes the mask to ``img_size`` and upsamples its
    maps there (``F.interpolate(..., mode='bilinear', align_corners=True)``). iadbench keeps the
    mask as annotated and resizes the map, as the MVTec AD evaluation expects maps at the
    ground truth's size; see docs/results.md.
    """
    import numpy as np
    from PIL import Image

    if anomaly_map.shape == shape:
        return anomaly_map.astype(np.float32, copy=False)
    picture = Image.fromarray(np.ascontiguousarray(anomaly_map, dtype=np.float32), mode="F")
    resized = picture.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32)


def pixel_maps(
    run_dir: Path,
    outcomes: Iterable[Outcome],
    samples: Mapping[str, Sample] | Iterable[Sample],
    coverage: MapCoverage | None = None,
) -> Iterator[tuple[Outcome, np.ndarray, np.ndarray | None]]:
    """Per test image with a stored map: ``(outcome, map, mask)``, one image at a time.

    The map is the stored one, checked against its digest (:func:`load_map`), resized to the
    mask's size (:func:`resized_map`); the mask is the sample's ``mask_path`` read as a bool
    array (``True`` = defect; MVTec's 0/255 and VisA's class indices alike:
    :func:`~iadbench.contract.images.load_mask`). A normal image without a mask gets an
    all-false mask of its image's size; a defect image without one comes with mask ``None`` and
    its map unresized: pixel metrics leave it out and say how many (``coverage``). Outcomes
    without a stored map, or whose id is not among ``samples``, are skipped (counted in
    ``coverage.without_map``). Memory holds one map and one mask at a time.

    Args:
        run_dir: The run directory.
        outcomes: The test images' outcomes (:meth:`~iadbench.runs.reader.StoredRun.outcomes`,
            or those a summary is built from).
        samples: The test samples (for their mask and image paths), or a mapping id → sample.
        coverage: Filled with the counts as the iterator advances.

    Raises:
        MapSealError: A stored map is missing or changed.
        ImageReadError: A mask or image file cannot be read.
    """
    import numpy as np

    from iadbench.contract.images import load_mask

    layout = RunLayout(Path(run_dir))
    by_id = samples if isinstance(samples, Mapping) else {s.id: s for s in samples}
    digests = map_digests(layout)
    counts = coverage if coverage is not None else MapCoverage()
    for outcome in outcomes:
        digest, sample = digests.get(outcome.id), by_id.get(outcome.id)
        if digest is None or sample is None:
            counts.without_map += 1
            continue
        anomaly_map = load_map(layout.anomaly_map(outcome.id), digest)
        mask: np.ndarray | None
        if sample.mask_path is not None:
            mask = load_mask(sample.mask_path)
        elif outcome.label == DEFECT:
            counts.defect_without_mask += 1
            yield outcome, anomaly_map, None
            continue
        else:
            mask = np.zeros(_image_shape(sample.image_path), dtype=bool)
        counts.given += 1
        yield outcome, resized_map(anomaly_map, (mask.shape[0], mask.shape[1])), mask


def _image_shape(path: str) -> tuple[int, int]:
    """(height, width) of an image, from its header (pixels are not decoded)."""
    from PIL import Image

    from iadbench.contract.images import ImageReadError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError) as exc:
        raise ImageReadError(path, str(exc)) from None
    return height, width

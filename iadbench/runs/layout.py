"""The names of everything in a run directory: the one place that spells them.

Layout of a run dir::

    manifest.json       command, resolved configuration, content hash, versions, status
    predictions.jsonl   one JSON object per test image, appended and flushed as it goes
    summary.json        metrics (written when every test image has a prediction)
    calibration.jsonl   scores on the training dataset (``calibrated`` threshold policy only)
    .lock               held while a process works on the run
    .space-reserve      64 KiB held while a process works: freed to record a stop on a full disk
    artifacts/          per-image artefacts of the method (``artifacts/maps/<id>.png``)
    anomaly_maps/       the anomaly map of every test image of a map method, ``<id>.npy``
                        (float16; its SHA-256 in the image's prediction line: see runs.maps)
    shards/             per-process prediction files of a multi-process run, until merged

Everything else, in and outside :mod:`iadbench.runs`, builds paths through :class:`RunLayout`
(``tests/core/test_architecture.py`` refuses these names spelled anywhere else).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from iadbench.contract.artifacts import MAPS, map_path

MANIFEST = "manifest.json"
PREDICTIONS = "predictions.jsonl"
SUMMARY = "summary.json"
CALIBRATION = "calibration.jsonl"
LOCK = ".lock"
SPACE_RESERVE = ".space-reserve"
ARTIFACTS = "artifacts"
SHARDS = "shards"
ANOMALY_MAPS = "anomaly_maps"
#: Every name above: what the architecture test looks for outside this package.
RUN_DIR_NAMES: tuple[str, ...] = (
    MANIFEST, PREDICTIONS, SUMMARY, CALIBRATION, LOCK, SPACE_RESERVE, ARTIFACTS, SHARDS,
    ANOMALY_MAPS,
)  # fmt: skip


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run directory (nothing is read or created).

    Attributes:
        root: The run directory.
    """

    root: Path

    @property
    def manifest(self) -> Path:
        """``manifest.json``."""
        return self.root / MANIFEST

    @property
    def predictions(self) -> Path:
        """``predictions.jsonl``."""
        return self.root / PREDICTIONS

    @property
    def summary(self) -> Path:
        """``summary.json``."""
        return self.root / SUMMARY

    @property
    def calibration(self) -> Path:
        """``calibration.jsonl``."""
        return self.root / CALIBRATION

    @property
    def lock(self) -> Path:
        """``.lock``."""
        return self.root / LOCK

    @property
    def space_reserve(self) -> Path:
        """``.space-reserve``."""
        return self.root / SPACE_RESERVE

    @property
    def artifacts(self) -> Path:
        """``artifacts/`` (the method's ``artifacts_dir``)."""
        return self.root / ARTIFACTS

    @property
    def maps(self) -> Path:
        """``artifacts/maps/``: the anomaly-map PNGs."""
        return self.artifacts / MAPS

    @property
    def shards(self) -> Path:
        """``shards/``."""
        return self.root / SHARDS

    def map(self, sample_id: str) -> Path:
        """``artifacts/maps/<id>.png`` (:func:`~iadbench.contract.artifacts.map_path`)."""
        return map_path(self.artifacts, sample_id)

    @property
    def anomaly_maps(self) -> Path:
        """``anomaly_maps/``: the stored anomaly maps (:mod:`iadbench.runs.maps`)."""
        return self.root / ANOMALY_MAPS

    def anomaly_map(self, sample_id: str) -> Path:
        """``anomaly_maps/<id>.npy`` (:func:`map_array_path`)."""
        return map_array_path(self.anomaly_maps, sample_id)


def map_array_path(folder: Path, sample_id: str) -> Path:
    """Where the stored anomaly map of ``sample_id`` lies in ``folder``: ``<id>.npy``.

    The id is a relative path (``bottle/test/crack/001.png``) and becomes one below ``folder``
    with ``.npy`` appended, suffix kept: ``001.png`` and ``001.jpg`` of one folder never share a
    file (``artifacts/maps`` replaces the suffix, which is fine for pictures, not for data).

    Raises:
        ValueError: An id that would lead outside ``folder`` (``..``, absolute, empty).

    Example:
        >>> map_array_path(Path("/run/anomaly_maps"), "bottle/test/crack/001.png").as_posix()
        '/run/anomaly_maps/bottle/test/crack/001.png.npy'
    """
    relative = PurePosixPath(sample_id)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ValueError(f"sample id {sample_id!r} would write outside {folder}")
    return folder / relative.with_name(relative.name + ".npy")


def shard_path(log: Path, rank: int) -> Path:
    """The file process ``rank`` of a multi-process run appends ``log``'s records to."""
    return log.parent / SHARDS / f"{log.stem}.rank{rank}.jsonl"


def shard_glob(log: Path) -> list[Path]:
    """Shard files of ``log`` present, sorted."""
    return sorted((log.parent / SHARDS).glob(f"{log.stem}.rank*.jsonl"))


def holds_summary(file_names: list[str]) -> bool:
    """Whether a directory listing is that of a run dir with a summary (leaderboard discovery)."""
    return SUMMARY in file_names

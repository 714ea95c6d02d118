"""Writing a run directory: the manifest, append-only predictions, the summary, and a lock.

File names come from :mod:`iadbench.runs.layout`, record formats from :mod:`iadbench.runs.schema`.
Resuming relies on ``predictions.jsonl`` being append-only: a torn last line (the process died
mid-write) is cut off, finished ids are skipped, nothing is written twice. Every line carries a
link of a digest chain (:mod:`iadbench.runs.chain`), checked before an unfinished run resumes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.contract.files import write_text_atomic
from iadbench.contract.records import Prediction, Sample
from iadbench.runs.chain import GENESIS, chain_problem, chained_lines, last_link
from iadbench.runs.layout import RunLayout, map_array_path, shard_glob, shard_path
from iadbench.runs.maps import store_map
from iadbench.runs.reader import iter_lines, read_json_object
from iadbench.runs.schema import PredictionLine
from iadbench.runs.thresholds import final_label

SPACE_RESERVE_BYTES = 64 * 1024


class RunStore:
    """Writes one run directory, and reads back its own state to resume it."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.layout = RunLayout(self.directory)
        self.manifest_path = self.layout.manifest
        self.predictions_path = self.layout.predictions
        self.summary_path = self.layout.summary
        self.reserve_path = self.layout.space_reserve
        self.predictions = PredictionLog(self.predictions_path)
        # Scores on the training dataset, when a `calibrated` threshold is chosen on them.
        self.calibration = PredictionLog(self.layout.calibration)
        self._lock = FileLock(str(self.layout.lock), timeout=0)

    @contextmanager
    def locked(self) -> Iterator[RunStore]:
        """Hold the run's lock; a second process on the same dir fails at once, clearly.

        Raises:
            RunConflictError: Another process holds the lock.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        busy = RunConflictError(
            f"another iadbench process is working on {self.directory} (lock file "
            f"{self._lock.lock_file}). Wait for it to finish or choose another --out."
        )
        directory_lock = _lock_directory(self.directory)
        if directory_lock is False:
            raise busy
        try:
            try:
                self._lock.acquire()
            except Timeout:
                raise busy from None
            try:
                yield self
            finally:
                self._lock.release()
        finally:
            if directory_lock is not None:
                os.close(directory_lock)

    def hold_space_reserve(self) -> None:
        """Write :data:`SPACE_RESERVE_BYTES` to ``.space-reserve`` (ignored when it cannot).

        When the disk fills mid-run, deleting it leaves room to record in the manifest that the
        run stopped, so it is not left saying ``running``.
        """
        try:
            with self.reserve_path.open("wb") as handle:
                handle.write(b"\0" * SPACE_RESERVE_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            self.reserve_path.unlink(missing_ok=True)

    def release_space_reserve(self) -> None:
        """Delete ``.space-reserve`` (on a full disk, before recording the stop; at the end)."""
        self.reserve_path.unlink(missing_ok=True)

    def read_manifest(self) -> dict[str, Any] | None:
        """The stored manifest, or None when the dir holds no run yet."""
        return read_json_object(self.manifest_path) if self.manifest_path.exists() else None

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest atomically (a crash never leaves half a file)."""
        write_json_atomic(self.manifest_path, manifest)

    def read_summary(self) -> dict[str, Any] | None:
        """The stored summary, or None."""
        return read_json_object(self.summary_path) if self.summary_path.exists() else None

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Replace the summary atomically."""
        write_json_atomic(self.summary_path, summary)

    def holds_predictions(self) -> bool:
        """Whether any prediction or shard file is present (with or without a manifest)."""
        shards = self.layout.shards
        return (
            self.predictions_path.exists()
            or self.calibration.path.exists()
            or (shards.is_dir() and any(shards.iterdir()))
        )

    def clear(self) -> None:
        """Delete the stored run (``--overwrite``); the lock file stays."""
        for path in (
            self.manifest_path,
            self.predictions_path,
            self.summary_path,
            self.calibration.path,
            self.reserve_path,
        ):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.layout.artifacts, ignore_errors=True)
        shutil.rmtree(self.layout.anomaly_maps, ignore_errors=True)
        shutil.rmtree(self.layout.shards, ignore_errors=True)

    def finished_ids(self) -> set[str]:
        """Test ids that already have a prediction (after repairing a torn tail)."""
        return self.predictions.finished_ids()

    def chain_problem(self, *, accept_unchained: bool = False) -> str | None:
        """Why the prediction logs an attempt would resume cannot be trusted, or None.

        The test predictions, the calibration scores and the shards of both are checked
        (:func:`~iadbench.runs.chain.chain_problem`).
        """
        for log in (self.predictions, self.calibration):
            for part in (log, *log.shards()):
                if problem := part.chain_problem(accept_unchained=accept_unchained):
                    return problem
        return None

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append test prediction records (see :meth:`PredictionLog.append`)."""
        self.predictions.append(records)

    def iter_predictions(self) -> Iterator[dict[str, Any]]:
        """Stored test prediction records, first occurrence of each id only."""
        return self.predictions.iter_records()


class PredictionLog:
    """An append-only JSONL file of prediction records, one per image id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # (file size, link of its last line) after this object's last append: the next append
        # chains on without reading the file back, unless the file changed size meanwhile.
        self._tail: tuple[int, str] | None = None

    def repair_tail(self) -> int:
        """Cut a torn last line (the process died mid-write); returns the bytes removed."""
        if not self.path.exists():
            return 0
        with self.path.open("rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return 0
            # Walk back to the last newline in chunks; predictions can hold long texts.
            end, chunk = size, 1 << 16
            while end > 0:
                start = max(0, end - chunk)
                handle.seek(start)
                block = handle.read(end - start)
                if (cut := block.rfind(b"\n")) >= 0:
                    keep = start + cut + 1
                    break
                end = start
            else:
                keep = 0
            handle.truncate(keep)
            return size - keep

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Stored records, first occurrence of each id only.

        Raises:
            IADBenchError: A line other than the last is not valid JSON (the file was edited or
                corrupted; repairing the tail cannot fix it).
        """
        return iter_lines(self.path)

    def finished_ids(self) -> set[str]:
        """Ids that already have a prediction (after repairing a torn tail)."""
        self.repair_tail()
        return {record["id"] for record in self.iter_records()}

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append prediction records, each with its chain link, and flush them to the OS.

        Raises:
            IADBenchError: The file's last line carries no chain link (written before the chain):
                appending would leave a file that cannot be checked.
        """
        if not records:
            return
        payload, last = self.payload(records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            self._tail = (handle.tell(), last)

    def payload(self, records: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
        """The text :meth:`append` writes for ``records`` now, and its last chain link."""
        size = self.path.stat().st_size if self.path.exists() else 0
        previous = self._tail[1] if self._tail and self._tail[0] == size else last_link(self.path)
        if previous is None:
            raise IADBenchError(
                f"{self.path} was written by an iadbench from before the digest chain; "
                "re-run with --overwrite to compute the run again"
            )
        return chained_lines(records, previous)

    def chain_problem(self, *, accept_unchained: bool = False) -> str | None:
        """Why this log's lines cannot be trusted (:func:`~iadbench.runs.chain.chain_problem`)."""
        return chain_problem(self.path, accept_unchained=accept_unchained)

    def shard(self, rank: int) -> PredictionLog:
        """The file one process of a multi-process run appends to."""
        return PredictionLog(shard_path(self.path, rank))

    def shards(self) -> list[PredictionLog]:
        """Shard files present (left by a multi-process run, finished or interrupted)."""
        return [PredictionLog(p) for p in shard_glob(self.path)]

    def merge_shards(self, order: list[str] | None = None) -> int:
        """Move every shard's records into this file, then delete the shards.

        Args:
            order: Ids in the order a single process would have written them; new records are
                written in that order (ids not in it go last, in shard order).

        Returns:
            Records added.
        """
        shards = self.shards()
        if not shards:
            return 0
        existing = list(self.iter_records()) if self.path.exists() else []
        known = {r["id"] for r in existing}
        new: dict[str, dict[str, Any]] = {}
        for shard in shards:
            shard.repair_tail()
            for record in shard.iter_records():
                if record["id"] not in known:
                    new.setdefault(record["id"], record)
        rank = {sample_id: i for i, sample_id in enumerate(order or [])}
        ordered = sorted(new.values(), key=lambda r: rank.get(r["id"], len(rank)))
        self.rewrite(existing + ordered)
        for shard in shards:
            shard.path.unlink()
        if not any(shards[0].path.parent.iterdir()):
            shards[0].path.parent.rmdir()
        return len(ordered)

    def put_in_order(self, order: list[str]) -> bool:
        """Rewrite the file in ``order`` (ids not in it last) when it is not; returns whether.

        A resumed sharded attempt leaves finished records that are not a prefix of the test
        order (each process took every N-th image); one process or N, the finished file must be
        the one a single uninterrupted process writes. An ordered file is left untouched.
        """
        records = list(self.iter_records())
        rank = {sample_id: i for i, sample_id in enumerate(order)}
        ordered = sorted(records, key=lambda r: rank.get(r["id"], len(rank)))
        if [r["id"] for r in ordered] == [r["id"] for r in records]:
            return False
        self.rewrite(ordered)
        return True

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the whole file atomically (merging shards, final oracle decisions)."""
        write_text_atomic(self.path, chained_lines(records, GENESIS)[0])  # linked anew
        self._tail = None


def prediction_line(
    sample: Sample,
    prediction: Prediction,
    threshold: float | None,
    *,
    undecided: bool = False,
    map_digest: str | None = None,
) -> PredictionLine:
    """The ``predictions.jsonl`` line of one image (keys: ``schema.PREDICTION_KEYS``).

    ``map_digest`` is the SHA-256 of the image's stored anomaly map (:mod:`iadbench.runs.maps`),
    written before this line is; null for an image without one.

    ``pred`` comes from :func:`~iadbench.runs.thresholds.final_label`: for score methods the run's
    threshold decides, not the adapter. With ``undecided`` (the ``oracle`` policy, whose threshold
    is chosen only after every score is in) a scored record is stored with ``pred`` null and the
    summary decides it, so the file is never rewritten.
    """
    scored = prediction.score is not None and prediction.error is None
    # A score with no threshold yet (oracle; calibration scores) stays undecided: pred null.
    pending = scored and (undecided or (threshold is None and prediction.label is None))
    pred = (
        None
        if pending
        else final_label(prediction.label, prediction.score, prediction.error, threshold)
    )
    line: PredictionLine = {
        "id": sample.id,
        "category": sample.category,
        "label": sample.label,
        "pred": pred,
        "score": prediction.score,
        "text": prediction.text,
        "error": prediction.error,
        "map": map_digest,
    }
    if sample.group is not None:  # views of one part (Real-IAD); every other line is as it was
        line["group"] = sample.group
    return line


def prediction_lines(
    batch: Sequence[Sample],
    predictions: Sequence[Prediction],
    threshold: float | None,
    *,
    undecided: bool = False,
    maps: Path | None = None,
    map_shape: tuple[int, int] | None = None,
) -> list[PredictionLine]:
    """The lines of a batch (:func:`prediction_line`), each image's anomaly map stored first.

    With ``maps`` (the run's ``anomaly_maps/``) a prediction's map goes to disk BEFORE its line
    exists, so no line ever names a map that was not written; an attempt killed in between
    leaves a map without a line, and the resumed attempt predicts that image again and replaces
    the map (:mod:`iadbench.runs.maps`). A map of another shape than ``map_shape`` (the
    adapter's declaration) becomes that image's error: every stored map of a run has one shape.
    """
    lines = []
    for sample, prediction in zip(batch, predictions, strict=True):
        digest, anomaly_map = None, prediction.anomaly_map
        if maps is not None and anomaly_map is not None and prediction.error is None:
            if map_shape is not None and anomaly_map.shape != tuple(map_shape):
                prediction = Prediction.failed(
                    f"the method returned an anomaly map of shape {anomaly_map.shape}, not the "
                    f"{tuple(map_shape)} its map_shape() declares"
                )
            else:
                digest = store_map(map_array_path(maps, sample.id), anomaly_map)
        lines.append(
            prediction_line(sample, prediction, threshold, undecided=undecided, map_digest=digest)
        )
    return lines


def _lock_directory(directory: Path) -> int | bool | None:
    """An exclusive ``flock`` on the run directory itself: its fd, or False when it is taken.

    The ``.lock`` file alone can be deleted while a run holds it, and a second process then
    takes a fresh one and writes into the same dir. A lock on the directory's own inode survives
    that. None where directories cannot be locked (not POSIX, or a filesystem that refuses): the
    ``.lock`` file is then the only guard.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    except OSError:
        os.close(fd)
        return None
    return fd


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON through a temporary file and ``os.replace``: a crash never leaves half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

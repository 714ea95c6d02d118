"""A run directory on disk: manifest, append-only predictions, summary, and a lock.

Layout of a run dir::

    manifest.json       command, resolved configuration, content hash, versions, status
    predictions.jsonl   one JSON object per test image, appended and flushed as it goes
    summary.json        metrics (written when every test image has a prediction)
    calibration.jsonl   scores on the training dataset (``calibrated`` threshold policy only)
    .lock               held while a process works on the run
    .space-reserve      64 KiB held while a process works: freed to record a stop on a full disk

Resuming relies on ``predictions.jsonl`` being append-only: a torn last line (the process died
mid-write) is cut off, finished ids are skipped, nothing is written twice.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from filelock import FileLock, Timeout

from iadbench.contract.errors import IADBenchError, RunConflictError
from iadbench.contract.records import Prediction, Sample
from iadbench.runs.run_records import PredictionRecord
from iadbench.runs.thresholds import final_label

SPACE_RESERVE_BYTES = 64 * 1024
# The line format's owner is iadbench.runs.run_records.PredictionRecord; its keys, in order.
PREDICTION_KEYS: tuple[str, ...] = tuple(PredictionRecord.__annotations__)


class RunStore:
    """Reads and writes one run directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.manifest_path = self.directory / "manifest.json"
        self.predictions_path = self.directory / "predictions.jsonl"
        self.summary_path = self.directory / "summary.json"
        self.reserve_path = self.directory / ".space-reserve"
        self.predictions = PredictionLog(self.predictions_path)
        # Scores on the training dataset, when a `calibrated` threshold is chosen on them.
        self.calibration = PredictionLog(self.directory / "calibration.jsonl")
        self._lock = FileLock(str(self.directory / ".lock"), timeout=0)

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
        return _read_json(self.manifest_path) if self.manifest_path.exists() else None

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Replace the manifest atomically (a crash never leaves half a file)."""
        write_json_atomic(self.manifest_path, manifest)

    def read_summary(self) -> dict[str, Any] | None:
        """The stored summary, or None."""
        return _read_json(self.summary_path) if self.summary_path.exists() else None

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """Replace the summary atomically."""
        write_json_atomic(self.summary_path, summary)

    def holds_predictions(self) -> bool:
        """Whether any prediction or shard file is present (with or without a manifest)."""
        shards = self.directory / "shards"
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
        shutil.rmtree(self.directory / "artifacts", ignore_errors=True)
        shutil.rmtree(self.directory / "shards", ignore_errors=True)

    def finished_ids(self) -> set[str]:
        """Test ids that already have a prediction (after repairing a torn tail)."""
        return self.predictions.finished_ids()

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
        if not self.path.exists():
            return
        seen: set[str] = set()
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise IADBenchError(
                        f"{self.path} line {number} is not valid JSON ({exc.msg}); "
                        "fix or delete that line, or re-run with --overwrite."
                    ) from None
                if record.get("id") not in seen:
                    seen.add(record["id"])
                    yield record

    def finished_ids(self) -> set[str]:
        """Ids that already have a prediction (after repairing a torn tail)."""
        self.repair_tail()
        return {record["id"] for record in self.iter_records()}

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append prediction records and flush them to the OS before returning."""
        if not records:
            return
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()

    def shard(self, rank: int) -> PredictionLog:
        """The file one process of a multi-process run appends to."""
        return PredictionLog(self.path.parent / "shards" / f"{self.path.stem}.rank{rank}.jsonl")

    def shards(self) -> list[PredictionLog]:
        """Shard files present (left by a multi-process run, finished or interrupted)."""
        folder = self.path.parent / "shards"
        return [PredictionLog(p) for p in sorted(folder.glob(f"{self.path.stem}.rank*.jsonl"))]

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
        os.replace(tmp, self.path)


def prediction_record(
    sample: Sample, prediction: Prediction, threshold: float | None, *, undecided: bool = False
) -> PredictionRecord:
    """The ``predictions.jsonl`` line of one image (keys :data:`PREDICTION_KEYS`).

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
    return {
        "id": sample.id,
        "category": sample.category,
        "label": sample.label,
        "pred": pred,
        "score": prediction.score,
        "text": prediction.text,
        "error": prediction.error,
    }


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


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))  # a JSON object
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IADBenchError(
            f"{path} is not valid JSON ({exc}); re-run with --overwrite to replace the whole run "
            "(deleting only this file would leave predictions nobody can attribute)."
        ) from None


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON through a temporary file and ``os.replace``: a crash never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)

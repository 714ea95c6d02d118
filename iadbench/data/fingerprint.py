"""Fingerprints of the images a run reads, so an edited dataset never reuses old predictions.

Two kinds, both SHA-256 over one line per sample in id order:

* **stat** (always, part of the configuration hash): id, subset, label, category, defect type,
  the sample group where there is one (Real-IAD's views; absent otherwise), and the size and
  modification time (ns) of the image and of its mask. Replacing, adding,
  removing or relabelling an image (a VisA split CSV edit included) changes it; so does copying
  the tree without keeping mtimes (``cp`` without ``-p``), which costs a recomputation, never a
  wrong reuse. Cheap: one ``stat`` per file.
* **content** (``--verify-content``): the same line with the SHA-256 of each file's bytes instead
  of its mtime. Catches an edit that kept size and mtime (``rsync -t``, a deliberate ``touch -r``);
  it reads every byte, so it is opt-in and is recorded beside the run, not hashed into it.

Not fingerprinted: the dataset root's path (the same files elsewhere are the same data) and
files the reader does not index.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from iadbench.contract.records import Sample

FingerprintKind = Literal["stat", "content"]
_CHUNK = 1 << 20


@dataclass(frozen=True)
class DatasetFingerprint:
    """What a run read from one dataset subset.

    Attributes:
        kind: ``"stat"`` (size + mtime) or ``"content"`` (size + SHA-256 of the bytes).
        n_samples: Images covered.
        digest: SHA-256 hex digest of the per-sample lines.
    """

    kind: FingerprintKind
    n_samples: int
    digest: str

    def as_dict(self) -> dict[str, object]:
        """Plain JSON data (manifests, hashes)."""
        return {"kind": self.kind, "n_samples": self.n_samples, "digest": self.digest}


def fingerprint_samples(
    samples: Sequence[Sample], kind: FingerprintKind = "stat"
) -> DatasetFingerprint:
    """Fingerprint ``samples`` (any order; sorted by id here).

    A missing or unreadable file does not raise: it enters the line as ``missing`` (the run then
    records that image's error), so the fingerprint still changes when the file comes back.
    """
    lines = []
    for sample in sorted(samples, key=lambda s: s.id):
        fields: Iterable[str] = (
            sample.id,
            sample.subset,
            sample.label,
            sample.category,
            sample.defect_type or "",
            _file_field(sample.image_path, kind),
            _mask_field(sample.mask_path, kind) if sample.mask_path else "",
            # Only where views are grouped (Real-IAD): regrouping changes the sample-level
            # figures, and every other dataset's line, hence its fingerprint, stays as it was.
            *(() if sample.group is None else (f"group={sample.group}",)),
        )
        lines.append("\t".join(fields) + "\n")
    # One update of the joined lines: the same digest as one update per line, and faster.
    digest = hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape"))
    return DatasetFingerprint(kind, len(samples), digest.hexdigest())


def _mask_field(path: str, kind: FingerprintKind) -> str:
    """A mask file's field; a mask folder's (MVTec LOCO) joins its masks' fields by ``,``."""
    try:
        status = os.stat(path)
    except OSError:
        status = None
    if status is None or not stat.S_ISDIR(status.st_mode):
        # One stat for a mask file (what the field records), not a second one after isdir.
        return _file_field(path, kind, status)
    from iadbench.contract.images import mask_files  # numpy and Pillow: only for a mask folder

    return ",".join(_file_field(file, kind) for file in mask_files(path)) or "missing:empty"


def _file_field(path: str, kind: FingerprintKind, status: os.stat_result | None = None) -> str:
    """``size:mtime_ns`` (stat) or ``size:sha256`` (content); ``missing:<error>`` if unreadable.

    ``status``: the file's stat when the caller has it already.
    """
    try:
        if kind == "stat":
            status = os.stat(path) if status is None else status
            return f"{status.st_size}:{status.st_mtime_ns}"
        return _content_field(path)
    except OSError as exc:
        return f"missing:{type(exc).__name__}"


def _content_field(path: str) -> str:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return f"{size}:{digest.hexdigest()}"

"""The digest chain of a prediction log: an unfinished ``predictions.jsonl`` is checked on resume.

The seal of ``summary.json`` (:mod:`iadbench.runs.seal`) protects a finished run; before it is
written, a resume trusted whatever the partial file said, so a label edited by hand in line 1
survived into a sealed summary (issue 18). Each line now carries ``chain``
(:data:`~iadbench.runs.schema.CHAIN_KEY`, written last): the SHA-256 of the previous line's link
and of this line's record as written without it. Editing, inserting, deleting or reordering a
line breaks every link from there on, and :func:`chain_problem` names the first broken line. Like
the seal, the chain detects edits, not forgery: anyone can recompute it.

A line is hashed as ``json.dumps(record, ensure_ascii=False)``, the writer's own encoding, which
parsing and dumping again reproduces byte for byte; the chain depends on the records alone, so a
resumed file is byte-identical to the file an uninterrupted run writes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iadbench.runs.schema import CHAIN_KEY

#: The link before a file's first line.
GENESIS = ""
# How far back to look at a time for the start of the last line (lines can hold long texts).
_CHUNK = 1 << 16


def link(previous: str, record: Mapping[str, Any]) -> str:
    """The chain link of ``record`` (without ``chain``) following the link ``previous``."""
    body = json.dumps({k: v for k, v in record.items() if k != CHAIN_KEY}, ensure_ascii=False)
    # surrogatepass: a non-UTF-8 file name (a lone surrogate) in a predict row still hashes.
    return hashlib.sha256(f"{previous}\n{body}".encode("utf-8", "surrogatepass")).hexdigest()


def chained_lines(records: Sequence[Mapping[str, Any]], previous: str) -> tuple[str, str]:
    """The JSONL text of ``records``, each with its link, and the last link.

    A ``chain`` a record already carries (read back from a file being rewritten) is replaced.
    """
    lines = []
    for record in records:
        previous = link(previous, record)
        body = {k: v for k, v in record.items() if k != CHAIN_KEY}
        lines.append(json.dumps({**body, CHAIN_KEY: previous}, ensure_ascii=False) + "\n")
    return "".join(lines), previous


def last_link(path: Path) -> str | None:
    """The link of the last line of ``path`` (which ends in a newline: torn tails are cut first).

    Returns:
        :data:`GENESIS` for an absent or empty file; None when the last line carries no link (a
        file written before the chain).
    """
    if not path.exists():
        return GENESIS
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return GENESIS
        handle.seek(size - 1)
        start = size - 1 if handle.read(1) == b"\n" else size  # the last line's own newline
        pieces: list[bytes] = []
        while start > 0:  # walk back to the newline before the last line
            begin = max(0, start - _CHUNK)
            handle.seek(begin)
            block = handle.read(start - begin)
            if (cut := block.rfind(b"\n")) >= 0:
                pieces.append(block[cut + 1 :])
                break
            pieces.append(block)
            start = begin
    line = b"".join(reversed(pieces))
    if not line.strip():
        return GENESIS
    try:
        value = json.loads(line).get(CHAIN_KEY)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def chain_problem(path: Path, *, accept_unchained: bool = False) -> str | None:
    """Why the lines of ``path`` cannot be trusted, naming the first bad line; None when they can.

    An absent file, and a torn last line (no newline: the process died mid-write; the writer cuts
    it before resuming), are no problem. Blank lines carry no record and are skipped.

    Args:
        path: A prediction log (``predictions.jsonl``, the calibration scores, a shard).
        accept_unchained: Accept a file in which no line carries a link (written by an iadbench
            before the chain): only for a run recorded as complete, whose predictions were all
            written by that older iadbench. A file with some links and not others never passes.
    """
    if not path.exists():
        return None
    previous, chained, unchained = GENESIS, 0, 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n") or not raw.strip():
                continue  # a torn tail, cut before resuming; or a blank line
            try:
                record = json.loads(raw)
            except ValueError:
                return f"{path.name} line {number} is not valid JSON"
            if not isinstance(record, dict):
                return f"{path.name} line {number} is not a record"
            stored = record.get(CHAIN_KEY)
            if stored is None and not chained:
                unchained += 1
                continue
            previous = link(previous, record)
            if unchained or stored != previous:
                return (
                    f"{path.name} line {number} does not match its digest chain (the line, or "
                    "one before it, was edited, inserted, removed or reordered after iadbench "
                    "wrote it)"
                )
            chained += 1
    if unchained and not accept_unchained:
        return (
            f"{path.name} line 1 carries no digest chain (written by an iadbench from before "
            "the chain), so the predictions of this unfinished run cannot be checked"
        )
    return None

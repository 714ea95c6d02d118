"""Atomic file replacement: the one way iadbench publishes a whole file under its name.

Every whole-file write (``summary.json``, ``manifest.json``, a rewritten ``predictions.jsonl``,
stored anomaly maps, ``split.csv``, ``predict``'s output, leaderboards and reports) goes through
a fresh temporary file created in the target's folder with ``O_EXCL`` (``tempfile.mkstemp``), then
``os.replace``.
A fixed name such as ``summary.json.tmp`` would let a symbolic link planted there redirect the
write into any file (the issue-18 attack re-run did it); a crash or a signal never leaves half a
file under the real name, and the temporary file is removed on any failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_replace(
    path: Path,
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    newline: str | None = None,
    durable: bool = False,
) -> Iterator[tuple[IO[str], Path]]:
    """Write a text file that replaces ``path`` only when the block ends without an error.

    Args:
        path: The file to replace (its folder is created).
        encoding: Text encoding of the stream.
        errors: Encoding error handler (``surrogateescape`` for names that are not UTF-8).
        newline: As for :func:`open` (``""``: write newlines as given, e.g. for CSV).
        durable: ``fsync`` before the rename, so the new name never points at unwritten data.

    Yields:
        The open stream and the temporary file's path (to read it back before it is published).

    Example:
        >>> with atomic_replace(tmp / "a.txt") as (stream, _):  # doctest: +SKIP
        ...     stream.write("whole or nothing")
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding=encoding, errors=errors, newline=newline) as stream:
            yield stream, temporary
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it owner-only
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(
    path: Path, text: str, *, newline: str | None = None, durable: bool = False
) -> None:
    """Replace ``path`` by the UTF-8 ``text`` at once (see :func:`atomic_replace`)."""
    with atomic_replace(path, newline=newline, durable=durable) as (stream, _):
        stream.write(text)


def _umask() -> int:
    """The process umask (read by setting it, then restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` at once: a fresh temporary file, then ``os.replace``.

    The binary twin of :func:`write_text_atomic` (stored anomaly maps): the same ``O_EXCL``
    temporary name in the target's folder, removed on any failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it owner-only
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)

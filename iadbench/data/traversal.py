"""The one rule for walking folders of images, used by every dataset reader and ``predict DIR``.

The rule (``docs/data.md`` states it for users):

* A dataset (or a folder given to ``predict``) is the tree under its root *as the file system
  presents it*: symbolic links to files and folders are followed wherever they point, as ``ls -L``
  does — a user who links ``bottle/`` to another disk means it to be read. A split file, which
  names paths itself, may not leave the root (``..``): a path names something in the tree.
* Hidden entries (``.DS_Store``, ``._000.png``) are skipped.
* Only regular files are images: a FIFO, socket or device named ``x.png`` is skipped (reading a
  FIFO blocks forever).
* A folder reached twice through links (a loop, or two links to one folder) is walked once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

#: File name suffixes read as images (any case).
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


def visible_entries(folder: str | Path) -> list[os.DirEntry[str]]:
    """Entries of ``folder`` sorted by name, hidden ones left out; ``[]`` if it is not a folder."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def has_image_suffix(name: str) -> bool:
    """Whether ``name`` ends with one of :data:`IMAGE_SUFFIXES` (any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def is_image_file(entry: os.DirEntry[str]) -> bool:
    """An image suffix on a regular file (links followed; FIFOs, sockets, devices are not)."""
    return has_image_suffix(entry.name) and entry.is_file()


def is_regular_file(path: str | Path) -> bool:
    """Whether ``path`` is (or links to) a regular file: what :func:`is_image_file` checks."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def subfolders(folder: str | Path) -> list[os.DirEntry[str]]:
    """Visible sub-folders of ``folder`` (links to folders included), sorted by name."""
    return [entry for entry in visible_entries(folder) if entry.is_dir()]


def image_files(folder: str | Path) -> list[os.DirEntry[str]]:
    """Visible image files directly in ``folder``, sorted by name."""
    return [entry for entry in visible_entries(folder) if is_image_file(entry)]


def image_files_below(folder: str | Path) -> Iterator[Path]:
    """Every image file in ``folder`` and its sub-folders, depth first in name order.

    Paths keep the spelling under ``folder`` (links are not resolved in them), so ids derived
    from them are stable. Each real folder is walked once, so a link loop ends.
    """
    seen: set[tuple[int, int]] = set()

    def walk(current: Path) -> Iterator[Path]:
        try:
            info = current.stat()
        except OSError:
            return
        key = (info.st_dev, info.st_ino)
        if key in seen:
            return
        seen.add(key)
        for entry in visible_entries(current):
            if entry.is_dir():
                yield from walk(Path(entry.path))
            elif is_image_file(entry):
                yield Path(entry.path)

    yield from walk(Path(folder))

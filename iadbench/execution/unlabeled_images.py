"""Unlabeled images for ``iadbench predict``: files and folders → samples, outside any dataset.

Folders are walked by the one rule every dataset reader follows
(:func:`iadbench.data.traversal.image_files_below`): links to folders are followed, hidden entries
skipped, a link loop walked once, and only regular files are images — a FIFO named ``x.png``
would block the first read forever.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import NORMAL, Sample
from iadbench.data.base import IMAGE_SUFFIXES
from iadbench.data.traversal import image_files_below, is_regular_file

#: Dataset name of unlabeled images in the samples handed to the adapter.
UNLABELED: Final = "unlabeled"


def unlabeled_samples(
    inputs: Sequence[Path], category: str | None = None, dataset: str = UNLABELED
) -> list[Sample]:
    """Samples for image files and the image files under folders (recursively, sorted).

    Ids are the images' paths relative to the deepest folder holding every input: distinct paths
    give distinct ids (two ``x.png`` in different folders differ by their folder), and they are
    safe as file names under a maps dir. ``image_path`` is the absolute path, with links below a
    given folder kept as spelled. The label is a placeholder that no output shows: adapters never
    read labels when they predict.

    Raises:
        IADBenchError: An input does not exist or is not a regular file (a FIFO, a device), or
            no image file is found.
    """
    files: list[Path] = []
    folders: list[Path] = []
    for given in inputs:
        path = given.expanduser().resolve()
        if path.is_dir():
            files.extend(image_files_below(path))
            folders.append(path)
        elif path.exists():
            # Named explicitly, any file is predicted (an unreadable one gets its error), but
            # only a regular file: opening a FIFO waits for a writer that never comes.
            if not is_regular_file(path):
                raise IADBenchError(
                    f"{given} is not a regular file (a FIFO, socket or device); name image files "
                    "or folders"
                )
            files.append(path)
            folders.append(path.parent)
        else:
            raise IADBenchError(f"{given} is neither an image file nor a folder")
    if not files:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise IADBenchError(f"no image file ({suffixes}) in {', '.join(map(str, inputs))}")
    base = Path(os.path.commonpath(folders))
    return [
        Sample(
            id=path.relative_to(base).as_posix(),
            dataset=dataset,
            category=category or path.parent.name,
            subset="test",
            label=NORMAL,
            image_path=str(path),
        )
        for path in dict.fromkeys(files)  # an image named twice is predicted once
    ]

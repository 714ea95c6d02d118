"""Unlabeled images for ``iadbench predict``: files and folders → samples, outside any dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from iadbench.contract.errors import IADBenchError
from iadbench.contract.records import NORMAL, Sample
from iadbench.data.base import IMAGE_SUFFIXES

#: Dataset name of unlabeled images in the samples handed to the adapter.
UNLABELED: Final = "unlabeled"


def unlabeled_samples(
    inputs: Sequence[Path], category: str | None = None, dataset: str = UNLABELED
) -> list[Sample]:
    """Samples for image files and the image files under folders (recursively, sorted).

    Ids are the images' paths relative to the deepest folder holding every input (unique, and
    safe as file names under a maps dir); ``image_path`` is the absolute path. The label is a
    placeholder that no output shows: adapters never read labels when they predict.

    Raises:
        IADBenchError: An input does not exist, or no image file is found.
    """
    files: list[Path] = []
    folders: list[Path] = []
    for given in inputs:
        path = given.expanduser().resolve()
        if path.is_dir():
            files.extend(sorted(_image_files(path)))
            folders.append(path)
        elif path.is_file():
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


def _image_files(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                yield Path(root) / name

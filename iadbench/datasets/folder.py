"""A generic reader for users' own parts: one folder per category, ``good`` = normal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from iadbench.datasets.base import IMAGE_SUFFIXES, DatasetReader
from iadbench.records import DEFECT, NORMAL, Sample

FOLDER_LAYOUT_HELP = (
    "<root>/<category>/good/* (normal images) and <root>/<category>/<defect type>/* (defective "
    "images, one folder per defect type, any name other than good), e.g. "
    "parts/bracket/good/001.png and parts/bracket/scratch/007.jpg; every image is in the test "
    "subset"
)


class FolderDataset(DatasetReader):
    """Images sorted into ``<root>/<category>/good`` and ``<root>/<category>/<defect type>``.

    There is no official split: every sample is in subset ``"test"``, so Train is empty and All
    equals Test. Such a dataset serves as a test set (or as training data for methods trained on
    the Test subset); masks are not read. Only image files directly inside each folder count.

    Args:
        root: The dataset root.
        name: Dataset name written into samples, results and messages (``--data NAME=PATH``).

    Raises:
        DatasetNotFoundError: The root is missing.

    Example:
        >>> parts = FolderDataset("/data/my_parts", name="parts")  # doctest: +SKIP
        >>> parts.samples("train")  # doctest: +SKIP
        []
    """

    name: ClassVar[str] = "folder"
    display_name: ClassVar[str] = "Folder dataset"
    layout_help: ClassVar[str] = FOLDER_LAYOUT_HELP

    def __init__(self, root: str | Path, name: str = "folder") -> None:
        # The name is per instance (one class serves every user dataset); set it before the base
        # constructor, whose error message uses the display name.
        self.name = name  # type: ignore[misc]
        self.display_name = f"Dataset {name!r} (folder layout)"  # type: ignore[misc]
        super().__init__(root)

    def _index(self) -> list[Sample]:
        samples: list[Sample] = []
        for category in _subdirs(str(self.root)):
            for folder in _subdirs(category.path):
                is_normal = folder.name.lower() == "good"
                for image in _image_files(folder.path):
                    samples.append(
                        Sample(
                            id=f"{category.name}/{folder.name}/{image.name}",
                            dataset=self.name,
                            category=category.name,
                            subset="test",
                            label=NORMAL if is_normal else DEFECT,
                            image_path=image.path,
                            defect_type=folder.name,
                        )
                    )
        samples.sort(key=lambda s: s.id)
        return samples


def _subdirs(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return [e for e in it if not e.name.startswith(".") and e.is_dir()]


def _image_files(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return [
            e
            for e in it
            if not e.name.startswith(".")
            and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
            and e.is_file()
        ]

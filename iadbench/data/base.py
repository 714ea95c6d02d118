"""What every dataset reader provides: an index of :class:`~iadbench.contract.records.Sample`."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from iadbench.contract.errors import DatasetNotFoundError
from iadbench.contract.records import Sample, printable_name
from iadbench.contract.text import terminal_text
from iadbench.data.traversal import IMAGE_SUFFIXES, image_files_below

SubsetName = Literal["train", "test", "all"]
SUBSET_NAMES: tuple[str, ...] = ("train", "test", "all")
__all__ = ["IMAGE_SUFFIXES", "SUBSET_NAMES", "CategoryCounts", "DatasetReader", "SubsetName"]


@dataclass(frozen=True)
class CategoryCounts:
    """Official image counts of one category: train normals, test normals, test defects."""

    train_normal: int
    test_normal: int
    test_defect: int

    @property
    def total(self) -> int:
        """All images of the category."""
        return self.train_normal + self.test_normal + self.test_defect


class DatasetReader(ABC):
    """Indexes one dataset root without decoding any image.

    Subclasses set ``name``, ``display_name``, ``layout_help`` and ``official_counts`` and
    implement :meth:`_index`, which returns every sample of the root (train and test). They
    override :meth:`_read_folders` so that :meth:`ignored_images` can name the images under a
    category that the layout does not read (nested one folder too deep, for instance): a reader
    never drops an image silently.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    layout_help: ClassVar[str]
    official_counts: ClassVar[dict[str, CategoryCounts]] = {}

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetNotFoundError(
                f"{self.display_name} root {self.root} does not exist or is not a directory. "
                f"Expected layout: {self.layout_help}"
            )
        self._all: list[Sample] | None = None

    @abstractmethod
    def _index(self) -> list[Sample]:
        """Every sample under the root, sorted by id."""

    def samples(self, subset: SubsetName = "all") -> list[Sample]:
        """Samples of one subset (``train``, ``test`` or ``all``), sorted by id.

        Raises:
            DatasetNotFoundError: The root holds no image in the expected layout.
            ValueError: ``subset`` is not one of train, test, all.
        """
        if subset not in SUBSET_NAMES:
            raise ValueError(f"subset must be one of {', '.join(SUBSET_NAMES)}, got {subset!r}")
        if self._all is None:
            self._all = self._index()
            if not self._all:
                raise DatasetNotFoundError(
                    f"{self.display_name} root {self.root} holds no images in the expected layout. "
                    f"Expected layout: {self.layout_help}"
                )
        if subset == "all":
            return list(self._all)
        return [s for s in self._all if s.subset == subset]

    def _read_folders(self) -> dict[str, list[Path]]:
        """Per category, folders every image below which should be a sample; {} for none."""
        return {}

    def _read_image_paths(self) -> list[str]:
        """The image files the reader reads (what :meth:`ignored_images` leaves out)."""
        return [s.image_path for s in self.samples("all")]

    def _where_read(self) -> str:
        """Where the images of a category must be for the reader to read them (in messages)."""
        return "the folders of its layout"

    def ignored_images(self) -> dict[str, list[str]]:
        """Images under a category's folders that no sample reads, per category.

        What the layout does not read: an image one folder deeper than the layout
        (``bottle/test/crack/sub/000.png``), beside its folders, or (VisA) not listed in the
        split file. The walk follows :mod:`iadbench.data.traversal`'s rule (links followed,
        each real folder once, only regular files).

        Returns:
            Category -> paths relative to the root (forward slashes, on-disk spelling), sorted;
            categories without such an image are left out.
        """
        read = {os.path.normpath(path) for path in self._read_image_paths()}
        found: dict[str, list[str]] = {}
        for category, folders in sorted(self._read_folders().items()):
            unread = {
                os.path.relpath(path, self.root).replace(os.sep, "/")
                for folder in folders
                for path in image_files_below(folder)
                if os.path.normpath(path) not in read
            }
            if unread:
                found[category] = sorted(unread)
        return found

    def ignored_problems(self, ignored: dict[str, list[str]] | None = None) -> list[str]:
        """One line per category with :meth:`ignored_images`: the count and an example path.

        Args:
            ignored: What :meth:`ignored_images` returned, when the caller has it (the walk is
                not repeated); else it is walked now.
        """
        found = self.ignored_images() if ignored is None else ignored
        return [
            f"category {terminal_text(printable_name(category))}: {len(paths)} "
            f"image{'' if len(paths) == 1 else 's'} under it "
            f"{'is' if len(paths) == 1 else 'are'} not read (e.g. "
            f"{terminal_text(printable_name(paths[0]))}); {self.display_name} reads images "
            f"only from {self._where_read()}: move them there or out of {self.root}"
            for category, paths in found.items()
        ]

    def categories(self) -> list[str]:
        """Category names present under the root, sorted."""
        return sorted({s.category for s in self.samples("all")})

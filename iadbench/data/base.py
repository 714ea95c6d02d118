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
from iadbench.data.traversal import IMAGE_SUFFIXES, image_files_below, subfolders

SubsetName = Literal["train", "test", "all"]
SUBSET_NAMES: tuple[str, ...] = ("train", "test", "all")
__all__ = [
    "IMAGE_SUFFIXES",
    "SUBSET_NAMES",
    "CategoryCounts",
    "DatasetReader",
    "RootDepthError",
    "SubsetName",
    "folder_list",
]


def folder_list(names: list[str], limit: int = 4) -> str:
    """Folder names as a message lists them: ``a/, b/ and 3 more`` (at most ``limit`` named)."""
    named = [f"{name}/" for name in names[:limit]]
    if len(names) > limit:
        named.append(f"{len(names) - limit} more")
    return " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)


class RootDepthError(DatasetNotFoundError):
    """A dataset root given one folder too deep or too high; the message names the right one.

    Its own class so that a caller that adds advice for a root that is not there at all (the
    ``data synth`` hint) leaves it out: this root is there, at the wrong depth.
    """


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
    #: False where the per-category counts are not the authors' (``data check`` then notes a
    #: difference instead of failing on it); the docs page of the release says why.
    counts_confirmed: ClassVar[bool] = True
    #: The release's licence as its authors state it (``data check`` prints it), with its source.
    licence: ClassVar[str | None] = None

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
                raise self._layout_error(
                    f"{self.display_name} root {self.root} holds no images in the expected layout."
                )
        if subset == "all":
            return list(self._all)
        return [s for s in self._all if s.subset == subset]

    def _layout_error(self, found_nothing: str) -> DatasetNotFoundError:
        """The error for a root where the layout finds nothing.

        Args:
            found_nothing: The sentence saying so, used when the root is not simply at the
                wrong depth; the expected layout follows it.

        Returns:
            A :class:`RootDepthError` naming the path to pass when :meth:`depth_hint` has one,
            else a :class:`DatasetNotFoundError` with the expected layout.
        """
        hint = self.depth_hint()
        if hint is not None:
            return RootDepthError(hint)
        return DatasetNotFoundError(f"{found_nothing} Expected layout: {self.layout_help}")

    def depth_hint(self) -> str | None:
        """One sentence when the root is one folder too deep or too high; None otherwise.

        Too deep: the root holds what one category holds (:meth:`_category_marks`), so the
        folder above it is the root (or, when that folder is not one, the sentence says how to
        arrange it). Too high: the root holds no category, but a subfolder of it is a root
        (``~/data`` holding ``mvtec_anomaly_detection/``). Both were reported as a root
        without categories, leaving the user to guess which folder to pass.
        """
        marks = self._category_marks(self.root)
        if marks is not None:
            parent = self.root.parent
            if parent != self.root and self._accepts_as_root(parent):
                return (
                    f"{self.display_name} root {self.root} holds {marks} directly, as one "
                    f"category does: pass the folder above it, {parent}, instead."
                )
            return self._one_category_advice(marks)
        roots = [Path(e.path) for e in subfolders(self.root) if self._accepts_as_root(e.path)]
        if len(roots) == 1:
            return (
                f"{self.display_name} root {self.root} holds no category, but its subfolder "
                f"{roots[0].name}/ does: pass {roots[0]} instead."
            )
        if roots:
            return (
                f"{self.display_name} root {self.root} holds no category, but its subfolders "
                f"{', '.join(f'{r.name}/' for r in roots)} do: pass one of them instead "
                f"(e.g. {roots[0]})."
            )
        return None

    def _category_marks(self, folder: str | Path) -> str | None:
        """What in ``folder`` shows it is one category of this layout (``train/ and test/``).

        None when it does not look like one; readers override it (:meth:`depth_hint`).
        """
        return None

    def _accepts_as_root(self, folder: str | Path) -> bool:
        """Whether this reader would find categories in ``folder`` (:meth:`depth_hint`)."""
        return False

    def _one_category_advice(self, marks: str) -> str:
        """The sentence for a root that is one category whose parent is no root either."""
        return (
            f"{self.display_name} root {self.root} holds {marks} directly, as one category "
            f"does, but the folder above it, {self.root.parent}, is no {self.display_name} "
            f"root either: pass the folder that holds the categories ({self.layout_help})."
        )

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
